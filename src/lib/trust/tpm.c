/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tpm.c: choose and open a TPM backend (see tpm.h), and the calls that
 * every backend shares.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "tpm-backend.h"

int ib_tpm_fail(struct ib_tpm *t, int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(t->error, sizeof(t->error), fmt, ap);
        va_end(ap);
        return code;
}

/* Which TPM the machine has: 20, 12, or 0 (none), from sysfs. */
static enum ib_tpm_family sysfs_family(void)
{
        _cleanup_(freep) char *v = NULL;
        size_t n;

        if (access("/sys/class/tpm/tpm0", F_OK) < 0)
                return IB_TPM_NONE;
        /* tpm_version_major exists since Linux 5.6. */
        if (ib_read_file("/sys/class/tpm/tpm0/tpm_version_major", 16, &v, &n) == 0)
                return v[0] == '2' ? IB_TPM_20 : IB_TPM_12;
        /* Older kernels: 1.2 chips have the "caps" file, 2.0 ones do not. */
        return access("/sys/class/tpm/tpm0/device/caps", F_OK) == 0 ? IB_TPM_12 : IB_TPM_20;
}

int ib_tpm_open(const char *spec, struct ib_tpm **ret, struct ib_err *err)
{
        _cleanup_(freep) struct ib_tpm *t = NULL;
        enum ib_tpm_family fam;
        const char *conf = NULL;
        uint64_t port = 0;
        int r;

        *ret = NULL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");

        if (!spec || strcmp(spec, "auto") == 0) {
                fam = sysfs_family();
                if (fam == IB_TPM_NONE)
                        return ib_err_set(err, -ENODEV, 0, "this machine has no TPM (no /sys/class/tpm/tpm0)");
        } else if (strcmp(spec, "tpm2") == 0 || strncmp(spec, "tpm2:", 5) == 0) {
                fam = IB_TPM_20;
                conf = spec[4] ? spec + 5 : NULL;
        } else if (strcmp(spec, "tpm12") == 0 || strncmp(spec, "tpm12:", 6) == 0) {
                fam = IB_TPM_12;
                if (spec[5] && (ib_parse_u64(spec + 6, strlen(spec + 6), &port) < 0 ||
                                port == 0 || port > 65535))
                        return ib_err_set(err, -EINVAL, 0, "'%s': the tcsd port must be 1..65535", spec);
        } else {
                return ib_err_set(err, -EINVAL, 0,
                                  "'%s': a TPM is named auto, tpm2[:TCTI] or tpm12[:PORT]", spec);
        }

        t->family = fam;
        r = fam == IB_TPM_20 ? ib_tpm2_open(t, conf) : ib_tpm12_open(t, (unsigned) port);
        if (r < 0)
                return ib_err_set(err, r, 0, "%s", t->error);
        *ret = t;
        t = NULL;
        return 0;
}

void ib_tpm_close(struct ib_tpm *t)
{
        if (!t)
                return;
        if (t->ops)
                t->ops->close(t->priv);
        free(t);
}

enum ib_tpm_family ib_tpm_family(const struct ib_tpm *t)
{
        return t->family;
}

const char *ib_tpm_bank(const struct ib_tpm *t)
{
        return t->family == IB_TPM_20 ? "sha256" : "sha1";
}

size_t ib_tpm_digest_len(const struct ib_tpm *t)
{
        return t->family == IB_TPM_20 ? 32 : 20;
}

const char *ib_tpm_error(const struct ib_tpm *t)
{
        return t->error;
}

int ib_tpm_extend(struct ib_tpm *t, unsigned pcr, const uint8_t *digest)
{
        if (pcr >= IB_TPM_NUM_PCRS)
                return ib_tpm_fail(t, -EINVAL, "PCR %u does not exist", pcr);
        return t->ops->extend(t, pcr, digest);
}

int ib_tpm_pcr_read(struct ib_tpm *t, unsigned pcr, uint8_t *out)
{
        if (pcr >= IB_TPM_NUM_PCRS)
                return ib_tpm_fail(t, -EINVAL, "PCR %u does not exist", pcr);
        return t->ops->pcr_read(t, pcr, out);
}

int ib_tpm_ak_public(struct ib_tpm *t, const char *ak_path, char **ret_pem)
{
        *ret_pem = NULL;
        return t->ops->ak_public(t, ak_path, ret_pem);
}

int ib_tpm_quote(struct ib_tpm *t, const char *ak_path, uint32_t mask,
                 const uint8_t *nonce, size_t nonce_len, struct ib_quote *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (mask == 0 || mask >> IB_TPM_NUM_PCRS)
                return ib_tpm_fail(t, -EINVAL, "the PCR selection must name PCRs 0..23");
        if (nonce_len == 0 || nonce_len > IB_TPM_MAX_NONCE)
                return ib_tpm_fail(t, -EINVAL, "the nonce must be 1..%d bytes", IB_TPM_MAX_NONCE);
        if (t->family == IB_TPM_12 && nonce_len != 20)
                return ib_tpm_fail(t, -EINVAL, "a TPM 1.2 quote takes a 20-byte nonce");
        return t->ops->quote(t, ak_path, mask, nonce, nonce_len, ret);
}

int ib_tpm_nv_read(struct ib_tpm *t, uint8_t buf[IB_TPM_NV_SIZE])
{
        if (!t->ops->nv_read)
                return ib_tpm_fail(t, -EOPNOTSUPP, "this TPM %s keeps no inetboot NV index", t->family == IB_TPM_12 ? "1.2" : "");
        return t->ops->nv_read(t, buf, IB_TPM_NV_SIZE);
}

int ib_tpm_nv_write(struct ib_tpm *t, const uint8_t buf[IB_TPM_NV_SIZE])
{
        if (!t->ops->nv_write)
                return ib_tpm_fail(t, -EOPNOTSUPP, "this TPM %s keeps no inetboot NV index", t->family == IB_TPM_12 ? "1.2" : "");
        return t->ops->nv_write(t, buf, IB_TPM_NV_SIZE);
}

char *ib_tpm_pubkey_pem(EVP_PKEY *k)
{
        BIO *bio = BIO_new(BIO_s_mem());
        char *data, *pem = NULL;
        long len;

        if (bio && PEM_write_bio_PUBKEY(bio, k) == 1 && (len = BIO_get_mem_data(bio, &data)) > 0)
                pem = ib_strndup(data, (size_t) len);
        BIO_free(bio);
        if (!pem)
                ERR_clear_error();
        return pem;
}

void ib_quote_free(struct ib_quote *q)
{
        if (!q)
                return;
        free(q->attest);
        free(q->sig);
        free(q->ak_pem);
        q->attest = q->sig = NULL;
        q->ak_pem = NULL;
}
