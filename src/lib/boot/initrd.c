/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * initrd.c: the reader of initrd images, walked the way the kernel's
 * init/initramfs.c unpacks them (segments of NUL-separated newc archives,
 * or compressed streams decoded by the codecs' own libraries: zlib,
 * liblzma, libbz2, liblz4, libzstd), refusing anything malformed.  See
 * cpio.h for the rules.
 */
#include <bzlib.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
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

/* ---- what a walk reads ------------------------------------------------------- */

/*
 * One compressed stream being decoded: @in is the image from the stream's
 * magic to its end (for zstd, just its frames), @used how much of it the
 * decoder has taken.  At most @max bytes come out (what is left of the
 * walk's cap); once they are, the decoder is given the one-byte @probe, and
 * a byte there is over the cap.
 */
struct dec {
        const struct codec *k;
        const uint8_t *in;
        size_t len, used;
        size_t off, limit;      /* the stream's offset in the image and the walk's cap, for messages */
        size_t n, max;          /* bytes decoded, allowed */
        bool end;               /* the stream has ended */
        uint8_t probe;
        const char *name;       /* ib_decompress(): what the bytes are, for messages; NULL in a walk */
        struct ib_err *err;
        union {
                z_stream z;     /* gzip: raw deflate, the member's header and trailer read here */
                lzma_stream x;
                bz_stream b;
                ZSTD_DCtx *zs;
        };
        uLong crc;              /* gzip: CRC-32 of the output so far */
};

struct codec {
        const char *name;
        uint8_t magic[6];
        size_t magic_len;
        size_t room;                            /* the least output room a step wants (lz4: a block) */
        int (*open)(struct dec *d);             /* NULL: not supported */
        /* Decode into @room (@len > 0 bytes): *ret_out written; d->end set at the stream's end. */
        int (*step)(struct dec *d, uint8_t *room, size_t len, size_t *ret_out);
        void (*close)(struct dec *d);
};

static int dec_fail(struct dec *d, int code, const char *fmt, ...) _printf_(3, 4);
static int dec_fail(struct dec *d, int code, const char *fmt, ...) {
        char what[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (d->name)
                return ib_err_set(d->err, code, 0, "%s (%s): %s", d->name, d->k->name, what);
        return ib_err_set(d->err, code, 0, "initrd: %s segment at byte offset %zu: %s", d->k->name, d->off, what);
}

static int dec_oom(struct dec *d) {
        return ib_err_set(d->err, -ENOMEM, 0, "out of memory");
}

static int dec_truncated(struct dec *d) {
        return dec_fail(d, -EINVAL, "truncated %s input", d->k->name);
}

static int dec_over_cap(struct dec *d) {
        return dec_fail(d, -E2BIG, "more than %zu bytes decompressed%s", d->limit, d->name ? "" : " in all");
}

/* One step of the codec into @room, within the cap. */
static int dec_step(struct dec *d, uint8_t *room, size_t len, size_t *ret_out) {
        bool probe = d->n == d->max;
        size_t out = 0;
        int r;

        if (probe) {
                room = &d->probe;
                len = 1;
        } else if (len > d->max - d->n)
                len = d->max - d->n;
        r = d->k->step(d, room, len, &out);
        if (r < 0)
                return r;
        if (probe && out > 0)
                return dec_over_cap(d);
        d->n += out;
        *ret_out = out;
        return 0;
}

/*
 * The bytes a walk reads, from offset @base on (@len of them at @buf): the
 * image itself, or a stream being decoded into the window @win.  Readers
 * ask for bytes at or after the last offset they asked for, so what lies
 * before it is dropped as the window moves on: the window holds about one
 * entry, whatever the stream's size.
 */
struct src {
        const uint8_t *buf;
        size_t base, len;
        struct dec *d;          /* NULL: there is nothing after buf */
        uint8_t *win;
        size_t cap;
};

#define WIN_STEP ((size_t)256 << 10)    /* decoded at a time, at least */

/*
 * Make at least @need bytes at @pos (base <= pos <= base + len) at hand if
 * the stream has them: *ret_have is how many are (fewer at its end).
 */
static int src_get(struct src *s, size_t pos, size_t need, size_t *ret_have) {
        size_t at = pos - s->base;

        while (s->len - at < need && s->d && !s->d->end) {
                size_t room = s->d->k->room > WIN_STEP ? s->d->k->room : WIN_STEP, out = 0;
                int r;

                if (at > 0) {
                        memmove(s->win, s->win + at, s->len - at);
                        s->len -= at;
                        s->base = pos;
                        at = 0;
                }
                if (s->cap - s->len < room) {
                        /* Doubling, so the window grows with what it holds, never with what a header claims. */
                        size_t cap = s->len + room > s->cap * 2 ? s->len + room : s->cap * 2;
                        uint8_t *nw = realloc(s->win, cap);

                        if (!nw)
                                return dec_oom(s->d);
                        s->win = nw;
                        s->cap = cap;
                }
                r = dec_step(s->d, s->win + s->len, s->cap - s->len, &out);
                if (r < 0)
                        return r;
                s->len += out;
                s->buf = s->win;
        }
        *ret_have = s->len - at;
        return 0;
}

static const uint8_t *src_at(const struct src *s, size_t pos) {
        return s->buf + (pos - s->base);
}

/* ---- archives ----------------------------------------------------------------- */

/*
 * One archive starting at *pos (4-aligned, newc magic there): its entries up
 * to and including the trailer, or up to the end of the bytes (the kernel
 * accepts an archive without trailer at the end of an image).  *pos ends
 * after the trailer; *ret_trailer says whether there was one.
 */
static int walk_archive(struct walk *w, struct src *s, size_t *pos, bool *ret_trailer) {
        size_t p = *pos;

        for (;;) {
                uint32_t f[13];
                const uint8_t *h;
                const char *name;
                size_t have, data_off, next;
                char magic[64];
                int r;

                r = src_get(s, p, HDR_LEN, &have);
                if (r < 0)
                        return r;
                if (have == 0)
                        break;
                h = src_at(s, p);
                if (have < HDR_LEN)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: truncated cpio header (%zu of %u bytes)",
                                          w->where, p, have, HDR_LEN);
                if (!is_newc_magic(h, have)) {
                        describe(h, have, magic);
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: unknown magic %s where a cpio header should be",
                                          w->where, p, magic);
                }
                for (unsigned i = 0; i < 13; i++) {
                        f[i] = 0;
                        for (unsigned k = 0; k < 8; k++) {
                                int d = hex_digit(h[6 + 8 * i + k]);

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
                r = src_get(s, p, HDR_LEN + f[F_NAMESIZE], &have);
                if (r < 0)
                        return r;
                if (f[F_NAMESIZE] > have - HDR_LEN)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio name truncated", w->where, p);
                name = (const char *)src_at(s, p) + HDR_LEN;
                if (name[f[F_NAMESIZE] - 1] != 0 || memchr(name, 0, f[F_NAMESIZE] - 1))
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio name not NUL-terminated at its size",
                                          w->where, p);
                if (f[F_NAMESIZE] == 1)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: empty cpio name", w->where, p);
                /* Offsets within the entry, from p: header and name are at hand, so these cannot overflow. */
                data_off = align4(HDR_LEN + f[F_NAMESIZE]);
                next = align4(data_off + (size_t)f[F_FILESIZE]);
                r = src_get(s, p, next, &have);
                if (r < 0)
                        return r;
                h = src_at(s, p);
                name = (const char *)h + HDR_LEN;
                if (data_off > have || f[F_FILESIZE] > have - data_off)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: data truncated (%u bytes)",
                                          w->where, p, name, f[F_FILESIZE]);
                if (next > have)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: data padding truncated",
                                          w->where, p, name);
                if (strcmp(name, TRAILER) == 0) {
                        *pos = p + next;
                        *ret_trailer = true;
                        return 0;
                }
                if (!valid_type(f[F_MODE]))
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: bad mode %#o",
                                          w->where, p, name, f[F_MODE]);
                if (S_ISLNK(f[F_MODE])) {
                        if (f[F_FILESIZE] == 0 || f[F_FILESIZE] > IB_CPIO_NAME_MAX || memchr(h + data_off, 0, f[F_FILESIZE]))
                                return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: bad symlink target",
                                                  w->where, p, name);
                } else if (!S_ISREG(f[F_MODE]) && f[F_FILESIZE] != 0)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s: %u bytes of data for a %s",
                                          w->where, p, name, f[F_FILESIZE], S_ISDIR(f[F_MODE]) ? "directory" : "special file");
                if (S_ISREG(f[F_MODE]) && h[5] == '2') {
                        uint32_t sum = 0;

                        for (size_t i = 0; i < f[F_FILESIZE]; i++)
                                sum += h[data_off + i];
                        if (sum != f[F_CHECK])
                                return ib_err_set(w->err, -EBADMSG, 0, "initrd: %sbyte offset %zu: %s: checksum %08x, header says %08x",
                                                  w->where, p, name, sum, f[F_CHECK]);
                }
                {
                        const struct ib_cpio_entry e = {
                                .name = name,
                                .mode = f[F_MODE],
                                .data = h + data_off,
                                .size = f[F_FILESIZE],
                        };

                        r = w->cb(&e, w->ctx);
                        if (r != 0) {
                                w->stopped = true;
                                return r;
                        }
                }
                p += next;
        }
        *pos = p;
        *ret_trailer = false;
        return 0;
}

/* ---- decoders ---------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * gzip: one member, as the kernel's gunzip reads it: raw deflate by zlib's
 * inflate, as the kernel's lib/zlib_inflate (libdeflate is twice as fast
 * but accepts what both refuse: the reserved length codes 286 and 287 in a
 * fixed-Huffman block), behind a header read as libdeflate's gzip reader
 * reads it (the header CRC skipped, not checked), and the trailer's CRC-32
 * and size checked (the kernel does not).
 */
#define GZIP_FOOTER 8u
#define GZIP_MIN 18u                    /* a 10-byte header, an empty deflate block, the footer */
#define GZIP_FEXTRA 0x04
#define GZIP_FNAME 0x08
#define GZIP_FCOMMENT 0x10
#define GZIP_FHCRC 0x02
#define GZIP_FRESERVED 0xe0

static int gzip_bad(struct dec *d) {
        return dec_fail(d, -EINVAL, "gzip decompression failed: corrupt or truncated data");
}

/* The member's header: d->used ends after it. */
static int gzip_open(struct dec *d) {
        const uint8_t *p = d->in, *end = d->in + d->len;
        uint8_t flg;
        int zr;

        if (d->len < GZIP_MIN || p[2] != 8)
                return gzip_bad(d);
        flg = p[3];
        p += 10;
        if (flg & GZIP_FRESERVED)
                return gzip_bad(d);
        if (flg & GZIP_FEXTRA) {
                size_t xlen = (size_t)p[0] | (size_t)p[1] << 8;

                p += 2;
                if (end - p < (ptrdiff_t)(xlen + GZIP_FOOTER))
                        return gzip_bad(d);
                p += xlen;
        }
        for (uint8_t f = GZIP_FNAME; f <= GZIP_FCOMMENT; f <<= 1)
                if (flg & f) {
                        while (*p++ != 0 && p != end)
                                ;
                        if (end - p < (ptrdiff_t)GZIP_FOOTER)
                                return gzip_bad(d);
                }
        if (flg & GZIP_FHCRC) {
                p += 2;
                if (end - p < (ptrdiff_t)GZIP_FOOTER)
                        return gzip_bad(d);
        }
        d->used = (size_t)(p - d->in);
        zr = inflateInit2(&d->z, -MAX_WBITS);
        if (zr != Z_OK)
                return zr == Z_MEM_ERROR ? dec_oom(d) : dec_fail(d, -EINVAL, "zlib: cannot initialize (%d)", zr);
        d->crc = crc32(0, Z_NULL, 0);
        return 0;
}

static int gzip_step(struct dec *d, uint8_t *room, size_t len, size_t *ret_out) {
        /* The footer is not deflate's: keep it out of inflate's reach. */
        size_t in = d->len - GZIP_FOOTER - d->used, out;
        int zr;

        d->z.next_in = (Bytef *)(uintptr_t)(d->in + d->used);
        d->z.avail_in = in < UINT_MAX ? (unsigned)in : UINT_MAX;
        d->z.next_out = room;
        d->z.avail_out = len < UINT_MAX ? (unsigned)len : UINT_MAX;
        in = d->z.avail_in;
        out = d->z.avail_out;
        zr = inflate(&d->z, Z_NO_FLUSH);
        d->used += in - d->z.avail_in;
        out -= d->z.avail_out;
        d->crc = crc32_z(d->crc, room, out);
        *ret_out = out;
        switch (zr) {
        case Z_OK:
                return 0;
        case Z_STREAM_END:
                d->end = true;
                if (le32(d->in + d->used) != (uint32_t)d->crc || le32(d->in + d->used + 4) != (uint32_t)(d->n + out))
                        return gzip_bad(d);
                d->used += GZIP_FOOTER;
                return 0;
        case Z_MEM_ERROR:
                return dec_oom(d);
        default:        /* Z_BUF_ERROR: no progress, the input is used up */
                return gzip_bad(d);
        }
}

static void gzip_close(struct dec *d) {
        inflateEnd(&d->z);
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

static int lzma_open_as(struct dec *d, bool xz) {
        uint64_t memlimit = d->max > LZMA_DICT_FLOOR ? d->max : LZMA_DICT_FLOOR;
        lzma_ret lr;

        d->x = (lzma_stream) LZMA_STREAM_INIT;
        memlimit = memlimit < UINT64_MAX - (1u << 20) ? memlimit + (1u << 20) : UINT64_MAX;
        lr = xz ? lzma_stream_decoder(&d->x, memlimit, 0) : lzma_alone_decoder(&d->x, memlimit);
        if (lr != LZMA_OK)
                return lr == LZMA_MEM_ERROR ? dec_oom(d) : dec_fail(d, -EINVAL, "liblzma: cannot initialize (%d)", (int)lr);
        return 0;
}

static int xz_open(struct dec *d) {
        return lzma_open_as(d, true);
}

static int lzma_open(struct dec *d) {
        return lzma_open_as(d, false);
}

static int lzma_step(struct dec *d, uint8_t *room, size_t len, size_t *ret_out) {
        size_t in = d->len - d->used;
        lzma_ret lr;

        d->x.next_in = d->in + d->used;
        d->x.avail_in = in;
        d->x.next_out = room;
        d->x.avail_out = len;
        lr = lzma_code(&d->x, LZMA_FINISH);
        d->used += in - d->x.avail_in;
        *ret_out = len - d->x.avail_out;
        switch (lr) {
        case LZMA_OK:
                return 0;
        case LZMA_STREAM_END:
                d->end = true;
                return 0;
        case LZMA_BUF_ERROR:
                return dec_truncated(d);
        case LZMA_MEM_ERROR:
                return dec_oom(d);
        case LZMA_FORMAT_ERROR:
                return dec_fail(d, -EINVAL, "%s decompression failed: bad header", d->k->name);
        case LZMA_MEMLIMIT_ERROR:
                return dec_fail(d, -EINVAL, "%s decompression failed: needs %" PRIu64 " bytes of memory, more than the %" PRIu64
                                " allowed", d->k->name, lzma_memusage(&d->x), lzma_memlimit_get(&d->x));
        case LZMA_OPTIONS_ERROR:
                return dec_fail(d, -EINVAL, "%s decompression failed: unsupported options", d->k->name);
        case LZMA_DATA_ERROR:
                return dec_fail(d, -EINVAL, "%s decompression failed: corrupt data", d->k->name);
        default:
                return dec_fail(d, -EINVAL, "%s decompression failed: liblzma error %d", d->k->name, (int)lr);
        }
}

static void lzma_close(struct dec *d) {
        lzma_end(&d->x);
}

/* bzip2: one stream, as the kernel's bunzip2 (block and stream CRCs checked); libbz2's lengths are 32-bit. */
static int bzip2_open(struct dec *d) {
        int br;

        d->b = (bz_stream) {};
        br = BZ2_bzDecompressInit(&d->b, 0, 0);
        if (br != BZ_OK)
                return br == BZ_MEM_ERROR ? dec_oom(d) : dec_fail(d, -EINVAL, "libbz2: cannot initialize (%d)", br);
        return 0;
}

static int bzip2_step(struct dec *d, uint8_t *room, size_t len, size_t *ret_out) {
        size_t in = d->len - d->used < UINT_MAX ? d->len - d->used : UINT_MAX, took, out;
        int br;

        if (len > UINT_MAX)
                len = UINT_MAX;
        d->b.next_in = (char *)(uintptr_t)(d->in + d->used);
        d->b.avail_in = (unsigned)in;
        d->b.next_out = (char *)room;
        d->b.avail_out = (unsigned)len;
        br = BZ2_bzDecompress(&d->b);
        took = in - d->b.avail_in;
        out = len - d->b.avail_out;
        d->used += took;
        *ret_out = out;
        if (br == BZ_STREAM_END) {
                d->end = true;
                return 0;
        }
        if (br == BZ_OK) {
                if (took > 0 || out > 0)
                        return 0;
                return d->used == d->len ? dec_truncated(d) : dec_fail(d, -EINVAL, "bzip2 decompression failed: stalled");
        }
        if (br == BZ_MEM_ERROR)
                return dec_oom(d);
        return dec_fail(d, -EINVAL, "bzip2 decompression failed: %s",
                        br == BZ_DATA_ERROR_MAGIC ? "bad header" : br == BZ_DATA_ERROR ? "corrupt data" : "libbz2 error");
}

static void bzip2_close(struct dec *d) {
        BZ2_bzDecompressEnd(&d->b);
}

/*
 * lz4 legacy (lz4 -l), read as the kernel's unlz4 reads it: after the magic,
 * blocks of [32-bit little-endian compressed size][data] to the end of the
 * input, each decompressing to at most 8 MiB; a size word equal to the magic
 * is skipped (that is where a concatenated file starts).  The format has no
 * end mark: whatever follows the stream is taken as more blocks.  A step
 * decodes one block.
 */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK ((size_t)8 << 20)

static int lz4_open(struct dec *d) {
        d->used = 4;
        return 0;
}

static int lz4_step(struct dec *d, uint8_t *room, size_t len, size_t *ret_out) {
        size_t block;
        uint32_t size;
        int got;

        *ret_out = 0;
        do {
                if (d->used == d->len) {
                        d->end = true;
                        return 0;
                }
                if (d->len - d->used < 4)
                        return dec_truncated(d);
                block = d->used;
                size = le32(d->in + d->used);
                d->used += 4;
        } while (size == LZ4_LEGACY_MAGIC);
        if (size > d->len - d->used)
                return dec_truncated(d);
        if (size > INT_MAX)
                return dec_fail(d, -EINVAL, "lz4 decompression failed: block at byte offset %zu too large", d->off + block);
        if (len > LZ4_LEGACY_BLOCK)
                len = LZ4_LEGACY_BLOCK;
        got = LZ4_decompress_safe((const char *)d->in + d->used, (char *)room, (int)size, (int)len);
        if (got < 0 && len < LZ4_LEGACY_BLOCK) {
                /* Corrupt, or just more than the cap allows?  Decode it again with the room the format gives. */
                _cleanup_(freep) uint8_t *scratch = malloc(LZ4_LEGACY_BLOCK);

                if (!scratch)
                        return dec_oom(d);
                if (LZ4_decompress_safe((const char *)d->in + d->used, (char *)scratch, (int)size, (int)LZ4_LEGACY_BLOCK) >= 0)
                        return dec_over_cap(d);
        }
        if (got < 0)
                return dec_fail(d, -EINVAL, "lz4 decompression failed: corrupt block at byte offset %zu", d->off + block);
        d->used += size;
        *ret_out = (size_t)got;
        return 0;
}

/* zstd: the frames zstd_extent() measured, one after the other. */
static int zstd_open(struct dec *d) {
        d->zs = ZSTD_createDCtx();
        if (!d->zs)
                return dec_oom(d);
        return 0;
}

static int zstd_step(struct dec *d, uint8_t *room, size_t len, size_t *ret_out) {
        ZSTD_inBuffer in = { d->in, d->len, d->used };
        ZSTD_outBuffer out = { room, len, 0 };
        size_t zr;

        zr = ZSTD_decompressStream(d->zs, &out, &in);
        if (ZSTD_isError(zr))
                return ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation ? dec_oom(d) :
                        dec_fail(d, -EINVAL, "zstd decompression failed: %s", ZSTD_getErrorName(zr));
        *ret_out = out.pos;
        if (zr == 0 && in.pos == in.size)
                d->end = true;
        else if (in.pos == d->used && out.pos == 0)
                return in.pos == in.size ? dec_truncated(d) : dec_fail(d, -EINVAL, "zstd decompression failed: stalled");
        d->used = in.pos;
        return 0;
}

static void zstd_close(struct dec *d) {
        ZSTD_freeDCtx(d->zs);
}

/* The kernel's decompressors (lib/decompress.c), longest magic that identifies each. */
static const struct codec codecs[] = {
        { "gzip",  { 0x1f, 0x8b },                         2, 0, gzip_open, gzip_step, gzip_close },
        { "zstd",  { 0x28, 0xb5, 0x2f, 0xfd },             4, 0, zstd_open, zstd_step, zstd_close },
        { "xz",    { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 }, 6, 0, xz_open, lzma_step, lzma_close },
        { "lzma",  { 0x5d, 0x00, 0x00 },                   3, 0, lzma_open, lzma_step, lzma_close },
        { "bzip2", { 'B', 'Z', 'h' },                      3, 0, bzip2_open, bzip2_step, bzip2_close },
        { "lz4",   { 0x02, 0x21, 0x4c, 0x18 },             4, LZ4_LEGACY_BLOCK, lz4_open, lz4_step, NULL },
        { "lzo",   { 0x89, 0x4c, 0x5a },                   3, 0, NULL, NULL, NULL },
};

static const struct codec *codec_at(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(codecs); i++)
                if (n >= codecs[i].magic_len && memcmp(p, codecs[i].magic, codecs[i].magic_len) == 0)
                        return &codecs[i];
        return NULL;
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

/* ---- segments ----------------------------------------------------------------- */

static int walk_stream(struct walk *w, const uint8_t *in, size_t len, const struct codec *z, size_t off, size_t *ret_used);

/*
 * The archives in @s, NUL padding between them.  With @k set, @s is the
 * output of that codec's stream at @k_off and holds nothing else;
 * otherwise it is the image, compressed segments may follow, and the walk
 * goes on after each stream's end as the kernel does.
 */
static int walk_segments(struct walk *w, struct src *s, const struct codec *k, size_t k_off) {
        size_t pos = 0;
        bool trailer = false;
        char magic[64];
        int r;

        for (;;) {
                const struct codec *z;
                const uint8_t *p;
                size_t have, used = 0, nul = 0;

                r = src_get(s, pos, 6, &have);
                if (r < 0)
                        return r;
                if (have == 0)
                        break;
                p = src_at(s, pos);
                while (nul < have && p[nul] == 0)
                        nul++;
                if (nul > 0) {
                        pos += nul;
                        continue;
                }
                if (is_newc_magic(p, have)) {
                        if (pos % 4 != 0)
                                return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: cpio archive not 4-byte aligned "
                                                  "(the kernel wants NUL padding before it)", w->where, pos);
                        r = walk_archive(w, s, &pos, &trailer);
                        if (r != 0)
                                return r;
                        continue;
                }
                z = codec_at(p, have);
                /* The kernel decompresses once; a stream that decompresses to another stream is junk to it. */
                if (k && z && pos == 0)
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %s segment at byte offset %zu: nested compression",
                                          k->name, k_off);
                if (k || !z) {
                        describe(p, have, magic);
                        return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: unknown magic %s%s", w->where, pos,
                                          magic, k ? " after a cpio archive" : "");
                }
                /* Not decompressed: @s is the image, all of it at hand. */
                r = walk_stream(w, p, s->len - (pos - s->base), z, pos, &used);
                if (r != 0)
                        return r;
                /* The stream ended @used bytes in: go on from there, as the kernel does. */
                pos += used;
        }
        /* The kernel: "junk at the end of compressed archive" unless it ended after a trailer. */
        if (k && !trailer)
                return ib_err_set(w->err, -EINVAL, 0, "initrd: %sbyte offset %zu: %s", w->where, pos,
                                  pos == 0 ? "empty compressed segment" : "compressed segment does not end with a cpio trailer");
        return 0;
}

/*
 * The compressed stream at @in (@len bytes to the end of the image, at byte
 * offset @off in it), decoded through a window, and the archives in it; *ret_used: how much of @in the stream took.
 */
static int walk_stream(struct walk *w, const uint8_t *in, size_t len, const struct codec *z, size_t off, size_t *ret_used) {
        struct dec d = {
                .k = z, .in = in, .len = z->open == zstd_open ? zstd_extent(in, len) : len, .off = off,
                .limit = w->max_unpacked, .max = w->max_unpacked - w->unpacked, .err = w->err,
        };
        struct src s = { .d = &d };
        bool opened;
        int r;

        if (!z->open)
                return ib_err_set(w->err, -EOPNOTSUPP, 0, "initrd: byte offset %zu: %s-compressed segment not supported",
                                  off, z->name);
        r = z->open(&d);
        opened = r == 0;
        if (opened) {
                snprintf(w->where, sizeof(w->where), "%s segment at byte offset %zu, decompressed ", z->name, off);
                r = walk_segments(w, &s, z, off);
                w->where[0] = 0;
        }
        /* A walk that returned 0 read to the end, so the stream is done with. */
        w->unpacked += d.n;
        *ret_used = d.used;
        /* The codec's state is set up by an open that succeeded, and only then. */
        if (opened && z->close)
                z->close(&d);
        free(s.win);
        return r;
}

int ib_initrd_walk(const void *buf, size_t len, size_t max_unpacked, int (*cb)(const struct ib_cpio_entry *e, void *ctx),
                   void *ctx, struct ib_err *err) {
        struct ib_err mine;
        struct walk w = { .cb = cb, .ctx = ctx, .err = &mine, .max_unpacked = max_unpacked };
        struct src s = { .buf = buf, .len = len };
        int r;

        r = walk_segments(&w, &s, NULL, 0);
        if (r != 0 && !w.stopped && err)
                *err = mine;
        return r;
}

int ib_decompress(const void *in, size_t len, size_t max, const char *name, uint8_t **ret, size_t *ret_len,
                  struct ib_err *err) {
        const uint8_t *p = in;
        const struct codec *z = codec_at(p, len);
        struct dec d;
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t cap = 0, n = 0;
        int r;

        if (!z)
                return ib_err_set(err, -EINVAL, 0, "%s: not a gzip, zstd, xz, lzma, bzip2 or lz4 stream", name);
        if (!z->open)
                return ib_err_set(err, -EOPNOTSUPP, 0, "%s: %s-compressed, which is not supported", name, z->name);
        d = (struct dec) {
                .k = z, .in = p, .len = z->open == zstd_open ? zstd_extent(p, len) : len,
                .limit = max, .max = max, .name = name, .err = err,
        };
        r = z->open(&d);
        if (r < 0)
                return r;
        while (!d.end) {
                size_t room = z->room > WIN_STEP ? z->room : WIN_STEP, out = 0, used = d.used;

                if (cap - n < room) {
                        /* Doubling: the buffer grows with what came out, never with what a header claims. */
                        size_t ncap = n + room > cap * 2 ? n + room : cap * 2;
                        uint8_t *nb = realloc(buf, ncap);

                        if (!nb) {
                                r = dec_oom(&d);
                                break;
                        }
                        buf = nb;
                        cap = ncap;
                }
                r = dec_step(&d, buf + n, cap - n, &out);
                if (r < 0)
                        break;
                n += out;
                if (!d.end && out == 0 && d.used == used) {
                        r = dec_truncated(&d);
                        break;
                }
        }
        if (z->close)
                z->close(&d);
        if (r < 0)
                return r;
        /* Padding (xz's, a block device's) may follow the stream; anything else is not the stream's. */
        for (size_t i = d.used; i < len; i++)
                if (p[i] != 0)
                        return ib_err_set(err, -EINVAL, 0, "%s (%s): %zu bytes after the end of the stream", name, z->name,
                                          len - d.used);
        *ret = buf;
        buf = NULL;
        *ret_len = n;
        return 0;
}
