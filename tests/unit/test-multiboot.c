/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>


#include "multiboot.h"
#include "unit.h"

static void put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

/* A Multiboot2 header of @hlen bytes at @off of @img: magic, architecture 0, length, checksum. */
static void header(uint8_t *img, size_t off, uint32_t hlen) {
        put32(img + off, IB_MULTIBOOT2_MAGIC);
        put32(img + off + 4, 0);
        put32(img + off + 8, hlen);
        put32(img + off + 12, (uint32_t)-(IB_MULTIBOOT2_MAGIC + hlen));
}

static void test_header(void) {
        static uint8_t img[65536];

        memset(img, 0x90, sizeof(img));
        CHECK("header: none in filler", ib_multiboot2_header(img, sizeof(img)) == -ENOENT);
        header(img, 4096, 24);
        CHECK("header: found at 4096", ib_multiboot2_header(img, sizeof(img)) == 4096);
        put32(img + 4096 + 12, 0);
        CHECK("header: a bad checksum is not one", ib_multiboot2_header(img, sizeof(img)) == -ENOENT);
        header(img, 4096, 24);
        put32(img + 4096 + 4, 4);
        put32(img + 4096 + 12, (uint32_t)-(IB_MULTIBOOT2_MAGIC + 4 + 24));
        CHECK("header: architecture MIPS (4) is not ours", ib_multiboot2_header(img, sizeof(img)) == -ENOENT);
        memset(img, 0x90, sizeof(img));
        header(img, 4100, 24);
        CHECK("header: not on an 8-byte boundary", ib_multiboot2_header(img, sizeof(img)) == -ENOENT);
        memset(img, 0x90, sizeof(img));
        header(img, 40000, 24);
        CHECK("header: past the first 32 KiB", ib_multiboot2_header(img, sizeof(img)) == -ENOENT);
        memset(img, 0x90, sizeof(img));
        header(img, 64, 4096);
        CHECK("header: its length must fit the image", ib_multiboot2_header(img, 128) == -ENOENT);
        CHECK("header: ... and does", ib_multiboot2_header(img, 64 + 4096) == 64);
}

static void test_image(void) {
        static uint8_t img[200000], gz[250000];
        struct ib_err e = {};
        void *out = NULL;
        size_t n = 0, gl;

        for (size_t i = 0; i < sizeof(img); i++)
                img[i] = (uint8_t)(i * 7 + i / 1000);
        header(img, 8192, 32);
        REQUIRE("image: plain", ib_multiboot_image(img, sizeof(img), 1u << 20, &out, &n, &e) == 0);
        CHECK("image: plain is copied", n == sizeof(img) && memcmp(out, img, n) == 0);
        free(out);
        gl = unit_gzip(img, sizeof(img), gz, sizeof(gz));
        REQUIRE("image: gzip the test image", gl > 0);
        out = NULL;
        REQUIRE("image: gzip", ib_multiboot_image(gz, gl, 1u << 20, &out, &n, &e) == 0);
        CHECK("image: gzip is decompressed", n == sizeof(img) && memcmp(out, img, n) == 0);
        free(out);
        out = NULL;
        n = 7;
        CHECK("image: larger than max", ib_multiboot_image(gz, gl, 100000, &out, &n, &e) == -EFBIG && !out && n == 7);
        CHECK("image: plain larger than max", ib_multiboot_image(img, sizeof(img), 100000, &out, &n, &e) == -EFBIG);
        CHECK("image: truncated gzip", ib_multiboot_image(gz, gl / 2, 1u << 20, &out, &n, &e) == -EBADMSG &&
              strstr(e.msg, "gzip") && !out);
        gz[gl / 2] ^= 0xff;
        CHECK("image: corrupt gzip", ib_multiboot_image(gz, gl, 1u << 20, &out, &n, &e) == -EBADMSG && !out);
        memset(img + 8192, 0, 16);
        CHECK("image: without a header", ib_multiboot_image(img, sizeof(img), 1u << 20, &out, &n, &e) == -EBADMSG &&
              strstr(e.msg, "Multiboot2") && !out);
        gl = unit_gzip(img, sizeof(img), gz, sizeof(gz));
        CHECK("image: gzip'd without a header", gl > 0 && ib_multiboot_image(gz, gl, 1u << 20, &out, &n, &e) == -EBADMSG &&
              strstr(e.msg, "Multiboot2"));
}

int main(void) {
        test_header();
        test_image();
        UNIT_EXIT();
}
