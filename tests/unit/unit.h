/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unit.h: the unit tests' tiny harness.  Each check prints "ok - NAME" or
 * "not ok - NAME (file:line: expression)"; tests/run-tests counts them.
 * A test program exits non-zero when any check failed.
 */
#ifndef INETBOOT_UNIT_H
#define INETBOOT_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
