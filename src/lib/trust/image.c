/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

/* Read this much at a time: a whole number of blocks, large enough to keep both threads busy. */
#define CHUNK (8u << 20)

int ib_sha256(const void *buf, size_t len, uint8_t ret[32]) {
        return EVP_Digest(buf, len, ret, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

struct block_job {
        const uint8_t *buf;
        size_t len;
        uint32_t block_size;
        uint8_t (*out)[32];
        int r;
};

static void *hash_blocks(void *p) {
        struct block_job *j = p;

        for (size_t off = 0, i = 0; off < j->len; off += j->block_size, i++) {
                size_t n = j->len - off < j->block_size ? j->len - off : j->block_size;

                if (ib_sha256(j->buf + off, n, j->out[i]) < 0) {
                        j->r = -EIO;
                        break;
                }
        }
        return NULL;
}

static void md_ctx_freep(EVP_MD_CTX **c) { EVP_MD_CTX_free(*c); }

/*
 * pread, except that a chunk lying wholly in a hole of a sparse file is
 * known to be zeros without reading it: a sparse multi-GiB test image then
 * costs hashing, not page-cache churn.
 */
static ssize_t read_chunk(int fd, uint8_t *buf, size_t len, uint64_t off) {
        off_t data = lseek(fd, (off_t)off, SEEK_DATA);

        if ((data < 0 && errno == ENXIO) || (data >= 0 && (uint64_t)data >= off + len)) {
                struct stat st;

                /* ENXIO also means "beyond the end": only a hole inside the file is zeros. */
                if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= off + len) {
                        memset(buf, 0, len);
                        return (ssize_t)len;
                }
        }
        return ib_pread_full(fd, buf, len, off);
}

int ib_image_hash(int fd, uint64_t size, uint32_t block_size, uint8_t ret_sha256[32],
                  uint8_t (**ret_blocks)[32], struct ib_err *err) {
        _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_(freep) uint8_t *buf = NULL;
        _cleanup_(freep) uint8_t (*blocks)[32] = NULL;
        size_t chunk = CHUNK < block_size ? block_size : CHUNK;
        uint64_t n_blocks = ib_manifest_block_count(size, block_size);

        if (n_blocks > IB_MANIFEST_MAX_BLOCKS)
                return ib_err_set(err, -E2BIG, 0, "%" PRIu64 " blocks exceed the limit of %" PRIu64 ": use a larger block size",
                                  n_blocks, (uint64_t)IB_MANIFEST_MAX_BLOCKS);
        buf = malloc(chunk);
        blocks = malloc((n_blocks ? n_blocks : 1) * 32);
        if (!ctx || !buf || !blocks)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                return ib_err_set(err, -EIO, 0, "cannot set up SHA-256");
        for (uint64_t off = 0; off < size;) {
                size_t want = size - off < chunk ? (size_t)(size - off) : chunk;
                struct block_job job = { .buf = buf, .len = want, .block_size = block_size, .out = &blocks[off / block_size] };
                pthread_t t;
                ssize_t n = read_chunk(fd, buf, want, off);
                bool threaded;

                if (n < 0)
                        return ib_err_set(err, (int)n, 0, "read error at offset %" PRIu64 ": %s", off, strerror((int)-n));
                if ((size_t)n != want)
                        return ib_err_set(err, -EIO, 0, "image ends at %" PRIu64 ", expected %" PRIu64 " bytes", off + (uint64_t)n, size);
                threaded = pthread_create(&t, NULL, hash_blocks, &job) == 0;
                if (EVP_DigestUpdate(ctx, buf, want) != 1)
                        job.r = -EIO;
                if (threaded)
                        pthread_join(t, NULL);
                else
                        hash_blocks(&job);
                if (job.r < 0)
                        return ib_err_set(err, -EIO, 0, "SHA-256 failed");
                off += want;
        }
        if (EVP_DigestFinal_ex(ctx, ret_sha256, NULL) != 1)
                return ib_err_set(err, -EIO, 0, "cannot finish SHA-256");
        *ret_blocks = blocks;
        blocks = NULL;
        return 0;
}

int64_t ib_image_verify(int fd, const struct ib_manifest *m, ib_image_bad_fn bad, void *userdata, struct ib_err *err) {
        _cleanup_(freep) uint8_t (*blocks)[32] = NULL;
        uint8_t sha[32];
        struct stat st;
        int64_t n_bad = 0;
        uint64_t size;
        int r;

        if (fstat(fd, &st) < 0)
                return ib_err_set(err, -errno, 0, "cannot stat the image: %m");
        size = S_ISBLK(st.st_mode) ? (uint64_t)lseek(fd, 0, SEEK_END) : (uint64_t)st.st_size;
        if (size != m->size)
                return ib_err_set(err, -EMEDIUMTYPE, 0, "image is %" PRIu64 " bytes, the manifest says %" PRIu64, size, m->size);
        r = ib_image_hash(fd, m->size, m->block_size, sha, &blocks, err);
        if (r < 0)
                return r;
        for (uint64_t i = 0; i < m->n_blocks; i++)
                if (memcmp(blocks[i], m->blocks[i], 32) != 0) {
                        n_bad++;
                        if (bad && (r = bad(userdata, i, i * m->block_size)) < 0)
                                return r;
                }
        /* Equal blocks with a different whole hash would mean a manifest that contradicts itself. */
        if (n_bad == 0 && memcmp(sha, m->sha256, 32) != 0)
                return ib_err_set(err, -EBADMSG, 0, "every block matches but the image's SHA-256 does not: the manifest is inconsistent");
        return n_bad;
}
