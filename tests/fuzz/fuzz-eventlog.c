/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-eventlog: libFuzzer target for ib_eventlog_parse() and what reads a
 * parsed log: the start values, the replay, the text form, and a compare
 * with itself.  A log that parses must serialize to the same bytes (the
 * format has one spelling per log, vendor info aside) and compare equal to
 * itself; a failed parse must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "measure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_eventlog log, again;
        struct ib_err e = {};
        uint8_t start[IB_EVENTLOG_NUM_PCRS][32], pcrs[IB_EVENTLOG_NUM_PCRS][32], *buf;
        uint32_t mask;
        size_t len;
        char *text;

        if (ib_eventlog_parse(data, size, &log, &e) < 0) {
                if (!e.msg[0])
                        abort();
                return 0;
        }
        if (ib_measure_start(&log, start, &e) == 0)
                ib_eventlog_replay(&log, (const uint8_t (*)[32])start, pcrs, &mask);
        ib_eventlog_replay(&log, NULL, pcrs, &mask);
        if (ib_eventlog_format(&log, &text) == 0)
                free(text);
        if (ib_measure_compare(&log, &log, &e) != 0)
                abort();
        if (ib_eventlog_serialize(&log, &buf, &len) == 0) {
                if (ib_eventlog_parse(buf, len, &again, &e) != 0 || again.n != log.n)
                        abort();
                ib_eventlog_clear(&again);
                free(buf);
        }
        ib_eventlog_clear(&log);
        return 0;
}
