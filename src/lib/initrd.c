/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * initrd.c: the reader of initrd images, walked the way the kernel's
 * init/initramfs.c unpacks them (segments of NUL-separated newc archives,
 * or compressed streams decoded by libarchive, zstd frames measured with
 * libzstd), refusing anything malformed.  See cpio.h for the rules.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "cpio.h"

#define HDR_LEN IB_CPIO_HDR_LEN
#define TRAILER IB_CPIO_TRAILER
#define TRAILER_LEN (sizeof(IB_CPIO_TRAILER) - 1)
#define NAME_SIZE_MAX IB_CPIO_NAME_SIZE_MAX
#define align4 ib_cpio_align4

/* ---- reader ----------------------------------------------------------------- */

struct walk {
        int (*cb)(const struct ib_cpio_entry *e, void *ctx);
        void *ctx;
        struct ib_err *err;
        bool stopped;           /* the callback's return is being passed up */
        size_t max_unpacked, unpacked;
        char where[96];         /* "" or "gzip segment at byte offset N, decompressed " */
};

static int hex_digit(uint8_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool is_newc_magic(const uint8_t *p, size_t n) {
        return n >= 6 && memcmp(p, "07070", 5) == 0 && (p[5] == '1' || p[5] == '2');
}

/* "3f 00 1a (?..)" for the at most 6 bytes at @p. */
static void describe(const uint8_t *p, size_t n, char out[64]) {
        size_t k = 0;

        if (n > 6)
                n = 6;
        for (size_t i = 0; i < n; i++)
                k += (size_t)snprintf(out + k, 64 - k, "%s%02x", i ? " " : "", p[i]);
        k += (size_t)snprintf(out + k, 64 - k, " (\"");
        for (size_t i = 0; i < n; i++)
                out[k++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i] : '.';
        snprintf(out + k, 64 - k, "\")");
}

static const char *const field_names[13] = {
        "ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
        "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check",
};
enum { F_MODE = 1, F_FILESIZE = 6, F_NAMESIZE = 11, F_CHECK = 12 };

static bool valid_type(uint32_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
                return (mode & ~(uint32_t)(S_IFMT | 07777)) == 0;
        default:
                return false;
        }
}

/*
 * One archive starting at *pos (4-aligned, newc magic there): its entries up
 * to and including the trailer, or up to the end of @buf (the kernel accepts
 * an archive without trailer at the end of an image).  *pos ends after the
 * trailer; *ret_trailer says whether there was one.
 */
static int walk_archive(struct walk *w, const uint8_t *buf, size_t len, size_t *pos, bool *ret_trailer) {
        size_t p = *pos;

        while (p < len) {
                uint32_t f[13];
                const char *name;
                size_t data_off, next;
                char magic[64];

                if (len - p < HDR_LEN)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: truncated cpio header (%zu of %u bytes)",
                                          w->where, p, len - p, HDR_LEN);
                if (!is_newc_magic(buf + p, len - p)) {
                        describe(buf + p, len - p, magic);
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: unknown magic %s where a cpio header should be",
                                          w->where, p, magic);
                }
                for (unsigned i = 0; i < 13; i++) {
                        const uint8_t *h = buf + p + 6 + 8 * i;

                        f[i] = 0;
                        for (unsigned k = 0; k < 8; k++) {
                                int d = hex_digit(h[k]);

                                if (d < 0)
                                        return ib_err_set(w->err, -EINVAL, 0,
                                                          "initrd: %sbyte offset %zu: cpio header field %s is not 8 hex digits",
                                                          w->where, p, field_names[i]);
                                f[i] = f[i] << 4 | (uint32_t)d;
                        }
                }
                if (f[F_NAMESIZE] == 0 || f[F_NAMESIZE] > NAME_SIZE_MAX)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio name size %u (1 to %u allowed)",
                                          w->where, p, f[F_NAMESIZE], NAME_SIZE_MAX);
                if (f[F_NAMESIZE] > len - p - HDR_LEN)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio name truncated", w->where, p);
                name = (const char *)buf + p + HDR_LEN;
                if (name[f[F_NAMESIZE] - 1] != 0 || memchr(name, 0, f[F_NAMESIZE] - 1))
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio name not NUL-terminated at its size",
                                          w->where, p);
                if (f[F_NAMESIZE] == 1)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: empty cpio name", w->where, p);
                /* p + HDR_LEN + namesize <= len, so these sums cannot overflow. */
                data_off = align4(p + HDR_LEN + f[F_NAMESIZE]);
                if (data_off > len || f[F_FILESIZE] > len - data_off)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: data truncated (%u bytes)",
                                          w->where, p, name, f[F_FILESIZE]);
                next = align4(data_off + f[F_FILESIZE]);
                if (next > len)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: data padding truncated",
                                          w->where, p, name);
                if (strcmp(name, TRAILER) == 0) {
                        *pos = next;
                        *ret_trailer = true;
                        return 0;
                }
                if (!valid_type(f[F_MODE]))
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: bad mode %#o",
                                          w->where, p, name, f[F_MODE]);
                if (S_ISLNK(f[F_MODE])) {
                        if (f[F_FILESIZE] == 0 || f[F_FILESIZE] > IB_CPIO_NAME_MAX ||
                            memchr(buf + data_off, 0, f[F_FILESIZE]))
                                return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: bad symlink target",
                                                  w->where, p, name);
                } else if (!S_ISREG(f[F_MODE]) && f[F_FILESIZE] != 0)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: %u bytes of data for a %s",
                                          w->where, p, name, f[F_FILESIZE], S_ISDIR(f[F_MODE]) ? "directory" : "special file");
                if (S_ISREG(f[F_MODE]) && buf[p + 5] == '2') {
                        uint32_t sum = 0;

                        for (size_t i = 0; i < f[F_FILESIZE]; i++)
                                sum += buf[data_off + i];
                        if (sum != f[F_CHECK])
                                return ib_err_set(w->err, -EBADMSG, 0, "initrd: %sbyte offset %zu: %s: checksum %08x, header says %08x",
                                                  w->where, p, name, sum, f[F_CHECK]);
                }
                {
                        const struct ib_cpio_entry e = {
                                .name = name,
                                .mode = f[F_MODE],
                                .data = buf + data_off,
                                .size = f[F_FILESIZE],
                        };
                        int r = w->cb(&e, w->ctx);

                        if (r != 0) {
                                w->stopped = true;
                                return r;
                        }
                }
                p = next;
        }
        *pos = p;
        *ret_trailer = false;
        return 0;
}

struct codec {
        const char *name;
        uint8_t magic[6];
        size_t magic_len;
        int (*support)(struct archive *a);      /* NULL: libarchive cannot do it without a helper program */
        int code;
};

/* The kernel's decompressors (lib/decompress.c), longest magic that identifies each. */
static const struct codec codecs[] = {
        { "gzip",  { 0x1f, 0x8b },                         2, archive_read_support_filter_gzip,  ARCHIVE_FILTER_GZIP },
        { "zstd",  { 0x28, 0xb5, 0x2f, 0xfd },             4, archive_read_support_filter_zstd,  ARCHIVE_FILTER_ZSTD },
        { "xz",    { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 }, 6, archive_read_support_filter_xz,    ARCHIVE_FILTER_XZ },
        { "lzma",  { 0x5d, 0x00, 0x00 },                   3, archive_read_support_filter_lzma,  ARCHIVE_FILTER_LZMA },
        { "bzip2", { 'B', 'Z', 'h' },                      3, archive_read_support_filter_bzip2, ARCHIVE_FILTER_BZIP2 },
        { "lz4",   { 0x02, 0x21, 0x4c, 0x18 },             4, archive_read_support_filter_lz4,   ARCHIVE_FILTER_LZ4 },
        { "lzo",   { 0x89, 0x4c, 0x5a },                   3, NULL,                              ARCHIVE_FILTER_LZOP },
};

static void archive_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

/* Decode the compressed stream @in whole, into at most @max bytes (of @limit for the walk, for messages). */
static int decompress(const struct codec *k, const uint8_t *in, size_t len, size_t off, size_t max, size_t limit,
                      uint8_t **ret, size_t *ret_len, struct ib_err *err) {
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_(freep) uint8_t *out = NULL;
        struct archive_entry *e;
        size_t n = 0, cap = 0, init;
        int r;

        if (!k->support)
                return ib_err_set(err, -EOPNOTSUPP, 0, "initrd: byte offset %zu: %s-compressed segment not supported",
                                  off, k->name);
        a = archive_read_new();
        if (!a)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        /* Only the one decoder, and no helper programs: ARCHIVE_WARN would mean one. */
        if (k->support(a) != ARCHIVE_OK)
                return ib_err_set(err, -EOPNOTSUPP, 0, "initrd: byte offset %zu: libarchive has no built-in %s decoder",
                                  off, k->name);
        if (archive_read_support_format_raw(a) != ARCHIVE_OK)
                return ib_err_set(err, -EOPNOTSUPP, 0, "initrd: libarchive has no raw format");
        if (archive_read_open_memory(a, in, len) != ARCHIVE_OK)
                return ib_err_set(err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: %s", k->name, off,
                                  archive_error_string(a) ?: "cannot decompress");
        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        if (r != ARCHIVE_OK)
                return ib_err_set(err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: %s", k->name, off,
                                  archive_error_string(a) ?: "cannot decompress");
        /* The kernel decompresses once; a stream inside the stream is junk to it. */
        if (archive_filter_count(a) != 2 || archive_filter_code(a, 0) != k->code)
                return ib_err_set(err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: nested compression", k->name, off);

        /* Grow from a guess (4x the input) by doubling, never past @max. */
        init = len < SIZE_MAX / 4 ? len * 4 : SIZE_MAX;
        if (init < 65536)
                init = 65536;
        if (init > max)
                init = max;
        for (;;) {
                ssize_t got;

                if (n == cap) {
                        uint8_t *nb, probe;

                        if (cap >= max) {
                                /* Full: one more byte means over the cap. */
                                got = archive_read_data(a, &probe, 1);
                                if (got == 0)
                                        break;
                                if (got > 0)
                                        return ib_err_set(err, -E2BIG, 0, "initrd: %s segment at byte offset %zu: "
                                                          "more than %zu bytes decompressed in all", k->name, off, limit);
                                return ib_err_set(err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: %s", k->name, off,
                                                  archive_error_string(a) ?: "cannot decompress");
                        }
                        cap = cap == 0 ? init : cap > max / 2 ? max : cap * 2;
                        nb = realloc(out, cap);
                        if (!nb)
                                return ib_err_set(err, -ENOMEM, 0, "out of memory");
                        out = nb;
                }
                got = archive_read_data(a, out + n, cap - n);
                if (got < 0)
                        return ib_err_set(err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: %s", k->name, off,
                                          archive_error_string(a) ?: "cannot decompress");
                if (got == 0)
                        break;
                n += (size_t)got;
        }
        *ret = out;
        *ret_len = n;
        out = NULL;
        return 0;
}

/*
 * Where the zstd frames at @p end: libzstd can tell, unlike libarchive, so a
 * walk goes on after a zstd segment as the kernel does.  A frame it cannot
 * size ends the count there, and the decoder reports it.
 */
static size_t zstd_extent(const uint8_t *p, size_t len) {
        static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
        size_t n = 0;

        while (len - n >= 4 && memcmp(p + n, magic, 4) == 0) {
                size_t k = ZSTD_findFrameCompressedSize(p + n, len - n);

                if (ZSTD_isError(k) || k == 0)
                        return len;
                n += k;
        }
        return n;
}

/*
 * The archives in @buf, NUL padding between them.  With @k set, @buf is
 * that codec's output and holds nothing else; otherwise compressed segments
 * may follow: after a zstd one the walk goes on, after any other it stops.
 */
static int walk_segments(struct walk *w, const uint8_t *buf, size_t len, const struct codec *k) {
        size_t pos = 0;
        bool trailer = false;
        char magic[64];
        int r;

        while (pos < len) {
                const struct codec *z = NULL;

                if (buf[pos] == 0) {
                        pos++;
                        continue;
                }
                if (is_newc_magic(buf + pos, len - pos)) {
                        if (pos % 4 != 0)
                                return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio archive not 4-byte aligned "
                                                  "(the kernel wants NUL padding before it)", w->where, pos);
                        r = walk_archive(w, buf, len, &pos, &trailer);
                        if (r != 0)
                                return r;
                        continue;
                }
                for (size_t i = 0; !k && !z && i < ELEMENTSOF(codecs); i++)
                        if (len - pos >= codecs[i].magic_len && memcmp(buf + pos, codecs[i].magic, codecs[i].magic_len) == 0)
                                z = &codecs[i];
                if (!z) {
                        describe(buf + pos, len - pos, magic);
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: unknown magic %s%s", w->where, pos,
                                          magic, k ? " after a cpio archive" : "");
                }
                {
                        _cleanup_(freep) uint8_t *out = NULL;
                        size_t out_len = 0, seg = z->code == ARCHIVE_FILTER_ZSTD ? zstd_extent(buf + pos, len - pos) : len - pos;

                        r = decompress(z, buf + pos, seg, pos, w->max_unpacked - w->unpacked, w->max_unpacked, &out, &out_len,
                                       w->err);
                        if (r < 0)
                                return r;
                        w->unpacked += out_len;
                        snprintf(w->where, sizeof(w->where), "%s segment at byte offset %zu, decompressed ", z->name, pos);
                        r = walk_segments(w, out, out_len, z);
                        w->where[0] = 0;
                        if (r != 0)
                                return r;
                        if (z->code != ARCHIVE_FILTER_ZSTD)
                                return 0;
                        pos += seg;
                }
        }
        /* The kernel: "junk at the end of compressed archive" unless it ended after a trailer. */
        if (k && !trailer)
                return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s", w->where, len,
                                  len == 0 ? "empty compressed segment" : "compressed segment does not end with a cpio trailer");
        return 0;
}

int ib_initrd_walk(const void *buf, size_t len, size_t max_unpacked, int (*cb)(const struct ib_cpio_entry *e, void *ctx),
                   void *ctx, struct ib_err *err) {
        struct ib_err mine;
        struct walk w = { .cb = cb, .ctx = ctx, .err = &mine, .max_unpacked = max_unpacked };
        int r;

        r = walk_segments(&w, buf, len, NULL);
        if (r != 0 && !w.stopped && err)
                *err = mine;
        return r;
}
