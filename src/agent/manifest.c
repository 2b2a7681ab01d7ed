/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manifest.c: steps 1-2 of the boot: the manifest and its signature fetched from the
 * URLs of the command line (or, when no server answers, the copy kept in the
 * block cache), verified, parsed; the image's mirrors taken from both.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "fetch.h"
#include "keyring.h"
#include "sig.h"
#include "state.h"
#include "tpm.h"

#include "agent.h"

/*
 * A verified manifest is kept in the block cache (DIR/manifests/, named by
 * the SHA-256 of its URL), so that a cached image boots with the network
 * down.  What is read back is verified again, like anything fetched.
 */
static char *cached_manifest_path(const struct agent *a, const char *url, const char *suffix) {
        uint8_t h[32];
        char hex[65], *p;

        if (!EVP_Digest(url, strlen(url), h, NULL, EVP_sha256(), NULL))
                return NULL;
        ib_hex(h, 32, hex);
        if (asprintf(&p, "%s/manifests/%.32s%s", a->cache_dir, hex, suffix) < 0)
                return NULL;
        return p;
}

static void cache_manifest(const struct agent *a, const char *url) {
        _cleanup_(freep) char *dir = NULL, *m = NULL, *s = NULL, *k = NULL, *ks = NULL;

        if (!a->cache_dir || asprintf(&dir, "%s/manifests", a->cache_dir) < 0)
                return;
        m = cached_manifest_path(a, url, ".manifest");
        s = cached_manifest_path(a, url, ".manifest.sig");
        if (!m || !s || (mkdir(dir, 0755) < 0 && errno != EEXIST))
                return;
        /* The signature last: a manifest with a stale signature fails verification, never the reverse. */
        if (ib_write_file_replace(m, a->manifest, a->manifest_len, 0644, true) < 0 ||
            ib_write_file_replace(s, a->sig, a->sig_len, 0644, true) < 0)
                agent_say("warning: cannot keep the manifest in the cache %s: %m", dir);
        /* The keyring that certified its key, for a boot with no server: same rule, signature last. */
        k = cached_manifest_path(a, url, ".keyring");
        ks = cached_manifest_path(a, url, ".keyring.sig");
        if (a->kr && k && ks && (ib_write_file_replace(k, a->keyring, a->keyring_len, 0644, true) < 0 ||
                                 ib_write_file_replace(ks, a->keyring_sig, a->keyring_sig_len, 0644, true) < 0))
                agent_say("warning: cannot keep the keyring in the cache %s: %m", dir);
        if (!a->kr && k && ks) {
                unlink(k);
                unlink(ks);
        }
}

static void drop_keyring(struct agent *a) {
        a->kr = ib_keyring_free(a->kr);
        free(a->keyring);
        free(a->keyring_sig);
        a->keyring = a->keyring_sig = NULL;
}

/*
 * The keyring (docs/signatures.md, "The life of a key"), when the trusted
 * keys have roots (DIR/roots/): @url, verified by a root key.  0 with none
 * published (the folder's keys alone), -1 when it cannot be used (said why).
 */
static int load_keyring(struct agent *a, const char *url, bool fetch) {
        _cleanup_(freep) char *surl = NULL;
        struct ib_err e = {};
        char hex[65];
        int r;

        drop_keyring(a);
        if (ib_keyring_n_roots(a->keys) == 0)
                return 0;
        if (asprintf(&surl, "%s.sig", url) < 0)
                return agent_fail("out of memory");
        r = fetch ? ib_fetch(url, a->ca_file, IB_KEYRING_MAX_BYTES, &a->keyring, &a->keyring_len, &e)
                  : ib_read_file(url, IB_KEYRING_MAX_BYTES, &a->keyring, &a->keyring_len);
        if (r == -ENOENT) {
                if (fetch)
                        agent_say("no keyring at %s: the media's publisher keys alone", url);
                return 0;
        }
        if (r >= 0)
                r = fetch ? ib_fetch(surl, a->ca_file, IB_SIG_MAX_BYTES, &a->keyring_sig, &a->keyring_sig_len, &e)
                          : ib_read_file(surl, IB_SIG_MAX_BYTES, &a->keyring_sig, &a->keyring_sig_len);
        if (r < 0) {
                drop_keyring(a);
                if (fetch)
                        return agent_fail("cannot fetch the keyring: %s", e.msg);
                return agent_fail("cannot read the keyring %s: %s", url, strerror(-r));
        }
        if (ib_keyring_verify(a->keys, a->keyring, a->keyring_len, a->keyring_sig, a->keyring_sig_len, &a->kr, &e) < 0) {
                drop_keyring(a);
                return agent_fail("%s: %s", url, e.msg);
        }
        ib_hex(a->kr->root, 32, hex);
        agent_say("keyring version %" PRIu64 " signed by root key sha256:%.16s... (%zu keys certified, %zu revoked)",
                  a->kr->version, hex, a->kr->n_keys, a->kr->n_revoked);
        return 0;
}

/* inetboot.keyring beside the manifest at @murl (before a query). */
static char *keyring_url(const char *murl) {
        const char *q = strchr(murl, '?'), *slash;
        char *u;

        for (slash = q ? q : murl + strlen(murl); slash > murl && slash[-1] != '/'; slash--)
                ;
        return asprintf(&u, "%.*s" IB_KEYRING_FILE, (int)(slash - murl), murl) < 0 ? NULL : u;
}

static int cached_manifest(struct agent *a) {
        struct ib_err e = {};

        for (size_t i = 0; a->cache_dir && i < a->req.n_urls; i++) {
                _cleanup_(freep) char *murl = NULL, *m = NULL, *s = NULL;

                if (ib_url_pair(a->req.urls[i], &murl, NULL) < 0 || !(m = cached_manifest_path(a, murl, ".manifest")) ||
                    !(s = cached_manifest_path(a, murl, ".manifest.sig")))
                        return agent_fail("out of memory");
                if (ib_read_file(m, IB_MANIFEST_MAX_BYTES, &a->manifest, &a->manifest_len) < 0)
                        continue;
                _cleanup_(freep) char *k = cached_manifest_path(a, murl, ".keyring");

                if (ib_read_file(s, IB_SIG_MAX_BYTES, &a->sig, &a->sig_len) < 0 || !k || load_keyring(a, k, false) < 0 ||
                    ib_verify_trusted(a->keys, a->kr, a->manifest, a->manifest_len, a->sig, a->sig_len, a->key_id,
                                      &a->certified, &e) < 0) {
                        agent_say("warning: the cached manifest of %s does not verify (%s); ignored", murl,
                            e.msg[0] ? e.msg : "no signature");
                        free(a->manifest);
                        free(a->sig);
                        a->manifest = a->sig = NULL;
                        continue;
                }
                a->verified = true;
                agent_say("no server answered: booting the cached manifest of %s (signature good)", murl);
                return 0;
        }
        return -1;
}

int agent_read_manifest(struct agent *a) {
        _cleanup_(freep) char *sp = NULL;
        struct ib_err e = {};
        int r;

        if (asprintf(&sp, "%s.sig", a->manifest_file) < 0)
                return agent_fail("out of memory");
        if ((r = ib_read_file(a->manifest_file, IB_MANIFEST_MAX_BYTES, &a->manifest, &a->manifest_len)) < 0)
                return agent_fail("cannot read the manifest %s: %s", a->manifest_file, strerror(-r));
        if ((r = ib_read_file(sp, IB_SIG_MAX_BYTES, &a->sig, &a->sig_len)) < 0)
                return agent_fail("cannot read its signature %s: %s", sp, strerror(-r));
        /* A keyring beside the manifest file, as beside a manifest URL. */
        {
                _cleanup_(freep) char *kp = keyring_url(a->manifest_file);

                if (!kp)
                        return agent_fail("out of memory");
                if (load_keyring(a, kp, false) < 0)
                        return -1;
        }
        if (ib_verify_trusted(a->keys, a->kr, a->manifest, a->manifest_len, a->sig, a->sig_len, a->key_id, &a->certified, &e) < 0)
                return agent_fail("%s: %s", sp, e.msg);
        a->verified = true;
        agent_say("manifest %s: signature good (%s%s)", a->manifest_file, a->keys,
                  a->certified ? ", a key the keyring certifies" : "");
        return 0;
}

int agent_fetch_manifest(struct agent *a) {
        struct ib_err e = {};
        int last = -1;

        for (size_t i = 0; i < a->req.n_urls; i++) {
                _cleanup_(freep) char *murl = NULL, *surl = NULL;
                int r;

                if (ib_url_pair(a->req.urls[i], &murl, NULL) < 0 || asprintf(&surl, "%s.sig", murl) < 0)
                        return agent_fail("out of memory");
                agent_say("fetching the manifest %s", murl);
                r = ib_fetch(murl, a->ca_file, IB_MANIFEST_MAX_BYTES, &a->manifest, &a->manifest_len, &e);
                if (r == -ENOENT && !ib_url_is_manifest(a->req.urls[i])) {
                        agent_fail("no manifest at %s: inetboot boots images published with 'inetboot-sign make' "
                             "(the manifest and its .sig go next to the image)", murl);
                        last = r;
                        continue;
                }
                if (r < 0) {
                        agent_fail("cannot fetch the manifest: %s", e.msg);
                        last = r;
                        continue;
                }
                r = ib_fetch(surl, a->ca_file, IB_SIG_MAX_BYTES, &a->sig, &a->sig_len, &e);
                if (r < 0) {
                        if (a->req.insecure && a->allow_insecure) {
                                agent_say("WARNING: no signature (%s); booting unverified because of inetboot.insecure", e.msg);
                                return 0;
                        }
                        agent_fail("cannot fetch the manifest's signature: %s", e.msg);
                        if (a->req.insecure)
                                agent_fail("inetboot.insecure was given, but these boot media do not allow unsigned images");
                        free(a->manifest);
                        a->manifest = NULL;
                        last = r;
                        continue;
                }
                {
                        _cleanup_(freep) char *kurl = keyring_url(murl);

                        if (!kurl)
                                return agent_fail("out of memory");
                        if (load_keyring(a, kurl, true) < 0)
                                return -1;      /* like a bad signature: not a mirror problem */
                }
                r = ib_verify_trusted(a->keys, a->kr, a->manifest, a->manifest_len, a->sig, a->sig_len, a->key_id,
                                      &a->certified, &e);
                if (r < 0) {
                        if (a->req.insecure && a->allow_insecure) {
                                agent_say("WARNING: %s; booting it anyway because of inetboot.insecure", e.msg);
                                return 0;
                        }
                        /* A bad signature is not a mirror problem: another mirror must not get a say. */
                        agent_fail("%s: %s", surl, e.msg);
                        if (e.code == IB_SIG_EUNKNOWNKEY || e.code == IB_SIG_ENOKEYS)
                                agent_say("to trust this publisher: put their public key (.pub) into keys/ and rebuild the boot "
                                    "media (make initramfs iso), or name a folder of keys with -K; the media trust %s",
                                    a->keys);
                        if (a->req.insecure)
                                agent_fail("inetboot.insecure was given, but these boot media do not allow unsigned images");
                        return -1;
                }
                a->verified = true;
                agent_say("manifest signature good (%s%s)", a->keys, a->certified ? ", a key the keyring certifies" : "");
                /* Kept in the cache once judged not old nor expired (agent_parse_manifest). */
                a->manifest_url = murl;
                murl = NULL;
                return 0;
        }
        /* Only when no server answered at all: a refusal or a 404 is not a reason to boot an old copy. */
        if (last == -EIO && cached_manifest(a) == 0)
                return 0;
        if (last == -ENOENT && a->req.seed_form)
                agent_fail("the seeds' netdir=/httpfuse= forms need a manifest beside the image too");
        return -1;
}

/*
 * The TPM's floors (TPM 2.0 NV): 1 and merged into @st when there are, 0 when
 * there is no TPM (or no index yet), -1 when they are damaged (said why).
 */
_Static_assert(IB_STATE_NV_SIZE == IB_TPM_NV_SIZE, "the TPM's floors fill inetboot's NV index");

static int tpm_floors(struct agent *a, struct ib_state *st, struct ib_tpm **ret) {
        uint8_t nv[IB_STATE_NV_SIZE];
        struct ib_err e = {};
        int r;

        *ret = NULL;
        if (a->req.tpm == IB_TPM_OFF || (a->dry_run && !a->tpm_spec) || ib_tpm_open(a->tpm_spec, ret, &e) < 0)
                return 0;       /* no TPM: measure.c says so, and what the policy makes of it */
        r = ib_tpm_nv_read(*ret, nv);
        if (r == -ENOENT || r == -ENODATA)
                return 0;
        if (r < 0) {
                agent_say("warning: rollback floors in the cache only: %s", ib_tpm_error(*ret));
                ib_tpm_close(*ret);
                *ret = NULL;
                return 0;
        }
        if (ib_state_nv_import(st, nv, sizeof(nv), &e) < 0)
                return agent_fail("TPM NV index 0x%08x: %s; the machine's owner can reset it (tpm2_nvundefine 0x%08x)",
                                  IB_TPM_NV_INDEX, e.msg, IB_TPM_NV_INDEX);
        return 1;
}

/*
 * Old and expired manifests (docs/signatures.md): judged against the trust
 * state kept in the block cache and the TPM (rollback floors, a time floor)
 * before the manifest replaces the cache's copy.  Neither: the expiry alone.
 */
static int judge_manifest(struct agent *a) {
        _cleanup_(ib_state_freep) struct ib_state *st = NULL;
        _cleanup_(ib_tpm_closep) struct ib_tpm *tpm = NULL;
        struct ib_state_notes n;
        struct ib_err e = {};
        char t1[40], t2[40];
        uint8_t nv[IB_STATE_NV_SIZE];

        if (!a->verified)
                return 0;
        if (a->cache_dir && ib_state_load(a->cache_dir, &st, &e) < 0)
                return agent_fail("%s; to forget every floor it holds, remove that file (the machine's owner)", e.msg);
        if (!st && !(st = calloc(1, sizeof(*st))))
                return agent_fail("out of memory");
        if (tpm_floors(a, st, &tpm) < 0)
                return -1;
        if (ib_state_judge(a->cache_dir || tpm ? st : NULL, a->key_id, a->m, (uint64_t)time(NULL),
                           a->req.allow_rollback ? IB_STATE_ALLOW_ROLLBACK : 0, &n, &e) < 0 ||
            ib_keyring_judge(a->cache_dir || tpm ? st : NULL, a->kr, a->key_id, a->certified, a->m,
                             a->req.allow_rollback ? IB_STATE_ALLOW_ROLLBACK : 0, &n, &e) < 0) {
                agent_fail("%s", e.msg);
                if (e.code == IB_STATE_EROLLBACK || e.code == IB_KEYRING_EOLDER)
                        agent_say("to boot it anyway, as the machine's owner: inetboot.allow-rollback");
                else if (e.code == IB_STATE_EEXPIRED)
                        agent_say("the publisher must sign the image again with a later expiry");
                return -1;
        }
        if (n.clock_behind)
                agent_say("warning: the clock (%s) is behind what was signed (%s); expiry judged by the latter",
                          ib_state_time(n.clock, t1), ib_state_time(n.now, t2));
        if (n.rolled_back)
                agent_say("WARNING: inetboot.allow-rollback: serial %" PRIu64 " accepted below serial %" PRIu64 "; the floor is "
                          "now %" PRIu64, a->m->serial, n.old_serial, a->m->serial);
        if (n.keyring_rolled_back)
                agent_say("WARNING: inetboot.allow-rollback: keyring version %" PRIu64 " accepted below version %" PRIu64,
                          a->kr->version, n.keyring_old_version);
        if (a->cache_dir && n.changed && ib_state_save(st, a->cache_dir, &e) < 0)
                return agent_fail("%s", e.msg);
        if (tpm && n.nv_changed) {
                ib_state_nv_export(st, nv);
                if (ib_tpm_nv_write(tpm, nv) < 0)
                        agent_say("warning: the TPM keeps no rollback floor: %s", ib_tpm_error(tpm));
                else
                        agent_say("rollback floor of %s: serial %" PRIu64 ", kept by the TPM (NV 0x%08x)", a->m->name,
                                  a->m->serial, IB_TPM_NV_INDEX);
        }
        if (a->m->expires)
                agent_say("manifest valid until %s", ib_state_time(a->m->expires, t1));
        return 0;
}

int agent_parse_manifest(struct agent *a) {
        struct ib_err e = {};

        if (ib_manifest_parse(a->manifest, a->manifest_len, &a->m, &e) < 0)
                return agent_fail("the manifest, line %u: %s", e.line, e.msg);
        if (judge_manifest(a) < 0)
                return -1;
        if (a->manifest_url)
                cache_manifest(a, a->manifest_url);
        /*
         * Mirrors for the image: the image URLs the command line named, and
         * the manifest's own URLs and stores (inetboot-httpfs adds those).  A
         * manifest URL stands for the image beside it only when the manifest
         * names no place of its own.
         */
        for (size_t i = 0; i < a->req.n_urls; i++) {
                _cleanup_(freep) char *img = NULL;

                if (ib_url_is_manifest(a->req.urls[i]) && (a->m->n_urls || a->m->n_stores))
                        continue;
                if (ib_url_pair(a->req.urls[i], NULL, &img) < 0 || ib_strv_push(&a->mirrors, &a->n_mirrors, img) < 0)
                        return agent_fail("out of memory");
        }
        agent_say("image %s: %" PRIu64 " bytes, %" PRIu64 " blocks, serial %" PRIu64 ", %zu entr%s", a->m->name, a->m->size,
            a->m->n_blocks, a->m->serial, a->m->n_entries, a->m->n_entries == 1 ? "y" : "ies");
        return 0;
}
