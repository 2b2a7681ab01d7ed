/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tpm-backend.h: what tpm.c (the dispatcher) and the two backends, tpm2.c
 * (tpm2-tss ESAPI) and tpm12.c (TrouSerS tspi), share.  Not a public header.
 */
#ifndef INETBOOT_TPM_BACKEND_H
#define INETBOOT_TPM_BACKEND_H

#include <openssl/evp.h>

#include "tpm.h"

struct ib_tpm_ops {
        void (*close)(void *priv);
        int (*extend)(struct ib_tpm *t, unsigned pcr, const uint8_t *digest);
        int (*pcr_read)(struct ib_tpm *t, unsigned pcr, uint8_t *out);
        int (*ak_public)(struct ib_tpm *t, const char *ak_path, char **ret_pem);
        int (*quote)(struct ib_tpm *t, const char *ak_path, uint32_t mask,
                     const uint8_t *nonce, size_t nonce_len, struct ib_quote *ret);
        /* inetboot's NV index (NULL: the backend has none, -EOPNOTSUPP) */
        int (*nv_read)(struct ib_tpm *t, uint8_t *buf, size_t len);
        int (*nv_write)(struct ib_tpm *t, const uint8_t *buf, size_t len);
};

struct ib_tpm {
        enum ib_tpm_family family;
        const struct ib_tpm_ops *ops;
        void *priv;                     /* the backend's state */
        char error[512];
};

/* Set t->error (printf-style) and return @code. */
int ib_tpm_fail(struct ib_tpm *t, int code, const char *fmt, ...) _printf_(3, 4);

/*
 * Backend constructors: fill t->ops and t->priv or return a negative errno
 * with t->error set.  @conf: the TCTI configuration string for 2.0 (NULL:
 * "device:/dev/tpmrm0", then "device:/dev/tpm0"); the tcsd port for 1.2
 * (0: the default, 30003).
 */
int ib_tpm2_open(struct ib_tpm *t, const char *conf);

/* @k's public key as SubjectPublicKeyInfo PEM (malloc'd), NULL when OpenSSL fails. */
char *ib_tpm_pubkey_pem(EVP_PKEY *k);
int ib_tpm12_open(struct ib_tpm *t, unsigned port);

#endif
