/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tpm2.c: the TPM 2.0 backend of tpm.h, through tpm2-tss: ESAPI over a TCTI
 * opened by the TCTI loader ("device:/dev/tpmrm0", "swtpm:host=...,port=...").
 *
 * Only the SHA-256 PCR bank is used.  The attestation key (AK) is a primary
 * key in the endorsement hierarchy created from a fixed template each time it
 * is needed and flushed after use: a TPM's primary seed and a template always
 * give the same key, so nothing needs to be stored.
 *
 * Every TPM command goes through tpm2_run_startup(): a TPM nobody sent
 * TPM2_Startup to (a firmware that skipped it, a bare simulator) answers
 * TPM2_RC_INITIALIZE, and then we send Startup(CLEAR) once and repeat.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm-backend.h"

#define SHA256_LEN 32
#define QUOTE_TRIES 3   /* PCR_Read + Quote rounds before giving up on a moving PCR */

struct tpm2 {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        bool startup_sent;      /* we tried TPM2_Startup(CLEAR) once already */
};

static void tpm2_free(struct tpm2 *p)
{
        if (!p)
                return;
        if (p->esys)
                Esys_Finalize(&p->esys);
        if (p->tcti)
                Tss2_TctiLdr_Finalize(&p->tcti);
        free(p);
}

static void tpm2_freep(struct tpm2 **p) { tpm2_free(*p); }
static void esys_freep(void *p) { Esys_Free(*(void **) p); }
static void evp_pkey_freep(EVP_PKEY **p) { EVP_PKEY_free(*p); }
static void evp_pkey_ctx_freep(EVP_PKEY_CTX **p) { EVP_PKEY_CTX_free(*p); }

/*
 * @rc is a command's answer.  When it is TPM2_RC_INITIALIZE (the TPM was
 * never started), send TPM2_Startup(CLEAR), once per open TPM, and say
 * whether the command is worth repeating.  A TPM2_RC_INITIALIZE from
 * Startup itself means someone else started the TPM meanwhile: fine too.
 */
static bool tpm2_need_retry(struct tpm2 *p, TSS2_RC rc)
{
        TSS2_RC s;

        if ((rc & ~TSS2_RC_LAYER_MASK) != TPM2_RC_INITIALIZE ||
            ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER &&
             (rc & TSS2_RC_LAYER_MASK) != TSS2_RESMGR_TPM_RC_LAYER))
                return false;
        if (p->startup_sent)
                return false;
        p->startup_sent = true;
        s = Esys_Startup(p->esys, TPM2_SU_CLEAR);
        return s == TSS2_RC_SUCCESS || (s & ~TSS2_RC_LAYER_MASK) == TPM2_RC_INITIALIZE;
}

/* Run the ESAPI call @call (an expression) into @rc, with the Startup retry. */
#define tpm2_run_startup(p, rc, call)                   \
        do {                                            \
                (rc) = (call);                          \
                if (tpm2_need_retry((p), (rc)))         \
                        (rc) = (call);                  \
        } while (0)

/* A selection of the PCRs in @mask (bit n = PCR n, n < 24), SHA-256 bank. */
static TPML_PCR_SELECTION sha256_selection(uint32_t mask)
{
        TPML_PCR_SELECTION s = { .count = 1 };

        s.pcrSelections[0].hash = TPM2_ALG_SHA256;
        s.pcrSelections[0].sizeofSelect = 3;
        s.pcrSelections[0].pcrSelect[0] = mask & 0xff;
        s.pcrSelections[0].pcrSelect[1] = (mask >> 8) & 0xff;
        s.pcrSelections[0].pcrSelect[2] = (mask >> 16) & 0xff;
        return s;
}

/* The PCR bit mask of @s (PCRs 0..31; a TPM has 24). */
static uint32_t selection_mask(const TPMS_PCR_SELECTION *s)
{
        uint32_t m = 0;

        for (unsigned i = 0; i < s->sizeofSelect && i < TPM2_PCR_SELECT_MAX; i++)
                m |= (uint32_t) s->pcrSelect[i] << (8 * i);
        return m;
}

/*
 * Read the SHA-256 values of the PCRs in @mask into @out[n] (only those
 * entries are written).  A TPM answers at most 8 digests per PCR_Read, and
 * says which ones in its selection: ask again for the rest.
 */
static int read_pcrs(struct ib_tpm *t, uint32_t mask, uint8_t out[IB_TPM_NUM_PCRS][IB_TPM_MAX_DIGEST])
{
        struct tpm2 *p = t->priv;
        uint32_t left = mask;

        for (unsigned round = 0; left; round++) {
                _cleanup_(esys_freep) TPML_PCR_SELECTION *sel_out = NULL;
                _cleanup_(esys_freep) TPML_DIGEST *values = NULL;
                TPML_PCR_SELECTION sel = sha256_selection(left);
                UINT32 counter;
                uint32_t got = 0;
                unsigned k = 0;
                TSS2_RC rc;

                if (round >= IB_TPM_NUM_PCRS)
                        return ib_tpm_fail(t, -EIO, "TPM2_PCR_Read: the TPM keeps answering without the PCRs asked for");
                tpm2_run_startup(p, rc, Esys_PCR_Read(p->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      &sel, &counter, &sel_out, &values));
                if (rc != TSS2_RC_SUCCESS)
                        return ib_tpm_fail(t, -EIO, "TPM2_PCR_Read (sha256 bank): %s", Tss2_RC_Decode(rc));
                for (unsigned i = 0; i < sel_out->count; i++) {
                        uint32_t m = selection_mask(&sel_out->pcrSelections[i]);

                        if (m == 0)
                                continue;
                        if (sel_out->pcrSelections[i].hash != TPM2_ALG_SHA256 || (m & ~left))
                                return ib_tpm_fail(t, -EIO, "TPM2_PCR_Read: the TPM answered PCRs that were not asked for");
                        got |= m;
                }
                if (got == 0)
                        return ib_tpm_fail(t, -EIO, "TPM2_PCR_Read: the TPM has no active SHA-256 PCR bank");
                if (values->count != (UINT32) __builtin_popcount(got))
                        return ib_tpm_fail(t, -EIO, "TPM2_PCR_Read: %u values for %d PCRs",
                                           values->count, __builtin_popcount(got));
                for (unsigned n = 0; n < IB_TPM_NUM_PCRS; n++) {
                        if (!(got & (1u << n)))
                                continue;
                        if (values->digests[k].size != SHA256_LEN)
                                return ib_tpm_fail(t, -EIO, "TPM2_PCR_Read: PCR %u's SHA-256 value has %u bytes",
                                                   n, values->digests[k].size);
                        memcpy(out[n], values->digests[k].buffer, SHA256_LEN);
                        k++;
                }
                left &= ~got;
        }
        return 0;
}

static int tpm2_extend(struct ib_tpm *t, unsigned pcr, const uint8_t *digest)
{
        struct tpm2 *p = t->priv;
        TPML_DIGEST_VALUES v = { .count = 1 };
        TSS2_RC rc;

        v.digests[0].hashAlg = TPM2_ALG_SHA256;
        memcpy(v.digests[0].digest.sha256, digest, SHA256_LEN);
        tpm2_run_startup(p, rc, Esys_PCR_Extend(p->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
                                                ESYS_TR_NONE, ESYS_TR_NONE, &v));
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "TPM2_PCR_Extend of PCR %u (sha256): %s", pcr, Tss2_RC_Decode(rc));
        return 0;
}

static int tpm2_pcr_read(struct ib_tpm *t, unsigned pcr, uint8_t *out)
{
        uint8_t v[IB_TPM_NUM_PCRS][IB_TPM_MAX_DIGEST];
        int r;

        r = read_pcrs(t, 1u << pcr, v);
        if (r < 0)
                return r;
        memcpy(out, v[pcr], SHA256_LEN);
        return 0;
}

/*
 * Create the AK (see tpm.h) and return its transient handle and public
 * area.  The template is fixed: any change to it changes the key.
 */
static int ak_create(struct ib_tpm *t, ESYS_TR *ret_handle, TPM2B_PUBLIC **ret_public)
{
        struct tpm2 *p = t->priv;
        const TPM2B_SENSITIVE_CREATE sensitive = { 0 };
        const TPM2B_DATA outside = { 0 };
        const TPML_PCR_SELECTION creation_pcrs = { 0 };
        const TPM2B_PUBLIC template = {
                .publicArea = {
                        .type = TPM2_ALG_ECC,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                            TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH,
                        .parameters.eccDetail = {
                                .symmetric = { .algorithm = TPM2_ALG_NULL },
                                .scheme = {
                                        .scheme = TPM2_ALG_ECDSA,
                                        .details.ecdsa.hashAlg = TPM2_ALG_SHA256,
                                },
                                .curveID = TPM2_ECC_NIST_P256,
                                .kdf = { .scheme = TPM2_ALG_NULL },
                        },
                },
        };
        TPM2B_PUBLIC *pub = NULL;
        ESYS_TR h = ESYS_TR_NONE;
        TSS2_RC rc;

        tpm2_run_startup(p, rc, Esys_CreatePrimary(p->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                                   ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &template,
                                                   &outside, &creation_pcrs, &h, &pub, NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "TPM2_CreatePrimary of the attestation key (endorsement hierarchy, "
                                   "ECC P-256): %s", Tss2_RC_Decode(rc));
        *ret_handle = h;
        *ret_public = pub;
        return 0;
}

/* Flush the AK; @r is the result so far, which a flush failure replaces. */
static int ak_flush(struct ib_tpm *t, ESYS_TR h, int r)
{
        struct tpm2 *p = t->priv;
        TSS2_RC rc;

        if (h == ESYS_TR_NONE)
                return r;
        rc = Esys_FlushContext(p->esys, h);
        if (rc != TSS2_RC_SUCCESS && r >= 0)
                return ib_tpm_fail(t, -EIO, "TPM2_FlushContext of the attestation key: %s", Tss2_RC_Decode(rc));
        return r;
}

/* The ECC P-256 public key of @pub as SubjectPublicKeyInfo PEM. */
static int ak_pem(struct ib_tpm *t, const TPM2B_PUBLIC *pub, char **ret)
{
        _cleanup_(evp_pkey_ctx_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_(evp_pkey_freep) EVP_PKEY *pkey = NULL;
        const TPMS_ECC_POINT *pt = &pub->publicArea.unique.ecc;
        char group[] = "prime256v1";
        uint8_t point[1 + 2 * 32] = { 0x04 };   /* uncompressed: 04 || X || Y */
        OSSL_PARAM params[3];
        char *pem;

        if (pub->publicArea.type != TPM2_ALG_ECC ||
            pub->publicArea.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
            pt->x.size == 0 || pt->x.size > 32 || pt->y.size == 0 || pt->y.size > 32)
                return ib_tpm_fail(t, -EIO, "the attestation key the TPM made is not an ECC P-256 key");
        memcpy(point + 1 + 32 - pt->x.size, pt->x.buffer, pt->x.size);
        memcpy(point + 1 + 64 - pt->y.size, pt->y.buffer, pt->y.size);

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
        params[2] = OSSL_PARAM_construct_end();
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                ERR_clear_error();
                return ib_tpm_fail(t, -EIO, "the attestation key's public point is not on P-256");
        }
        pem = ib_tpm_pubkey_pem(pkey);
        if (!pem)
                return ib_tpm_fail(t, -ENOMEM, "cannot write the attestation key as PEM");
        *ret = pem;
        return 0;
}

static int tpm2_ak_public(struct ib_tpm *t, const char *ak_path, char **ret_pem)
{
        _cleanup_(esys_freep) TPM2B_PUBLIC *pub = NULL;
        ESYS_TR h = ESYS_TR_NONE;
        int r;

        r = ak_create(t, &h, &pub);
        if (r < 0)
                return r;
        r = ak_pem(t, pub, ret_pem);
        r = ak_flush(t, h, r);
        if (r < 0 && *ret_pem) {
                free(*ret_pem);
                *ret_pem = NULL;
        }
        return r;
}

/*
 * One round: read the PCRs in @mask, quote them with the AK @ak over
 * @nonce, and check the quote: a TPMS_ATTEST of a quote, over our nonce
 * and selection, whose pcrDigest is the SHA-256 of the values read.
 * -EAGAIN (with t->error set) when only the digest differs: a PCR changed
 * between the two commands.  Fills q->attest, q->sig and q->pcrs.
 */
static int quote_once(struct ib_tpm *t, ESYS_TR ak, struct ib_quote *q)
{
        struct tpm2 *p = t->priv;
        _cleanup_(esys_freep) TPM2B_ATTEST *quoted = NULL;
        _cleanup_(esys_freep) TPMT_SIGNATURE *signature = NULL;
        const TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };     /* the key's: ECDSA-SHA256 */
        TPML_PCR_SELECTION sel = sha256_selection(q->mask);
        TPM2B_DATA qualifying = { .size = (UINT16) q->nonce_len };
        uint8_t values[IB_TPM_NUM_PCRS * SHA256_LEN], digest[SHA256_LEN];
        uint8_t sigbuf[sizeof(TPMT_SIGNATURE)];
        TPMS_ATTEST a;
        size_t off = 0, n = 0;
        TSS2_RC rc;
        int r;

        r = read_pcrs(t, q->mask, q->pcrs);
        if (r < 0)
                return r;
        memcpy(qualifying.buffer, q->nonce, q->nonce_len);
        tpm2_run_startup(p, rc, Esys_Quote(p->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                           &qualifying, &scheme, &sel, &quoted, &signature));
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: %s", Tss2_RC_Decode(rc));

        memset(&a, 0, sizeof(a));
        rc = Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData, quoted->size, &off, &a);
        if (rc != TSS2_RC_SUCCESS || off != quoted->size)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: the TPM's attestation structure does not parse: %s",
                                   rc ? Tss2_RC_Decode(rc) : "trailing bytes");
        if (a.magic != TPM2_GENERATED_VALUE || a.type != TPM2_ST_ATTEST_QUOTE)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: the TPM's attestation is not a quote");
        if (a.extraData.size != q->nonce_len || memcmp(a.extraData.buffer, q->nonce, q->nonce_len) != 0)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: the quote is not over the nonce given");
        if (a.attested.quote.pcrSelect.count != 1 ||
            a.attested.quote.pcrSelect.pcrSelections[0].hash != TPM2_ALG_SHA256 ||
            selection_mask(&a.attested.quote.pcrSelect.pcrSelections[0]) != q->mask)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: the quote is not over the SHA-256 PCRs asked for");
        if (signature->sigAlg != TPM2_ALG_ECDSA || signature->signature.ecdsa.hash != TPM2_ALG_SHA256)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: the signature is not ECDSA-SHA256");

        for (unsigned i = 0; i < IB_TPM_NUM_PCRS; i++)
                if (q->mask & (1u << i)) {
                        memcpy(values + n, q->pcrs[i], SHA256_LEN);
                        n += SHA256_LEN;
                }
        if (EVP_Digest(values, n, digest, NULL, EVP_sha256(), NULL) != 1) {
                ERR_clear_error();
                return ib_tpm_fail(t, -EIO, "SHA-256 failed");
        }
        if (a.attested.quote.pcrDigest.size != SHA256_LEN ||
            memcmp(a.attested.quote.pcrDigest.buffer, digest, SHA256_LEN) != 0)
                return ib_tpm_fail(t, -EAGAIN, "TPM2_Quote: the quote's PCR digest does not match the PCR "
                                   "values read (a PCR kept changing)");

        off = 0;
        rc = Tss2_MU_TPMT_SIGNATURE_Marshal(signature, sigbuf, sizeof(sigbuf), &off);
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "TPM2_Quote: cannot marshal the signature: %s", Tss2_RC_Decode(rc));

        free(q->attest);
        free(q->sig);
        q->attest = malloc(quoted->size);
        q->sig = malloc(off);
        if (!q->attest || !q->sig)
                return ib_tpm_fail(t, -ENOMEM, "out of memory");
        memcpy(q->attest, quoted->attestationData, quoted->size);
        q->attest_len = quoted->size;
        memcpy(q->sig, sigbuf, off);
        q->sig_len = off;
        return 0;
}

static int tpm2_quote(struct ib_tpm *t, const char *ak_path, uint32_t mask,
                      const uint8_t *nonce, size_t nonce_len, struct ib_quote *ret)
{
        _cleanup_(esys_freep) TPM2B_PUBLIC *pub = NULL;
        struct ib_quote q = {
                .family = IB_TPM_20,
                .mask = mask,
                .nonce_len = nonce_len,
        };
        ESYS_TR h = ESYS_TR_NONE;
        int r;

        memcpy(q.nonce, nonce, nonce_len);
        r = ak_create(t, &h, &pub);
        if (r < 0)
                return r;
        r = ak_pem(t, pub, &q.ak_pem);
        for (unsigned i = 0; r >= 0 && i < QUOTE_TRIES; i++) {
                r = quote_once(t, h, &q);
                if (r != -EAGAIN)
                        break;
        }
        if (r == -EAGAIN)
                r = -EIO;       /* t->error says why */
        r = ak_flush(t, h, r);
        if (r < 0) {
                ib_quote_free(&q);
                return r;
        }
        *ret = q;
        return 0;
}

/* ---- inetboot's NV index --------------------------------------------------- */

/* Read and write with the index's own (empty) authorization; the owner may too. */
#define NV_ATTRS (TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE | TPMA_NV_OWNERREAD | TPMA_NV_OWNERWRITE | TPMA_NV_NO_DA)

/* A response code without its layer nor, for format-one codes, the handle/parameter/session number. */
static TSS2_RC rc_base(TSS2_RC rc)
{
        rc &= ~TSS2_RC_LAYER_MASK;
        return rc & TPM2_RC_FMT1 ? rc & (TPM2_RC_FMT1 | 0x3f) : rc;
}

/* The ESYS handle of our index: 0; -ENOENT when it is not defined; -EEXIST when it is not ours. */
static int nv_handle(struct ib_tpm *t, size_t len, ESYS_TR *ret)
{
        struct tpm2 *p = t->priv;
        _cleanup_(esys_freep) TPM2B_NV_PUBLIC *pub = NULL;
        ESYS_TR h = ESYS_TR_NONE;
        TSS2_RC rc;

        tpm2_run_startup(p, rc, Esys_TR_FromTPMPublic(p->esys, IB_TPM_NV_INDEX, ESYS_TR_NONE, ESYS_TR_NONE,
                                                      ESYS_TR_NONE, &h));
        if (rc_base(rc) == TPM2_RC_HANDLE)
                return -ENOENT;
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "NV index 0x%08x: %s", IB_TPM_NV_INDEX, Tss2_RC_Decode(rc));
        rc = Esys_NV_ReadPublic(p->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                Esys_TR_Close(p->esys, &h);
                return ib_tpm_fail(t, -EIO, "TPM2_NV_ReadPublic of 0x%08x: %s", IB_TPM_NV_INDEX, Tss2_RC_Decode(rc));
        }
        if (pub->nvPublic.dataSize != len || (pub->nvPublic.attributes & NV_ATTRS) != NV_ATTRS ||
            (pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) != (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT)) {
                Esys_TR_Close(p->esys, &h);
                return ib_tpm_fail(t, -EEXIST, "NV index 0x%08x exists but is not inetboot's (%u bytes, attributes 0x%08x)",
                                   IB_TPM_NV_INDEX, pub->nvPublic.dataSize, pub->nvPublic.attributes);
        }
        *ret = h;
        return 0;
}

static int tpm2_nv_read(struct ib_tpm *t, uint8_t *buf, size_t len)
{
        struct tpm2 *p = t->priv;
        _cleanup_(esys_freep) TPM2B_MAX_NV_BUFFER *data = NULL;
        ESYS_TR h;
        TSS2_RC rc;
        int r = nv_handle(t, len, &h);

        if (r < 0)
                return r == -ENOENT ? ib_tpm_fail(t, r, "NV index 0x%08x is not defined", IB_TPM_NV_INDEX) : r;
        rc = Esys_NV_Read(p->esys, h, h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, (UINT16)len, 0, &data);
        Esys_TR_Close(p->esys, &h);
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, rc_base(rc) == TPM2_RC_NV_UNINITIALIZED ? -ENODATA : -EIO,
                                   "TPM2_NV_Read of 0x%08x: %s", IB_TPM_NV_INDEX, Tss2_RC_Decode(rc));
        if (data->size != len)
                return ib_tpm_fail(t, -EIO, "TPM2_NV_Read of 0x%08x gave %u bytes, not %zu", IB_TPM_NV_INDEX, data->size, len);
        memcpy(buf, data->buffer, len);
        return 0;
}

static int tpm2_nv_write(struct ib_tpm *t, const uint8_t *buf, size_t len)
{
        struct tpm2 *p = t->priv;
        TPM2B_MAX_NV_BUFFER data = { .size = (UINT16)len };
        ESYS_TR h;
        TSS2_RC rc;
        int r;

        if (len > sizeof(data.buffer))
                return ib_tpm_fail(t, -EINVAL, "%zu bytes exceed an NV write", len);
        r = nv_handle(t, len, &h);
        if (r == -ENOENT) {
                TPM2B_AUTH auth = { .size = 0 };
                TPM2B_NV_PUBLIC pub = {
                        .nvPublic = {
                                .nvIndex = IB_TPM_NV_INDEX,
                                .nameAlg = TPM2_ALG_SHA256,
                                .attributes = NV_ATTRS,
                                .dataSize = (UINT16)len,
                        },
                };

                rc = Esys_NV_DefineSpace(p->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &auth, &pub, &h);
                if (rc != TSS2_RC_SUCCESS)
                        return ib_tpm_fail(t, rc_base(rc) == TPM2_RC_BAD_AUTH || rc_base(rc) == TPM2_RC_AUTH_FAIL ? -EACCES : -EIO,
                                           "cannot define NV index 0x%08x (TPM2_NV_DefineSpace, owner hierarchy): %s",
                                           IB_TPM_NV_INDEX, Tss2_RC_Decode(rc));
                r = 0;
        }
        if (r < 0)
                return r;
        memcpy(data.buffer, buf, len);
        rc = Esys_NV_Write(p->esys, h, h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, 0);
        Esys_TR_Close(p->esys, &h);
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "TPM2_NV_Write of 0x%08x: %s", IB_TPM_NV_INDEX, Tss2_RC_Decode(rc));
        return 0;
}

static void tpm2_close(void *priv)
{
        tpm2_free(priv);
}

static const struct ib_tpm_ops tpm2_ops = {
        .close = tpm2_close,
        .extend = tpm2_extend,
        .pcr_read = tpm2_pcr_read,
        .ak_public = tpm2_ak_public,
        .quote = tpm2_quote,
        .nv_read = tpm2_nv_read,
        .nv_write = tpm2_nv_write,
};

/*
 * The TPM answers, is a 2.0 one (TPM2_PT_FAMILY_INDICATOR "2.0"), and is
 * started (the Startup retry happens here, on the first command).
 */
static int probe(struct ib_tpm *t)
{
        struct tpm2 *p = t->priv;
        _cleanup_(esys_freep) TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more;
        TSS2_RC rc;

        tpm2_run_startup(p, rc, Esys_GetCapability(p->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                   TPM2_CAP_TPM_PROPERTIES, TPM2_PT_FAMILY_INDICATOR, 1,
                                                   &more, &cap));
        if (rc != TSS2_RC_SUCCESS)
                return ib_tpm_fail(t, -EIO, "TPM2_GetCapability (is it a TPM 2.0?): %s", Tss2_RC_Decode(rc));
        if (cap->capability != TPM2_CAP_TPM_PROPERTIES || cap->data.tpmProperties.count < 1 ||
            cap->data.tpmProperties.tpmProperty[0].property != TPM2_PT_FAMILY_INDICATOR ||
            cap->data.tpmProperties.tpmProperty[0].value != 0x322e3000)        /* "2.0\0" */
                return ib_tpm_fail(t, -EIO, "the TPM does not say it is a TPM 2.0 (TPM2_PT_FAMILY_INDICATOR)");
        return 0;
}

int ib_tpm2_open(struct ib_tpm *t, const char *conf)
{
        static const char *const defaults[] = { "device:/dev/tpmrm0", "device:/dev/tpm0" };
        _cleanup_(tpm2_freep) struct tpm2 *p = NULL;
        TSS2_RC rc = TSS2_RC_SUCCESS;
        int r;

        /*
         * tpm2-tss logs its own errors to stderr (e.g. every failed TCTI it
         * tries), and a library must not print: silence it unless the user
         * set TSS2_LOG (TSS2_LOG=all+debug shows it all again).  Each tpm2-tss
         * module reads the variable at its first log call, so this must
         * happen before any initialisation.  setenv() is not thread-safe:
         * open TPMs before starting threads.
         */
        setenv("TSS2_LOG", "all+NONE", 0);

        p = calloc(1, sizeof(*p));
        if (!p)
                return ib_tpm_fail(t, -ENOMEM, "out of memory");
        if (conf) {
                rc = Tss2_TctiLdr_Initialize(conf, &p->tcti);
                if (rc != TSS2_RC_SUCCESS) {
                        p->tcti = NULL;
                        return ib_tpm_fail(t, -ENODEV, "cannot open the TPM 2.0 TCTI '%s': %s",
                                           conf, Tss2_RC_Decode(rc));
                }
        } else {
                for (size_t i = 0; i < ELEMENTSOF(defaults) && !p->tcti; i++) {
                        rc = Tss2_TctiLdr_Initialize(defaults[i], &p->tcti);
                        if (rc != TSS2_RC_SUCCESS)
                                p->tcti = NULL;
                }
                if (!p->tcti)
                        return ib_tpm_fail(t, -ENODEV, "no TPM 2.0 device (/dev/tpmrm0, /dev/tpm0): %s",
                                           Tss2_RC_Decode(rc));
        }
        rc = Esys_Initialize(&p->esys, p->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                p->esys = NULL;
                return ib_tpm_fail(t, -EIO, "Esys_Initialize: %s", Tss2_RC_Decode(rc));
        }

        t->priv = p;
        r = probe(t);
        if (r < 0) {
                t->priv = NULL;
                return r;
        }
        t->ops = &tpm2_ops;
        p = NULL;
        return 0;
}
