/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tpm12.c: the TPM 1.2 backend of tpm.h, through TrouSerS (libtspi 0.3.15)
 * talking to tcsd, the TrouSerS daemon that owns the TPM device, on
 * localhost.
 *
 * PCRs are SHA-1 (TPM 1.2 has nothing else).  The attestation key (AK) is
 * an RSA-2048 signing key (no authorization, not migratable,
 * RSASSA-PKCS1v15-SHA1) wrapped by the SRK, which must have the well-known
 * secret (20 zero bytes, as `tpm_takeownership -z` and
 * `swtpm_setup --srk-well-known` leave it).  Its blob is created on first use
 * and kept in a file; afterwards the key is loaded from that blob.
 *
 * The tcsd port.  libtspi has no API for it: the client side
 * (src/tspi/rpc/tcstp/rpc.c, get_socket(), and tsp_tcsi_param.c) reads it
 * from the environment variable TSS_TCSD_PORT, and the host from
 * TSS_TCSD_HOSTNAME (default "localhost"), when the context connects
 * (Tspi_Context_Connect opens one persistent socket; later calls reuse it).
 * So open() sets those two variables for the duration of Create+Connect
 * only when they do not already say what we want, and restores them
 * afterwards.  With the default port and no such variables in the
 * environment (the preboot), the environment is not touched at all.
 * setenv() is not safe against a concurrent getenv() in another thread:
 * open the TPM with an explicit port before starting threads.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <trousers/tss.h>
#include <trousers/trousers.h>
#include <tss/tspi.h>

#include "tpm-backend.h"

#define SHA1_LEN 20
#define TCSD_DEFAULT_PORT_NR 30003
#define AK_DEFAULT_PATH "/var/lib/inetboot/ak-tpm12.blob"
#define AK_BLOB_MAX 4096        /* a TPM_KEY of RSA-2048 is about 600 bytes */
#define QUOTE_INFO_LEN 48       /* TPM_QUOTE_INFO: version, "QUOT", digest, nonce */

struct tpm12 {
        TSS_HCONTEXT ctx;
        TSS_HTPM tpm;
        TSS_HKEY srk;           /* 0 until the AK is needed */
        TSS_HPOLICY srk_policy;
        TSS_HKEY ak;            /* loaded from ak_path; 0 until needed */
        char *ak_path;
        EVP_PKEY *ak_pkey;
        char *ak_pem;
        unsigned port;
};

/* "Tspi_Foo: TSS error text (0x..., layer tpm)" into t->error. */
static int tss_fail(struct ib_tpm *t, int code, const char *call, TSS_RESULT rc)
{
        return ib_tpm_fail(t, code, "%s failed: %s (TSS 0x%08x, %s layer)", call,
                           Trspi_Error_String(rc), (unsigned) rc, Trspi_Error_Layer(rc));
}

/* @rc is the TPM's own error @code (TPM_E_*), or a TSS layer's (TSS_E_*). */
static bool is_tpm_err(TSS_RESULT rc, UINT32 code)
{
        return ERROR_LAYER(rc) == TSS_LAYER_TPM && ERROR_CODE(rc) == ERROR_CODE(code);
}
static bool is_tss_err(TSS_RESULT rc, UINT32 code)
{
        return ERROR_LAYER(rc) != TSS_LAYER_TPM && ERROR_CODE(rc) == ERROR_CODE(code);
}

static bool is_comm_err(TSS_RESULT rc)
{
        return is_tss_err(rc, TSS_E_COMM_FAILURE) || is_tss_err(rc, TSS_E_CONNECTION_FAILED) ||
               is_tss_err(rc, TSS_E_NO_CONNECTION);
}

/* The errno that fits a TSS result best. */
static int tss_errno(TSS_RESULT rc)
{
        if (is_comm_err(rc))
                return -ENODEV;
        if (is_tss_err(rc, TSS_E_OUTOFMEMORY))
                return -ENOMEM;
        if (is_tss_err(rc, TSS_E_BAD_PARAMETER) || is_tpm_err(rc, TPM_E_BADINDEX))
                return -EINVAL;
        if (is_tpm_err(rc, TPM_E_AUTHFAIL) || is_tpm_err(rc, TPM_E_AUTH2FAIL))
                return -EACCES;
        return -EIO;
}

/* Set @name to @want for a while, remembering what it was in *@old. */
static int env_push(const char *name, const char *want, char **old, bool *changed)
{
        const char *cur = getenv(name);

        *old = NULL;
        *changed = false;
        if (cur && strcmp(cur, want) == 0)
                return 0;
        if (cur && !(*old = strdup(cur)))
                return -ENOMEM;
        if (setenv(name, want, 1) < 0) {
                free(*old);
                *old = NULL;
                return -errno;
        }
        *changed = true;
        return 0;
}

static void env_pop(const char *name, char *old, bool changed)
{
        if (changed) {
                if (old)
                        setenv(name, old, 1);
                else
                        unsetenv(name);
        }
        free(old);
}

static void tpm12_close(void *priv)
{
        struct tpm12 *p = priv;

        if (!p)
                return;
        if (p->ctx) {
                /* Memory handed out by the context is not freed by Close. */
                Tspi_Context_FreeMemory(p->ctx, NULL);
                Tspi_Context_Close(p->ctx);
        }
        EVP_PKEY_free(p->ak_pkey);
        free(p->ak_path);
        free(p->ak_pem);
        free(p);
}

static int tpm12_extend(struct ib_tpm *t, unsigned pcr, const uint8_t *digest)
{
        struct tpm12 *p = t->priv;
        BYTE d[SHA1_LEN], *val = NULL;
        UINT32 len = 0;
        TSS_RESULT rc;

        /* Without an event, tspi hands the 20 bytes to TPM_Extend as they are. */
        memcpy(d, digest, SHA1_LEN);
        rc = Tspi_TPM_PcrExtend(p->tpm, pcr, SHA1_LEN, d, NULL, &len, &val);
        if (rc != TSS_SUCCESS)
                return tss_fail(t, tss_errno(rc), "Tspi_TPM_PcrExtend", rc);
        Tspi_Context_FreeMemory(p->ctx, val);
        return 0;
}

static int tpm12_pcr_read(struct ib_tpm *t, unsigned pcr, uint8_t *out)
{
        struct tpm12 *p = t->priv;
        BYTE *val = NULL;
        UINT32 len = 0;
        TSS_RESULT rc;

        rc = Tspi_TPM_PcrRead(p->tpm, pcr, &len, &val);
        if (rc != TSS_SUCCESS)
                return tss_fail(t, tss_errno(rc), "Tspi_TPM_PcrRead", rc);
        if (len != SHA1_LEN) {
                Tspi_Context_FreeMemory(p->ctx, val);
                return ib_tpm_fail(t, -EBADMSG, "Tspi_TPM_PcrRead gave %u bytes for PCR %u, not 20",
                                   (unsigned) len, pcr);
        }
        memcpy(out, val, SHA1_LEN);
        Tspi_Context_FreeMemory(p->ctx, val);
        return 0;
}

/*
 * The SRK, with the well-known secret in its own usage policy.  tcsd hands
 * it out only if its system persistent storage (system_ps_file) has an SRK
 * entry: tcsd writes one when ownership is taken through it, and the
 * preboot and the tests seed one (the entry tcsd writes is the same for
 * every TPM: the SRK's public key is zeroed for privacy).  An SRK object
 * made with TSS_KEY_TSP_SRK instead is no use: libtspi gives it a TCS
 * handle only in Tspi_TPM_TakeOwnership.
 */
static int load_srk(struct ib_tpm *t)
{
        struct tpm12 *p = t->priv;
        TSS_UUID srk_uuid = TSS_UUID_SRK;
        BYTE secret[SHA1_LEN] = TSS_WELL_KNOWN_SECRET;
        TSS_HKEY srk = 0;
        TSS_HPOLICY pol = 0;
        TSS_RESULT rc;
        const char *call;

        if (p->srk)
                return 0;
        call = "Tspi_Context_LoadKeyByUUID (SRK)";
        rc = Tspi_Context_LoadKeyByUUID(p->ctx, TSS_PS_TYPE_SYSTEM, srk_uuid, &srk);
        if (rc != TSS_SUCCESS) {
                tss_fail(t, tss_errno(rc), call, rc);
                if (is_tss_err(rc, TSS_E_PS_KEY_NOTFOUND)) {
                        size_t l = strlen(t->error);
                        snprintf(t->error + l, sizeof(t->error) - l,
                                 ": tcsd's system_ps_file has no SRK entry (ownership was not taken "
                                 "through this tcsd; the preboot seeds one, see ib_start_tcsd)");
                        return -ENOKEY;
                }
                return tss_errno(rc);
        }
        call = "Tspi_Context_CreateObject (SRK policy)";
        rc = Tspi_Context_CreateObject(p->ctx, TSS_OBJECT_TYPE_POLICY, TSS_POLICY_USAGE, &pol);
        if (rc != TSS_SUCCESS)
                goto fail;
        call = "Tspi_Policy_SetSecret (SRK)";
        rc = Tspi_Policy_SetSecret(pol, TSS_SECRET_MODE_SHA1, sizeof(secret), secret);
        if (rc != TSS_SUCCESS)
                goto fail;
        call = "Tspi_Policy_AssignToObject (SRK)";
        rc = Tspi_Policy_AssignToObject(pol, srk);
        if (rc != TSS_SUCCESS)
                goto fail;
        p->srk = srk;
        p->srk_policy = pol;
        return 0;
fail:
        if (pol)
                Tspi_Context_CloseObject(p->ctx, pol);
        Tspi_Context_CloseObject(p->ctx, srk);
        return tss_fail(t, tss_errno(rc), call, rc);
}

/* Append a hint to t->error for the TPM errors that mean "not set up as we need". */
static void srk_hint(struct ib_tpm *t, TSS_RESULT rc)
{
        const char *hint = NULL;
        size_t l = strlen(t->error);

        if (is_tpm_err(rc, TPM_E_NOSRK))
                hint = ": the TPM has no owner (take ownership with tpm_takeownership -z)";
        else if (is_tpm_err(rc, TPM_E_AUTHFAIL))
                hint = ": the SRK secret is not the well-known one (tpm_takeownership -z sets it)";
        else if (is_tpm_err(rc, TPM_E_DISABLED) || is_tpm_err(rc, TPM_E_DEACTIVATED))
                hint = ": enable and activate the TPM in the firmware setup";
        if (hint)
                snprintf(t->error + l, sizeof(t->error) - l, "%s", hint);
}

/* mkdir -p of @path's directory (mode 0700 for what it creates). */
static int mkdir_parents(const char *path)
{
        _cleanup_(freep) char *d = strdup(path);
        char *s;

        if (!d)
                return -ENOMEM;
        s = strrchr(d, '/');
        if (!s || s == d)
                return 0;
        *s = 0;
        for (char *q = d + 1;; q++) {
                if (*q != '/' && *q != 0)
                        continue;
                char c = *q;
                *q = 0;
                if (mkdir(d, 0700) < 0 && errno != EEXIST)
                        return -errno;
                *q = c;
                if (!c)
                        return 0;
        }
}

/* The public key of the loaded AK as an EVP_PKEY and a PEM string; checks its kind. */
static int ak_pubkey(struct ib_tpm *t, TSS_HKEY ak, const char *path, EVP_PKEY **ret_pkey, char **ret_pem)
{
        struct tpm12 *p = t->priv;
        static const BYTE e65537[] = { 0x01, 0x00, 0x01 };
        BYTE *mod = NULL, *exp = NULL;
        UINT32 mod_len = 0, exp_len = 0, usage = 0, scheme = 0, bits = 0;
        BIGNUM *n = NULL, *e = NULL;
        OSSL_PARAM_BLD *bld = NULL;
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *pctx = NULL;
        EVP_PKEY *pkey = NULL;
        char *pem = NULL;
        TSS_RESULT rc;
        int r;

        rc = Tspi_GetAttribUint32(ak, TSS_TSPATTRIB_KEY_INFO, TSS_TSPATTRIB_KEYINFO_USAGE, &usage);
        if (rc == TSS_SUCCESS)
                rc = Tspi_GetAttribUint32(ak, TSS_TSPATTRIB_KEY_INFO, TSS_TSPATTRIB_KEYINFO_SIGSCHEME, &scheme);
        if (rc == TSS_SUCCESS)
                rc = Tspi_GetAttribUint32(ak, TSS_TSPATTRIB_KEY_INFO, TSS_TSPATTRIB_KEYINFO_SIZE, &bits);
        if (rc != TSS_SUCCESS)
                return tss_fail(t, tss_errno(rc), "Tspi_GetAttribUint32 (AK key info)", rc);
        if (usage != TSS_KEYUSAGE_SIGN || scheme != TSS_SS_RSASSAPKCS1V15_SHA1 || bits != 2048)
                return ib_tpm_fail(t, -EBADMSG, "%s is not an RSA-2048 RSASSA-PKCS1v15-SHA1 signing key "
                                   "(usage %u, scheme %u, %u bits): remove it to create a new one",
                                   path, (unsigned) usage, (unsigned) scheme, (unsigned) bits);

        rc = Tspi_GetAttribData(ak, TSS_TSPATTRIB_RSAKEY_INFO, TSS_TSPATTRIB_KEYINFO_RSA_MODULUS, &mod_len, &mod);
        if (rc != TSS_SUCCESS)
                return tss_fail(t, tss_errno(rc), "Tspi_GetAttribData (AK modulus)", rc);
        rc = Tspi_GetAttribData(ak, TSS_TSPATTRIB_RSAKEY_INFO, TSS_TSPATTRIB_KEYINFO_RSA_EXPONENT, &exp_len, &exp);
        if (rc != TSS_SUCCESS) {
                Tspi_Context_FreeMemory(p->ctx, mod);
                return tss_fail(t, tss_errno(rc), "Tspi_GetAttribData (AK exponent)", rc);
        }
        r = -ENOMEM;
        if (mod_len != 256) {
                r = ib_tpm_fail(t, -EBADMSG, "the AK's modulus has %u bytes, not 256", (unsigned) mod_len);
                goto out;
        }
        /* An empty exponent means the default, 65537 (TPM_RSA_KEY_PARMS). */
        n = BN_bin2bn(mod, (int) mod_len, NULL);
        e = exp_len ? BN_bin2bn(exp, (int) exp_len, NULL) : BN_bin2bn(e65537, sizeof(e65537), NULL);
        if (!n || !e)
                goto ossl;
        bld = OSSL_PARAM_BLD_new();
        if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
                goto ossl;
        params = OSSL_PARAM_BLD_to_param(bld);
        pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
            EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                goto ossl;
        pem = ib_tpm_pubkey_pem(pkey);
        if (!pem)
                goto ossl;
        *ret_pkey = pkey;
        *ret_pem = pem;
        pkey = NULL;
        r = 0;
        goto out;
ossl:
        r = ib_tpm_fail(t, -ENOMEM, "OpenSSL could not build the AK's public key");
out:
        EVP_PKEY_free(pkey);
        EVP_PKEY_CTX_free(pctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(n);
        BN_free(e);
        Tspi_Context_FreeMemory(p->ctx, mod);
        Tspi_Context_FreeMemory(p->ctx, exp);
        return r;
}

static uint32_t get_be32(const uint8_t *b)
{
        return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

/*
 * Check that @blob is exactly one TPM_KEY or TPM_KEY12 of the kind we
 * create: libtspi's Tspi_Context_LoadKeyByBlob parses it without looking
 * at its length (a truncated file makes it read past the buffer), and
 * parses PCR info and RSA parameters inside it as they say.  Layout:
 * ver/tag+fill (4), keyUsage (2), keyFlags (4), authDataUsage (1),
 * algorithmID (4), encScheme (2), sigScheme (2), parmSize (4) + parms,
 * PCRInfoSize (4) + PCRInfo, keyLength (4) + key, encSize (4) + encData.
 */
static int ak_blob_check(const uint8_t *blob, size_t n)
{
        size_t off = 4 + 2 + 4 + 1;
        uint32_t parm_size, len;

        if (n < off + 12 || n > AK_BLOB_MAX)
                return -EBADMSG;
        if (((unsigned) blob[4] << 8 | blob[5]) != 0x0010)      /* TPM_KEY_SIGNING */
                return -EBADMSG;
        if (get_be32(blob + off) != 1)                          /* TPM_ALG_RSA */
                return -EBADMSG;
        off += 8;
        parm_size = get_be32(blob + off);
        off += 4;
        /* TPM_RSA_KEY_PARMS: keyLength 2048, numPrimes, exponentSize + exponent */
        if (parm_size < 12 || parm_size > n - off || get_be32(blob + off) != 2048 ||
            get_be32(blob + off + 8) != parm_size - 12)
                return -EBADMSG;
        off += parm_size;
        for (unsigned field = 0; field < 3; field++) {  /* PCRInfo, pubKey, encData */
                if (n - off < 4)
                        return -EBADMSG;
                len = get_be32(blob + off);
                off += 4;
                if (len > n - off || (field == 0 && len != 0) || (field == 1 && len != 256) ||
                    (field == 2 && len == 0))
                        return -EBADMSG;
                off += len;
        }
        return off == n ? 0 : -EBADMSG;
}

/* Create a new AK under the SRK, save its blob to @path, load it. */
static int ak_create(struct ib_tpm *t, const char *path, TSS_HKEY *ret)
{
        struct tpm12 *p = t->priv;
        TSS_HKEY ak = 0;
        BYTE *blob = NULL;
        UINT32 blob_len = 0;
        TSS_RESULT rc;
        const char *call;
        int r;

        call = "Tspi_Context_CreateObject (AK)";
        rc = Tspi_Context_CreateObject(p->ctx, TSS_OBJECT_TYPE_RSAKEY,
                                       TSS_KEY_TYPE_SIGNING | TSS_KEY_SIZE_2048 |
                                       TSS_KEY_NO_AUTHORIZATION | TSS_KEY_NOT_MIGRATABLE, &ak);
        if (rc != TSS_SUCCESS)
                goto fail;
        call = "Tspi_SetAttribUint32 (AK signature scheme)";
        rc = Tspi_SetAttribUint32(ak, TSS_TSPATTRIB_KEY_INFO, TSS_TSPATTRIB_KEYINFO_SIGSCHEME,
                                  TSS_SS_RSASSAPKCS1V15_SHA1);
        if (rc != TSS_SUCCESS)
                goto fail;
        call = "Tspi_Key_CreateKey (AK under the SRK)";
        rc = Tspi_Key_CreateKey(ak, p->srk, 0);
        if (rc != TSS_SUCCESS) {
                r = tss_fail(t, tss_errno(rc), call, rc);
                srk_hint(t, rc);
                goto out;
        }
        call = "Tspi_GetAttribData (AK blob)";
        rc = Tspi_GetAttribData(ak, TSS_TSPATTRIB_KEY_BLOB, TSS_TSPATTRIB_KEYBLOB_BLOB, &blob_len, &blob);
        if (rc != TSS_SUCCESS)
                goto fail;
        if (ak_blob_check(blob, blob_len) < 0) {
                r = ib_tpm_fail(t, -EBADMSG, "the TPM made an AK blob of %u bytes that is not the key we asked for",
                                (unsigned) blob_len);
                goto out;
        }
        r = mkdir_parents(path);
        if (r < 0) {
                r = ib_tpm_fail(t, r, "cannot create the directory of %s: %s", path, strerror(-r));
                goto out;
        }
        r = ib_write_file_atomic(path, blob, blob_len, 0600);
        if (r < 0) {
                r = ib_tpm_fail(t, r, "cannot write the attestation key blob %s: %s", path, strerror(-r));
                goto out;
        }
        call = "Tspi_Key_LoadKey (new AK)";
        rc = Tspi_Key_LoadKey(ak, p->srk);
        if (rc != TSS_SUCCESS)
                goto fail;
        *ret = ak;
        ak = 0;
        r = 0;
        goto out;
fail:
        r = tss_fail(t, tss_errno(rc), call, rc);
out:
        if (blob)
                Tspi_Context_FreeMemory(p->ctx, blob);
        if (ak)
                Tspi_Context_CloseObject(p->ctx, ak);
        return r;
}

/* Make the AK of @path (NULL: the default) the loaded one. */
static int ak_load(struct ib_tpm *t, const char *path)
{
        struct tpm12 *p = t->priv;
        _cleanup_(freep) char *blob = NULL;
        _cleanup_(freep) char *path_copy = NULL;
        EVP_PKEY *pkey = NULL;
        char *pem = NULL;
        TSS_HKEY ak = 0;
        TSS_RESULT rc;
        size_t n;
        int r;

        if (!path)
                path = AK_DEFAULT_PATH;
        if (p->ak && strcmp(p->ak_path, path) == 0)
                return 0;
        path_copy = strdup(path);
        if (!path_copy)
                return ib_tpm_fail(t, -ENOMEM, "out of memory");
        r = load_srk(t);
        if (r < 0)
                return r;

        r = ib_read_file(path, AK_BLOB_MAX, &blob, &n);
        if (r == -ENOENT) {
                r = ak_create(t, path, &ak);
                if (r < 0)
                        return r;
        } else if (r < 0) {
                return ib_tpm_fail(t, r, "cannot read the attestation key blob %s: %s", path, strerror(-r));
        } else {
                if (ak_blob_check((const uint8_t *) blob, n) < 0)
                        return ib_tpm_fail(t, -EBADMSG, "%s is not the blob of an RSA-2048 signing key "
                                           "without PCR binding (%zu bytes): remove it to create a new one",
                                           path, n);
                rc = Tspi_Context_LoadKeyByBlob(p->ctx, p->srk, (UINT32) n, (BYTE *) blob, &ak);
                if (rc != TSS_SUCCESS) {
                        tss_fail(t, tss_errno(rc), "Tspi_Context_LoadKeyByBlob", rc);
                        snprintf(t->error + strlen(t->error), sizeof(t->error) - strlen(t->error),
                                 " for %s", path);
                        if (is_tpm_err(rc, TPM_E_NOSRK) || is_tpm_err(rc, TPM_E_AUTHFAIL) ||
                            is_tpm_err(rc, TPM_E_DISABLED) || is_tpm_err(rc, TPM_E_DEACTIVATED))
                                srk_hint(t, rc);
                        else
                                snprintf(t->error + strlen(t->error), sizeof(t->error) - strlen(t->error),
                                         " (a key of another TPM or owner? remove it to create a new one)");
                        return tss_errno(rc);
                }
        }
        r = ak_pubkey(t, ak, path, &pkey, &pem);
        if (r < 0) {
                Tspi_Context_CloseObject(p->ctx, ak);
                return r;
        }
        if (p->ak)
                Tspi_Context_CloseObject(p->ctx, p->ak);
        EVP_PKEY_free(p->ak_pkey);
        free(p->ak_pem);
        free(p->ak_path);
        p->ak = ak;
        p->ak_pkey = pkey;
        p->ak_pem = pem;
        p->ak_path = path_copy;
        path_copy = NULL;
        return 0;
}

static int tpm12_ak_public(struct ib_tpm *t, const char *ak_path, char **ret_pem)
{
        struct tpm12 *p = t->priv;
        char *pem;
        int r;

        r = ak_load(t, ak_path);
        if (r < 0)
                return r;
        pem = strdup(p->ak_pem);
        if (!pem)
                return ib_tpm_fail(t, -ENOMEM, "out of memory");
        *ret_pem = pem;
        return 0;
}

static void put_be16(uint8_t *b, unsigned v) { b[0] = (uint8_t) (v >> 8); b[1] = (uint8_t) v; }
static void put_be32(uint8_t *b, uint32_t v)
{
        b[0] = (uint8_t) (v >> 24); b[1] = (uint8_t) (v >> 16); b[2] = (uint8_t) (v >> 8); b[3] = (uint8_t) v;
}

/*
 * SHA-1 of the TPM_PCR_COMPOSITE of @pcrs[i] for the PCRs in @mask: a
 * TPM_PCR_SELECTION of 3 bytes (PCRs 0..23; what we ask the TPM for), the
 * values' total size, the values in PCR order.
 */
static int composite_hash(uint32_t mask, const uint8_t pcrs[][IB_TPM_MAX_DIGEST], uint8_t out[SHA1_LEN])
{
        uint8_t buf[2 + 3 + 4 + IB_TPM_NUM_PCRS * SHA1_LEN];
        size_t off = 9;
        unsigned int md_len = 0;

        put_be16(buf, 3);
        buf[2] = (uint8_t) mask;
        buf[3] = (uint8_t) (mask >> 8);
        buf[4] = (uint8_t) (mask >> 16);
        for (unsigned i = 0; i < IB_TPM_NUM_PCRS; i++)
                if (mask & (1u << i)) {
                        memcpy(buf + off, pcrs[i], SHA1_LEN);
                        off += SHA1_LEN;
                }
        put_be32(buf + 5, (uint32_t) (off - 9));
        if (!EVP_Digest(buf, off, out, &md_len, EVP_sha1(), NULL) || md_len != SHA1_LEN)
                return -ENOMEM;
        return 0;
}

/* The TPM's signature over @info with the AK: 1 good, 0 bad, < 0 error. */
static int sig_verify(EVP_PKEY *pkey, const uint8_t *info, size_t info_len, const uint8_t *sig, size_t sig_len)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int r;

        if (!md)
                return -ENOMEM;
        if (EVP_DigestVerifyInit(md, NULL, EVP_sha1(), NULL, pkey) <= 0) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        r = EVP_DigestVerify(md, sig, sig_len, info, info_len);
        EVP_MD_CTX_free(md);
        return r == 1;
}

static int tpm12_quote(struct ib_tpm *t, const char *ak_path, uint32_t mask,
                       const uint8_t *nonce, size_t nonce_len, struct ib_quote *ret)
{
        static const uint8_t ver_quot[8] = { 1, 1, 0, 0, 'Q', 'U', 'O', 'T' };
        struct tpm12 *p = t->priv;
        struct ib_quote q = { .family = IB_TPM_12, .mask = mask, .nonce_len = nonce_len };
        TSS_VALIDATION v = { 0 };
        TSS_HPCRS pcrs = 0;
        BYTE ext[SHA1_LEN];
        uint8_t want[SHA1_LEN];
        TSS_RESULT rc;
        const char *call;
        int r;

        r = ak_load(t, ak_path);
        if (r < 0)
                return r;
        memcpy(q.nonce, nonce, nonce_len);

        /*
         * A TPM_PCR_INFO_SHORT composite: its selection is 3 bytes wide
         * whatever the PCRs (a plain TPM_PCR_INFO one would be 2 bytes for
         * PCRs below 16), so a verifier can rebuild it without guessing.
         */
        call = "Tspi_Context_CreateObject (PCR composite)";
        rc = Tspi_Context_CreateObject(p->ctx, TSS_OBJECT_TYPE_PCRS, TSS_PCRS_STRUCT_INFO_SHORT, &pcrs);
        if (rc != TSS_SUCCESS)
                goto tss;
        call = "Tspi_PcrComposite_SelectPcrIndexEx";
        for (unsigned i = 0; i < IB_TPM_NUM_PCRS; i++)
                if (mask & (1u << i)) {
                        rc = Tspi_PcrComposite_SelectPcrIndexEx(pcrs, i, TSS_PCRS_DIRECTION_RELEASE);
                        if (rc != TSS_SUCCESS)
                                goto tss;
                }
        memcpy(ext, nonce, SHA1_LEN);
        v.ulExternalDataLength = SHA1_LEN;
        v.rgbExternalData = ext;
        call = "Tspi_TPM_Quote";
        rc = Tspi_TPM_Quote(p->tpm, p->ak, pcrs, &v);
        if (rc != TSS_SUCCESS)
                goto tss;

        /* The quoted values, as the TPM returned them with the quote. */
        call = "Tspi_PcrComposite_GetPcrValue";
        for (unsigned i = 0; i < IB_TPM_NUM_PCRS; i++) {
                BYTE *val = NULL;
                UINT32 len = 0;

                if (!(mask & (1u << i)))
                        continue;
                rc = Tspi_PcrComposite_GetPcrValue(pcrs, i, &len, &val);
                if (rc != TSS_SUCCESS)
                        goto tss;
                if (len != SHA1_LEN) {
                        Tspi_Context_FreeMemory(p->ctx, val);
                        r = ib_tpm_fail(t, -EBADMSG, "the quote's PCR %u value has %u bytes", i, (unsigned) len);
                        goto out;
                }
                memcpy(q.pcrs[i], val, SHA1_LEN);
                Tspi_Context_FreeMemory(p->ctx, val);
        }

        if (v.ulDataLength != QUOTE_INFO_LEN || !v.rgbData || memcmp(v.rgbData, ver_quot, 8) != 0) {
                r = ib_tpm_fail(t, -EBADMSG, "Tspi_TPM_Quote returned %u bytes that are not a TPM_QUOTE_INFO "
                                "(1.1.0.0, \"QUOT\")", (unsigned) v.ulDataLength);
                goto out;
        }
        if (memcmp(v.rgbData + 28, nonce, SHA1_LEN) != 0) {
                r = ib_tpm_fail(t, -EBADMSG, "the quote is not over our nonce");
                goto out;
        }
        r = composite_hash(mask, (const uint8_t (*)[IB_TPM_MAX_DIGEST]) q.pcrs, want);
        if (r < 0) {
                r = ib_tpm_fail(t, r, "OpenSSL could not hash the PCR composite");
                goto out;
        }
        if (memcmp(v.rgbData + 8, want, SHA1_LEN) != 0) {
                r = ib_tpm_fail(t, -EBADMSG, "the quote's composite hash does not match the PCR values it came with");
                goto out;
        }
        r = sig_verify(p->ak_pkey, v.rgbData, v.ulDataLength, v.rgbValidationData, v.ulValidationDataLength);
        if (r <= 0) {
                r = ib_tpm_fail(t, r < 0 ? r : -EBADMSG, "the TPM's quote signature does not verify with the AK");
                goto out;
        }

        q.attest = malloc(v.ulDataLength);
        q.sig = malloc(v.ulValidationDataLength);
        q.ak_pem = strdup(p->ak_pem);
        if (!q.attest || !q.sig || !q.ak_pem) {
                ib_quote_free(&q);
                r = ib_tpm_fail(t, -ENOMEM, "out of memory");
                goto out;
        }
        memcpy(q.attest, v.rgbData, v.ulDataLength);
        q.attest_len = v.ulDataLength;
        memcpy(q.sig, v.rgbValidationData, v.ulValidationDataLength);
        q.sig_len = v.ulValidationDataLength;
        *ret = q;
        r = 0;
        goto out;
tss:
        r = tss_fail(t, tss_errno(rc), call, rc);
out:
        if (v.rgbData)
                Tspi_Context_FreeMemory(p->ctx, v.rgbData);
        if (v.rgbValidationData)
                Tspi_Context_FreeMemory(p->ctx, v.rgbValidationData);
        if (pcrs)
                Tspi_Context_CloseObject(p->ctx, pcrs);
        return r;
}

static const struct ib_tpm_ops tpm12_ops = {
        .close = tpm12_close,
        .extend = tpm12_extend,
        .pcr_read = tpm12_pcr_read,
        .ak_public = tpm12_ak_public,
        .quote = tpm12_quote,
};

int ib_tpm12_open(struct ib_tpm *t, unsigned port)
{
        struct tpm12 *p;
        char portstr[16];
        char *old_port = NULL, *old_host = NULL;
        bool port_set = false, host_set = false;
        TSS_RESULT rc;
        int r;

        if (port == 0)
                port = TCSD_DEFAULT_PORT_NR;
        if (port > 65535)
                return ib_tpm_fail(t, -EINVAL, "the tcsd port must be 1..65535");
        p = calloc(1, sizeof(*p));
        if (!p)
                return ib_tpm_fail(t, -ENOMEM, "out of memory");
        p->port = port;

        /* See the top of the file: tspi takes the tcsd's address from the environment. */
        snprintf(portstr, sizeof(portstr), "%u", port);
        r = (port == TCSD_DEFAULT_PORT_NR && !getenv("TSS_TCSD_PORT")) ? 0 :
            env_push("TSS_TCSD_PORT", portstr, &old_port, &port_set);
        if (r == 0 && getenv("TSS_TCSD_HOSTNAME"))
                r = env_push("TSS_TCSD_HOSTNAME", "localhost", &old_host, &host_set);
        if (r < 0) {
                env_pop("TSS_TCSD_PORT", old_port, port_set);
                free(p);
                return ib_tpm_fail(t, r, "cannot set the tcsd port for libtspi: %s", strerror(-r));
        }
        rc = Tspi_Context_Create(&p->ctx);
        if (rc == TSS_SUCCESS) {
                rc = Tspi_Context_Connect(p->ctx, NULL);
                if (rc != TSS_SUCCESS)
                        r = is_comm_err(rc) ?
                                ib_tpm_fail(t, -ENODEV, "cannot reach tcsd on localhost:%u — is tcsd running? "
                                            "(TPM 1.2 needs the TrouSerS daemon; Tspi_Context_Connect: %s)",
                                            port, Trspi_Error_String(rc)) :
                                tss_fail(t, tss_errno(rc), "Tspi_Context_Connect", rc);
        } else {
                p->ctx = 0;
                r = tss_fail(t, tss_errno(rc), "Tspi_Context_Create", rc);
        }
        env_pop("TSS_TCSD_HOSTNAME", old_host, host_set);
        env_pop("TSS_TCSD_PORT", old_port, port_set);
        if (r == 0) {
                rc = Tspi_Context_GetTpmObject(p->ctx, &p->tpm);
                if (rc != TSS_SUCCESS)
                        r = tss_fail(t, tss_errno(rc), "Tspi_Context_GetTpmObject", rc);
        }
        if (r < 0) {
                tpm12_close(p);
                return r;
        }
        t->ops = &tpm12_ops;
        t->priv = p;
        return 0;
}
