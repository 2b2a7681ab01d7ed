/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attest.c: the quote file and the verifier's checks of a quote (attest.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "attest.h"
#include "eventlog.h"
#include "measure.h"

#define QUOTE_MAGIC "inetboot-quote 1"

void ib_quotefile_clear(struct ib_quotefile *f)
{
        if (!f)
                return;
        ib_quote_free(&f->q);
        free(f->eventlog);
        f->eventlog = NULL;
        f->eventlog_len = 0;
}

static int put_b64(FILE *f, const char *key, const void *buf, size_t len)
{
        _cleanup_(freep) char *b = ib_base64_encode(buf, len);

        if (!b)
                return -ENOMEM;
        fprintf(f, "%s %s\n", key, b);
        return 0;
}

int ib_quotefile_format(const struct ib_quotefile *qf, char **ret)
{
        const struct ib_quote *q = &qf->q;
        char *out = NULL, hex[2 * IB_TPM_MAX_DIGEST + 1];
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        int r = 0;

        if (!f)
                return -ENOMEM;
        fprintf(f, QUOTE_MAGIC "\ntpm %s\n", q->family == IB_TPM_20 ? "2.0" : "1.2");
        ib_hex(q->nonce, q->nonce_len, hex);
        fprintf(f, "nonce %s\n", hex);
        for (unsigned i = 0; i < IB_TPM_NUM_PCRS; i++)
                if (q->mask & (1u << i)) {
                        ib_hex(q->pcrs[i], ib_alg_len(ib_measure_alg(q->family)), hex);
                        fprintf(f, "pcr %u %s\n", i, hex);
                }
        if (put_b64(f, "attest", q->attest, q->attest_len) < 0 || put_b64(f, "signature", q->sig, q->sig_len) < 0 ||
            put_b64(f, "ak", q->ak_pem, strlen(q->ak_pem)) < 0 ||
            put_b64(f, "eventlog", qf->eventlog, qf->eventlog_len) < 0)
                r = -ENOMEM;
        if (fclose(f) != 0)
                r = -ENOMEM;
        if (r < 0) {
                free(out);
                return r;
        }
        *ret = out;
        return 0;
}

/* ---- parsing ----------------------------------------------------------------------- */

struct lines {
        const char *p, *end;
        unsigned no;
        const char *val;        /* the current line's value, and its length */
        size_t val_len;
};

/* The next line must be "KEY VALUE" (or exactly KEY when @key ends with no value expected). */
static int expect(struct lines *l, const char *key, struct ib_err *err)
{
        const char *nl;
        size_t kl = strlen(key);

        if (l->p >= l->end)
                return ib_err_set(err, -EBADMSG, l->no + 1, "quote file: ends before \"%s\"", key);
        nl = memchr(l->p, '\n', (size_t) (l->end - l->p));
        if (!nl)
                return ib_err_set(err, -EBADMSG, l->no + 1, "quote file: line %u has no newline", l->no + 1);
        l->no++;
        if ((size_t) (nl - l->p) < kl + 1 || memcmp(l->p, key, kl) != 0 || l->p[kl] != ' ')
                return ib_err_set(err, -EBADMSG, l->no, "quote file: line %u: expected \"%s ...\"", l->no, key);
        l->val = l->p + kl + 1;
        l->val_len = (size_t) (nl - l->val);
        l->p = nl + 1;
        return 0;
}

static int get_b64(struct lines *l, const char *key, uint8_t **ret, size_t *ret_len, struct ib_err *err)
{
        int r = expect(l, key, err);

        if (r < 0)
                return r;
        if (ib_base64_decode(l->val, l->val_len, ret, ret_len) < 0)
                return ib_err_set(err, -EBADMSG, l->no, "quote file: line %u: %s is not base64", l->no, key);
        return 0;
}

int ib_quotefile_parse(const char *buf, size_t len, struct ib_quotefile *ret, struct ib_err *err)
{
        struct ib_quotefile f = { 0 };
        struct lines l = { .p = buf, .end = buf + len };
        struct ib_quote *q = &f.q;
        uint8_t *pem = NULL;
        size_t pem_len = 0, dl;
        int r;

        if (len > IB_QUOTEFILE_MAX)
                return ib_err_set(err, -EFBIG, 0, "quote file: over %u bytes", IB_QUOTEFILE_MAX);
        if (len < strlen(QUOTE_MAGIC) + 1 || memcmp(buf, QUOTE_MAGIC "\n", strlen(QUOTE_MAGIC) + 1) != 0)
                return ib_err_set(err, -EBADMSG, 1, "quote file: does not start with \"" QUOTE_MAGIC "\"");
        l.p += strlen(QUOTE_MAGIC) + 1;
        l.no = 1;

        r = expect(&l, "tpm", err);
        if (r < 0)
                goto fail;
        if (l.val_len == 3 && memcmp(l.val, "2.0", 3) == 0)
                q->family = IB_TPM_20;
        else if (l.val_len == 3 && memcmp(l.val, "1.2", 3) == 0)
                q->family = IB_TPM_12;
        else {
                r = ib_err_set(err, -EBADMSG, l.no, "quote file: line %u: the TPM is 2.0 or 1.2", l.no);
                goto fail;
        }
        dl = ib_alg_len(ib_measure_alg(q->family));

        r = expect(&l, "nonce", err);
        if (r < 0)
                goto fail;
        if (l.val_len == 0 || l.val_len > 2 * IB_TPM_MAX_NONCE || l.val_len % 2 ||
            ib_unhex(l.val, l.val_len, q->nonce, l.val_len / 2) < 0) {
                r = ib_err_set(err, -EBADMSG, l.no, "quote file: line %u: the nonce is 1..%d bytes of hex", l.no,
                               IB_TPM_MAX_NONCE);
                goto fail;
        }
        q->nonce_len = l.val_len / 2;

        /* pcr lines: at least one, ascending, each once. */
        while (l.p < l.end && (size_t) (l.end - l.p) > 4 && memcmp(l.p, "pcr ", 4) == 0) {
                const char *sp;
                uint64_t n;

                r = expect(&l, "pcr", err);
                if (r < 0)
                        goto fail;
                sp = memchr(l.val, ' ', l.val_len);
                if (!sp || ib_parse_u64(l.val, (size_t) (sp - l.val), &n) < 0 || n >= IB_TPM_NUM_PCRS ||
                    (q->mask >> n) != 0 ||
                    ib_unhex(sp + 1, l.val_len - (size_t) (sp + 1 - l.val), q->pcrs[n], dl) < 0) {
                        r = ib_err_set(err, -EBADMSG, l.no, "quote file: line %u: expected \"pcr N HEX\" with N "
                                       "ascending below %d and %zu bytes of hex", l.no, IB_TPM_NUM_PCRS, dl);
                        goto fail;
                }
                q->mask |= 1u << n;
        }
        if (!q->mask) {
                r = ib_err_set(err, -EBADMSG, l.no + 1, "quote file: no \"pcr\" lines");
                goto fail;
        }
        if ((r = get_b64(&l, "attest", &q->attest, &q->attest_len, err)) < 0 ||
            (r = get_b64(&l, "signature", &q->sig, &q->sig_len, err)) < 0 ||
            (r = get_b64(&l, "ak", &pem, &pem_len, err)) < 0 ||
            (r = get_b64(&l, "eventlog", &f.eventlog, &f.eventlog_len, err)) < 0)
                goto fail;
        if (l.p != l.end) {
                r = ib_err_set(err, -EBADMSG, l.no + 1, "quote file: something follows the event log (line %u)",
                               l.no + 1);
                goto fail;
        }
        if (memchr(pem, 0, pem_len)) {
                r = ib_err_set(err, -EBADMSG, l.no, "quote file: the attestation key has a NUL byte");
                goto fail;
        }
        q->ak_pem = ib_strndup((const char *) pem, pem_len);
        if (!q->ak_pem) {
                r = ib_err_set(err, -ENOMEM, 0, "out of memory");
                goto fail;
        }
        free(pem);
        *ret = f;
        return 0;
fail:
        free(pem);
        ib_quotefile_clear(&f);
        return r;
}

/* ---- checking ---------------------------------------------------------------------- */

static EVP_PKEY *read_pem(const char *pem)
{
        BIO *b = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;

        BIO_free(b);
        return k;
}

int ib_ak_fingerprint(const char *pem, char out[65])
{
        EVP_PKEY *k = read_pem(pem);
        unsigned char *der = NULL;
        uint8_t d[32];
        int n;

        if (!k)
                return -EBADMSG;
        n = i2d_PUBKEY(k, &der);
        EVP_PKEY_free(k);
        if (n <= 0)
                return -EBADMSG;
        EVP_Digest(der, (size_t) n, d, NULL, EVP_sha256(), NULL);
        OPENSSL_free(der);
        ib_hex(d, sizeof(d), out);
        return 0;
}

/* The digest of the quoted values, ascending PCR order, as both TPM versions hash them. */
static void values_digest(const struct ib_quote *q, const EVP_MD *md, uint8_t *out, uint8_t *prefix, size_t prefix_len)
{
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        size_t dl = ib_alg_len(ib_measure_alg(q->family));

        EVP_DigestInit_ex(c, md, NULL);
        if (prefix_len)
                EVP_DigestUpdate(c, prefix, prefix_len);
        for (unsigned i = 0; i < IB_TPM_NUM_PCRS; i++)
                if (q->mask & (1u << i))
                        EVP_DigestUpdate(c, q->pcrs[i], dl);
        EVP_DigestFinal_ex(c, out, NULL);
        EVP_MD_CTX_free(c);
}

static int verify_sig(EVP_PKEY *k, const EVP_MD *md, const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                      size_t msg_len)
{
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int ok = c && EVP_DigestVerifyInit(c, NULL, md, NULL, k) == 1 &&
                 EVP_DigestVerify(c, sig, sig_len, msg, msg_len) == 1;

        EVP_MD_CTX_free(c);
        return ok ? 0 : -EBADMSG;
}

static int check_20(const struct ib_quote *q, EVP_PKEY *k, const uint8_t *nonce, size_t nonce_len, struct ib_err *err)
{
        TPMS_ATTEST at;
        TPMT_SIGNATURE sig;
        size_t off = 0;
        uint8_t d[32];
        int r;

        if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(q->sig, q->sig_len, &off, &sig) != TSS2_RC_SUCCESS || off != q->sig_len)
                return ib_err_set(err, -EBADMSG, 0, "the signature is not a TPMT_SIGNATURE");
        if (sig.sigAlg != TPM2_ALG_ECDSA || sig.signature.ecdsa.hash != TPM2_ALG_SHA256)
                return ib_err_set(err, -EBADMSG, 0, "the signature is not ECDSA with SHA-256 (algorithm 0x%04x)",
                                  sig.sigAlg);
        {
                ECDSA_SIG *es = ECDSA_SIG_new();
                BIGNUM *br = BN_bin2bn(sig.signature.ecdsa.signatureR.buffer, sig.signature.ecdsa.signatureR.size, NULL);
                BIGNUM *bs = BN_bin2bn(sig.signature.ecdsa.signatureS.buffer, sig.signature.ecdsa.signatureS.size, NULL);
                unsigned char *der = NULL;
                int n = -1;

                if (es && br && bs && ECDSA_SIG_set0(es, br, bs) == 1) {
                        br = bs = NULL;
                        n = i2d_ECDSA_SIG(es, &der);
                }
                BN_free(br);
                BN_free(bs);
                ECDSA_SIG_free(es);
                if (n <= 0)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                r = verify_sig(k, EVP_sha256(), der, (size_t) n, q->attest, q->attest_len);
                OPENSSL_free(der);
                if (r < 0)
                        return ib_err_set(err, -EBADMSG, 0, "the quote's signature does not verify with the "
                                          "attestation key");
        }
        off = 0;
        if (Tss2_MU_TPMS_ATTEST_Unmarshal(q->attest, q->attest_len, &off, &at) != TSS2_RC_SUCCESS ||
            off != q->attest_len)
                return ib_err_set(err, -EBADMSG, 0, "the attestation is not a TPMS_ATTEST");
        if (at.magic != TPM2_GENERATED_VALUE || at.type != TPM2_ST_ATTEST_QUOTE)
                return ib_err_set(err, -EBADMSG, 0, "the attestation is not a TPM-generated quote");
        if (at.extraData.size != nonce_len || memcmp(at.extraData.buffer, nonce, nonce_len) != 0)
                return ib_err_set(err, -EBADMSG, 0, "the quote is not over this nonce (a replayed quote?)");
        {
                const TPML_PCR_SELECTION *s = &at.attested.quote.pcrSelect;
                uint32_t m = 0;

                if (s->count != 1 || s->pcrSelections[0].hash != TPM2_ALG_SHA256 ||
                    s->pcrSelections[0].sizeofSelect > 4)
                        return ib_err_set(err, -EBADMSG, 0, "the quote is not over one selection of the SHA-256 bank");
                for (unsigned i = 0; i < s->pcrSelections[0].sizeofSelect; i++)
                        m |= (uint32_t) s->pcrSelections[0].pcrSelect[i] << (8 * i);
                if (m != q->mask)
                        return ib_err_set(err, -EBADMSG, 0, "the quote covers PCRs 0x%06x, the file names 0x%06x",
                                          m, q->mask);
        }
        values_digest(q, EVP_sha256(), d, NULL, 0);
        if (at.attested.quote.pcrDigest.size != 32 || memcmp(at.attested.quote.pcrDigest.buffer, d, 32) != 0)
                return ib_err_set(err, -EBADMSG, 0, "the PCR values in the file are not the ones quoted");
        return 0;
}

/*
 * TPM 1.2: TPM_QUOTE_INFO = version 1.1.0.0 | "QUOT" | SHA-1(TPM_PCR_COMPOSITE) | nonce,
 * TPM_PCR_COMPOSITE = sizeOfSelect (u16 BE) | select bitmap | valueSize (u32 BE) | values.
 * TrouSerS sizes the bitmap for the TPM's PCR count (3 bytes for 24 PCRs); 2 is accepted too.
 */
static int check_12(const struct ib_quote *q, EVP_PKEY *k, const uint8_t *nonce, size_t nonce_len, struct ib_err *err)
{
        static const uint8_t head[8] = { 1, 1, 0, 0, 'Q', 'U', 'O', 'T' };
        unsigned n = (unsigned) __builtin_popcount(q->mask);
        bool match = false;

        if (verify_sig(k, EVP_sha1(), q->sig, q->sig_len, q->attest, q->attest_len) < 0)
                return ib_err_set(err, -EBADMSG, 0, "the quote's signature does not verify with the attestation key");
        if (q->attest_len != 48 || memcmp(q->attest, head, sizeof(head)) != 0)
                return ib_err_set(err, -EBADMSG, 0, "the attestation is not a TPM 1.2 TPM_QUOTE_INFO");
        if (nonce_len != 20 || memcmp(q->attest + 28, nonce, 20) != 0)
                return ib_err_set(err, -EBADMSG, 0, "the quote is not over this nonce (a replayed quote?)");
        for (unsigned size = 2; size <= 3 && !match; size++) {
                uint8_t prefix[2 + 3 + 4], d[20];
                uint32_t vs = n * 20;

                if (size == 2 && q->mask >> 16)
                        continue;
                prefix[0] = 0;
                prefix[1] = (uint8_t) size;
                for (unsigned i = 0; i < size; i++)
                        prefix[2 + i] = (uint8_t) (q->mask >> (8 * i));
                prefix[2 + size] = (uint8_t) (vs >> 24);
                prefix[3 + size] = (uint8_t) (vs >> 16);
                prefix[4 + size] = (uint8_t) (vs >> 8);
                prefix[5 + size] = (uint8_t) vs;
                values_digest(q, EVP_sha1(), d, prefix, 6 + size);
                match = memcmp(q->attest + 8, d, 20) == 0;
        }
        if (!match)
                return ib_err_set(err, -EBADMSG, 0, "the PCR values in the file are not the ones quoted");
        return 0;
}

int ib_quote_check(const struct ib_quote *q, const char *trusted_ak, const uint8_t *nonce, size_t nonce_len,
                   struct ib_err *err)
{
        EVP_PKEY *k = NULL, *qk = NULL;
        int r;

        if (!q->attest || !q->sig || !q->ak_pem)
                return ib_err_set(err, -EBADMSG, 0, "the quote is incomplete");
        qk = read_pem(q->ak_pem);
        if (!qk)
                return ib_err_set(err, -EBADMSG, 0, "the quote's attestation key is not a PEM public key");
        if (trusted_ak) {
                k = read_pem(trusted_ak);
                if (!k) {
                        EVP_PKEY_free(qk);
                        return ib_err_set(err, -EINVAL, 0, "the trusted attestation key is not a PEM public key");
                }
                if (EVP_PKEY_eq(k, qk) != 1) {
                        EVP_PKEY_free(k);
                        EVP_PKEY_free(qk);
                        return ib_err_set(err, -EBADMSG, 0, "the quote was made by another attestation key "
                                          "than the trusted one");
                }
                EVP_PKEY_free(qk);
        } else
                k = qk;
        if (q->family == IB_TPM_20 && EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
                r = ib_err_set(err, -EBADMSG, 0, "a TPM 2.0 attestation key must be an ECC key");
        else if (q->family == IB_TPM_12 && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
                r = ib_err_set(err, -EBADMSG, 0, "a TPM 1.2 attestation key must be an RSA key");
        else
                r = q->family == IB_TPM_20 ? check_20(q, k, nonce, nonce_len, err) : check_12(q, k, nonce, nonce_len, err);
        EVP_PKEY_free(k);
        return r;
}

/* ---- the verdict ------------------------------------------------------------------- */

/* The manifest event of a log, or NULL. */
static const struct ib_event *manifest_event(const struct ib_eventlog *log)
{
        static const char p[] = "inetboot-manifest: ";

        for (size_t i = 0; i < log->n; i++)
                if (log->ev[i].type == IB_EV_IPL && log->ev[i].data_len >= strlen(p) &&
                    memcmp(log->ev[i].data, p, strlen(p)) == 0)
                        return &log->ev[i];
        return NULL;
}

_printf_(2, 3) static int verdict(struct ib_verdict *v, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(v->line, sizeof(v->line), fmt, ap);
        va_end(ap);
        return 0;
}

int ib_attest_verify(const struct ib_quotefile *qf, const char *trusted_ak, const uint8_t *nonce, size_t nonce_len,
                     const struct ib_eventlog *expect, size_t n_expect, struct ib_verdict *v)
{
        const struct ib_quote *q = &qf->q;
        struct ib_eventlog log = { 0 };
        const struct ib_eventlog *want = n_expect == 1 ? &expect[0] : NULL;
        const struct ib_event *me;
        uint8_t start[IB_EVENTLOG_NUM_PCRS][32], pcrs[IB_EVENTLOG_NUM_PCRS][32];
        struct ib_err e = { 0 };
        size_t dl = ib_alg_len(ib_measure_alg(q->family));
        bool clean_start = true, hyp = false;

        memset(v, 0, sizeof(*v));
        if (ib_ak_fingerprint(q->ak_pem ? q->ak_pem : "", v->ak) < 0)
                v->ak[0] = 0;
        if (ib_quote_check(q, trusted_ak, nonce, nonce_len, &e) < 0)
                return verdict(v, "UNTRUSTED: %s", e.msg);
        if (ib_eventlog_parse(qf->eventlog, qf->eventlog_len, &log, &e) < 0)
                return verdict(v, "UNTRUSTED: %s", e.msg);
        me = manifest_event(&log);
        if (me)
                snprintf(v->image, sizeof(v->image), "%.*s", (int) (me->data_len - 19), (const char *) me->data + 19);
        if (log.alg != ib_measure_alg(q->family)) {
                verdict(v, "UNTRUSTED: the event log is in the %s bank, the quote in the other", ib_alg_name(log.alg));
                goto out;
        }
        if (ib_measure_start(&log, start, &e) < 0) {
                verdict(v, "UNTRUSTED: %s", e.msg);
                goto out;
        }
        ib_eventlog_replay(&log, (const uint8_t (*)[32]) start, pcrs, NULL);
        for (unsigned p = IB_PCR_STRINGS; p <= IB_PCR_FILES; p++) {
                static const uint8_t zero[32];

                if (!(q->mask & (1u << p))) {
                        verdict(v, "UNTRUSTED: the quote does not cover PCR %u", p);
                        goto out;
                }
                if (memcmp(pcrs[p], q->pcrs[p], dl) != 0) {
                        verdict(v, "UNTRUSTED: the event log does not replay to the quoted PCR %u "
                                "(a forged or incomplete log)", p);
                        goto out;
                }
                clean_start = clean_start && memcmp(start[p], zero, dl) == 0;
        }
        for (size_t i = 0; !want && me && i < n_expect; i++) {
                const struct ib_event *xe = manifest_event(&expect[i]);

                if (xe && expect[i].alg == log.alg && memcmp(xe->digest, me->digest, dl) == 0)
                        want = &expect[i];
        }
        if (!want) {
                verdict(v, "UNTRUSTED: the boot's manifest (%s) is none of the %zu predicted", v->image[0] ? v->image : "?",
                        n_expect);
                goto out;
        }
        if (ib_measure_compare(&log, want, &e) < 0) {
                verdict(v, "UNTRUSTED: %s", e.msg);
                goto out;
        }
        v->trusted = true;
        for (size_t i = 0; i < log.n && !hyp; i++)
                hyp = log.ev[i].type == IB_EV_IPL && log.ev[i].data_len >= 20 &&
                      memcmp(log.ev[i].data, "inetboot-hypervisor:", 20) == 0;
        verdict(v, "TRUSTED: %s booted as predicted: manifest, kernel, initrd%s (TPM %s, PCRs %u and %u, "
                "AK %.16s)%s", v->image, hyp ? ", hypervisor and command lines" : " and command line",
                q->family == IB_TPM_20 ? "2.0" : "1.2", IB_PCR_STRINGS, IB_PCR_FILES, v->ak,
                clean_start ? "" : "; PCRs 8 and 9 had been extended before inetboot (by the boot loader): not checked");
out:
        ib_eventlog_clear(&log);
        return 0;
}
