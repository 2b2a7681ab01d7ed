/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * initrd.c: step 4, the target initrd: the image's initrds unchanged, the hook
 * payload, then a cpio archive of the modules, the keys, the manifest and
 * hook.conf.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cpio.h"

#include "agent.h"

/* Shell-quote @s into a hook.conf line. */
static int conf_var(char **buf, size_t *len, const char *name, const char *value) {
        size_t need = strlen(name) + 4 + 4 * strlen(value) + 1;
        char *nb = realloc(*buf, *len + need + 1), *p;

        if (!nb)
                return -ENOMEM;
        *buf = nb;
        p = nb + *len;
        p += sprintf(p, "%s='", name);
        for (const char *s = value; *s; s++) {
                if (*s == '\'') {
                        memcpy(p, "'\\''", 4);
                        p += 4;
                } else
                        *p++ = *s;
        }
        *p++ = '\'';
        *p++ = '\n';
        *p = 0;
        *len = (size_t)(p - nb);
        return 0;
}

/* The keys' *.pub into HOOK_ROOT/keys/@sub (@sub "" or "roots/": the root keys that check a keyring). */
static int add_keys(struct ib_cpio *cpio, const char *keys, const char *sub) {
        struct dirent **list = NULL;
        char dir[PATH_MAX];
        int n, r = 0;

        agent_pathf(dir, sizeof(dir), "%s/%s", keys, sub);
        n = scandir(dir, &list, NULL, alphasort);
        if (n < 0 && *sub)
                return 0;       /* no roots */
        if (n < 0)
                return agent_fail("cannot read the keys directory %s: %m", keys);
        for (int i = 0; i < n; i++) {
                size_t l = strlen(list[i]->d_name);
                char src[PATH_MAX], dst[PATH_MAX];
                struct ib_err e = {};

                if (r == 0 && l > 4 && strcmp(list[i]->d_name + l - 4, ".pub") == 0) {
                        agent_pathf(src, sizeof(src), "%s/%s", dir, list[i]->d_name);
                        agent_pathf(dst, sizeof(dst), HOOK_ROOT "/keys/%s%s", sub, list[i]->d_name);
                        if (ib_cpio_add_file_from(cpio, dst, 0644, src, &e) < 0)
                                r = agent_fail("%s", e.msg);
                }
                free(list[i]);
        }
        free(list);
        return r;
}

/*
 * Append @len bytes to the target initrd, then zeros up to a multiple of 4
 * bytes: where the kernel looks for the next archive.
 */
int agent_initrd_append(struct agent *a, const void *buf, size_t len) {
        size_t pad = (4 - (a->initrd_len + len) % 4) % 4;
        char *nb;

        if (len + pad == 0)
                return 0;
        nb = realloc(a->initrd, a->initrd_len + len + pad);
        if (!nb)
                return agent_fail("out of memory");
        a->initrd = nb;
        memcpy(a->initrd + a->initrd_len, buf, len);
        memset(a->initrd + a->initrd_len + len, 0, pad);
        a->initrd_len += len + pad;
        return 0;
}

int agent_build_initrd(struct agent *a, int fd) {
        struct ib_cpio *cpio = NULL;
        struct ib_err e = {};
        _cleanup_(freep) char *conf = NULL;
        void *tail = NULL;
        size_t conf_len = 0, tail_len = 0, image_initrd_len;
        int r = -1;

        /* The image's initrds, unchanged, each padded to 4 bytes as boot loaders place them. */
        for (size_t i = 0; i < a->c.n_initrds; i++) {
                _cleanup_(freep) char *buf = NULL;
                size_t len;

                if (agent_read_image_file(a, fd, a->c.initrds[i], a->c.initrd_refs ? &a->c.initrd_refs[i] : NULL, MAX_INITRD, &buf,
                                    &len) < 0 ||
                    agent_initrd_append(a, buf, len) < 0)
                        return -1;
        }
        image_initrd_len = a->initrd_len;

        /* The hook payload (busybox, inetboot-httpfs, libraries), a prebuilt reproducible archive, as it is. */
        {
                _cleanup_(freep) char *hook = NULL;
                size_t len;
                int rr = ib_read_file(a->hook_path, MAX_INITRD, &hook, &len);

                if (rr < 0)
                        return agent_fail("cannot read the hook payload %s: %s (make initramfs builds it)", a->hook_path,
                                    strerror(-rr));
                if (agent_initrd_append(a, hook, len) < 0)
                        return -1;
                a->hook_len = a->initrd_len - image_initrd_len;
        }
        if (ib_cpio_new(&cpio) < 0)
                return agent_fail("out of memory");
        if (agent_add_modules(a, cpio, image_initrd_len) < 0 || add_keys(cpio, a->keys, "") < 0 ||
            add_keys(cpio, a->keys, "roots/") < 0)
                goto out;
        /* The keyring that certified the signer: the hook's inetboot-httpfs checks it again (--keyring). */
        if (ib_cpio_add_file(cpio, HOOK_ROOT "/etc/image.manifest", 0644, a->manifest, a->manifest_len, &e) < 0 ||
            (a->verified && ib_cpio_add_file(cpio, HOOK_ROOT "/etc/image.manifest.sig", 0644, a->sig, a->sig_len, &e) < 0) ||
            (a->verified && a->kr &&
             (ib_cpio_add_file(cpio, HOOK_ROOT "/etc/image.keyring", 0644, a->keyring, a->keyring_len, &e) < 0 ||
              ib_cpio_add_file(cpio, HOOK_ROOT "/etc/image.keyring.sig", 0644, a->keyring_sig, a->keyring_sig_len, &e) < 0))) {
                agent_fail("%s", e.msg);
                goto out;
        }
        /* What the image is and how it boots: measured.  Where its verified blocks come from: site.conf (agent_measure()). */
        if (conf_var(&conf, &conf_len, "IB_IMAGE", a->m->name) < 0 ||
            conf_var(&conf, &conf_len, "IB_VERIFIED", a->verified ? "1" : "0") < 0 ||
            conf_var(&conf, &conf_len, "IB_FAMILY", a->c.family) < 0 ||
            conf_var(&conf, &conf_len, "IB_ENTRY", a->c.label) < 0 ||
            conf_var(&conf, &conf_len, "IB_RELEASE", a->release) < 0) {
                agent_fail("out of memory");
                goto out;
        }
        if (ib_cpio_add_file(cpio, HOOK_ROOT "/etc/hook.conf", 0644, conf, conf_len, &e) < 0 ||
            ib_cpio_finish(cpio, &tail, &tail_len, &e) < 0) {
                agent_fail("%s", e.msg);
                goto out;
        }
        if (agent_initrd_append(a, tail, tail_len) < 0)
                goto out;
        agent_say("target initrd: %zu bytes (the image's %zu + the hook's %zu + %zu of manifest, keys and modules)", a->initrd_len,
            a->initrd_len - tail_len - a->hook_len, a->hook_len, tail_len);
        r = 0;
out:
        free(tail);
        ib_cpio_free(cpio);
        return r;
}
