/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * load.c: files of the image read whole, in place through inetboot-httpfs (only
 * their blocks are fetched), with a progress line, and checked against the
 * manifest's hash of them when it has one: the kernel, the initrds, the
 * hypervisor (which is also made ready for kexec-tools).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "iso9660.h"
#include "multiboot.h"
#include "progress.h"

#include "agent.h"

/* inetboot-httpfs' statistics (progress.h); all zero when they cannot be read. */
static void xfer_stats(const struct agent *a, struct ib_xfer_stats *ret) {
        _cleanup_(freep) char *text = NULL;
        char path[PATH_MAX];
        size_t len;

        memset(ret, 0, sizeof(*ret));
        if (a->mnt && agent_pathf(path, sizeof(path), "%s/.inetboot-stats", a->mnt) &&
            ib_read_file(path, 64 * 1024, &text, &len) == 0)
                (void)ib_xfer_stats_parse(text, len, ret);
}

/* The progress line's tail: the mirror in use, blocks from the cache since @first. */
static void xfer_extra(const struct ib_xfer_stats *first, const struct ib_xfer_stats *prev, const struct ib_xfer_stats *now,
                       char *buf, size_t size) {
        int m = ib_xfer_busiest(prev, now);

        snprintf(buf, size, "%s, %" PRIu64 " blocks from the cache", m >= 0 ? now->mirrors[m].url : "no mirror yet",
                 now->disk_hits >= first->disk_hits ? now->disk_hits - first->disk_hits : 0);
}

/*
 * Read @size bytes at @off, in 1 MiB steps, with a progress line on stderr
 * when @a is given (the kernel and initrd: progress.h).
 */
static ssize_t read_with_progress(const struct agent *a, int fd, const char *path, char *buf, uint64_t size, uint64_t off) {
        struct ib_xfer_stats first, prev, now;
        struct ib_progress p;
        char line[1024], extra[IB_PROGRESS_URL_MAX + 64], what[PATH_MAX + 16];
        uint64_t done = 0;

        if (!a)
                return ib_pread_full(fd, buf, size, off);
        snprintf(what, sizeof(what), "inetboot: %s", path);
        xfer_stats(a, &first);
        prev = first;
        ib_progress_init(&p, size, ib_now_ms(), isatty(STDERR_FILENO));
        while (done < size) {
                size_t step = size - done < (1u << 20) ? (size_t)(size - done) : (1u << 20);
                ssize_t n = ib_pread_full(fd, buf + done, step, off + done);

                if (n < 0)
                        return n;
                done += (uint64_t)n;
                if ((size_t)n < step)
                        break;
                if (ib_progress_due(&p, ib_now_ms())) {
                        xfer_stats(a, &now);
                        xfer_extra(&first, &prev, &now, extra, sizeof(extra));
                        prev = now;
                        ib_progress_line(&p, line, sizeof(line), what, done, ib_now_ms(), extra, false);
                        fputs(line, stderr);
                        fflush(stderr);
                }
        }
        xfer_stats(a, &now);
        xfer_extra(&first, &first, &now, extra, sizeof(extra));
        ib_progress_line(&p, line, sizeof(line), what, done, ib_now_ms(), extra, true);
        fputs(line, stderr);
        return (ssize_t)done;
}

/*
 * A whole file of the image, read in place through inetboot-httpfs (only
 * its blocks are fetched), checked against the manifest's hash of it when
 * there is one.
 */
int agent_image_read(const struct agent *a, int fd, const char *path, size_t max, char **ret, size_t *ret_len,
                      struct ib_err *e) {
        uint64_t off, size;
        char *buf;
        ssize_t n;
        int r;

        r = ib_iso9660_locate_fd(fd, path, &off, &size, e);
        if (r < 0)
                return r;
        if (size > max)
                return ib_err_set(e, -EFBIG, 0, "%s: larger than %zu bytes", path, max);
        buf = malloc(size + 1);
        if (!buf)
                return ib_err_set(e, -ENOMEM, 0, "out of memory");
        n = read_with_progress(a, fd, path, buf, size, off);
        if (n < 0 || (uint64_t)n != size) {
                free(buf);
                return ib_err_set(e, n < 0 ? (int)n : -EIO, 0, "%s: read error: %s", path, strerror(n < 0 ? (int)-n : EIO));
        }
        buf[size] = 0;
        *ret = buf;
        *ret_len = size;
        return 0;
}

int agent_read_image_file(const struct agent *a, int fd, const char *path, const struct ib_file_ref *ref, size_t max,
                           char **ret, size_t *ret_len) {
        uint8_t sha[32];
        struct ib_err e = {};

        if (agent_image_read(a, fd, path, max, ret, ret_len, &e) < 0)
                return agent_fail("reading %s from the image: %s", path, e.msg);
        if (!ref)
                return 0;
        if (!EVP_Digest(*ret, *ret_len, sha, NULL, EVP_sha256(), NULL))
                return agent_fail("SHA-256 failed");
        if (*ret_len != ref->size || memcmp(sha, ref->sha256, 32) != 0)
                return agent_fail("%s in the image is not the file the manifest describes (size %zu, expected %" PRIu64 ")", path,
                            *ret_len, ref->size);
        return 0;
}

/*
 * The entry's hypervisor: the file as published, checked against the
 * manifest like the kernel (that is what is measured), and the image
 * kexec-tools loads (decompressed, with a Multiboot2 header).
 */
int agent_read_hypervisor(struct agent *a, int fd) {
        struct ib_err e = {};

        if (agent_read_image_file(a, fd, a->c.hypervisor, a->c.hypervisor_ref, MAX_HYPERVISOR, &a->hyp, &a->hyp_len) < 0)
                return -1;
        if (ib_multiboot_image(a->hyp, a->hyp_len, MAX_HYPERVISOR, &a->hyp_image, &a->hyp_image_len, &e) < 0)
                return agent_fail("the hypervisor %s: %s", a->c.hypervisor, e.msg);
        agent_say("hypervisor %s: %zu bytes (%zu as loaded), command line: %s", a->c.hypervisor, a->hyp_len, a->hyp_image_len,
            a->c.hypervisor_args);
        return 0;
}
