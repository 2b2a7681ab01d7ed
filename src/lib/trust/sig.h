/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sig.h: publisher keys and detached signatures (docs/signatures.md).
 *
 * A signature file NAME.sig covers the exact bytes of NAME.  It names the
 * key it was made with by fingerprint (SHA-256 of the DER SubjectPublicKeyInfo),
 * the algorithm, and the SHA-256 of the signed bytes, so that a verifier can
 * tell "unknown key", "file changed after signing" and "bad signature" apart.
 * Ed25519 is the default; RSA (PSS, SHA-256) and ECDSA (SHA-256) work too.
 */
#ifndef INETBOOT_SIG_H
#define INETBOOT_SIG_H

#include <openssl/evp.h>
#include <stdint.h>

#include "util.h"

#define IB_SIG_MAGIC "inetboot-signature"
#define IB_SIG_VERSION 1
#define IB_SIG_MAX_BYTES 4096u
#define IB_SIG_MAX_KEYS 256u            /* trusted key files read from a directory */

enum {
        IB_SIG_EMALFORMED = 2000,       /* signature file not of the documented form */
        IB_SIG_EVERSION,                /* signature file of an unknown version */
        IB_SIG_EUNKNOWNKEY,             /* made by a key not in the trusted set */
        IB_SIG_EALGORITHM,              /* algorithm does not fit the key or is unknown */
        IB_SIG_EMODIFIED,               /* signed bytes changed after signing */
        IB_SIG_EBAD,                    /* signature does not verify */
        IB_SIG_ENOKEYS,                 /* no usable trusted keys */
        IB_SIG_EKEY,                    /* a key file that cannot be read or parsed */
};

struct ib_sigfile {
        uint8_t key_id[32];
        char algorithm[32];
        uint8_t digest[32];             /* SHA-256 of the signed bytes */
        uint8_t *sig;
        size_t sig_len;
};

/* Key type names for ib_key_generate: "ed25519" (default), "rsa" (3072 bit), "ecdsa" (P-256). */
int ib_key_generate(const char *type, EVP_PKEY **ret, struct ib_err *err);

/* Write NAME.key (PKCS#8 PEM, mode 0600, never overwritten) and NAME.pub (PEM). */
int ib_key_save(EVP_PKEY *key, const char *name, struct ib_err *err);

int ib_key_load_private(const char *path, EVP_PKEY **ret, struct ib_err *err);
int ib_key_load_public(const char *path, EVP_PKEY **ret, struct ib_err *err);

/* SHA-256 of the key's DER SubjectPublicKeyInfo. */
int ib_key_fingerprint(EVP_PKEY *key, uint8_t ret[32]);

/* The signature algorithm name for a key, or NULL for an unsupported key type. */
const char *ib_key_algorithm(EVP_PKEY *key);

/* Sign @len bytes; returns the signature file's text. */
int ib_sign(EVP_PKEY *key, const void *data, size_t len, char **ret, size_t *ret_len, struct ib_err *err);

/* Strictly parse a signature file.  Free with ib_sigfile_clear(). */
int ib_sigfile_parse(const char *buf, size_t len, struct ib_sigfile *ret, struct ib_err *err);
void ib_sigfile_clear(struct ib_sigfile *s);

/*
 * Verify @sig_text over @data with the trusted PEM public keys (*.pub, *.pem)
 * in @keys_dir.  On success *ret_key_id (may be NULL) is the signer's
 * fingerprint.  Each failure has its own IB_SIG_E* code in @err.
 */
int ib_verify(const char *keys_dir, const void *data, size_t len, const char *sig_text, size_t sig_len,
              uint8_t ret_key_id[32], struct ib_err *err);

/* Verify against one already-loaded public key (used by ib_verify and the tests). */
int ib_verify_key(EVP_PKEY *key, const struct ib_sigfile *s, const void *data, size_t len, struct ib_err *err);

#endif
