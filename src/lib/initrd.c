/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * initrd.c: the reader of initrd images, walked the way the kernel's
 * init/initramfs.c unpacks them (segments of NUL-separated newc archives,
 * or compressed streams decoded by the codecs' own libraries: libdeflate,
 * liblzma, libbz2, liblz4, libzstd), refusing anything malformed.  See
 * cpio.h for the rules.
 */
#include <bzlib.h>
#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>
#include <zstd_errors.h>

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

/* ---- decoders ---------------------------------------------------------------- */

/*
 * One compressed stream, decoded whole into memory: @in is the image from the
 * stream's magic to its end (for zstd, just its frames), @used how much of it
 * the stream took.  Output grows from a guess (4x the input) by doubling,
 * never past @max (what is left of the walk's cap); once @max bytes are out,
 * the decoder gets the one-byte @probe, and a byte there is over the cap.
 */
struct dec {
        const struct codec *k;
        const uint8_t *in;
        size_t len, used;
        size_t off, limit;      /* the stream's offset in the image and the walk's cap, for messages */
        uint8_t *out;
        size_t n, cap, max;     /* bytes decoded, allocated, allowed */
        uint8_t probe;
        struct ib_err *err;
};

struct codec {
        const char *name;
        uint8_t magic[6];
        size_t magic_len;
        int (*decode)(struct dec *d);   /* NULL: not supported */
};

static int dec_fail(struct dec *d, int code, const char *fmt, ...) _printf_(3, 4);
static int dec_fail(struct dec *d, int code, const char *fmt, ...) {
        char what[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return ib_err_set(d->err, code, 0, "initrd: %s segment at byte offset %zu: %s", d->k->name, d->off, what);
}

static int dec_oom(struct dec *d) {
        return ib_err_set(d->err, -ENOMEM, 0, "out of memory");
}

static int dec_truncated(struct dec *d) {
        return dec_fail(d, -EINVAL, "truncated %s input", d->k->name);
}

/* At least @need (at most max - n) bytes of room after the output. */
static int dec_reserve(struct dec *d, size_t need) {
        while (d->cap - d->n < need) {
                size_t init = d->len < SIZE_MAX / 4 ? d->len * 4 : SIZE_MAX, cap;
                uint8_t *nb;

                if (init < 65536)
                        init = 65536;
                cap = d->cap == 0 ? (init < d->max ? init : d->max) : d->cap > d->max / 2 ? d->max : d->cap * 2;
                nb = realloc(d->out, cap);
                if (!nb)
                        return dec_oom(d);
                d->out = nb;
                d->cap = cap;
        }
        return 0;
}

/* Where the decoder writes next, and how much: free buffer, or the probe when @max bytes are out. */
static int dec_room(struct dec *d, uint8_t **ret, size_t *ret_len) {
        int r;

        if (d->n == d->max) {
                *ret = &d->probe;
                *ret_len = 1;
                return 0;
        }
        r = dec_reserve(d, d->cap > d->n ? d->cap - d->n : 1);
        if (r < 0)
                return r;
        *ret = d->out + d->n;
        *ret_len = d->cap - d->n;
        return 0;
}

/*
 * dec_room() for the decoders whose lengths are 32-bit (libbz2): the
 * input left and the room, both capped at UINT_MAX; the loop takes the rest
 * next time round.
 */
static int dec_room32(struct dec *d, uint8_t **ret, size_t *ret_in, size_t *ret_len) {
        int r = dec_room(d, ret, ret_len);

        if (r < 0)
                return r;
        *ret_in = d->len - d->used < UINT_MAX ? d->len - d->used : UINT_MAX;
        if (*ret_len > UINT_MAX)
                *ret_len = UINT_MAX;
        return 0;
}

/* The decoder wrote @k bytes to what dec_room() gave. */
static int dec_wrote(struct dec *d, const uint8_t *room, size_t k) {
        if (k > 0 && room == &d->probe)
                return dec_fail(d, -E2BIG, "more than %zu bytes decompressed in all", d->limit);
        d->n += k;
        return 0;
}

/*
 * gzip: one member, as the kernel's gunzip reads it, with libdeflate (three
 * times zlib's speed: a live initrd of 150 MB took the preboot 7.5 s under
 * TCG with zlib), which also checks the trailer's CRC-32 and size; the
 * kernel does not.  libdeflate decodes a whole member into a buffer given
 * up front: sized by the trailer when the member ends the input (the usual
 * initrd), else by a guess, and grown and decoded again while too small,
 * up to @max.
 */
static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define DEFLATE_MAX_RATIO 1032u         /* no deflate stream expands more */

static int dec_gzip(struct dec *d) {
        struct libdeflate_decompressor *z;
        size_t in = d->len - d->used, cap, hint = 0;
        int r = 0;

        z = libdeflate_alloc_decompressor();
        if (!z)
                return dec_oom(d);
        if (in >= 18)
                hint = le32(d->in + d->used + in - 4);
        if (hint > 0 && hint <= d->max && hint / DEFLATE_MAX_RATIO <= in)
                cap = hint;
        else
                cap = in < d->max / 4 ? (in * 4 > 65536 ? in * 4 : 65536) : d->max;
        if (cap > d->max)
                cap = d->max;
        for (;;) {
                size_t used = 0, n = 0;
                enum libdeflate_result lr;

                if (d->cap < cap || !d->out) {
                        uint8_t *nb = realloc(d->out, cap > 0 ? cap : 1);

                        if (!nb) {
                                r = dec_oom(d);
                                break;
                        }
                        d->out = nb;
                        d->cap = cap;
                }
                lr = libdeflate_gzip_decompress_ex(z, d->in + d->used, in, d->out, cap, &used, &n);
                if (lr == LIBDEFLATE_SUCCESS) {
                        d->used += used;
                        d->n = n;
                        break;
                }
                if (lr != LIBDEFLATE_INSUFFICIENT_SPACE) {
                        r = dec_fail(d, -EINVAL, "gzip decompression failed: corrupt or truncated data");
                        break;
                }
                if (cap == d->max) {
                        r = dec_fail(d, -E2BIG, "more than %zu bytes decompressed in all", d->limit);
                        break;
                }
                cap = cap > d->max / 2 ? d->max : cap * 2;
        }
        libdeflate_free_decompressor(z);
        return r;
}

/*
 * xz (one stream, as the kernel's unxz: no concatenated streams) and legacy
 * .lzma.  The dictionary a stream asks for is allocated up front, up to 4 GiB
 * from a few header bytes, so liblzma's memory limit bounds it: what is left
 * of the cap (a dictionary never needs to be larger than the output), but at
 * least 128 MiB (xz -9 and lzma -9 use 64 MiB; libzstd's default limit on
 * zstd windows is 128 MiB too), plus 1 MiB for the decoder's own state.
 */
#define LZMA_DICT_FLOOR ((uint64_t)128 << 20)

static int dec_liblzma(struct dec *d, bool xz) {
        lzma_stream s = LZMA_STREAM_INIT;
        uint64_t memlimit = d->max > LZMA_DICT_FLOOR ? d->max : LZMA_DICT_FLOOR;
        lzma_ret lr;
        int r;

        memlimit = memlimit < UINT64_MAX - (1u << 20) ? memlimit + (1u << 20) : UINT64_MAX;
        lr = xz ? lzma_stream_decoder(&s, memlimit, 0) : lzma_alone_decoder(&s, memlimit);
        if (lr != LZMA_OK)
                return lr == LZMA_MEM_ERROR ? dec_oom(d) : dec_fail(d, -EINVAL, "liblzma: cannot initialize (%d)", (int)lr);
        for (;;) {
                size_t in = d->len - d->used, avail;
                uint8_t *room;

                r = dec_room(d, &room, &avail);
                if (r < 0)
                        break;
                s.next_in = d->in + d->used;
                s.avail_in = in;
                s.next_out = room;
                s.avail_out = avail;
                lr = lzma_code(&s, LZMA_FINISH);
                d->used += in - s.avail_in;
                r = dec_wrote(d, room, avail - s.avail_out);
                if (r < 0 || lr == LZMA_STREAM_END)
                        break;
                switch (lr) {
                case LZMA_OK:
                        continue;
                case LZMA_BUF_ERROR:
                        r = dec_truncated(d);
                        break;
                case LZMA_MEM_ERROR:
                        r = dec_oom(d);
                        break;
                case LZMA_FORMAT_ERROR:
                        r = dec_fail(d, -EINVAL, "%s decompression failed: bad header", d->k->name);
                        break;
                case LZMA_MEMLIMIT_ERROR:
                        r = dec_fail(d, -EINVAL, "%s decompression failed: needs %" PRIu64 " bytes of memory, more than the %" PRIu64
                                     " allowed", d->k->name, lzma_memusage(&s), lzma_memlimit_get(&s));
                        break;
                case LZMA_OPTIONS_ERROR:
                        r = dec_fail(d, -EINVAL, "%s decompression failed: unsupported options", d->k->name);
                        break;
                case LZMA_DATA_ERROR:
                        r = dec_fail(d, -EINVAL, "%s decompression failed: corrupt data", d->k->name);
                        break;
                default:
                        r = dec_fail(d, -EINVAL, "%s decompression failed: liblzma error %d", d->k->name, (int)lr);
                        break;
                }
                break;
        }
        lzma_end(&s);
        return r;
}

static int dec_xz(struct dec *d) {
        return dec_liblzma(d, true);
}

static int dec_lzma(struct dec *d) {
        return dec_liblzma(d, false);
}

/* bzip2: one stream, as the kernel's bunzip2 (block and stream CRCs checked). */
static int dec_bzip2(struct dec *d) {
        bz_stream b = {};
        int r, br;

        br = BZ2_bzDecompressInit(&b, 0, 0);
        if (br != BZ_OK)
                return br == BZ_MEM_ERROR ? dec_oom(d) : dec_fail(d, -EINVAL, "libbz2: cannot initialize (%d)", br);
        for (;;) {
                size_t in, avail, took;
                uint8_t *room;

                r = dec_room32(d, &room, &in, &avail);
                if (r < 0)
                        break;
                b.next_in = (char *)(uintptr_t)(d->in + d->used);
                b.avail_in = (unsigned)in;
                b.next_out = (char *)room;
                b.avail_out = (unsigned)avail;
                br = BZ2_bzDecompress(&b);
                took = in - b.avail_in;
                d->used += took;
                r = dec_wrote(d, room, avail - b.avail_out);
                if (r < 0 || br == BZ_STREAM_END)
                        break;
                if (br == BZ_OK) {
                        if (took > 0 || b.avail_out < avail)
                                continue;
                        r = d->used == d->len ? dec_truncated(d) : dec_fail(d, -EINVAL, "bzip2 decompression failed: stalled");
                } else if (br == BZ_MEM_ERROR)
                        r = dec_oom(d);
                else
                        r = dec_fail(d, -EINVAL, "bzip2 decompression failed: %s",
                                     br == BZ_DATA_ERROR_MAGIC ? "bad header" : br == BZ_DATA_ERROR ? "corrupt data" : "libbz2 error");
                break;
        }
        BZ2_bzDecompressEnd(&b);
        return r;
}

/*
 * lz4 legacy (lz4 -l), read as the kernel's unlz4 reads it: after the magic,
 * blocks of [32-bit little-endian compressed size][data] to the end of the
 * input, each decompressing to at most 8 MiB; a size word equal to the magic
 * is skipped (that is where a concatenated file starts).  The format has no
 * end mark: whatever follows the stream is taken as more blocks.
 */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK ((size_t)8 << 20)

static int dec_lz4(struct dec *d) {
        size_t p = 4;
        int r;

        while (p < d->len) {
                size_t block = p, allow;
                uint32_t size;
                uint8_t *dst;
                int got;

                if (d->len - p < 4)
                        return dec_truncated(d);
                size = le32(d->in + p);
                p += 4;
                if (size == LZ4_LEGACY_MAGIC)
                        continue;
                if (size > d->len - p)
                        return dec_truncated(d);
                if (size > INT_MAX)
                        return dec_fail(d, -EINVAL, "lz4 decompression failed: block at byte offset %zu too large",
                                        d->off + block);
                allow = d->max - d->n < LZ4_LEGACY_BLOCK ? d->max - d->n : LZ4_LEGACY_BLOCK;
                r = dec_reserve(d, allow);
                if (r < 0)
                        return r;
                dst = allow > 0 ? d->out + d->n : &d->probe;
                got = LZ4_decompress_safe((const char *)d->in + p, (char *)dst, (int)size, (int)allow);
                if (got < 0 && allow < LZ4_LEGACY_BLOCK) {
                        /* Corrupt, or just more than the cap allows?  Decode it again with the room the format gives. */
                        _cleanup_(freep) uint8_t *scratch = malloc(LZ4_LEGACY_BLOCK);

                        if (!scratch)
                                return dec_oom(d);
                        if (LZ4_decompress_safe((const char *)d->in + p, (char *)scratch, (int)size, (int)LZ4_LEGACY_BLOCK) >= 0)
                                return dec_fail(d, -E2BIG, "more than %zu bytes decompressed in all", d->limit);
                }
                if (got < 0)
                        return dec_fail(d, -EINVAL, "lz4 decompression failed: corrupt block at byte offset %zu", d->off + block);
                d->n += (size_t)got;
                p += size;
        }
        d->used = p;
        return 0;
}

/* zstd: the frames zstd_extent() measured, one after the other. */
static int dec_zstd(struct dec *d) {
        ZSTD_DCtx *z = ZSTD_createDCtx();
        ZSTD_inBuffer in = { d->in, d->len, 0 };
        int r;

        if (!z)
                return dec_oom(d);
        for (;;) {
                size_t before = in.pos, zr;
                ZSTD_outBuffer out;
                uint8_t *room;

                r = dec_room(d, &room, &out.size);
                if (r < 0)
                        break;
                out.dst = room;
                out.pos = 0;
                zr = ZSTD_decompressStream(z, &out, &in);
                if (ZSTD_isError(zr)) {
                        r = ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation ? dec_oom(d) :
                                dec_fail(d, -EINVAL, "zstd decompression failed: %s", ZSTD_getErrorName(zr));
                        break;
                }
                r = dec_wrote(d, room, out.pos);
                if (r < 0 || (zr == 0 && in.pos == in.size))
                        break;
                if (in.pos == before && out.pos == 0) {
                        r = in.pos == in.size ? dec_truncated(d) : dec_fail(d, -EINVAL, "zstd decompression failed: stalled");
                        break;
                }
        }
        d->used = in.pos;
        ZSTD_freeDCtx(z);
        return r;
}

/* The kernel's decompressors (lib/decompress.c), longest magic that identifies each. */
static const struct codec codecs[] = {
        { "gzip",  { 0x1f, 0x8b },                         2, dec_gzip },
        { "zstd",  { 0x28, 0xb5, 0x2f, 0xfd },             4, dec_zstd },
        { "xz",    { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 }, 6, dec_xz },
        { "lzma",  { 0x5d, 0x00, 0x00 },                   3, dec_lzma },
        { "bzip2", { 'B', 'Z', 'h' },                      3, dec_bzip2 },
        { "lz4",   { 0x02, 0x21, 0x4c, 0x18 },             4, dec_lz4 },
        { "lzo",   { 0x89, 0x4c, 0x5a },                   3, NULL },
};

static const struct codec *codec_at(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(codecs); i++)
                if (n >= codecs[i].magic_len && memcmp(p, codecs[i].magic, codecs[i].magic_len) == 0)
                        return &codecs[i];
        return NULL;
}

/*
 * Decode the compressed stream at the start of @in into at most @max bytes
 * (of @limit for the walk, for messages); *ret_used: how much of @in it took.
 */
static int decompress(const struct codec *k, const uint8_t *in, size_t len, size_t off, size_t max, size_t limit,
                      uint8_t **ret, size_t *ret_len, size_t *ret_used, struct ib_err *err) {
        struct dec d = { .k = k, .in = in, .len = len, .off = off, .limit = limit, .max = max, .err = err };
        int r;

        if (!k->decode)
                return ib_err_set(err, -EOPNOTSUPP, 0, "initrd: byte offset %zu: %s-compressed segment not supported",
                                  off, k->name);
        r = k->decode(&d);
        if (r < 0) {
                free(d.out);
                return r;
        }
        *ret = d.out;
        *ret_len = d.n;
        *ret_used = d.used;
        return 0;
}

/*
 * Where the zstd frames at @p end, so that a walk goes on after a zstd
 * segment as the kernel does.  A frame libzstd cannot size ends the count
 * there, and the decoder reports it.
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
 * the output of that codec's stream at @k_off and holds nothing else;
 * otherwise compressed segments may follow, and the walk goes on after each
 * stream's end as the kernel does.
 */
static int walk_segments(struct walk *w, const uint8_t *buf, size_t len, const struct codec *k, size_t k_off) {
        size_t pos = 0;
        bool trailer = false;
        char magic[64];
        int r;

        while (pos < len) {
                const struct codec *z;

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
                z = codec_at(buf + pos, len - pos);
                /* The kernel decompresses once; a stream that decompresses to another stream is junk to it. */
                if (k && z && pos == 0)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: nested compression",
                                          k->name, k_off);
                if (k || !z) {
                        describe(buf + pos, len - pos, magic);
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: unknown magic %s%s", w->where, pos,
                                          magic, k ? " after a cpio archive" : "");
                }
                {
                        _cleanup_(freep) uint8_t *out = NULL;
                        size_t out_len = 0, used = 0, seg = z->decode == dec_zstd ? zstd_extent(buf + pos, len - pos) : len - pos;

                        r = decompress(z, buf + pos, seg, pos, w->max_unpacked - w->unpacked, w->max_unpacked, &out, &out_len,
                                       &used, w->err);
                        if (r < 0)
                                return r;
                        w->unpacked += out_len;
                        snprintf(w->where, sizeof(w->where), "%s segment at byte offset %zu, decompressed ", z->name, pos);
                        r = walk_segments(w, out, out_len, z, pos);
                        w->where[0] = 0;
                        if (r != 0)
                                return r;
                        /* The stream ended @used bytes in: go on from there, as the kernel does. */
                        pos += used;
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

        r = walk_segments(&w, buf, len, NULL, 0);
        if (r != 0 && !w.stopped && err)
                *err = mine;
        return r;
}
