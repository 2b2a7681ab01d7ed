/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyring.c: publisher keys certified and revoked by root keys (keyring.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyring.h"
#include "sig.h"

#define MAX_LINE (IB_KEYRING_MAX_DER * 2 + 512)

struct ib_keyring *ib_keyring_new(void) {
        return calloc(1, sizeof(struct ib_keyring));
}

static void key_clear(struct ib_keyring_key *k) {
        free(k->names);
        free(k->der);
        EVP_PKEY_free(k->pub);
        *k = (struct ib_keyring_key){};
}

struct ib_keyring *ib_keyring_free(struct ib_keyring *kr) {
        if (!kr)
                return NULL;
        for (size_t i = 0; i < kr->n_keys; i++)
                key_clear(&kr->keys[i]);
        free(kr->keys);
        free(kr->revoked);
        free(kr);
        return NULL;
}

/* ---- parsing ------------------------------------------------------------ */

static int malformed(struct ib_err *err, unsigned line, const char *what) {
        return ib_err_set(err, IB_KEYRING_EMALFORMED, line, "malformed keyring, line %u: %s", line, what);
}

/* The next space-separated field of [*p, end) (not empty); advances *p past it and one space. */
static bool field(const char **p, const char *end, const char **ret, size_t *ret_len) {
        const char *s = *p, *e = memchr(s, ' ', (size_t)(end - s));

        if (!e)
                e = end;
        if (e == s)
                return false;
        *ret = s;
        *ret_len = (size_t)(e - s);
        *p = e < end ? e + 1 : e;
        return !(e < end && e + 1 == end);      /* no trailing space */
}

static bool field_u64(const char **p, const char *end, uint64_t *ret) {
        const char *f;
        size_t n;

        return field(p, end, &f, &n) && ib_parse_u64(f, n, ret) == 0;
}

/* "sha256:" and 64 lower-case hex digits. */
static bool field_fp(const char **p, const char *end, uint8_t fp[32]) {
        const char *f;
        size_t n;

        if (!field(p, end, &f, &n) || n != 7 + 64 || memcmp(f, "sha256:", 7) != 0)
                return false;
        for (size_t i = 7; i < n; i++)
                if (f[i] >= 'A' && f[i] <= 'F')
                        return false;
        return ib_unhex(f + 7, 64, fp, 32) == 0;
}

/* A names pattern: like an image name (printable, no space, no '/'), '*' and '?' as wildcards. */
static bool valid_names(const char *s, size_t n) {
        if (n == 0 || n > IB_KEYRING_MAX_NAMES)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '/')
                        return false;
        return true;
}

bool ib_keyring_names_match(const char *p, const char *name) {
        const char *star = NULL, *back = NULL;

        /* Iterative glob with one backtrack point: linear enough for 255-byte patterns. */
        while (*name) {
                if (*p == '*') {
                        star = p++;
                        back = name;
                } else if (*p && (*p == '?' || *p == *name)) {
                        p++;
                        name++;
                } else if (star) {
                        p = star + 1;
                        name = ++back;
                } else
                        return false;
        }
        while (*p == '*')
                p++;
        return *p == 0;
}

static int add_key(struct ib_keyring *kr, struct ib_keyring_key *k) {
        if (kr->n_keys % 16 == 0) {
                struct ib_keyring_key *n = realloc(kr->keys, (kr->n_keys + 16) * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                kr->keys = n;
        }
        kr->keys[kr->n_keys++] = *k;
        *k = (struct ib_keyring_key){};
        return 0;
}

static int add_revoked(struct ib_keyring *kr, const struct ib_keyring_revoked *r) {
        if (kr->n_revoked % 64 == 0) {
                struct ib_keyring_revoked *n = realloc(kr->revoked, (kr->n_revoked + 64) * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                kr->revoked = n;
        }
        kr->revoked[kr->n_revoked++] = *r;
        return 0;
}

/* The DER key of a "key" line: decodes, is a usable key, and is its fingerprint's. */
static int parse_der(struct ib_keyring_key *k, const char *b64, size_t n, unsigned line, struct ib_err *err) {
        const unsigned char *p;
        uint8_t fp[32];
        int r = ib_base64_decode(b64, n, &k->der, &k->der_len);

        if (r == -ENOMEM)
                return ib_err_set(err, r, line, "out of memory");
        if (r < 0 || k->der_len == 0 || k->der_len > IB_KEYRING_MAX_DER)
                return malformed(err, line, "the key is not base64 of at most 1024 bytes");
        p = k->der;
        k->pub = d2i_PUBKEY(NULL, &p, (long)k->der_len);
        if (!k->pub || p != k->der + k->der_len || !ib_key_algorithm(k->pub))
                return malformed(err, line, "the key is not a DER SubjectPublicKeyInfo of an Ed25519, RSA or ECDSA key");
        if (!EVP_Digest(k->der, k->der_len, fp, NULL, EVP_sha256(), NULL) || memcmp(fp, k->fp, 32) != 0)
                return malformed(err, line, "the key's fingerprint is not the SHA-256 of its DER bytes");
        if (ib_key_fingerprint(k->pub, fp) < 0 || memcmp(fp, k->fp, 32) != 0)
                return malformed(err, line, "the key's DER bytes are not canonical");
        return 0;
}

static int parse_key(struct ib_keyring *kr, const char *l, size_t len, unsigned line, struct ib_err *err) {
        const char *p = l + strlen("key "), *end = l + len, *f;
        struct ib_keyring_key k = {};
        size_t n;
        int r;

        if (kr->n_keys >= IB_KEYRING_MAX_KEYS)
                return malformed(err, line, "more than 256 keys");
        if (!field_fp(&p, end, k.fp))
                return malformed(err, line, "the key is not 'sha256:' and 64 lower-case hex digits");
        if (kr->n_keys && memcmp(kr->keys[kr->n_keys - 1].fp, k.fp, 32) >= 0)
                return malformed(err, line, "keys not in ascending fingerprint order (or one given twice)");
        if (!field_u64(&p, end, &k.not_before) || !field_u64(&p, end, &k.not_after))
                return malformed(err, line, "the validity is not two numbers (seconds)");
        if (k.not_after <= k.not_before)
                return malformed(err, line, "the validity ends before it begins");
        if (!field(&p, end, &f, &n) || !valid_names(f, n))
                return malformed(err, line, "the image names pattern is empty, too long or has a '/' or a control byte");
        if (!(k.names = strndup(f, n)))
                return ib_err_set(err, -ENOMEM, line, "out of memory");
        if (!field(&p, end, &f, &n) || p != end) {
                key_clear(&k);
                return malformed(err, line, "not 'key sha256:FP NOT-BEFORE NOT-AFTER NAMES BASE64'");
        }
        if ((r = parse_der(&k, f, n, line, err)) < 0 || (r = add_key(kr, &k)) < 0) {
                key_clear(&k);
                return r == -ENOMEM ? ib_err_set(err, r, line, "out of memory") : r;
        }
        return 0;
}

static int parse_revoked(struct ib_keyring *kr, const char *l, size_t len, unsigned line, struct ib_err *err) {
        const char *p = l + strlen("revoked "), *end = l + len;
        struct ib_keyring_revoked r = {};

        if (kr->n_revoked >= IB_KEYRING_MAX_REVOKED)
                return malformed(err, line, "more than 1024 revoked keys");
        if (!field_fp(&p, end, r.fp))
                return malformed(err, line, "the revoked key is not 'sha256:' and 64 lower-case hex digits");
        if (kr->n_revoked && memcmp(kr->revoked[kr->n_revoked - 1].fp, r.fp, 32) >= 0)
                return malformed(err, line, "revoked keys not in ascending fingerprint order (or one given twice)");
        if (!field_u64(&p, end, &r.version) || p != end || r.version == 0 || r.version > kr->version)
                return malformed(err, line, "the revoking version is not a number from 1 to the keyring's version");
        if (ib_keyring_find(kr, r.fp))
                return malformed(err, line, "a key both certified and revoked");
        if (add_revoked(kr, &r) < 0)
                return ib_err_set(err, -ENOMEM, line, "out of memory");
        return 0;
}

/* "WORD N" exactly. */
static bool number_line(const char *l, size_t len, const char *word, uint64_t *ret) {
        size_t k = strlen(word);

        return len > k + 1 && memcmp(l, word, k) == 0 && l[k] == ' ' && ib_parse_u64(l + k + 1, len - k - 1, ret) == 0;
}

int ib_keyring_parse(const char *buf, size_t len, struct ib_keyring **ret, struct ib_err *err) {
        _cleanup_(ib_keyring_freep) struct ib_keyring *kr = NULL;
        const char *p = buf, *end = buf + len;
        const char *magic = IB_KEYRING_MAGIC " 1";
        unsigned line = 0;
        int r;

        if (len > IB_KEYRING_MAX_BYTES)
                return malformed(err, 0, "larger than 256 KiB");
        if (!(kr = ib_keyring_new()))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t l;

                line++;
                if (!nl)
                        return malformed(err, line, "no final newline");
                l = (size_t)(nl - p);
                if (l > MAX_LINE || memchr(p, '\0', l))
                        return malformed(err, line, "a line too long or with a NUL byte");
                if (line == 1) {
                        if (l > strlen(IB_KEYRING_MAGIC) && memcmp(p, IB_KEYRING_MAGIC " ", strlen(IB_KEYRING_MAGIC) + 1) == 0 &&
                            (l != strlen(magic) || memcmp(p, magic, l) != 0))
                                return ib_err_set(err, IB_KEYRING_EMALFORMED, 1, "keyring format '%.*s' is not supported (this inetboot reads 1)",
                                                  (int)(l > 40 ? 40 : l), p);
                        if (l != strlen(magic) || memcmp(p, magic, l) != 0)
                                return malformed(err, line, "not an inetboot keyring (first line is not '" IB_KEYRING_MAGIC " 1')");
                } else if (line == 2) {
                        if (!number_line(p, l, "version", &kr->version) || kr->version == 0)
                                return malformed(err, line, "not 'version N' (N from 1)");
                } else if (line == 3) {
                        if (!number_line(p, l, "created", &kr->created))
                                return malformed(err, line, "not 'created SECONDS'");
                } else if (line == 4 && l > 8 && memcmp(p, "expires ", 8) == 0) {
                        if (!number_line(p, l, "expires", &kr->expires) || kr->expires <= kr->created)
                                return malformed(err, line, "not 'expires SECONDS' after the creation");
                } else if (l > 4 && memcmp(p, "key ", 4) == 0) {
                        if (kr->n_revoked)
                                return malformed(err, line, "a key after the revoked keys");
                        if ((r = parse_key(kr, p, l, line, err)) < 0)
                                return r;
                } else if (l > 8 && memcmp(p, "revoked ", 8) == 0) {
                        if ((r = parse_revoked(kr, p, l, line, err)) < 0)
                                return r;
                } else
                        return malformed(err, line, "unknown line");
                p = nl + 1;
        }
        if (line < 3)
                return malformed(err, line, "truncated (no version and created lines)");
        *ret = kr;
        kr = NULL;
        return 0;
}

int ib_keyring_format(const struct ib_keyring *kr, char **ret, size_t *ret_len) {
        char *buf = NULL, hex[65];
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bool ok = true;

        if (!f)
                return -ENOMEM;
        fprintf(f, "%s %d\nversion %" PRIu64 "\ncreated %" PRIu64 "\n", IB_KEYRING_MAGIC, IB_KEYRING_VERSION, kr->version,
                kr->created);
        if (kr->expires)
                fprintf(f, "expires %" PRIu64 "\n", kr->expires);
        for (size_t i = 0; i < kr->n_keys; i++) {
                const struct ib_keyring_key *k = &kr->keys[i];
                _cleanup_(freep) char *b64 = ib_base64_encode(k->der, k->der_len);

                ok = ok && b64;
                ib_hex(k->fp, 32, hex);
                fprintf(f, "key sha256:%s %" PRIu64 " %" PRIu64 " %s %s\n", hex, k->not_before, k->not_after, k->names,
                        b64 ?: "");
        }
        for (size_t i = 0; i < kr->n_revoked; i++) {
                ib_hex(kr->revoked[i].fp, 32, hex);
                fprintf(f, "revoked sha256:%s %" PRIu64 "\n", hex, kr->revoked[i].version);
        }
        if (fclose(f) != 0 || !ok) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* ---- lookups and changes ------------------------------------------------- */

const struct ib_keyring_key *ib_keyring_find(const struct ib_keyring *kr, const uint8_t fp[32]) {
        for (size_t i = 0; kr && i < kr->n_keys; i++)
                if (memcmp(kr->keys[i].fp, fp, 32) == 0)
                        return &kr->keys[i];
        return NULL;
}

const struct ib_keyring_revoked *ib_keyring_find_revoked(const struct ib_keyring *kr, const uint8_t fp[32]) {
        for (size_t i = 0; kr && i < kr->n_revoked; i++)
                if (memcmp(kr->revoked[i].fp, fp, 32) == 0)
                        return &kr->revoked[i];
        return NULL;
}

/* Where @fp goes in ascending order. */
static size_t key_slot(const struct ib_keyring *kr, const uint8_t fp[32]) {
        size_t i = 0;

        while (i < kr->n_keys && memcmp(kr->keys[i].fp, fp, 32) < 0)
                i++;
        return i;
}

static void remove_key(struct ib_keyring *kr, const uint8_t fp[32]) {
        size_t i = key_slot(kr, fp);

        if (i < kr->n_keys && memcmp(kr->keys[i].fp, fp, 32) == 0) {
                key_clear(&kr->keys[i]);
                memmove(&kr->keys[i], &kr->keys[i + 1], (kr->n_keys - i - 1) * sizeof(kr->keys[0]));
                kr->n_keys--;
        }
}

int ib_keyring_certify(struct ib_keyring *kr, EVP_PKEY *pub, uint64_t not_before, uint64_t not_after, const char *names,
                       struct ib_err *err) {
        struct ib_keyring_key k = {};
        unsigned char *der = NULL;
        char hex[65];
        size_t at;
        int n;

        if (!ib_key_algorithm(pub) || ib_key_fingerprint(pub, k.fp) < 0)
                return ib_err_set(err, -EINVAL, 0, "unsupported key type (Ed25519, RSA >= 2048 bit or ECDSA)");
        ib_hex(k.fp, 32, hex);
        if (ib_keyring_find_revoked(kr, k.fp))
                return ib_err_set(err, -EPERM, 0, "key sha256:%s was revoked; a revoked key is never certified again", hex);
        if (not_after <= not_before)
                return ib_err_set(err, -EINVAL, 0, "the validity of key sha256:%s ends before it begins", hex);
        if (!valid_names(names, strlen(names)))
                return ib_err_set(err, -EINVAL, 0, "bad image names pattern '%s' (no spaces, no '/', at most 255 bytes)", names);
        if (kr->n_keys >= IB_KEYRING_MAX_KEYS && !ib_keyring_find(kr, k.fp))
                return ib_err_set(err, -E2BIG, 0, "the keyring certifies %u keys already", IB_KEYRING_MAX_KEYS);
        n = i2d_PUBKEY(pub, &der);
        if (n <= 0 || (size_t)n > IB_KEYRING_MAX_DER) {
                OPENSSL_free(der);
                return ib_err_set(err, -EINVAL, 0, "cannot encode key sha256:%s in at most %u bytes", hex, IB_KEYRING_MAX_DER);
        }
        k.der = malloc((size_t)n);
        k.names = strdup(names);
        if (k.der)
                memcpy(k.der, der, (size_t)n);
        OPENSSL_free(der);
        k.der_len = (size_t)n;
        k.not_before = not_before;
        k.not_after = not_after;
        if (!k.der || !k.names || !EVP_PKEY_up_ref(pub)) {
                key_clear(&k);
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        }
        k.pub = pub;
        remove_key(kr, k.fp);
        if (add_key(kr, &k) < 0) {
                key_clear(&k);
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        }
        /* added last: move it to its place */
        at = key_slot(kr, kr->keys[kr->n_keys - 1].fp);
        if (at < kr->n_keys - 1) {
                struct ib_keyring_key t = kr->keys[kr->n_keys - 1];

                memmove(&kr->keys[at + 1], &kr->keys[at], (kr->n_keys - 1 - at) * sizeof(t));
                kr->keys[at] = t;
        }
        return 0;
}

int ib_keyring_revoke(struct ib_keyring *kr, const uint8_t fp[32], uint64_t version, struct ib_err *err) {
        struct ib_keyring_revoked r = { .version = version };
        size_t at = 0;
        char hex[65];

        ib_hex(fp, 32, hex);
        if (ib_keyring_find_revoked(kr, fp))
                return ib_err_set(err, -EALREADY, 0, "key sha256:%s is revoked already", hex);
        if (kr->n_revoked >= IB_KEYRING_MAX_REVOKED)
                return ib_err_set(err, -E2BIG, 0, "the keyring lists %u revoked keys already", IB_KEYRING_MAX_REVOKED);
        memcpy(r.fp, fp, 32);
        remove_key(kr, fp);
        if (add_revoked(kr, &r) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        while (at < kr->n_revoked - 1 && memcmp(kr->revoked[at].fp, fp, 32) < 0)
                at++;
        memmove(&kr->revoked[at + 1], &kr->revoked[at], (kr->n_revoked - 1 - at) * sizeof(r));
        kr->revoked[at] = r;
        return 0;
}

/* ---- verification ----------------------------------------------------------- */

static char *roots_dir(const char *keys_dir) {
        char *p;

        return asprintf(&p, "%s/%s", keys_dir, IB_KEYRING_ROOTS) < 0 ? NULL : p;
}

unsigned ib_keyring_n_roots(const char *keys_dir) {
        _cleanup_(freep) char *dir = roots_dir(keys_dir);
        unsigned n = 0, files = 0;
        DIR *d = dir ? opendir(dir) : NULL;

        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d)) && files < IB_SIG_MAX_KEYS;) {
                size_t l = strlen(de->d_name);
                char path[4096];
                EVP_PKEY *k = NULL;

                if (de->d_name[0] == '.' || l <= 4 || (strcmp(de->d_name + l - 4, ".pub") && strcmp(de->d_name + l - 4, ".pem")))
                        continue;
                files++;
                if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
                    ib_key_load_public(path, &k, NULL) < 0)
                        continue;
                EVP_PKEY_free(k);
                n++;
        }
        closedir(d);
        return n;
}

int ib_keyring_verify(const char *keys_dir, const char *text, size_t len, const char *sig, size_t sig_len,
                      struct ib_keyring **ret, struct ib_err *err) {
        _cleanup_(freep) char *dir = roots_dir(keys_dir);
        struct ib_keyring *kr;
        uint8_t root[32];
        int r;

        if (!dir)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        r = ib_verify(dir, text, len, sig, sig_len, root, err);
        if (r < 0) {
                _cleanup_(freep) char *msg = strdup(err ? err->msg : "");

                return ib_err_set(err, IB_KEYRING_EROOT, 0, "keyring not signed by a root key: %s", msg ?: "out of memory");
        }
        r = ib_keyring_parse(text, len, &kr, err);
        if (r < 0)
                return r;
        memcpy(kr->root, root, 32);
        *ret = kr;
        return 0;
}

int ib_verify_trusted(const char *keys_dir, const struct ib_keyring *kr, const void *data, size_t len, const char *sig,
                      size_t sig_len, uint8_t ret_key_id[32], bool *ret_certified, struct ib_err *err) {
        const struct ib_keyring_revoked *rv;
        const struct ib_keyring_key *k;
        struct ib_sigfile s = {};
        uint8_t id[32];
        struct ib_err e = {};
        char hex[65];
        int r;


        r = ib_verify(keys_dir, data, len, sig, sig_len, id, &e);
        if (r < 0 && !kr && (e.code == IB_SIG_EUNKNOWNKEY || e.code == IB_SIG_ENOKEYS) && ib_keyring_n_roots(keys_dir))
                return ib_err_set(err, IB_SIG_EUNKNOWNKEY, 0, "%s; nor is a keyring of its root keys (%s/" IB_KEYRING_ROOTS
                                  "/) there to certify it: publish " IB_KEYRING_FILE " beside the manifest", e.msg, keys_dir);
        if (r < 0 && (!kr || (e.code != IB_SIG_EUNKNOWNKEY && e.code != IB_SIG_ENOKEYS))) {
                if (err)
                        *err = e;
                return r;
        }
        if (r < 0) {
                /* Not a key of the folder: one the keyring certifies? */
                if ((r = ib_sigfile_parse(sig, sig_len, &s, err)) < 0)
                        return r;
                memcpy(id, s.key_id, 32);
                k = ib_keyring_find(kr, id);
                rv = ib_keyring_find_revoked(kr, id);
                if (!k && !rv) {
                        ib_sigfile_clear(&s);
                        return ib_err_set(err, IB_SIG_EUNKNOWNKEY, 0, "%s; nor does keyring version %" PRIu64 " certify it",
                                          e.msg, kr->version);
                }
                r = k ? ib_verify_key(k->pub, &s, data, len, err) : 0;
                ib_sigfile_clear(&s);
                if (r < 0)
                        return r;
                if (ret_certified)
                        *ret_certified = true;
        } else if (ret_certified)
                *ret_certified = false;
        /* Revoked wins, over the folder too: the root key's owner said this key is not to be trusted. */
        if ((rv = ib_keyring_find_revoked(kr, id))) {
                ib_hex(id, 32, hex);
                return ib_err_set(err, IB_KEYRING_EREVOKED, 0, "key sha256:%s was revoked by keyring version %" PRIu64, hex,
                                  rv->version);
        }
        if (ret_key_id)
                memcpy(ret_key_id, id, 32);
        return 0;
}

/* ---- the judgement -------------------------------------------------------- */

int ib_keyring_judge(struct ib_state *s, const struct ib_keyring *kr, const uint8_t key_id[32], bool certified,
                     const struct ib_manifest *m, unsigned flags, struct ib_state_notes *notes, struct ib_err *err) {
        const struct ib_keyring_key *k;
        uint64_t now, floor = 0, seen = 0;
        char t1[40], t2[40], hex[65];
        int r;

        if (!kr)
                return 0;
        now = notes->now > kr->created ? notes->now : kr->created;
        if (kr->expires && now >= kr->expires)
                return ib_err_set(err, IB_KEYRING_EEXPIRED, 0, "keyring version %" PRIu64 " expired on %s (the time now is %s): "
                                  "the publisher must ship a newer one", kr->version, ib_state_time(kr->expires, t1),
                                  ib_state_time(now, t2)), -EKEYEXPIRED;
        if (s) {
                r = ib_state_keyring_floor(s, kr->root, kr->version, kr->created, now, flags, notes, &floor, &seen);
                if (r == -ESTALE) {
                        if (seen)
                                ib_err_set(err, IB_KEYRING_EOLDER, 0, "keyring version %" PRIu64 " is older than version %" PRIu64
                                           " seen on %s: refusing a rollback", kr->version, floor, ib_state_time(seen, t1));
                        else
                                ib_err_set(err, IB_KEYRING_EOLDER, 0, "keyring version %" PRIu64 " is older than version %" PRIu64
                                           " the TPM keeps as seen before: refusing a rollback", kr->version, floor);
                        return r;
                }
                if (r < 0)
                        return ib_err_set(err, r, 0, "out of memory");
        }
        if (!certified)
                return 0;
        k = ib_keyring_find(kr, key_id);
        if (!k)
                return ib_err_set(err, -ENOENT, 0, "internal error: the certified key is not in the keyring");
        ib_hex(key_id, 32, hex);
        if (now < k->not_before || now >= k->not_after)
                return ib_err_set(err, IB_KEYRING_EVALIDITY, 0, "key sha256:%s is valid from %s to %s (the time now is %s)", hex,
                                  ib_state_time(k->not_before, t1), ib_state_time(k->not_after, t2),
                                  ib_state_time(now, (char[40]){})), -EKEYEXPIRED;
        if (!ib_keyring_names_match(k->names, m->name))
                return ib_err_set(err, IB_KEYRING_ENAME, 0, "key sha256:%s may sign images named %s, not %s", hex, k->names,
                                  m->name), -EPERM;
        return 0;
}
