/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the detached signature file parser. */
#include <stdint.h>
#include <stdlib.h>

#include "sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_sigfile s = {};
        struct ib_err e = {};

        if (ib_sigfile_parse((const char *)data, size, &s, &e) < 0) {
                if (!e.msg[0])
                        abort();
                return 0;
        }
        if (s.sig_len == 0 || s.sig_len > 1024)
                abort();
        ib_sigfile_clear(&s);
        return 0;
}
