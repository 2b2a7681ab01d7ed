/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signatures: every key type round trips; each kind of fault has its own error. */
#include <errno.h>
#include <sys/stat.h>

#include "sig.h"
#include "unit.h"

static char dir[] = "/tmp/ib-sig-XXXXXX";

static void expect(const char *name, const char *keys, const char *data, size_t len, const char *sig, size_t sig_len, int code) {
        struct ib_err e = {};
        int r = ib_verify(keys, data, len, sig, sig_len, NULL, &e);
        char buf[700];

        snprintf(buf, sizeof(buf), "%s -> %d (got %d: %s)", name, code, e.code, e.msg);
        CHECK(buf, code == 0 ? r == 0 : (r < 0 && e.code == code));
}

static char *edit(const char *text, const char *from, const char *to) {
        const char *p = strstr(text, from);
        char *out;

        if (!p)
                exit(1);
        out = malloc(strlen(text) + strlen(to) + 1);
        sprintf(out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
        return out;
}

static void one_type(const char *type) {
        static const char data[] = "inetboot-manifest 1\nname x.iso\n";
        char name[256], trusted[128], other[128], cmd[512], label[128];
        EVP_PKEY *k = NULL, *k2 = NULL, *pub = NULL;
        struct ib_err e = {};
        char *sig = NULL, *bad;
        size_t sig_len;
        struct stat st;
        uint8_t id[32], id2[32];

        snprintf(trusted, sizeof(trusted), "%s/trusted-%s", dir, type);
        snprintf(other, sizeof(other), "%s/other-%s", dir, type);
        mkdir(trusted, 0755);
        mkdir(other, 0755);
        snprintf(name, sizeof(name), "%s/publisher", trusted);
        snprintf(label, sizeof(label), "%s: generate", type);
        REQUIRE(label, ib_key_generate(type, &k, &e) == 0 && ib_key_save(k, name, &e) == 0);
        snprintf(cmd, sizeof(cmd), "%s.key", name);
        snprintf(label, sizeof(label), "%s: private key mode 0600", type);
        CHECK(label, stat(cmd, &st) == 0 && (st.st_mode & 0777) == 0600);
        snprintf(label, sizeof(label), "%s: keygen never overwrites a private key", type);
        CHECK(label, ib_key_save(k, name, &e) == -EEXIST);
        snprintf(cmd, sizeof(cmd), "%s.pub", name);
        snprintf(label, sizeof(label), "%s: public key loads with the same fingerprint", type);
        CHECK(label, ib_key_load_public(cmd, &pub, &e) == 0 && ib_key_fingerprint(pub, id) == 0 &&
              ib_key_fingerprint(k, id2) == 0 && memcmp(id, id2, 32) == 0);
        snprintf(label, sizeof(label), "%s: sign", type);
        REQUIRE(label, ib_sign(k, data, sizeof(data) - 1, &sig, &sig_len, &e) == 0);
        snprintf(label, sizeof(label), "%s: good signature", type);
        expect(label, trusted, data, sizeof(data) - 1, sig, sig_len, 0);

        /* The data changed after signing. */
        snprintf(label, sizeof(label), "%s: edited data", type);
        expect(label, trusted, "inetboot-manifest 1\nname y.iso\n", sizeof(data) - 1, sig, sig_len, IB_SIG_EMODIFIED);
        /* A forged signature over unchanged data (digest line matches, signature bytes do not). */
        bad = strdup(sig);
        {
                char *c = strstr(bad, "\nsignature ") + 12;   /* a base64 digit: swap it for another valid one */

                *c = *c == 'A' ? 'B' : 'A';
        }
        snprintf(label, sizeof(label), "%s: flipped signature byte", type);
        expect(label, trusted, data, sizeof(data) - 1, bad, sig_len, IB_SIG_EBAD);
        free(bad);
        /* Unknown key: a directory with another key only. */
        snprintf(name, sizeof(name), "%s/stranger", other);
        ib_key_generate(type, &k2, &e);
        ib_key_save(k2, name, &e);
        snprintf(label, sizeof(label), "%s: unknown key", type);
        expect(label, other, data, sizeof(data) - 1, sig, sig_len, IB_SIG_EUNKNOWNKEY);
        snprintf(label, sizeof(label), "%s: empty key directory", type);
        expect(label, "/nonexistent-dir", data, sizeof(data) - 1, sig, sig_len, IB_SIG_ENOKEYS);
        /* Malformed files. */
        bad = edit(sig, "key sha256:", "key sha1:");
        snprintf(label, sizeof(label), "%s: malformed key line", type);
        expect(label, trusted, data, sizeof(data) - 1, bad, strlen(bad), IB_SIG_EMALFORMED);
        free(bad);
        bad = edit(sig, "algorithm ", "algorithm x");
        snprintf(label, sizeof(label), "%s: unknown algorithm", type);
        expect(label, trusted, data, sizeof(data) - 1, bad, strlen(bad), IB_SIG_EALGORITHM);
        free(bad);
        bad = edit(sig, "inetboot-signature 1", "inetboot-signature 9");
        snprintf(label, sizeof(label), "%s: unknown version", type);
        expect(label, trusted, data, sizeof(data) - 1, bad, strlen(bad), IB_SIG_EVERSION);
        free(bad);
        snprintf(label, sizeof(label), "%s: truncated", type);
        expect(label, trusted, data, sizeof(data) - 1, sig, sig_len - 1, IB_SIG_EMALFORMED);
        bad = malloc(sig_len + 2);
        memcpy(bad, sig, sig_len);
        memcpy(bad + sig_len, "x\n", 2);
        snprintf(label, sizeof(label), "%s: trailing data", type);
        expect(label, trusted, data, sizeof(data) - 1, bad, sig_len + 2, IB_SIG_EMALFORMED);
        free(bad);
        free(sig);
        EVP_PKEY_free(k);
        EVP_PKEY_free(k2);
        EVP_PKEY_free(pub);
}

int main(void) {
        static const char data[] = "abc";
        EVP_PKEY *ed = NULL, *rsa = NULL;
        struct ib_sigfile s = {};
        struct ib_err e = {};
        char *sig = NULL, path[128];
        size_t sig_len;

        REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
        one_type("ed25519");
        one_type("ecdsa");
        one_type("rsa");

        /* An Ed25519 signature file naming an RSA key's fingerprint: the algorithm does not fit. */
        snprintf(path, sizeof(path), "%s/trusted-rsa/publisher.pub", dir);
        REQUIRE("load rsa", ib_key_load_public(path, &rsa, &e) == 0);
        ib_key_generate("ed25519", &ed, &e);
        ib_sign(ed, data, 3, &sig, &sig_len, &e);
        REQUIRE("parse", ib_sigfile_parse(sig, sig_len, &s, &e) == 0);
        CHECK("algorithm must fit the key", ib_verify_key(rsa, &s, data, 3, &e) < 0 && e.code == IB_SIG_EALGORITHM);
        CHECK("unknown key type name", ib_key_generate("dsa", &ed, &e) < 0);
        ib_sigfile_clear(&s);
        free(sig);
        EVP_PKEY_free(ed);
        EVP_PKEY_free(rsa);
        snprintf(path, sizeof(path), "rm -rf %s", dir);
        CHECK("cleanup", system(path) == 0);
        UNIT_EXIT();
}
