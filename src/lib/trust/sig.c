/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sig.h"

static void pkey_freep(EVP_PKEY **k) { EVP_PKEY_free(*k); }
static void bio_freep(BIO **b) { BIO_free(*b); }
static void md_ctx_freep(EVP_MD_CTX **c) { EVP_MD_CTX_free(*c); }

/* The most specific OpenSSL message for the last failure, then clear the queue. */
static const char *ssl_reason(void) {
        static __thread char buf[160];
        unsigned long e = ERR_peek_last_error();

        if (!e)
                return "no details from OpenSSL";
        ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        return buf;
}

int ib_key_generate(const char *type, EVP_PKEY **ret, struct ib_err *err) {
        EVP_PKEY *k;

        if (!type || strcmp(type, "ed25519") == 0)
                k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        else if (strcmp(type, "rsa") == 0)
                k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        else if (strcmp(type, "ecdsa") == 0)
                k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        else
                return ib_err_set(err, -EINVAL, 0, "unknown key type '%s' (ed25519, rsa, ecdsa)", type);
        if (!k)
                return ib_err_set(err, -EIO, 0, "key generation failed: %s", ssl_reason());
        *ret = k;
        return 0;
}

/* Render through a memory BIO into a malloc'ed buffer. */
static int bio_to_buf(BIO *b, char **ret, size_t *ret_len) {
        char *data;
        long n = BIO_get_mem_data(b, &data);

        if (n <= 0)
                return -EIO;
        *ret = ib_strndup(data, (size_t)n);
        if (!*ret)
                return -ENOMEM;
        *ret_len = (size_t)n;
        return 0;
}

int ib_key_save(EVP_PKEY *key, const char *name, struct ib_err *err) {
        _cleanup_(bio_freep) BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
        _cleanup_(freep) char *priv_buf = NULL, *pub_buf = NULL, *priv_path = NULL, *pub_path = NULL;
        size_t priv_len, pub_len;
        int r;

        if (!priv || !pub || asprintf(&priv_path, "%s.key", name) < 0 || asprintf(&pub_path, "%s.pub", name) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (!PEM_write_bio_PrivateKey(priv, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_PUBKEY(pub, key))
                return ib_err_set(err, -EIO, 0, "cannot encode the key: %s", ssl_reason());
        if (bio_to_buf(priv, &priv_buf, &priv_len) < 0 || bio_to_buf(pub, &pub_buf, &pub_len) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        /* Never replace an existing private key: that would lose the publisher's identity. */
        if (access(priv_path, F_OK) == 0)
                return ib_err_set(err, -EEXIST, 0, "%s exists already; not overwriting a private key", priv_path);
        r = ib_write_file_atomic(priv_path, priv_buf, priv_len, 0600);
        OPENSSL_cleanse(priv_buf, priv_len);
        if (r < 0)
                return ib_err_set(err, r, 0, "cannot write %s: %s", priv_path, strerror(-r));
        r = ib_write_file_atomic(pub_path, pub_buf, pub_len, 0644);
        if (r < 0) {
                unlink(priv_path);
                return ib_err_set(err, r, 0, "cannot write %s: %s", pub_path, strerror(-r));
        }
        return 0;
}

static int load_key(const char *path, bool private, EVP_PKEY **ret, struct ib_err *err) {
        _cleanup_(freep) char *buf = NULL;
        _cleanup_(bio_freep) BIO *b = NULL;
        EVP_PKEY *k;
        size_t len;
        int r;

        r = ib_read_file(path, 1u << 16, &buf, &len);
        if (r < 0)
                return ib_err_set(err, IB_SIG_EKEY, 0, "cannot read key %s: %s", path, strerror(-r));
        b = BIO_new_mem_buf(buf, (int)len);
        if (!b)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        k = private ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        OPENSSL_cleanse(buf, len);
        if (!k)
                return ib_err_set(err, IB_SIG_EKEY, 0, "%s is not a PEM %s key: %s", path,
                                  private ? "private" : "public", ssl_reason());
        if (!ib_key_algorithm(k)) {
                EVP_PKEY_free(k);
                return ib_err_set(err, IB_SIG_EKEY, 0, "%s: unsupported key type (Ed25519, RSA or ECDSA)", path);
        }
        *ret = k;
        return 0;
}

int ib_key_load_private(const char *path, EVP_PKEY **ret, struct ib_err *err) {
        return load_key(path, true, ret, err);
}

int ib_key_load_public(const char *path, EVP_PKEY **ret, struct ib_err *err) {
        return load_key(path, false, ret, err);
}

int ib_key_fingerprint(EVP_PKEY *key, uint8_t ret[32]) {
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(key, &der);
        int ok;

        if (n <= 0)
                return -EIO;
        ok = EVP_Digest(der, (size_t)n, ret, NULL, EVP_sha256(), NULL);
        OPENSSL_free(der);
        return ok ? 0 : -EIO;
}

const char *ib_key_algorithm(EVP_PKEY *key) {
        switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_ED25519:
                return "ed25519";
        case EVP_PKEY_RSA:
                return EVP_PKEY_get_bits(key) >= 2048 ? "rsa-pss-sha256" : NULL;
        case EVP_PKEY_EC:
                return "ecdsa-sha256";
        default:
                return NULL;
        }
}

/* Set up a sign or verify context for @key with the algorithm's parameters. */
static int md_ctx_init(EVP_MD_CTX *ctx, EVP_PKEY *key, bool sign) {
        bool ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
        EVP_PKEY_CTX *pctx = NULL;
        const EVP_MD *md = ed ? NULL : EVP_sha256();

        if ((sign ? EVP_DigestSignInit(ctx, &pctx, md, NULL, key) : EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key)) != 1)
                return -EIO;
        if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
            (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
                return -EIO;
        return 0;
}

int ib_sign(EVP_PKEY *key, const void *data, size_t len, char **ret, size_t *ret_len, struct ib_err *err) {
        _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_(freep) uint8_t *sig = NULL;
        _cleanup_(freep) char *b64 = NULL;
        const char *alg = ib_key_algorithm(key);
        uint8_t id[32], digest[32];
        char id_hex[65], digest_hex[65];
        size_t sig_len = 0;
        int n;

        if (!alg)
                return ib_err_set(err, IB_SIG_EALGORITHM, 0, "unsupported key type (Ed25519, RSA >= 2048 bit or ECDSA)");
        if (!ctx)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (ib_key_fingerprint(key, id) < 0 || !EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL))
                return ib_err_set(err, -EIO, 0, "cannot hash: %s", ssl_reason());
        if (md_ctx_init(ctx, key, true) < 0 || EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1)
                return ib_err_set(err, -EIO, 0, "cannot set up signing: %s", ssl_reason());
        sig = malloc(sig_len);
        if (!sig)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1)
                return ib_err_set(err, -EIO, 0, "signing failed: %s", ssl_reason());
        b64 = ib_base64_encode(sig, sig_len);
        if (!b64)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        ib_hex(id, 32, id_hex);
        ib_hex(digest, 32, digest_hex);
        n = asprintf(ret, "%s %d\nkey sha256:%s\nalgorithm %s\nsigned-sha256 %s\nsignature %s\n",
                     IB_SIG_MAGIC, IB_SIG_VERSION, id_hex, alg, digest_hex, b64);
        if (n < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        *ret_len = (size_t)n;
        return 0;
}

void ib_sigfile_clear(struct ib_sigfile *s) {
        free(s->sig);
        *s = (struct ib_sigfile) {};
}

/* One "key value" line of the signature file, exactly; advances *pos. */
static int sig_line(const char **pos, const char *end, const char *key, const char **val, size_t *val_len,
                    unsigned line, struct ib_err *err) {
        size_t klen = strlen(key);
        const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));

        if (!nl)
                return ib_err_set(err, IB_SIG_EMALFORMED, line, "malformed signature file: line %u ('%s') missing or not ended by LF", line, key);
        if ((size_t)(nl - *pos) <= klen + 1 || memcmp(*pos, key, klen) != 0 || (*pos)[klen] != ' ')
                return ib_err_set(err, IB_SIG_EMALFORMED, line, "malformed signature file: line %u is not '%s ...'", line, key);
        *val = *pos + klen + 1;
        *val_len = (size_t)(nl - *val);
        for (size_t i = 0; i < *val_len; i++)
                if ((unsigned char)(*val)[i] <= 0x20 || (*val)[i] == 0x7f)
                        return ib_err_set(err, IB_SIG_EMALFORMED, line, "malformed signature file: stray byte in '%s'", key);
        *pos = nl + 1;
        return 0;
}

int ib_sigfile_parse(const char *buf, size_t len, struct ib_sigfile *ret, struct ib_err *err) {
        struct ib_sigfile s = {};
        const char *pos = buf, *end = buf + len, *v;
        size_t vlen;
        uint64_t version;
        int r;

        if (len > IB_SIG_MAX_BYTES)
                return ib_err_set(err, IB_SIG_EMALFORMED, 0, "malformed signature file: larger than %u bytes", IB_SIG_MAX_BYTES);
        if ((r = sig_line(&pos, end, IB_SIG_MAGIC, &v, &vlen, 1, err)) < 0)
                return ib_err_set(err, IB_SIG_EMALFORMED, 1, "not an inetboot signature file (first line is not '%s %d')",
                                  IB_SIG_MAGIC, IB_SIG_VERSION);
        if (ib_parse_u64(v, vlen, &version) < 0 || version != IB_SIG_VERSION)
                return ib_err_set(err, IB_SIG_EVERSION, 1, "signature file version '%.*s' is not supported (this inetboot reads %d)",
                                  (int)(vlen > 20 ? 20 : vlen), v, IB_SIG_VERSION);
        if ((r = sig_line(&pos, end, "key", &v, &vlen, 2, err)) < 0)
                return r;
        if (vlen != 7 + 64 || memcmp(v, "sha256:", 7) != 0 || ib_unhex(v + 7, 64, s.key_id, 32) < 0)
                return ib_err_set(err, IB_SIG_EMALFORMED, 2, "malformed signature file: key is not 'sha256:' and 64 hex digits");
        if ((r = sig_line(&pos, end, "algorithm", &v, &vlen, 3, err)) < 0)
                return r;
        if (vlen >= sizeof(s.algorithm))
                return ib_err_set(err, IB_SIG_EALGORITHM, 3, "unknown signature algorithm '%.*s'", 31, v);
        memcpy(s.algorithm, v, vlen);
        if (strcmp(s.algorithm, "ed25519") && strcmp(s.algorithm, "rsa-pss-sha256") && strcmp(s.algorithm, "ecdsa-sha256"))
                return ib_err_set(err, IB_SIG_EALGORITHM, 3, "unknown signature algorithm '%s'", s.algorithm);
        if ((r = sig_line(&pos, end, "signed-sha256", &v, &vlen, 4, err)) < 0)
                return r;
        if (ib_unhex(v, vlen, s.digest, 32) < 0)
                return ib_err_set(err, IB_SIG_EMALFORMED, 4, "malformed signature file: signed-sha256 is not 64 hex digits");
        if ((r = sig_line(&pos, end, "signature", &v, &vlen, 5, err)) < 0)
                return r;
        r = ib_base64_decode(v, vlen, &s.sig, &s.sig_len);
        if (r == -ENOMEM)
                return ib_err_set(err, r, 5, "out of memory");
        if (r < 0 || s.sig_len > 1024) {
                ib_sigfile_clear(&s);
                return ib_err_set(err, IB_SIG_EMALFORMED, 5, "malformed signature file: signature is not base64 of at most 1024 bytes");
        }
        if (pos != end) {
                ib_sigfile_clear(&s);
                return ib_err_set(err, IB_SIG_EMALFORMED, 6, "malformed signature file: trailing data after the signature");
        }
        *ret = s;
        return 0;
}

int ib_verify_key(EVP_PKEY *key, const struct ib_sigfile *s, const void *data, size_t len, struct ib_err *err) {
        _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const char *alg = ib_key_algorithm(key);
        uint8_t digest[32];
        char want[65], got[65];

        if (!ctx)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (!alg || strcmp(alg, s->algorithm) != 0)
                return ib_err_set(err, IB_SIG_EALGORITHM, 0, "signature algorithm %s does not fit the signer's %s key",
                                  s->algorithm, alg ?: "unsupported");
        if (!EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL))
                return ib_err_set(err, -EIO, 0, "cannot hash: %s", ssl_reason());
        if (memcmp(digest, s->digest, 32) != 0) {
                ib_hex(s->digest, 32, want);
                ib_hex(digest, 32, got);
                return ib_err_set(err, IB_SIG_EMODIFIED, 0, "file changed after signing: its SHA-256 is %.16s..., the signed one %.16s...",
                                  got, want);
        }
        if (md_ctx_init(ctx, key, false) < 0)
                return ib_err_set(err, -EIO, 0, "cannot set up verification: %s", ssl_reason());
        if (EVP_DigestVerify(ctx, s->sig, s->sig_len, data, len) != 1) {
                ERR_clear_error();
                return ib_err_set(err, IB_SIG_EBAD, 0, "bad signature: it does not verify with the key that it names");
        }
        return 0;
}

static bool is_key_file(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > 4 && (strcmp(name + n - 4, ".pub") == 0 || strcmp(name + n - 4, ".pem") == 0);
}

int ib_verify(const char *keys_dir, const void *data, size_t len, const char *sig_text, size_t sig_len,
              uint8_t ret_key_id[32], struct ib_err *err) {
        _cleanup_(pkey_freep) EVP_PKEY *found = NULL;
        struct ib_sigfile s = {};
        unsigned n_keys = 0, n_files = 0;
        char id_hex[65];
        DIR *d;
        int r;

        r = ib_sigfile_parse(sig_text, sig_len, &s, err);
        if (r < 0)
                return r;
        d = opendir(keys_dir);
        if (!d) {
                r = -errno;
                ib_sigfile_clear(&s);
                return ib_err_set(err, IB_SIG_ENOKEYS, 0, "cannot open the trusted keys directory %s: %s", keys_dir, strerror(-r));
        }
        for (struct dirent *de; !found && (de = readdir(d));) {
                EVP_PKEY *k = NULL;
                char path[4096];
                uint8_t id[32];

                if (!is_key_file(de->d_name))
                        continue;
                if (++n_files > IB_SIG_MAX_KEYS)
                        break;
                if (snprintf(path, sizeof(path), "%s/%s", keys_dir, de->d_name) >= (int)sizeof(path))
                        continue;
                /* A file that is not a usable public key is no trusted key; it is skipped. */
                if (load_key(path, false, &k, NULL) < 0)
                        continue;
                n_keys++;
                if (ib_key_fingerprint(k, id) == 0 && memcmp(id, s.key_id, 32) == 0)
                        found = k;
                else
                        EVP_PKEY_free(k);
        }
        closedir(d);
        ib_hex(s.key_id, 32, id_hex);
        if (!found) {
                ib_sigfile_clear(&s);
                if (n_keys == 0)
                        return ib_err_set(err, IB_SIG_ENOKEYS, 0, "no trusted public keys (*.pub, *.pem) in %s", keys_dir);
                return ib_err_set(err, IB_SIG_EUNKNOWNKEY, 0,
                                  "signature made by unknown key sha256:%s (not among the %u trusted keys in %s): "
                                  "add the publisher's public key there", id_hex, n_keys, keys_dir);
        }
        r = ib_verify_key(found, &s, data, len, err);
        if (r >= 0 && ret_key_id)
                memcpy(ret_key_id, s.key_id, 32);
        ib_sigfile_clear(&s);
        return r;
}
