/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-quote: libFuzzer target for the quote file a verifier receives:
 * ib_quotefile_parse(), then the whole verdict (ib_attest_verify) against a
 * fixed prediction, as inetboot-attestd runs it on what the network sends.
 * A parsed file must format to a text that parses and formats the same; the verdict of anything
 * the fuzzer makes must be UNTRUSTED (it cannot sign with a TPM's key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "eventlog.h"
#include "measure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct ib_measure_input in = {
                .image_name = "x.iso", .manifest = "m", .manifest_len = 1, .kernel_path = "/k", .kernel = "k",
                .kernel_len = 1, .initrd_desc = "/i", .initrd = "i", .initrd_len = 1, .cmdline = "c",
        };
        struct ib_quotefile qf;
        struct ib_eventlog want;
        struct ib_verdict v;
        struct ib_err e = {};
        char *text;

        if (ib_quotefile_parse((const char *)data, size, &qf, &e) < 0) {
                if (!e.msg[0])
                        abort();
                return 0;
        }
        if (ib_quotefile_format(&qf, &text) == 0) {
                struct ib_quotefile again;
                char *text2;

                /* (hex and base64 have more than one spelling of a value: compare the canonical ones) */
                if (ib_quotefile_parse(text, strlen(text), &again, &e) != 0)
                        abort();
                if (ib_quotefile_format(&again, &text2) == 0) {
                        if (strcmp(text, text2) != 0)
                                abort();
                        free(text2);
                }
                ib_quotefile_clear(&again);
                free(text);
        }
        if (ib_measure_events(qf.q.family == IB_TPM_20 ? IB_ALG_SHA256 : IB_ALG_SHA1, &in, NULL, &want) == 0) {
                if (ib_attest_verify(&qf, NULL, qf.q.nonce, qf.q.nonce_len, &want, 1, &v) == 0 && v.trusted)
                        abort();
                ib_eventlog_clear(&want);
        }
        ib_quotefile_clear(&qf);
        return 0;
}
