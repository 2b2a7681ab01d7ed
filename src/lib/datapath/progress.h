/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * progress.h: the one progress line of a long read (the preboot reading the
 * kernel and initrd through inetboot-httpfs): bytes, rate, time left, the
 * mirror in use, blocks from the cache.  A terminal gets the line redrawn in
 * place (carriage return) at most once a second; anything else, such as a
 * log file, a whole line at most every ten seconds; either way a summary line
 * at the end.  So a serial console is never flooded.
 *
 * The mirror and cache figures come from inetboot-httpfs' statistics file
 * (MOUNTPOINT/.inetboot-stats, see inetboot-httpfs(1)), parsed here.
 * Nothing here prints: the formatters fill buffers, the caller writes them.
 */
#ifndef INETBOOT_PROGRESS_H
#define INETBOOT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IB_PROGRESS_MAX_MIRRORS 16u
#define IB_PROGRESS_URL_MAX     200u

/* What inetboot-httpfs' statistics file says, the part a progress line shows. */
struct ib_xfer_stats {
        uint64_t disk_hits;             /* blocks served from the persistent cache */
        unsigned n_mirrors;
        struct {
                char url[IB_PROGRESS_URL_MAX + 1];      /* cut at IB_PROGRESS_URL_MAX bytes */
                uint64_t bytes;
        } mirrors[IB_PROGRESS_MAX_MIRRORS];
};

/*
 * Parse the statistics text @s of @len bytes: "disk-hits N" and
 * "mirror URL bytes=N ..." lines; others are skipped.  Missing fields stay
 * 0; mirrors past IB_PROGRESS_MAX_MIRRORS are left out.  Returns 0, or
 * -EINVAL for a line of those two kinds that is not of its form.
 */
int ib_xfer_stats_parse(const char *s, size_t len, struct ib_xfer_stats *ret);

/*
 * The mirror that sent the most bytes between @before and @now (by URL), or
 * if none sent any, the one with most bytes overall: its index in @now, or
 * -1 when @now has no mirror with a byte.
 */
int ib_xfer_busiest(const struct ib_xfer_stats *before, const struct ib_xfer_stats *now);

struct ib_progress {
        uint64_t total;                 /* bytes to read */
        uint64_t t0_ms, last_ms;        /* start, last line */
        bool tty;                       /* redraw one line in place */
        size_t last_len;                /* of the line drawn last, to blank its rest */
};

/* Start: @total bytes, @now_ms a monotonic clock, @tty whether the output is a terminal. */
void ib_progress_init(struct ib_progress *p, uint64_t total, uint64_t now_ms, bool tty);

/*
 * Whether a line is due at @now_ms (a terminal: 1 s after the last one, else
 * 10 s); when it is, the caller formats one with ib_progress_line and writes it.
 */
bool ib_progress_due(struct ib_progress *p, uint64_t now_ms);

/*
 * Fill @buf (of @size bytes) with the line for @done bytes of @what at
 * @now_ms, and @extra (the mirror, the cache: may be NULL) after it:
 * "WHAT  12.3 of 42.0 MB (29%), 3.1 MB/s, 10 s left; EXTRA".  With
 * @final, the summary: "WHAT: 42.0 MB in 13.5 s (3.1 MB/s); EXTRA".  For a
 * terminal the text starts with '\r' and is padded with blanks over the
 * previous line; it ends in '\n' unless it is a terminal's non-final line.
 * Returns the length written (cut to fit @size).
 */
size_t ib_progress_line(struct ib_progress *p, char *buf, size_t size, const char *what, uint64_t done,
                        uint64_t now_ms, const char *extra, bool final);

#endif
