/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c: the agent's messages on stderr, "inetboot: ...", with --timestamps the
 * seconds since boot before each, as the kernel stamps its console lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "agent.h"

bool agent_timestamps;                 /* --timestamps */

static void vsay(const char *prefix, const char *fmt, va_list ap) {
        struct timespec ts;

        /* As the kernel stamps its console lines: seconds since boot. */
        if (agent_timestamps && clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
                fprintf(stderr, "[%6lld.%02ld] ", (long long)ts.tv_sec, ts.tv_nsec / 10000000);
        fprintf(stderr, "inetboot: %s", prefix);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

_printf_(1, 2) void agent_say(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsay("", fmt, ap);
        va_end(ap);
}

_printf_(1, 2) int agent_fail(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsay("error: ", fmt, ap);
        va_end(ap);
        return -1;
}
