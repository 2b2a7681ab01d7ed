/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the trust state file (DIR/trust-state, read back from a
 * cache disk anybody can write).  Whatever parses renders back to the same
 * bytes, parses again, and can judge a manifest and be rendered again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_state *s = NULL, *s2 = NULL, *s3 = NULL;
        struct ib_err e = {};
        struct ib_manifest m = { .name = "fuzz.iso", .serial = 5, .created = 1000, .expires = 2000 };
        struct ib_state_notes n;
        uint8_t key[32] = { 0 };
        char *text;
        size_t len;

        if (ib_state_parse((const char *)data, size, &s, &e) < 0) {
                if (!e.msg[0])
                        abort(); /* every failure says why */
                return 0;
        }
        if (ib_state_format(s, &text, &len) < 0)
                abort();
        if (len != size || memcmp(text, data, size) != 0)
                abort(); /* not canonical */
        if (ib_state_parse(text, len, &s2, &e) < 0)
                abort();
        free(text);
        if (s->n_recs)
                memcpy(key, s->recs[0].key_id, 32);
        if (ib_state_judge(s, key, &m, 1500, 0, &n, &e) < 0 && !e.msg[0])
                abort();
        if (ib_state_format(s, &text, &len) < 0 || ib_state_parse(text, len, &s3, &e) < 0)
                abort(); /* what a judgement leaves is a valid state */
        free(text);
        ib_state_free(s3);
        ib_state_free(s2);
        ib_state_free(s);
        return 0;
}
