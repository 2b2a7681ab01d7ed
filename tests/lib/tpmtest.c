/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tpmtest: a thin driver of src/lib/trust/tpm.c for the host tests against swtpm
 * (tests/integration/tpm*.sh).  Not installed; users have inetboot-attest.
 *
 *   tpmtest SPEC info                      "family bank digest-length"
 *   tpmtest SPEC read PCR                  the PCR's value, hex
 *   tpmtest SPEC extend PCR HEX            extend with a digest of the bank's length
 *   tpmtest SPEC ak [AKPATH]               the attestation key, PEM
 *   tpmtest SPEC quote MASK NONCE DIR [AKPATH]
 *        MASK: hex PCR bit mask; NONCE: hex; writes DIR/attest, DIR/sig
 *        (binary), DIR/ak.pem and DIR/pcrs ("N HEX" lines)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tpm.h"
#include "util.h"

static int die(const char *what, struct ib_tpm *t)
{
        fprintf(stderr, "tpmtest: %s: %s\n", what, t ? ib_tpm_error(t) : "");
        return 1;
}

static int put(const char *dir, const char *name, const void *buf, size_t len)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (ib_write_file_atomic(path, buf, len, 0644) < 0) {
                fprintf(stderr, "tpmtest: cannot write %s\n", path);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_(ib_tpm_closep) struct ib_tpm *t = NULL;
        struct ib_err err = { 0 };
        uint8_t d[IB_TPM_MAX_DIGEST];
        char hex[2 * IB_TPM_MAX_DIGEST + 1];
        uint64_t pcr;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: tpmtest SPEC info|read|extend|ak|quote ...\n");
                return 2;
        }
        r = ib_tpm_open(argv[1], &t, &err);
        if (r < 0) {
                fprintf(stderr, "tpmtest: %s\n", err.msg);
                return r == -ENODEV ? 3 : 1;
        }
        const char *cmd = argv[2];
        size_t dl = ib_tpm_digest_len(t);

        if (strcmp(cmd, "info") == 0) {
                printf("%d %s %zu\n", ib_tpm_family(t), ib_tpm_bank(t), dl);
                return 0;
        }
        if ((strcmp(cmd, "read") == 0 && argc == 4) || (strcmp(cmd, "extend") == 0 && argc == 5)) {
                if (ib_parse_u64(argv[3], strlen(argv[3]), &pcr) < 0 || pcr >= IB_TPM_NUM_PCRS) {
                        fprintf(stderr, "tpmtest: bad PCR '%s'\n", argv[3]);
                        return 2;
                }
                if (argc == 5) {
                        if (ib_unhex(argv[4], strlen(argv[4]), d, dl) < 0) {
                                fprintf(stderr, "tpmtest: the digest must be %zu hex bytes\n", dl);
                                return 2;
                        }
                        return ib_tpm_extend(t, (unsigned) pcr, d) < 0 ? die("extend", t) : 0;
                }
                if (ib_tpm_pcr_read(t, (unsigned) pcr, d) < 0)
                        return die("read", t);
                ib_hex(d, dl, hex);
                printf("%s\n", hex);
                return 0;
        }
        if (strcmp(cmd, "ak") == 0 && argc <= 4) {
                _cleanup_(freep) char *pem = NULL;

                if (ib_tpm_ak_public(t, argc == 4 ? argv[3] : NULL, &pem) < 0)
                        return die("ak", t);
                fputs(pem, stdout);
                return 0;
        }
        if (strcmp(cmd, "quote") == 0 && (argc == 6 || argc == 7)) {
                struct ib_quote q;
                uint8_t nonce[IB_TPM_MAX_NONCE];
                size_t nl = strlen(argv[4]) / 2;
                unsigned long mask = strtoul(argv[3], NULL, 16);
                FILE *f;
                char path[4096];

                if (nl == 0 || nl > sizeof(nonce) || ib_unhex(argv[4], strlen(argv[4]), nonce, nl) < 0) {
                        fprintf(stderr, "tpmtest: bad nonce\n");
                        return 2;
                }
                if (ib_tpm_quote(t, argc == 7 ? argv[6] : NULL, (uint32_t) mask, nonce, nl, &q) < 0)
                        return die("quote", t);
                r = put(argv[5], "attest", q.attest, q.attest_len) < 0 ||
                    put(argv[5], "sig", q.sig, q.sig_len) < 0 ||
                    put(argv[5], "ak.pem", q.ak_pem, strlen(q.ak_pem)) < 0;
                snprintf(path, sizeof(path), "%s/pcrs", argv[5]);
                f = r ? NULL : fopen(path, "w");
                for (unsigned i = 0; f && i < IB_TPM_NUM_PCRS; i++)
                        if (q.mask & (1u << i)) {
                                ib_hex(q.pcrs[i], dl, hex);
                                fprintf(f, "%u %s\n", i, hex);
                        }
                if (!f || fclose(f) != 0)
                        r = 1;
                ib_quote_free(&q);
                return r ? 1 : 0;
        }
        fprintf(stderr, "tpmtest: unknown command or arguments (see the comment in tests/lib/tpmtest.c)\n");
        return 2;
}
