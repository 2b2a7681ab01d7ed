/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attest.h: the quote file a booted machine sends to a verifier, and the
 * verifier's checks of it.  No TPM is needed here: this is the side that
 * runs on the verifier's host.
 *
 * The quote file is text, one "key value" line each, in this order:
 *
 *   inetboot-quote 1
 *   tpm 2.0                   (or 1.2)
 *   nonce HEX                 the verifier's nonce
 *   pcr 8 HEX                 the quoted values, one line per PCR, ascending
 *   pcr 9 HEX
 *   attest BASE64             TPMS_ATTEST (2.0) or TPM_QUOTE_INFO (1.2)
 *   signature BASE64          TPMT_SIGNATURE (2.0) or the RSA signature (1.2)
 *   ak BASE64                 the attestation key, its PEM text
 *   eventlog BASE64           the boot's event log (eventlog.h)
 *
 * The parser is strict and bounded (it reads what the network sends):
 * every key once, in order, nothing else, at most IB_QUOTEFILE_MAX bytes.
 */
#ifndef INETBOOT_ATTEST_H
#define INETBOOT_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "tpm.h"
#include "util.h"

#define IB_QUOTEFILE_MAX (1024u * 1024u)

struct ib_quotefile {
        struct ib_quote q;
        uint8_t *eventlog;
        size_t eventlog_len;
};

void ib_quotefile_clear(struct ib_quotefile *f);

/* The file's text; *ret malloc'd and NUL-terminated. */
int ib_quotefile_format(const struct ib_quotefile *f, char **ret);

/* Parse @len bytes; on failure @err names the line and *ret is untouched. */
int ib_quotefile_parse(const char *buf, size_t len, struct ib_quotefile *ret, struct ib_err *err);

/*
 * Check a quote's own consistency and signature:
 *   - the quote was made by @trusted_ak (a PEM public key; NULL: the key
 *     the quote names, which the caller then trusts some other way);
 *   - its signature over attest verifies with that key;
 *   - attest is a quote (2.0: TPM_GENERATED magic, TPM_ST_ATTEST_QUOTE, the
 *     SHA-256 bank; 1.2: version 1.1.0.0 and "QUOT") over exactly the PCRs
 *     in q->mask, whose digest is the digest of the values in q->pcrs;
 *   - the nonce inside attest is @nonce.
 * 0, or -EBADMSG (or -ENOMEM) with a sentence in @err.
 */
int ib_quote_check(const struct ib_quote *q, const char *trusted_ak, const uint8_t *nonce, size_t nonce_len,
                   struct ib_err *err);

/*
 * The verifier's whole judgement of one quote file:
 *   1. ib_quote_check (key, signature, nonce, quoted values);
 *   2. the event log, in the quote's bank, replayed from the start values
 *      it records, gives exactly the quoted PCRs 8 and 9 (else it is forged
 *      or incomplete);
 *   3. its events are the predicted ones (ib_measure_compare) — of the
 *      prediction in @expect whose manifest event is the log's, or of the
 *      only one.
 * Returns 0 with v->trusted set either way (v->line says why, one line
 * for people); a negative errno only when out of memory.
 */
struct ib_eventlog;
struct ib_verdict {
        bool trusted;
        char line[1024];
        char image[256];                /* the image the log says was booted ("" if unknown) */
        char ak[65];                    /* the AK's fingerprint ("" if unreadable) */
};
int ib_attest_verify(const struct ib_quotefile *qf, const char *trusted_ak, const uint8_t *nonce, size_t nonce_len,
                     const struct ib_eventlog *expect, size_t n_expect, struct ib_verdict *v);

/* The SHA-256 of the key's DER SubjectPublicKeyInfo, hex (65 bytes): names an AK. */
int ib_ak_fingerprint(const char *pem, char out[65]);

#endif
