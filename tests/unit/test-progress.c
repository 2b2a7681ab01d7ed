/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the progress line and the statistics it reads (src/lib/datapath/progress.c). */
#include <errno.h>
#include <string.h>

#include "progress.h"
#include "unit.h"

static const char stats[] =
        "image minilive.iso\nsize 17000000\nblock-size 262144\nreads 40\nbytes-read 9000000\n"
        "ram-hits 3\ndisk-hits 7\nverify-failures 0\nretries 0\neio 0\n"
        "read-latency-avg-ms 1.0\nread-latency-max-ms 9.0\n"
        "mirror http://a.example/x.iso bytes=1000 requests=1 errors=0 verify-failures=0 latency-ms=1.0 rate-MBps=1.0 kind=image state=ok\n"
        "mirror http://b.example/x.iso bytes=5000 requests=2 errors=0 verify-failures=0 latency-ms=1.0 rate-MBps=1.0 kind=image state=ok\n";

static void test_stats(void) {
        struct ib_xfer_stats st, before;
        char big[8192];
        size_t n = 0;

        REQUIRE("stats: parses", ib_xfer_stats_parse(stats, strlen(stats), &st) == 0);
        CHECK("stats: disk-hits", st.disk_hits == 7);
        CHECK("stats: two mirrors", st.n_mirrors == 2);
        CHECK("stats: the mirror's URL", strcmp(st.mirrors[1].url, "http://b.example/x.iso") == 0);
        CHECK("stats: the mirror's bytes", st.mirrors[0].bytes == 1000 && st.mirrors[1].bytes == 5000);
        CHECK("busiest: without a before, the one with most bytes", ib_xfer_busiest(NULL, &st) == 1);
        before = st;
        st.mirrors[0].bytes += 3000;
        st.mirrors[1].bytes += 10;
        CHECK("busiest: the one that sent most since before", ib_xfer_busiest(&before, &st) == 0);
        CHECK("busiest: nothing sent since: the one with most bytes", ib_xfer_busiest(&st, &st) == 1);

        CHECK("stats: empty text", ib_xfer_stats_parse("", 0, &st) == 0 && st.n_mirrors == 0 && st.disk_hits == 0);
        CHECK("stats: no trailing newline", ib_xfer_stats_parse("disk-hits 5", 11, &st) == 0 && st.disk_hits == 5);
        CHECK("stats: disk-hits not a number", ib_xfer_stats_parse("disk-hits x\n", 12, &st) == -EINVAL);
        CHECK("stats: a mirror without bytes=", ib_xfer_stats_parse("mirror http://h/ requests=1\n", 28, &st) == -EINVAL);
        CHECK("stats: a mirror without a URL", ib_xfer_stats_parse("mirror  bytes=1\n", 16, &st) == -EINVAL);
        CHECK("stats: bytes= overflow", ib_xfer_stats_parse("mirror u bytes=99999999999999999999\n", 36, &st) == -EINVAL);
        CHECK("stats: other lines skipped", ib_xfer_stats_parse("mirrors 3\nfoo\n", 14, &st) == 0 && st.n_mirrors == 0);
        /* More mirrors than kept, and a URL longer than kept. */
        for (unsigned i = 0; i < 20; i++)
                n += (size_t)snprintf(big + n, sizeof(big) - n, "mirror http://m%u/%0250u bytes=%u\n", i, i, i);
        REQUIRE("stats: 20 long mirrors parse", ib_xfer_stats_parse(big, n, &st) == 0);
        CHECK("stats: 16 kept", st.n_mirrors == IB_PROGRESS_MAX_MIRRORS);
        CHECK("stats: URLs cut to the limit", strlen(st.mirrors[0].url) == IB_PROGRESS_URL_MAX);
        CHECK("stats: the 16th's bytes", st.mirrors[15].bytes == 15);
}

static void test_line(void) {
        struct ib_progress p;
        char buf[512];
        size_t n;

        ib_progress_init(&p, 42000000, 1000, false);
        CHECK("due: not at once", !ib_progress_due(&p, 1500));
        CHECK("due: a log line every 10 s", !ib_progress_due(&p, 10999) && ib_progress_due(&p, 11000));
        n = ib_progress_line(&p, buf, sizeof(buf), "inetboot: /live/initrd.img", 12300000, 5000, "mirror http://m/x.iso", false);
        CHECK("line: a log line", strcmp(buf, "inetboot: /live/initrd.img  12.3 of 42.0 MB (29%), 3.1 MB/s, 10 s left; "
                                               "mirror http://m/x.iso\n") == 0);
        CHECK("line: its length", n == strlen(buf));
        CHECK("due: counted from the last line", !ib_progress_due(&p, 14999) && ib_progress_due(&p, 15000));
        ib_progress_line(&p, buf, sizeof(buf), "inetboot: /live/initrd.img", 42000000, 14500, NULL, true);
        CHECK("line: the summary", strcmp(buf, "inetboot: /live/initrd.img: 42.0 MB in 13.5 s (3.1 MB/s)\n") == 0);

        ib_progress_init(&p, 8000000, 0, true);
        CHECK("due: a terminal every second", !ib_progress_due(&p, 999) && ib_progress_due(&p, 1000));
        ib_progress_line(&p, buf, sizeof(buf), "k", 4000000, 2000, "a longer extra part", false);
        CHECK("tty: redrawn in place, no newline", buf[0] == '\r' && !strchr(buf, '\n'));
        CHECK("tty: the text", strcmp(buf, "\rk  4.0 of 8.0 MB (50%), 2.0 MB/s, 2 s left; a longer extra part") == 0);
        ib_progress_line(&p, buf, sizeof(buf), "k", 8000000, 4000, NULL, true);
        CHECK("tty: the summary blanks the longer line and ends it",
              strncmp(buf, "\rk: 8.0 MB in 4.0 s (2.0 MB/s)", 30) == 0 && strlen(buf) == 1 + 63 + 1 &&
              buf[strlen(buf) - 1] == '\n' && buf[strlen(buf) - 2] == ' ');

        ib_progress_init(&p, 0, 0, false);
        ib_progress_line(&p, buf, sizeof(buf), "z", 0, 0, "", false);
        CHECK("line: nothing to read, no time: no division by zero", strcmp(buf, "z  0.0 of 0.0 MB, 0.0 MB/s\n") == 0);
        ib_progress_init(&p, 100, 0, false);
        n = ib_progress_line(&p, buf, 8, "a long name", 50, 10, NULL, false);
        CHECK("line: cut to the buffer, terminated", n == 7 && strlen(buf) == 7);
        CHECK("line: a zero-size buffer", ib_progress_line(&p, buf, 0, "x", 1, 1, NULL, true) == 0);
}

int main(void) {
        test_stats();
        test_line();
        UNIT_EXIT();
}
