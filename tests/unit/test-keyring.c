/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keyrings: the strict form (one fault of each class), certify and revoke,
 * verification by a root key and of a manifest with a certified key, the
 * judgement (validity, names, expiry, version floor in the trust state).
 */
#include <errno.h>
#include <sys/stat.h>

#include "keyring.h"
#include "sig.h"
#include "unit.h"

static void expect_malformed(const char *name, const char *text) {
        struct ib_keyring *kr = NULL;
        struct ib_err e = {};

        CHECK(name, ib_keyring_parse(text, strlen(text), &kr, &e) < 0 && e.code == IB_KEYRING_EMALFORMED && e.msg[0] && !kr);
}

/* A keyring's text with one line replaced (@line 1-based) by @with, or appended when past the end. */
static char *with_line(const char *text, unsigned line, const char *with) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        unsigned n = 1;
        const char *p = text;

        for (; *p; n++) {
                const char *nl = strchr(p, '\n');

                if (n == line)
                        fprintf(f, "%s\n", with);
                else
                        fprintf(f, "%.*s\n", (int)(nl - p), p);
                p = nl + 1;
        }
        if (line >= n)
                fprintf(f, "%s\n", with);
        fclose(f);
        return out;
}

int main(void) {
        EVP_PKEY *root = NULL, *other_root = NULL, *pub_a = NULL, *pub_b = NULL;
        struct ib_keyring *kr, *back = NULL, *vkr = NULL;
        struct ib_manifest m = { .name = "debian-live-12.iso", .serial = 5, .created = 1766000000 };
        struct ib_state *s = calloc(1, sizeof(*s));
        struct ib_state_notes n = {};
        struct ib_err e = {};
        uint8_t fp_a[32], fp_b[32], id[32];
        char dir[] = "/tmp/test-keyring-XXXXXX", path[128], *text, *sig, *msig, *bad;
        size_t len, sig_len, msig_len;
        bool certified = false;
        const char data[] = "a manifest's bytes\n";

        REQUIRE("keys generated", ib_key_generate(NULL, &root, &e) == 0 && ib_key_generate("ecdsa", &other_root, &e) == 0 &&
                ib_key_generate(NULL, &pub_a, &e) == 0 && ib_key_generate(NULL, &pub_b, &e) == 0);
        ib_key_fingerprint(pub_a, fp_a);
        ib_key_fingerprint(pub_b, fp_b);

        /* Building one. */
        kr = ib_keyring_new();
        kr->version = 3;
        kr->created = 1766000000;
        kr->expires = 1800000000;
        CHECK("certify a key", ib_keyring_certify(kr, pub_a, 1765000000, 1770000000, "debian-*", &e) == 0 && kr->n_keys == 1);
        CHECK("certify another", ib_keyring_certify(kr, pub_b, 1765000000, 1790000000, "*", &e) == 0 && kr->n_keys == 2);
        CHECK("certify again replaces", ib_keyring_certify(kr, pub_b, 1765000000, 1780000000, "*", &e) == 0 && kr->n_keys == 2 &&
              ib_keyring_find(kr, fp_b)->not_after == 1780000000);
        CHECK("keys in fingerprint order", memcmp(kr->keys[0].fp, kr->keys[1].fp, 32) < 0);
        CHECK("a validity that ends before it begins is refused",
              ib_keyring_certify(kr, pub_a, 1770000000, 1765000000, "*", &e) < 0 && strstr(e.msg, "ends before it begins"));
        CHECK("a names pattern with a '/' is refused", ib_keyring_certify(kr, pub_a, 1, 2, "a/b", &e) < 0);
        REQUIRE("format", ib_keyring_format(kr, &text, &len) == 0);
        CHECK("parses back", ib_keyring_parse(text, len, &back, &e) == 0 && back->version == 3 && back->n_keys == 2 &&
              back->expires == 1800000000 && strcmp(ib_keyring_find(back, fp_a)->names, "debian-*") == 0);
        back = ib_keyring_free(back);

        /* The strict form: one fault of each kind. */
        expect_malformed("not a keyring", "hello\n");
        expect_malformed("an unknown format version", "inetboot-keyring 2\nversion 1\ncreated 1\n");
        expect_malformed("truncated", "inetboot-keyring 1\nversion 1\n");
        expect_malformed("version 0", "inetboot-keyring 1\nversion 0\ncreated 1\n");
        expect_malformed("a non-canonical number", "inetboot-keyring 1\nversion 01\ncreated 1\n");
        expect_malformed("no final newline", "inetboot-keyring 1\nversion 1\ncreated 1");
        expect_malformed("expires before created", "inetboot-keyring 1\nversion 1\ncreated 10\nexpires 5\n");
        expect_malformed("an unknown line", "inetboot-keyring 1\nversion 1\ncreated 1\nfrobnicate 1\n");
        expect_malformed("a NUL byte", "inetboot-keyring 1\nversion 1\ncreated 1\nkey \0\n");
        {
                char *t;
                char line[300];
                const char *k4 = strstr(text, "key ");       /* line 5: the first key */

                snprintf(line, sizeof(line), "%.*s", (int)(strchr(k4, '\n') - k4), k4);
                t = with_line(text, 5, "key sha256:XYZ 1 2 * AAAA");
                expect_malformed("a fingerprint not of hex", t);
                free(t);
                line[12] = line[12] == '0' ? '1' : '0';     /* one hex digit of the fingerprint */
                t = with_line(text, 5, line);
                expect_malformed("a fingerprint not of its key", t);
                free(t);
                snprintf(line, sizeof(line), "%.*s", (int)(strchr(k4, '\n') - k4), k4);
                t = with_line(text, 7, line);
                expect_malformed("a key given twice (or out of order)", t);
                free(t);
                t = with_line(text, 5, "key sha256:0000000000000000000000000000000000000000000000000000000000000000 2 1 * AAAA");
                expect_malformed("a validity ending before it begins", t);
                free(t);
                t = with_line(text, 5, "key sha256:0000000000000000000000000000000000000000000000000000000000000000 1 2 *  AAAA");
                expect_malformed("two spaces", t);
                free(t);
                t = with_line(text, 5, "key sha256:0000000000000000000000000000000000000000000000000000000000000000 1 2 * AAAA");
                expect_malformed("a key that is not DER", t);
                free(t);
                t = with_line(text, 7, "revoked sha256:0000000000000000000000000000000000000000000000000000000000000000 4");
                expect_malformed("a revoking version above the keyring's", t);
                free(t);
                t = with_line(text, 7, "revoked sha256:0000000000000000000000000000000000000000000000000000000000000000 3");
                CHECK("a revoked line after the keys: fine", ib_keyring_parse(t, strlen(t), &back, &e) == 0 && back->n_revoked == 1);
                back = ib_keyring_free(back);
                free(t);
        }

        /* Revocation. */
        CHECK("revoke", ib_keyring_revoke(kr, fp_a, 3, &e) == 0 && !ib_keyring_find(kr, fp_a) && ib_keyring_find_revoked(kr, fp_a));
        CHECK("revoke twice: refused", ib_keyring_revoke(kr, fp_a, 3, &e) < 0);
        CHECK("a revoked key is never certified again", ib_keyring_certify(kr, pub_a, 1, 2, "*", &e) == -EPERM);
        free(text);
        REQUIRE("format", ib_keyring_format(kr, &text, &len) == 0);
        {
                char hex[65], line[200];
                char *t;

                ib_hex(fp_b, 32, hex);
                snprintf(line, sizeof(line), "revoked sha256:%s 3", hex);
                t = with_line(text, 99, line);
                expect_malformed("a key both certified and revoked", t);
                free(t);
        }

        /* Signed by a root. */
        REQUIRE("mkdtemp", mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/roots", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/roots/root", dir);
        REQUIRE("root saved", ib_key_save(root, path, &e) == 0);
        CHECK("one root", ib_keyring_n_roots(dir) == 1);
        REQUIRE("keyring signed", ib_sign(root, text, len, &sig, &sig_len, &e) == 0);
        CHECK("a root's keyring verifies", ib_keyring_verify(dir, text, len, sig, sig_len, &vkr, &e) == 0 && vkr->version == 3);
        free(sig);
        REQUIRE("signed by another key", ib_sign(other_root, text, len, &sig, &sig_len, &e) == 0);
        CHECK("a keyring signed by a non-root key: refused",
              ib_keyring_verify(dir, text, len, sig, sig_len, &back, &e) < 0 && e.code == IB_KEYRING_EROOT &&
              strstr(e.msg, "not signed by a root key"));
        free(sig);

        /* A manifest signed by a certified key; the folder (dir) has no plain keys. */
        REQUIRE("manifest signed by B", ib_sign(pub_b, data, sizeof(data), &msig, &msig_len, &e) == 0);
        CHECK("without the keyring: unknown key", ib_verify_trusted(dir, NULL, data, sizeof(data), msig, msig_len, id, &certified, &e) < 0);
        CHECK("with it: good, certified",
              ib_verify_trusted(dir, vkr, data, sizeof(data), msig, msig_len, id, &certified, &e) == 0 && certified &&
              memcmp(id, fp_b, 32) == 0);
        bad = strdup(data);
        bad[0] = 'A';
        CHECK("a changed file still fails", ib_verify_trusted(dir, vkr, bad, sizeof(data), msig, msig_len, id, &certified, &e) < 0 &&
              e.code == IB_SIG_EMODIFIED);
        free(bad);
        free(msig);
        REQUIRE("manifest signed by A", ib_sign(pub_a, data, sizeof(data), &msig, &msig_len, &e) == 0);
        CHECK("a revoked key: refused", ib_verify_trusted(dir, vkr, data, sizeof(data), msig, msig_len, id, &certified, &e) < 0 &&
              e.code == IB_KEYRING_EREVOKED && strstr(e.msg, "was revoked by keyring version 3"));
        snprintf(path, sizeof(path), "%s/a", dir);
        REQUIRE("A in the plain folder", ib_key_save(pub_a, path, &e) == 0);
        CHECK("revoked wins over the plain folder",
              ib_verify_trusted(dir, vkr, data, sizeof(data), msig, msig_len, id, &certified, &e) < 0 && e.code == IB_KEYRING_EREVOKED);
        CHECK("the plain folder without a keyring: as before",
              ib_verify_trusted(dir, NULL, data, sizeof(data), msig, msig_len, id, &certified, &e) == 0 && !certified);
        free(msig);

        /* The judgement. */
        n.now = 1766000000;
        CHECK("certified key, in its validity, any name: accepted",
              ib_keyring_judge(s, vkr, fp_b, true, &m, 0, &n, &e) == 0 && n.changed && s->n_keyrings == 1 &&
              s->keyrings[0].version == 3);
        n = (struct ib_state_notes){ .now = 1785000000 };
        CHECK("after its validity: refused", ib_keyring_judge(s, vkr, fp_b, true, &m, 0, &n, &e) < 0 &&
              e.code == IB_KEYRING_EVALIDITY && strstr(e.msg, "is valid from 2025-12-06"));
        n = (struct ib_state_notes){ .now = 1760000000 };
        CHECK("a clock before the keyring's creation is taken as that creation",
              ib_keyring_judge(s, vkr, fp_b, true, &m, 0, &n, &e) == 0);
        n = (struct ib_state_notes){ .now = 1800000000 };
        CHECK("an expired keyring: refused", ib_keyring_judge(NULL, vkr, fp_b, true, &m, 0, &n, &e) < 0 &&
              e.code == IB_KEYRING_EEXPIRED && strstr(e.msg, "keyring version 3 expired on"));
        {
                struct ib_keyring *k2 = ib_keyring_new();

                k2->version = 4;
                k2->created = 1766000000;
                memcpy(k2->root, vkr->root, 32);
                ib_keyring_certify(k2, pub_b, 1765000000, 1780000000, "debian-*", &e);
                n = (struct ib_state_notes){ .now = 1766000000 };
                CHECK("a name the key may not sign: refused", ib_keyring_judge(NULL, k2, fp_b, true,
                      &(struct ib_manifest){ .name = "ubuntu.iso" }, 0, &n, &e) < 0 && e.code == IB_KEYRING_ENAME &&
                      strstr(e.msg, "may sign images named debian-*, not ubuntu.iso"));
                n = (struct ib_state_notes){ .now = 1766100000 };
                CHECK("a newer version raises the floor", ib_keyring_judge(s, k2, fp_b, true, &m, 0, &n, &e) == 0 &&
                      s->keyrings[0].version == 4 && s->keyrings[0].seen == 1766100000 && n.nv_changed);
                ib_keyring_free(k2);
        }
        n = (struct ib_state_notes){ .now = 1766200000 };
        CHECK("an older version: refused", ib_keyring_judge(s, vkr, fp_b, true, &m, 0, &n, &e) == -ESTALE &&
              e.code == IB_KEYRING_EOLDER && strstr(e.msg, "keyring version 3 is older than version 4 seen on 2025-12-18 23:20:00 UTC"));
        n = (struct ib_state_notes){ .now = 1766200000 };
        CHECK("... unless the owner allows it", ib_keyring_judge(s, vkr, fp_b, true, &m, IB_STATE_ALLOW_ROLLBACK, &n, &e) == 0 &&
              n.keyring_rolled_back && n.keyring_old_version == 4 && s->keyrings[0].version == 3);
        {
                uint8_t nv[IB_STATE_NV_SIZE];
                struct ib_state *fresh = calloc(1, sizeof(*fresh));

                s->keyrings[0].version = 9;     /* the cache said 9; the TPM keeps 3 */
                ib_state_nv_export(s, nv);
                CHECK("the TPM keeps the keyring floor too", ib_state_nv_import(fresh, nv, sizeof(nv), &e) == 0);
                fresh->n_keyrings = 0;
                vkr->version = 2;
                n = (struct ib_state_notes){ .now = 1766200000 };
                CHECK("... and refuses below it with no cache record", ib_keyring_judge(fresh, vkr, fp_b, true, &m, 0, &n, &e) == -ESTALE &&
                      strstr(e.msg, "older than version 3 the TPM keeps"));
                vkr->version = 3;
                ib_state_free(fresh);
        }

        /* The trust state's keyring lines. */
        {
                struct ib_state *st = NULL;
                char *t;
                size_t tl;

                REQUIRE("state formats", ib_state_format(s, &t, &tl) == 0);
                CHECK("a keyring line", strstr(t, "\nkeyring ") != NULL);
                CHECK("parses back", ib_state_parse(t, tl, &st, &e) == 0 && st->n_keyrings == 1 && st->keyrings[0].version == 9);
                ib_state_free(st);
                free(t);
                t = "inetboot-trust-state 1\ntime-floor 0\nkeyring 00000000000000000000000000000000000000000000000000000000000000aa 1 2\n"
                    "serial 00000000000000000000000000000000000000000000000000000000000000aa 1 2 a.iso\n";
                CHECK("a serial after a keyring line: damaged", ib_state_parse(t, strlen(t), &st, &e) == -EBADMSG);
                t = "inetboot-trust-state 1\ntime-floor 0\nkeyring 00000000000000000000000000000000000000000000000000000000000000aa 1 2 \n";
                CHECK("a trailing space: damaged", ib_state_parse(t, strlen(t), &st, &e) == -EBADMSG);
                t = "inetboot-trust-state 1\ntime-floor 0\nkeyring 00000000000000000000000000000000000000000000000000000000000000aa 1 2\n"
                    "keyring 00000000000000000000000000000000000000000000000000000000000000aa 3 4\n";
                CHECK("a root twice: damaged", ib_state_parse(t, strlen(t), &st, &e) == -EBADMSG);
        }

        CHECK("names: '*' matches all", ib_keyring_names_match("*", "x.iso"));
        CHECK("names: prefix", ib_keyring_names_match("debian-*", "debian-live-12.iso") && !ib_keyring_names_match("debian-*", "ubuntu.iso"));
        CHECK("names: '?' and inner '*'", ib_keyring_names_match("a?c*.iso", "abcdef.iso") && !ib_keyring_names_match("a?c*.iso", "abdef.iso"));
        CHECK("names: exact", ib_keyring_names_match("x.iso", "x.iso") && !ib_keyring_names_match("x.iso", "x.isoo"));

        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        if (system(path) != 0)
                return 1;
        free(text);
        ib_keyring_free(kr);
        ib_keyring_free(vkr);
        ib_state_free(s);
        EVP_PKEY_free(root);
        EVP_PKEY_free(other_root);
        EVP_PKEY_free(pub_a);
        EVP_PKEY_free(pub_b);
        UNIT_EXIT();
}
