/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modules.c: step 4, the kernel modules the hook needs (fuse, loop, the NIC's and,
 * with a cache, the disk's drivers and file systems) of the *target* kernel:
 * those the image's initrd has are loaded from there, the others are
 * carried from the module tree of the image's squashfs (or --modules-from).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cpio.h"
#include "iso9660.h"
#include "kmod.h"

#include "agent.h"

/* The squashfs of a live image, by family convention. */
static const char *const squashfs_paths[] = {
        "/live/filesystem.squashfs", "/LiveOS/squashfs.img", "/casper/filesystem.squashfs",
        "/arch/x86_64/airootfs.sfs", "/LiveOS/rootfs.img",
};

/* What the hook needs of the target kernel, besides the NIC's driver. */
static const char *const hook_modules[] = { "fuse", "loop" };

/* With inetboot.cache=: the file systems a cache may have, and FAT's character sets (Debian's defaults). */
static const char *const cache_modules[] = { "vfat", "nls_cp437", "nls_ascii", "nls_utf8", "ext4" };

/* A kernel's module lists as depmod writes them; text NULL where a file is absent (modules.dep never is). */
static const char *const modfile_names[] = { "modules.dep", "modules.alias", "modules.builtin" };
_Static_assert(ELEMENTSOF(modfile_names) == AGENT_N_MODFILES, "struct modfiles in agent.h");

/* Device modaliases of the devices in /sys/class/@cls and of the devices above them (a virtio NIC's PCI function). */
static void gather_class(struct agent *a, const char *cls) {
        char dir[64];
        DIR *d;
        struct dirent *de;

        agent_pathf(dir, sizeof(dir), "/sys/class/%s", cls);
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d)) && a->n_modaliases < MAX_MODALIAS) {
                char path[PATH_MAX], real[PATH_MAX];

                if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0)
                        continue;
                agent_pathf(path, sizeof(path), "%s/%s/device", dir, de->d_name);
                if (!realpath(path, real))
                        continue;       /* virtual: lo, loop devices, ... */
                for (unsigned depth = 0; depth < 8 && strncmp(real, "/sys/devices/", 13) == 0; depth++) {
                        char ma[PATH_MAX], *slash;
                        _cleanup_(freep) char *text = NULL;
                        size_t len;

                        agent_pathf(ma, sizeof(ma), "%s/modalias", real);
                        if (ib_read_file(ma, 4096, &text, &len) == 0) {
                                text[strcspn(text, "\n")] = 0;
                                if (text[0] && a->n_modaliases < MAX_MODALIAS) {
                                        bool dup = false;

                                        for (size_t i = 0; i < a->n_modaliases; i++)
                                                dup = dup || strcmp(a->modaliases[i], text) == 0;
                                        if (!dup)
                                                a->modaliases[a->n_modaliases++] = strdup(text);
                                }
                        }
                        slash = strrchr(real, '/');
                        if (!slash)
                                break;
                        *slash = 0;
                }
        }
        closedir(d);
}

/*
 * The drivers the hook needs: the network devices' (unless --modalias gave
 * them) and, for a persistent cache, the disks'.
 */
static void gather_modaliases(struct agent *a) {
        if (a->n_modaliases == 0)
                gather_class(a, "net");
        if (a->req.cache)
                gather_class(a, "block");
}

struct modtree {
        char *dir;              /* directory holding lib/modules/RELEASE/... paths, or the tree itself */
        char *base;             /* the module tree: <dir>/…/modules/RELEASE */
};

/* Extract @paths (relative to the squashfs root) from the squashfs at @off in the image into @dest. */
static int unsquash(const char *image, uint64_t off, const char *dest, char **paths, size_t n) {
        char offs[32], *argv[16 + 2 * 256];
        size_t k = 0;

        if (n > 256)
                return -E2BIG;
        agent_pathf(offs, sizeof(offs), "%" PRIu64, off);
        argv[k++] = "unsquashfs";
        argv[k++] = "-no-progress";
        argv[k++] = "-quiet";
        argv[k++] = "-force";
        argv[k++] = "-o";
        argv[k++] = offs;
        argv[k++] = "-d";
        argv[k++] = (char *)dest;
        argv[k++] = (char *)image;
        for (size_t i = 0; i < n; i++)
                argv[k++] = paths[i];
        argv[k] = NULL;
        return agent_run(argv, true);
}

/* The target kernel's module tree inside the image's squashfs, unpacked on demand into the work dir. */
static int squashfs_tree(struct agent *a, struct modtree *t, uint64_t *ret_off) {
        _cleanup_(closep) int fd = open(a->image, O_RDONLY | O_CLOEXEC);
        static const char *const prefixes[] = { "usr/lib/modules", "lib/modules" };
        struct ib_err e = {};

        if (fd < 0)
                return agent_fail("cannot open %s: %m", a->image);
        for (size_t i = 0; i < ELEMENTSOF(squashfs_paths); i++) {
                uint64_t off, size;
                char *want[2 * ELEMENTSOF(modfile_names)];
                size_t nw = 0;

                if (ib_iso9660_locate_fd(fd, squashfs_paths[i], &off, &size, &e) < 0)
                        continue;
                if (asprintf(&t->dir, "%s/squashfs", a->work) < 0)
                        return agent_fail("out of memory");
                for (size_t p = 0; p < ELEMENTSOF(prefixes); p++)
                        for (size_t f = 0; f < ELEMENTSOF(modfile_names); f++)
                                if (asprintf(&want[nw++], "%s/%s/%s", prefixes[p], a->release, modfile_names[f]) < 0)
                                        return agent_fail("out of memory");
                if (a->verbose)
                        agent_say("reading the module list of %s from %s at byte %" PRIu64, a->release, squashfs_paths[i], off);
                unsquash(a->image, off, t->dir, want, nw);
                for (size_t k = 0; k < nw; k++)
                        free(want[k]);
                for (size_t p = 0; p < ELEMENTSOF(prefixes); p++) {
                        char dep[PATH_MAX];

                        agent_pathf(dep, sizeof(dep), "%s/%s/%s/modules.dep", t->dir, prefixes[p], a->release);
                        if (access(dep, R_OK) == 0) {
                                if (asprintf(&t->base, "%s/%s/%s", t->dir, prefixes[p], a->release) < 0)
                                        return agent_fail("out of memory");
                                *ret_off = off;
                                agent_say("kernel modules for %s: from the image's %s", a->release, squashfs_paths[i]);
                                return 1;
                        }
                }
                free(t->dir);
                t->dir = NULL;
        }
        return 0;
}

void agent_modfiles_clear(struct modfiles *f) {
        for (size_t i = 0; i < ELEMENTSOF(f->text); i++)
                free(f->text[i]);
        *f = (struct modfiles) {};
}

/* The lists of the module tree @base (/lib/modules/RELEASE); only modules.dep must be there. */
int agent_modfiles_read(const char *base, struct modfiles *f) {
        for (size_t i = 0; i < ELEMENTSOF(modfile_names); i++) {
                _cleanup_(freep) char *p = NULL;
                int r;

                if (asprintf(&p, "%s/%s", base, modfile_names[i]) < 0)
                        return agent_fail("out of memory");
                r = ib_read_file(p, 64u << 20, &f->text[i], &f->len[i]);
                if (r < 0 && (i == 0 || r != -ENOENT))
                        return agent_fail("cannot read %s: %s", p, strerror(-r));
        }
        return 0;
}

int agent_modfiles_kmods(const struct modfiles *f, struct ib_kmods **ret, struct ib_err *e) {
        return ib_kmods_new(f->text[0], f->len[0], f->text[1], f->len[1], f->text[2], f->len[2], ret, e);
}

/* What the image's own initrd has of the target kernel's modules. */
struct initrd_mods {
        const char *release;
        char *prefix;                   /* "usr/lib/modules/RELEASE" as stored, or NULL */
        char **have;                    /* module paths relative to it (plain .ko only) */
        size_t n_have;
        struct modfiles files;          /* its lists, where it has them */
};

static void initrd_mods_free(struct initrd_mods *im) {
        ib_strv_free(im->have, im->n_have);
        free(im->prefix);
        agent_modfiles_clear(&im->files);
}

static int initrd_cb(const struct ib_cpio_entry *e, void *ud) {
        struct initrd_mods *im = ud;
        const char *name = e->name, *rest;
        size_t pl;

        while (name[0] == '.' && name[1] == '/')
                name += 2;
        while (*name == '/')
                name++;
        if (strncmp(name, "usr/", 4) == 0 && strncmp(name + 4, "lib/modules/", 12) == 0)
                rest = name + 16;
        else if (strncmp(name, "lib/modules/", 12) == 0)
                rest = name + 12;
        else
                return 0;
        pl = strlen(im->release);
        if (strncmp(rest, im->release, pl) != 0 || rest[pl] != '/' || !S_ISREG(e->mode))
                return 0;
        if (!im->prefix && !(im->prefix = ib_strndup(name, (size_t)(rest + pl - name))))
                return -ENOMEM;
        rest += pl + 1;
        for (size_t i = 0; i < ELEMENTSOF(modfile_names); i++)
                if (strcmp(rest, modfile_names[i]) == 0) {
                        free(im->files.text[i]);
                        im->files.text[i] = ib_strndup(e->data, e->size);
                        im->files.len[i] = e->size;
                        return im->files.text[i] ? 0 : -ENOMEM;
                }
        if (strlen(rest) > 3 && strcmp(rest + strlen(rest) - 3, ".ko") == 0)
                return ib_strv_push(&im->have, &im->n_have, rest) < 0 ? -ENOMEM : 0;
        return 0;
}

static bool initrd_has(const struct initrd_mods *im, const char *path) {
        for (size_t i = 0; i < im->n_have; i++)
                if (strcmp(im->have[i], path) == 0)
                        return true;
        return false;
}

/*
 * The load order of fuse, loop, the NIC drivers (and with a cache its disk
 * drivers and file systems) in the tree whose modules.dep/alias/builtin are
 * given.  The first *n_required paths (fuse, loop and what they need) must
 * be there; the others are welcome.
 */
static int resolve_hook_modules(struct agent *a, const struct modfiles *f, bool quiet, char ***paths, size_t *n,
                                size_t *n_required) {
        struct ib_kmods *k = NULL;
        char **names = NULL;
        size_t nn = 0;
        struct ib_err e = {};
        int r = -1;

        if (agent_modfiles_kmods(f, &k, &e) < 0)
                return quiet ? -1 : agent_fail("modules.dep of %s: %s", a->release, e.msg);
        for (size_t i = 0; i < ELEMENTSOF(hook_modules); i++)
                if (ib_kmods_add(k, hook_modules[i], paths, n, &e) < 0) {
                        if (!quiet)
                                agent_fail("the target kernel %s: %s", a->release, e.msg);
                        goto out;
                }
        *n_required = *n;
        for (size_t i = 0; i < a->n_modaliases; i++)
                if (ib_kmods_match(k, a->modaliases[i], &names, &nn) < 0) {
                        agent_fail("out of memory");
                        goto out;
                }
        for (size_t i = 0; i < nn; i++)
                if (ib_kmods_add(k, names[i], paths, n, &e) < 0)
                        agent_say("warning: the driver %s: %s", names[i], e.msg);
        /* A cache on a disk or USB stick: its file system, whichever of these it is. */
        for (size_t i = 0; a->req.cache && i < ELEMENTSOF(cache_modules); i++)
                if (ib_kmods_add(k, cache_modules[i], paths, n, &e) < 0 && !quiet)
                        agent_say("warning: for the cache: %s", e.msg);
        r = 0;
out:
        ib_strv_free(names, nn);
        ib_kmods_free(k);
        return r;
}

/*
 * Carry the module file @src (@path in modules.dep) as @dst, a plain .ko:
 * the hook loads it with busybox insmod, which reads no zstd, and the
 * target kernel need not decompress modules (CONFIG_MODULE_DECOMPRESS is
 * 5.17 and later, and optional).  Decompressed with the bounds of a module.
 */
static int carry_module(struct ib_cpio *cpio, const char *src, const char *path, const char *dst, struct ib_err *e) {
        _cleanup_(freep) char *raw = NULL;
        _cleanup_(freep) uint8_t *ko = NULL;
        size_t raw_len, ko_len;
        int r;

        r = ib_read_file(src, MAX_MODULE, &raw, &raw_len);
        if (r < 0)
                return ib_err_set(e, r, 0, "cannot read %s: %s", src, strerror(-r));
        r = ib_kmod_plain(raw, raw_len, path, MAX_MODULE, &ko, &ko_len, e);
        if (r < 0)
                return r;
        return ib_cpio_add_file(cpio, dst, 0644, ko, ko_len, e);
}

/*
 * The hook needs fuse, loop and the NIC's driver of the *target* kernel.
 * Those the image's initrd has are loaded from there; the others come from
 * the module tree in the image's squashfs (or --modules-from) and are
 * carried in our cpio.  inetboot/modules.order lists absolute paths in
 * the target's initramfs, in load order.
 */
int agent_add_modules(struct agent *a, struct ib_cpio *cpio, size_t image_initrd_len) {
        struct initrd_mods im = { .release = a->release };
        struct modtree t = {};
        struct modfiles tree = {};
        _cleanup_(freep) char *order = NULL;
        size_t n = 0, ol = 0, carried = 0, n_required = 0, missing = 0;
        char **paths = NULL;
        struct ib_err e = {};
        uint64_t off = 0;
        bool from_image = false, need_tree = true;
        int r;

        gather_modaliases(a);
        r = ib_initrd_walk(a->initrd, image_initrd_len, MAX_INITRD, initrd_cb, &im, &e);
        if (r == -ENOMEM) {
                r = agent_fail("out of memory");
                goto out;
        }
        if (r < 0) {
                agent_say("warning: cannot list the image's initrd (%s); taking every module from the image's tree", e.msg);
                /* What the walk saw before it failed is not to be trusted either. */
                initrd_mods_free(&im);
                im = (struct initrd_mods) { .release = a->release };
        }
        r = -1;
        if (im.files.text[0]) {
                if (resolve_hook_modules(a, &im.files, true, &paths, &n, &n_required) == 0) {
                        need_tree = false;
                        for (size_t i = 0; i < n; i++)
                                need_tree = need_tree || !initrd_has(&im, paths[i]);
                }
                if (need_tree) {
                        ib_strv_free(paths, n);
                        paths = NULL;
                        n = 0;
                }
        }
        if (need_tree) {
                r = squashfs_tree(a, &t, &off);
                if (r < 0)
                        goto out;
                from_image = r > 0;
                r = -1;
                if (!from_image) {
                        if (!a->modules_from) {
                                agent_fail("the image has no kernel modules for its kernel %s (in its initrd or its squashfs) and "
                                     "no --modules-from tree was given: the hook needs fuse, loop and the NIC driver",
                                     a->release);
                                goto out;
                        }
                        t.base = strdup(a->modules_from);
                        if (!t.base) {
                                agent_fail("out of memory");
                                goto out;
                        }
                        agent_say("kernel modules for %s: from %s", a->release, t.base);
                }
                if (agent_modfiles_read(t.base, &tree) < 0 || resolve_hook_modules(a, &tree, false, &paths, &n, &n_required) < 0)
                        goto out;
        }
        if (from_image) {
                char **rel = NULL;
                size_t nr = 0;
                const char *prefix = t.base + strlen(t.dir) + 1;

                for (size_t i = 0; i < n; i++) {
                        char *p;

                        if (initrd_has(&im, paths[i]))
                                continue;
                        if (asprintf(&p, "%s/%s", prefix, paths[i]) < 0 || ib_strv_push(&rel, &nr, p) < 0) {
                                agent_fail("out of memory");
                                goto out;
                        }
                        free(p);
                }
                if (nr)
                        unsquash(a->image, off, t.dir, rel, nr);
                ib_strv_free(rel, nr);
        }
        for (size_t i = 0; i < n; i++) {
                char src[PATH_MAX], dst[PATH_MAX], name[64], line[PATH_MAX];
                char *no;

                if (ib_kmod_name(paths[i], name, sizeof(name)) < 0)
                        continue;
                if (initrd_has(&im, paths[i]))
                        agent_pathf(line, sizeof(line), "/%s/%s\n", im.prefix, paths[i]);
                else {
                        agent_pathf(src, sizeof(src), "%s/%s", t.base, paths[i]);
                        agent_pathf(dst, sizeof(dst), HOOK_ROOT "/modules/%s.ko", name);
                        if (i >= n_required && access(src, R_OK) < 0) {
                                agent_say("warning: the image has no %s for its kernel; the hook goes without it", paths[i]);
                                missing++;
                                continue;
                        }
                        if (carry_module(cpio, src, paths[i], dst, &e) < 0) {
                                agent_fail("module %s: %s", paths[i], e.msg);
                                goto out;
                        }
                        agent_pathf(line, sizeof(line), "/%s\n", dst);
                        carried++;
                }
                no = realloc(order, ol + strlen(line) + 1);
                if (!no) {
                        agent_fail("out of memory");
                        goto out;
                }
                order = no;
                memcpy(order + ol, line, strlen(line) + 1);
                ol += strlen(line);
        }
        if (ib_cpio_add_file(cpio, HOOK_ROOT "/modules.order", 0644, order ? order : "", ol, &e) < 0) {
                agent_fail("%s", e.msg);
                goto out;
        }
        agent_say("%zu kernel modules for the hook: %zu from the image's initrd, %zu carried%s", n - missing, n - carried - missing, carried,
            carried ? (from_image ? " from the image's squashfs" : " from --modules-from") : "");
        r = 0;
out:
        ib_strv_free(paths, n);
        initrd_mods_free(&im);
        agent_modfiles_clear(&tree);
        free(t.dir);
        free(t.base);
        return r;
}
