/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unit.h: the unit tests' tiny harness.  Each check prints "ok - NAME" or
 * "not ok - NAME (file:line: expression)"; tests/run-tests counts them.
 * A test program exits non-zero when any check failed.
 */
#ifndef INETBOOT_UNIT_H
#define INETBOOT_UNIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static unsigned unit_failed, unit_passed;

static inline int unit_check(const char *name, int ok, const char *file, int line, const char *expr) {
        if (ok) {
                unit_passed++;
                printf("ok - %s\n", name);
        } else {
                unit_failed++;
                printf("not ok - %s (%s:%d: %s)\n", name, file, line, expr);
        }
        fflush(stdout);
        return ok;
}

/* Each macro evaluates @expr exactly once. */
#define CHECK(name, expr) unit_check(name, !!(expr), __FILE__, __LINE__, #expr)

/* For a precondition whose failure makes the rest of the test meaningless. */
#define REQUIRE(name, expr)                                                   \
        do {                                                                  \
                if (!unit_check(name, !!(expr), __FILE__, __LINE__, #expr))   \
                        exit(1);                                              \
        } while (0)

#define UNIT_EXIT() return unit_failed ? 1 : 0

/* @in as one gzip member (zlib, level 9) into @out; its length, 0 when @cap is too small. */
static inline size_t unit_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
        z_stream z = { 0 };
        size_t n;

        if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return 0;
        z.next_in = (uint8_t *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        n = deflate(&z, Z_FINISH) == Z_STREAM_END ? z.total_out : 0;
        deflateEnd(&z);
        return n;
}

#endif
