/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* progress.c: see progress.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "progress.h"
#include "util.h"

#define TTY_EVERY_MS  1000u
#define LOG_EVERY_MS 10000u

/* The value of "KEY=" in the blank-separated words of @s .. @end, as a number. */
static int word_u64(const char *s, const char *end, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);

        while (s < end) {
                const char *w = s, *we;

                while (w < end && *w == ' ')
                        w++;
                we = w;
                while (we < end && *we != ' ')
                        we++;
                if ((size_t)(we - w) > klen && memcmp(w, key, klen) == 0)
                        return ib_parse_u64(w + klen, (size_t)(we - w) - klen, ret);
                s = we;
        }
        return -EINVAL;
}

int ib_xfer_stats_parse(const char *s, size_t len, struct ib_xfer_stats *ret) {
        struct ib_xfer_stats st = {};
        const char *end = s + len;

        while (s < end) {
                const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;

                if (le - s > 10 && memcmp(s, "disk-hits ", 10) == 0) {
                        if (ib_parse_u64(s + 10, (size_t)(le - s) - 10, &st.disk_hits) < 0)
                                return -EINVAL;
                } else if (le - s > 7 && memcmp(s, "mirror ", 7) == 0) {
                        const char *u = s + 7, *ue = memchr(u, ' ', (size_t)(le - u));
                        uint64_t bytes;

                        if (!ue || ue == u || word_u64(ue, le, "bytes=", &bytes) < 0)
                                return -EINVAL;
                        if (st.n_mirrors < IB_PROGRESS_MAX_MIRRORS) {
                                size_t ul = (size_t)(ue - u);

                                if (ul > IB_PROGRESS_URL_MAX)
                                        ul = IB_PROGRESS_URL_MAX;
                                memcpy(st.mirrors[st.n_mirrors].url, u, ul);
                                st.mirrors[st.n_mirrors].url[ul] = 0;
                                st.mirrors[st.n_mirrors].bytes = bytes;
                                st.n_mirrors++;
                        }
                }
                s = nl ? nl + 1 : end;
        }
        *ret = st;
        return 0;
}

int ib_xfer_busiest(const struct ib_xfer_stats *before, const struct ib_xfer_stats *now) {
        int best = -1, most = -1;
        uint64_t best_delta = 0, most_bytes = 0;

        for (unsigned i = 0; i < now->n_mirrors; i++) {
                uint64_t prev = 0, b = now->mirrors[i].bytes;

                for (unsigned j = 0; before && j < before->n_mirrors; j++)
                        if (strcmp(before->mirrors[j].url, now->mirrors[i].url) == 0)
                                prev = before->mirrors[j].bytes;
                if (b > prev && b - prev > best_delta)
                        best_delta = b - prev, best = (int)i;
                if (b > most_bytes)
                        most_bytes = b, most = (int)i;
        }
        return best >= 0 ? best : most;
}

void ib_progress_init(struct ib_progress *p, uint64_t total, uint64_t now_ms, bool tty) {
        *p = (struct ib_progress) { .total = total, .t0_ms = now_ms, .last_ms = now_ms, .tty = tty };
}

bool ib_progress_due(struct ib_progress *p, uint64_t now_ms) {
        return now_ms - p->last_ms >= (p->tty ? TTY_EVERY_MS : LOG_EVERY_MS);
}

/* Append to @buf at *@at what fits, always NUL-terminated. */
_printf_(4, 5) static void put(char *buf, size_t size, size_t *at, const char *fmt, ...) {
        va_list ap;
        int n;

        if (*at + 1 >= size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *at, size - *at, fmt, ap);
        va_end(ap);
        if (n > 0)
                *at += (size_t)n < size - *at ? (size_t)n : size - *at - 1;
}

size_t ib_progress_line(struct ib_progress *p, char *buf, size_t size, const char *what, uint64_t done,
                        uint64_t now_ms, const char *extra, bool final) {
        uint64_t ms = now_ms > p->t0_ms ? now_ms - p->t0_ms : 0;
        double mb = (double)done / 1e6, rate = ms ? (double)done / 1e3 / (double)ms : 0;   /* MB/s */
        size_t at = 0, text;

        if (!size)
                return 0;
        buf[0] = 0;
        if (p->tty)
                put(buf, size, &at, "\r");
        text = at;
        if (final)
                put(buf, size, &at, "%s: %.1f MB in %.1f s (%.1f MB/s)", what, mb, (double)ms / 1e3, rate);
        else {
                put(buf, size, &at, "%s  %.1f of %.1f MB", what, mb, (double)p->total / 1e6);
                if (p->total)
                        put(buf, size, &at, " (%u%%)", (unsigned)(done * 100 / p->total));
                put(buf, size, &at, ", %.1f MB/s", rate);
                if (rate > 0 && done < p->total)
                        put(buf, size, &at, ", %.0f s left", (double)(p->total - done) / 1e6 / rate);
        }
        if (extra && *extra)
                put(buf, size, &at, "; %s", extra);
        if (p->tty) {
                size_t len = at - text;

                /* Blank what is left of a longer previous line. */
                for (size_t i = len; i < p->last_len; i++)
                        put(buf, size, &at, " ");
                p->last_len = final ? 0 : len;
        }
        if (final || !p->tty)
                put(buf, size, &at, "\n");
        p->last_ms = now_ms;
        return at;
}
