/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tpm.h: the one TPM interface of inetboot, with two backends chosen at run
 * time: TPM 2.0 through tpm2-tss (ESAPI over a TCTI, /dev/tpmrm0 by
 * default) and TPM 1.2 through TrouSerS (tspi, talking to tcsd).
 *
 * Only what measured boot and attestation need: extend a PCR in the bank we
 * use (SHA-256 on 2.0, SHA-1 on 1.2, which has nothing else), read PCRs,
 * and quote PCRs with an attestation key.  Nothing here prints: a failing
 * call returns a negative errno and leaves a sentence in ib_tpm_error().
 */
#ifndef INETBOOT_TPM_H
#define INETBOOT_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IB_TPM_NUM_PCRS 24
#define IB_TPM_MAX_DIGEST 32
#define IB_TPM_MAX_NONCE 32

enum ib_tpm_family {
        IB_TPM_NONE = 0,
        IB_TPM_12 = 12,
        IB_TPM_20 = 20,
};

struct ib_tpm;

/*
 * Open a TPM.  @spec selects it:
 *   NULL or "auto"    the machine's TPM: /sys/class/tpm/tpm0 says which
 *                     version; 2.0 through /dev/tpmrm0 (or /dev/tpm0),
 *                     1.2 through tcsd on localhost;
 *   "tpm2:TCTI"       TPM 2.0 through that TCTI configuration, e.g.
 *                     "tpm2:device:/dev/tpmrm0" or
 *                     "tpm2:swtpm:host=127.0.0.1,port=2321";
 *   "tpm12" / "tpm12:PORT"  TPM 1.2 through tcsd on localhost (its port).
 * -ENODEV: there is no TPM (the caller decides whether that is allowed).
 * On failure *ret is NULL and @err says why.
 */
int ib_tpm_open(const char *spec, struct ib_tpm **ret, struct ib_err *err);
void ib_tpm_close(struct ib_tpm *t);
static inline void ib_tpm_closep(struct ib_tpm **t) { ib_tpm_close(*t); }

enum ib_tpm_family ib_tpm_family(const struct ib_tpm *t);
/* "sha256" or "sha1", and that digest's length in bytes. */
const char *ib_tpm_bank(const struct ib_tpm *t);
size_t ib_tpm_digest_len(const struct ib_tpm *t);
/* The last error's sentence (never NULL; "" when none). */
const char *ib_tpm_error(const struct ib_tpm *t);

/* PCR[@pcr] = H(PCR[@pcr] || @digest) in the bank we use. */
int ib_tpm_extend(struct ib_tpm *t, unsigned pcr, const uint8_t *digest);
/* Read PCR[@pcr] of the bank we use into @out (ib_tpm_digest_len bytes). */
int ib_tpm_pcr_read(struct ib_tpm *t, unsigned pcr, uint8_t *out);

/*
 * A quote: the TPM's signed statement of PCR values, and what a verifier
 * needs besides.  On 2.0 @attest is a marshalled TPMS_ATTEST (TPM2_Quote,
 * SHA-256 bank) and @sig a marshalled TPMT_SIGNATURE (ECDSA P-256 with
 * SHA-256); on 1.2 @attest is the 48-byte TPM_QUOTE_INFO and @sig an RSA
 * PKCS#1 v1.5 signature of its SHA-1.  @pcrs holds the quoted values of
 * the PCRs in @mask, in the quote's bank, read by the same call.  @ak_pem
 * is the attestation key's public key (SubjectPublicKeyInfo PEM).
 */
struct ib_quote {
        enum ib_tpm_family family;
        uint32_t mask;                          /* bit n = PCR n */
        uint8_t pcrs[IB_TPM_NUM_PCRS][IB_TPM_MAX_DIGEST];
        uint8_t nonce[IB_TPM_MAX_NONCE];
        size_t nonce_len;
        uint8_t *attest;
        size_t attest_len;
        uint8_t *sig;
        size_t sig_len;
        char *ak_pem;
};
void ib_quote_free(struct ib_quote *q);       /* frees the members, not @q */

/*
 * The attestation key.  On 2.0 it is a primary key created in the
 * endorsement hierarchy from a fixed template (restricted signing, ECC
 * NIST P-256, ECDSA-SHA256): the same TPM always gives the same key, and
 * nothing is stored.  On 1.2 it is an RSA-2048 signing key under the SRK
 * (the TPM must be owned with the well-known SRK secret, as
 * `tpm_takeownership -z` does); its blob is kept in @ak_path, created on
 * first use.  @ak_path is ignored on 2.0; NULL on 1.2 means
 * /var/lib/inetboot/ak-tpm12.blob.
 */
int ib_tpm_ak_public(struct ib_tpm *t, const char *ak_path, char **ret_pem);

/*
 * inetboot's NV index (TPM 2.0 only: -EOPNOTSUPP on 1.2): IB_TPM_NV_SIZE
 * bytes at IB_TPM_NV_INDEX, an ordinary index read and written with its own
 * empty authorization (no dictionary-attack lockout), so that the preboot
 * needs no owner password once it exists.  ib_tpm_nv_read: -ENOENT when the
 * index was never defined; -EEXIST when something else lives at that handle
 * (another size or other attributes: never touched).  ib_tpm_nv_write
 * defines the index first when needed (the owner hierarchy's authorization
 * must then be empty, as it is on most machines; else -EACCES).  What it
 * holds is the trust state's floors (state.h).
 */
#define IB_TPM_NV_INDEX 0x01494200u     /* owner range; "IB" */
#define IB_TPM_NV_SIZE 512u
int ib_tpm_nv_read(struct ib_tpm *t, uint8_t buf[IB_TPM_NV_SIZE]);
int ib_tpm_nv_write(struct ib_tpm *t, const uint8_t buf[IB_TPM_NV_SIZE]);

/* Quote the PCRs in @mask over @nonce (1..32 bytes; 1.2 takes exactly 20). */
int ib_tpm_quote(struct ib_tpm *t, const char *ak_path, uint32_t mask,
                 const uint8_t *nonce, size_t nonce_len, struct ib_quote *ret);

#endif
