/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the floors a TPM's NV index holds (state.h), read back
 * from an index anybody with root on the machine can write.  What imports
 * exports to the same bytes and can judge a manifest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_state *s = calloc(1, sizeof(*s));
        struct ib_err e = {};
        struct ib_manifest m = { .name = "fuzz.iso", .serial = 5, .created = 1000 };
        uint8_t out[IB_STATE_NV_SIZE], key[32] = { 0 };

        if (!s)
                abort();
        if (ib_state_nv_import(s, data, size, &e) < 0) {
                if (!e.msg[0])
                        abort();
                ib_state_free(s);
                return 0;
        }
        ib_state_nv_export(s, out);
        if (size != sizeof(out) || memcmp(out, data, size) != 0)
                abort(); /* not canonical */
        if (ib_state_judge(s, key, &m, 1500, 0, NULL, &e) < 0 && !e.msg[0])
                abort();
        ib_state_nv_export(s, out);
        ib_state_free(s);
        return 0;
}
