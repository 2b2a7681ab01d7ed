/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * multiboot.c: a hypervisor image as kexec-tools loads it (see multiboot.h).
 */
#include <errno.h>
#include <string.h>

#include <zlib.h>

#include "multiboot.h"

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

long ib_multiboot2_header(const void *buf, size_t len) {
        const uint8_t *p = buf;
        size_t end = len < IB_MULTIBOOT2_SEARCH ? len : IB_MULTIBOOT2_SEARCH;

        for (size_t off = 0; off + 16 <= end; off += 8) {
                uint32_t magic = le32(p + off), arch = le32(p + off + 4), hlen = le32(p + off + 8);

                if (magic != IB_MULTIBOOT2_MAGIC || arch != 0 || hlen < 16 || hlen > len - off)
                        continue;
                if ((uint32_t)(magic + arch + hlen + le32(p + off + 12)) == 0)
                        return (long)off;
        }
        return -ENOENT;
}

/* One gzip member into a buffer of at most @max bytes. */
static int gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **ret, size_t *ret_len, struct ib_err *err) {
        z_stream z = { 0 };
        uint8_t *out = NULL;
        size_t cap = 0, n = 0;
        int zr, r;

        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        z.next_in = (uint8_t *)in;
        do {
                /* zlib counts in 32 bits: feed it at most 1 GiB at a time. */
                if (z.avail_in == 0) {
                        size_t left = len - (size_t)(z.next_in - in);

                        z.avail_in = (uInt)(left < (1u << 30) ? left : (1u << 30));
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : (len < (1u << 20) ? (1u << 20) : len * 4);
                        uint8_t *no;

                        if (cap >= max + 1) {
                                r = ib_err_set(err, -EFBIG, 0, "the decompressed hypervisor is larger than %zu bytes", max);
                                goto fail;
                        }
                        if (ncap > max + 1)
                                ncap = max + 1;
                        no = realloc(out, ncap);
                        if (!no) {
                                r = ib_err_set(err, -ENOMEM, 0, "out of memory");
                                goto fail;
                        }
                        out = no;
                        cap = ncap;
                }
                z.next_out = out + n;
                z.avail_out = (uInt)(cap - n < (1u << 30) ? cap - n : (1u << 30));
                zr = inflate(&z, Z_NO_FLUSH);
                n = (size_t)(z.next_out - out);
                if (zr == Z_BUF_ERROR && z.avail_in == 0 && (size_t)(z.next_in - in) == len) {
                        r = ib_err_set(err, -EBADMSG, 0, "the gzip data ends early (truncated file)");
                        goto fail;
                }
                if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                        r = ib_err_set(err, -EBADMSG, 0, "gzip decompression failed: %s", z.msg ? z.msg : "corrupt data");
                        goto fail;
                }
        } while (zr != Z_STREAM_END);
        if (n > max) {
                r = ib_err_set(err, -EFBIG, 0, "the decompressed hypervisor is larger than %zu bytes", max);
                goto fail;
        }
        inflateEnd(&z);
        *ret = out;
        *ret_len = n;
        return 0;
fail:
        inflateEnd(&z);
        free(out);
        return r;
}

int ib_multiboot_image(const void *buf, size_t len, size_t max, void **ret, size_t *ret_len, struct ib_err *err) {
        const uint8_t *p = buf;
        uint8_t *img = NULL;
        size_t n = 0;
        int r;

        if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
                r = gunzip(p, len, max, &img, &n, err);
                if (r < 0)
                        return r;
        } else {
                if (len > max)
                        return ib_err_set(err, -EFBIG, 0, "the hypervisor is larger than %zu bytes", max);
                img = malloc(len ? len : 1);
                if (!img)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                memcpy(img, buf, len);
                n = len;
        }
        if (ib_multiboot2_header(img, n) < 0) {
                free(img);
                return ib_err_set(err, -EBADMSG, 0, "no Multiboot2 header in its first %u KiB (kexec-tools loads "
                                  "hypervisors as Multiboot2 images)", IB_MULTIBOOT2_SEARCH / 1024);
        }
        *ret = img;
        *ret_len = n;
        return 0;
}
