/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyring.h: publisher keys certified by root keys (docs/signatures.md, "The
 * life of a key").
 *
 * Boot media trust a few root keys (DIR/roots/ of a trusted keys directory).
 * A root key signs a keyring, published beside the manifests as
 * inetboot.keyring (+ .sig, the detached signature format of sig.h): the
 * publisher keys it certifies, each with a validity window and a pattern of
 * the image names it may sign, and the keys it revoked.  A newer version
 * replaces an older one; a client remembers the highest version it accepted
 * per root (the trust state, state.h) and refuses a lower one.
 *
 *   inetboot-keyring 1
 *   version 8
 *   created 1766500000
 *   expires 1798036000                                    (optional)
 *   key sha256:<64 hex> <not-before> <not-after> <names> <base64 DER SubjectPublicKeyInfo>
 *   revoked sha256:<64 hex> <version that revoked it>
 *
 * Canonical and strict: lines in this order, keys and revoked keys each in
 * ascending fingerprint order, no key both certified and revoked, every
 * number canonical decimal; at most IB_KEYRING_MAX_BYTES.  The parser is
 * fuzzed (tests/fuzz/fuzz-keyring.c).
 */
#ifndef INETBOOT_KEYRING_H
#define INETBOOT_KEYRING_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "state.h"
#include "util.h"

#define IB_KEYRING_MAGIC     "inetboot-keyring"
#define IB_KEYRING_VERSION   1
#define IB_KEYRING_FILE      "inetboot.keyring"     /* beside the manifests */
#define IB_KEYRING_ROOTS     "roots"                /* DIR/roots/ of a trusted keys directory */
#define IB_KEYRING_MAX_BYTES (256u << 10)
#define IB_KEYRING_MAX_KEYS  256u
#define IB_KEYRING_MAX_REVOKED 1024u
#define IB_KEYRING_MAX_DER   1024u                  /* a DER SubjectPublicKeyInfo (RSA 4096: 550) */
#define IB_KEYRING_MAX_NAMES 255u                   /* an image name pattern */

/* Error classes (struct ib_err.code). */
enum {
        IB_KEYRING_EMALFORMED = 1200,   /* not of the documented form */
        IB_KEYRING_EROOT,               /* not signed by a root key (or no roots) */
        IB_KEYRING_EREVOKED,            /* the manifest's key was revoked */
        IB_KEYRING_EVALIDITY,           /* now is outside the key's validity */
        IB_KEYRING_ENAME,               /* the key may not sign this image name */
        IB_KEYRING_EEXPIRED,            /* the keyring itself expired */
        IB_KEYRING_EOLDER,              /* a lower version than one accepted before */
};

struct ib_keyring_key {
        uint8_t fp[32];                 /* SHA-256 of der */
        uint64_t not_before, not_after; /* valid from not_before up to (not at) not_after */
        char *names;                    /* image names it may sign: '*' and '?' wildcards */
        uint8_t *der;                   /* DER SubjectPublicKeyInfo */
        size_t der_len;
        EVP_PKEY *pub;
};

struct ib_keyring_revoked {
        uint8_t fp[32];
        uint64_t version;               /* the keyring version that revoked it */
};

struct ib_keyring {
        uint64_t version, created, expires;     /* expires 0: never */
        struct ib_keyring_key *keys;
        size_t n_keys;
        struct ib_keyring_revoked *revoked;
        size_t n_revoked;
        uint8_t root[32];               /* the root key that signed it (ib_keyring_verify) */
};

/* Strictly parse a keyring's text (IB_KEYRING_EMALFORMED with its line on any fault). */
int ib_keyring_parse(const char *buf, size_t len, struct ib_keyring **ret, struct ib_err *err);

/* Its canonical text (what ib_keyring_parse reads). */
int ib_keyring_format(const struct ib_keyring *kr, char **ret, size_t *ret_len);

/* Number of usable public keys in @keys_dir/roots/ (0: none, or no such folder). */
unsigned ib_keyring_n_roots(const char *keys_dir);

/*
 * Verify @sig over the keyring @text with the root keys of @keys_dir
 * (@keys_dir/roots/), then parse it; kr->root is the root's fingerprint.
 */
int ib_keyring_verify(const char *keys_dir, const char *text, size_t len, const char *sig, size_t sig_len,
                      struct ib_keyring **ret, struct ib_err *err);

const struct ib_keyring_key *ib_keyring_find(const struct ib_keyring *kr, const uint8_t fp[32]);
const struct ib_keyring_revoked *ib_keyring_find_revoked(const struct ib_keyring *kr, const uint8_t fp[32]);

/* Certify @pub (replacing an earlier certificate of it); it must not be revoked. */
int ib_keyring_certify(struct ib_keyring *kr, EVP_PKEY *pub, uint64_t not_before, uint64_t not_after, const char *names,
                       struct ib_err *err);

/* Revoke @fp in version @version (its certificate, if any, goes). */
int ib_keyring_revoke(struct ib_keyring *kr, const uint8_t fp[32], uint64_t version, struct ib_err *err);

/* Does @name match the names pattern (only '*' and '?' are special)? */
bool ib_keyring_names_match(const char *pattern, const char *name);

/*
 * Verify a manifest's (or any file's) signature: with a public key of
 * @keys_dir itself, as ib_verify does, or else with a key @kr (may be NULL)
 * certifies.  A key @kr revoked is refused either way.  *ret_certified says
 * which one signed.
 */
int ib_verify_trusted(const char *keys_dir, const struct ib_keyring *kr, const void *data, size_t len, const char *sig,
                      size_t sig_len, uint8_t ret_key_id[32], bool *ret_certified, struct ib_err *err);

/*
 * Judge the keyring @kr and the manifest @m signed by @key_id (certified by
 * @kr if @certified), after ib_state_judge accepted @m with the same @s and
 * @notes (whose fields it adds to): the keyring not expired, its version not
 * below the one @s (may be NULL) accepted for its root (-ESTALE,
 * IB_KEYRING_EOLDER, unless IB_STATE_ALLOW_ROLLBACK), the certified key
 * valid now and allowed @m's name.  "Now" is the expiry judgement's
 * (notes->now), never before the keyring's creation.  Raises the version
 * floor and the time floor in @s.
 */
int ib_keyring_judge(struct ib_state *s, const struct ib_keyring *kr, const uint8_t key_id[32], bool certified,
                     const struct ib_manifest *m, unsigned flags, struct ib_state_notes *notes, struct ib_err *err);

struct ib_keyring *ib_keyring_new(void);
struct ib_keyring *ib_keyring_free(struct ib_keyring *kr);
static inline void ib_keyring_freep(struct ib_keyring **kr) { ib_keyring_free(*kr); }

#endif
