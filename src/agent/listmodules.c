/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listmodules.c: --list-modules, a tool of its own inside the agent: the load order of
 * named modules of a module tree, with --for-devices those the machine's
 * devices need (coldplug), with --load loaded (the preboot's init uses it).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "kmod.h"

#include "agent.h"

static int strp_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Coldplug, as udev does it at boot: the modules whose aliases match the
 * modalias of a device under @sysfs/bus/<bus>/devices (NICs, disk and USB
 * controllers, virtio devices), with their dependencies, leaving out those
 * that are not in @dir (the preboot carries a few) and those already loaded
 * or built in (@sysfs/module/NAME).  Appends to *paths.
 */
static int device_modules(struct ib_kmods *k, const char *dir, const char *sysfs, char ***paths, size_t *np) {
        char pattern[PATH_MAX], **names = NULL, **all = NULL;
        size_t nn = 0, na = 0;
        struct ib_err e = {};
        glob_t g = {};
        int r = -1;

        agent_pathf(pattern, sizeof(pattern), "%s/bus/*/devices/*/modalias", sysfs);
        if (glob(pattern, 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++) {
                        _cleanup_(freep) char *text = NULL;
                        size_t len;

                        if (ib_read_file(g.gl_pathv[i], 4096, &text, &len) < 0)
                                continue;
                        text[strcspn(text, "\n")] = 0;
                        if (text[0] && ib_kmods_match(k, text, &names, &nn) < 0)
                                goto oom;
                }
        if (nn)
                qsort(names, nn, sizeof(*names), strp_cmp);
        for (size_t i = 0; i < nn; i++) {
                int rr = ib_kmods_add(k, names[i], &all, &na, &e);

                if (rr < 0 && rr != -ENOENT) {
                        agent_fail("%s", e.msg);
                        goto out;
                }
        }
        for (size_t i = 0; i < na; i++) {
                char file[PATH_MAX], loaded[PATH_MAX], name[64];

                if (ib_kmod_name(all[i], name, sizeof(name)) < 0)
                        continue;
                for (char *c = name; *c; c++)
                        if (*c == '-')
                                *c = '_';
                agent_pathf(file, sizeof(file), "%s/%s", dir, all[i]);
                agent_pathf(loaded, sizeof(loaded), "%s/module/%s", sysfs, name);
                if (access(file, R_OK) < 0 || access(loaded, F_OK) == 0 || ib_strv_has(*paths, *np, all[i]))
                        continue;
                if (ib_strv_push(paths, np, all[i]) < 0)
                        goto oom;
        }
        r = 0;
        goto out;
oom:
        agent_fail("out of memory");
out:
        globfree(&g);
        ib_strv_free(names, nn);
        ib_strv_free(all, na);
        return r;
}

/*
 * --load: each of @paths not tried yet, into the kernel (finit_module, as
 * insmod); prints those that loaded.  A module that fails (a driver whose
 * device is not there, one already loaded) is skipped, as modprobe -b -q
 * would.  Returns how many were tried.
 */
static int load_modules(const char *dir, char **paths, size_t np, char ***tried, size_t *nt) {
        int n = 0;

        for (size_t i = 0; i < np; i++) {
                char file[PATH_MAX];
                int fd;

                if (ib_strv_has(*tried, *nt, paths[i]))
                        continue;
                if (ib_strv_push(tried, nt, paths[i]) < 0)
                        return agent_fail("out of memory");
                n++;
                agent_pathf(file, sizeof(file), "%s/%s", dir, paths[i]);
                fd = open(file, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (syscall(SYS_finit_module, fd, "", 0) == 0)
                        printf("%s\n", paths[i]);
                close(fd);
        }
        fflush(stdout);
        return n;
}

/* Coldplug rounds: a driver loaded shows its bus's devices (virtio's, USB's) to the next. */
#define COLDPLUG_ROUNDS 8

int agent_list_modules(const char *dir, const char *sysfs, bool load, char **names, int n) {
        struct modfiles f = {};
        size_t np = 0, nt = 0;
        char **paths = NULL, **tried = NULL;
        struct ib_kmods *k = NULL;
        struct ib_err e = {};
        int r = 1;

        if (agent_modfiles_read(dir, &f) < 0)
                goto out;
        if (agent_modfiles_kmods(&f, &k, &e) < 0) {
                agent_fail("%s/modules.dep: %s", dir, e.msg);
                goto out;
        }
        for (int i = 0; i < n; i++)
                if (ib_kmods_add(k, names[i], &paths, &np, &e) < 0) {
                        agent_fail("%s", e.msg);
                        goto out;
                }
        if (!load) {
                if (sysfs && device_modules(k, dir, sysfs, &paths, &np) < 0)
                        goto out;
                for (size_t i = 0; i < np; i++)
                        printf("%s\n", paths[i]);
                r = 0;
                goto out;
        }
        if (load_modules(dir, paths, np, &tried, &nt) < 0)
                goto out;
        for (unsigned round = 0; sysfs && round < COLDPLUG_ROUNDS; round++) {
                char **found = NULL;
                size_t nf = 0;
                int t;

                if (device_modules(k, dir, sysfs, &found, &nf) < 0)
                        goto out;
                t = load_modules(dir, found, nf, &tried, &nt);
                ib_strv_free(found, nf);
                if (t < 0)
                        goto out;
                if (t == 0)
                        break;
        }
        r = 0;
out:
        ib_strv_free(paths, np);
        ib_strv_free(tried, nt);
        ib_kmods_free(k);
        agent_modfiles_clear(&f);
        return r;
}
