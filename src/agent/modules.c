/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modules.c: step 4, the kernel modules the hook needs (fuse, loop, the NIC's and,
 * with a cache, the disk's drivers and file systems) of the *target* kernel:
 * those the image's initrd has are loaded from there, the others are
 * carried from the module tree of the image's squashfs (or --modules-from).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/loop.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpio.h"
#include "iso9660.h"
#include "kmod.h"

#include "agent.h"

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

/*
 * How a root file system image keeps its module trees: the paths (unsquashfs
 * patterns) that may hold lib/modules/RELEASE's contents.
 */
enum layout {
        LAYOUT_ROOT,            /* a root file system: usr/lib/modules/RELEASE, lib/modules/RELEASE */
        LAYOUT_MODLOOP,         /* Alpine's modloop: modules/RELEASE */
        LAYOUT_NIXSTORE,        /* NixOS' store, mounted at /nix/.ro-store: <hash>-linux-<ver>-modules/lib/modules/RELEASE */
};
static const char *const layout_prefixes[][2] = {
        [LAYOUT_ROOT] = { "usr/lib/modules", "lib/modules" },
        [LAYOUT_MODLOOP] = { "modules", NULL },
        [LAYOUT_NIXSTORE] = { "*-linux-*-modules/lib/modules", NULL },
};

/* A squashfs of the image that may hold the target kernel's module tree. */
struct source {
        char path[256];         /* in the image */
        enum layout layout;
        bool rootfs_img;        /* kiwi: the root is LiveOS/rootfs.img (ext4) inside it */
        int stack;              /* casper's layers: the same number for one stack, top layer first; else -1 */
};
#define MAX_SOURCES 24u

/* Where families keep their root file system, when the entry does not say (tried after what it says). */
static const struct source conventions[] = {
        { "/live/filesystem.squashfs", LAYOUT_ROOT, false, -1 },
        { "/casper/filesystem.squashfs", LAYOUT_ROOT, false, -1 },
        { "/LiveOS/squashfs.img", LAYOUT_ROOT, true, -1 },
        { "/arch/x86_64/airootfs.sfs", LAYOUT_ROOT, false, -1 },
        { "/manjaro/x86_64/rootfs.sfs", LAYOUT_ROOT, false, -1 },
        { "/nix-store.squashfs", LAYOUT_NIXSTORE, false, -1 },
        { "/slax/01-core.sb", LAYOUT_ROOT, false, -1 },         /* Slax: its first bundle holds the kernel's tree */
};

/* The bound on one file unsquashfs writes for us (a module list, a module). */
#define MAX_EXTRACTED ((uint64_t)MAX_MODULE)

struct modtree {
        char *dir;              /* the root the module paths are under: extracted files, or a mount */
        char *base;             /* the module tree: <dir>/…/modules/RELEASE */
        uint64_t offs[MAX_SOURCES];     /* the squashfs(es) to extract modules from, in order (casper: layers) */
        size_t n_offs;
        char *mnt[2];           /* kiwi: the squashfs and rootfs.img mounted read-only, to unmount */
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
        return agent_run_limited(argv, true, MAX_EXTRACTED);
}

/*
 * Open @rel under @root as the image would see it: symbolic links resolved
 * inside @root (an absolute one from @root), never out of it, no magic links.
 * A regular file only.  Returns the fd or -errno.
 */
static int open_in_root(const char *root, const char *rel) {
        struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        _cleanup_(closep) int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        int fd;

        if (dfd < 0)
                return -errno;
        fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -EINVAL;
        }
        return fd;
}

/* Read @rel under @root (open_in_root()), at most @max bytes, NUL-terminated; 0 or -errno (-EFBIG when larger). */
static int read_in_root(const char *root, const char *rel, size_t max, char **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = open_in_root(root, rel);
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0;
        struct stat st;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t)st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t)st.st_size - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        buf[len] = 0;
        *ret = buf;
        buf = NULL;
        *ret_len = len;
        return 0;
}

/* Whether the regular file @rel is there under @root (open_in_root()). */
static bool in_root(const char *root, const char *rel) {
        int fd = open_in_root(root, rel);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/* The lists of the module tree @rel (…/modules/RELEASE) under @root, read with read_in_root(); 0 or -1 said why. */
static int tree_modfiles_read(const char *root, const char *rel, struct modfiles *f) {
        for (size_t i = 0; i < ELEMENTSOF(modfile_names); i++) {
                char p[PATH_MAX];
                int r;

                agent_pathf(p, sizeof(p), "%s/%s", rel, modfile_names[i]);
                r = read_in_root(root, p, 64u << 20, &f->text[i], &f->len[i]);
                if (r < 0 && (i == 0 || r != -ENOENT))
                        return agent_fail("cannot read %s of the image's module tree: %s", p, strerror(-r));
        }
        return 0;
}

/* Whether @s is a safe relative path for the image: [A-Za-z0-9._+-/], no empty, "." or ".." component. */
static bool safe_relpath(const char *s, size_t max) {
        size_t n = strlen(s);

        if (n == 0 || n > max || s[0] == '/' || s[n - 1] == '/')
                return false;
        for (const char *p = s; *p; p++)
                if (!(isalnum((unsigned char)*p) || strchr("._+-/", *p)))
                        return false;
        for (const char *c = s; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
                size_t l = strcspn(c, "/");

                if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
        }
        return true;
}

/* The value of the last word KEY=VALUE (@key with its '=') of @cmdline, copied into @out; false when none fits. */
static bool word_value(const char *cmdline, const char *key, char *out, size_t size) {
        size_t kl = strlen(key);
        bool found = false;

        for (const char *p = cmdline; *(p += strspn(p, " \t")); p += strcspn(p, " \t")) {
                size_t l = strcspn(p, " \t");

                if (l > kl && strncmp(p, key, kl) == 0 && l - kl < size) {
                        memcpy(out, p + kl, l - kl);
                        out[l - kl] = 0;
                        found = true;
                }
        }
        return found;
}

/* Add @path to @src (unless there already, or full, or not a safe path). */
static void add_source(struct source *src, size_t *n, const char *path, enum layout layout, bool rootfs_img, int stack) {
        if (*n >= MAX_SOURCES || path[0] != '/' || !safe_relpath(path + 1, sizeof(src->path) - 2))
                return;
        for (size_t i = 0; i < *n; i++)
                if (strcmp(src[i].path, path) == 0)
                        return;
        src[*n] = (struct source) { .layout = layout, .rootfs_img = rootfs_img, .stack = stack };
        agent_pathf(src[*n].path, sizeof(src[*n].path), "%s", path);
        (*n)++;
}

/*
 * casper's layered root (Ubuntu since 23.10): the layer LAYERFS_PATH names
 * (layerfs-path= on the command line, else the initrd's
 * conf/conf.d/default-layer.conf, as casper reads it) sits on the layers its
 * name's dot-separated prefixes name: minimal.standard.live.squashfs on
 * minimal.standard and minimal, in live-media-path= (casper/).  Top first.
 */
static void casper_layers(const struct agent *a, const char *layerfs, struct source *src, size_t *n) {
        char top[128], dir[128] = "casper", path[300];

        if (!word_value(a->c.cmdline, "layerfs-path=", top, sizeof(top))) {
                if (!layerfs || strlen(layerfs) >= sizeof(top))
                        return;
                strcpy(top, layerfs);
        }
        word_value(a->c.cmdline, "live-media-path=", dir, sizeof(dir));
        while (dir[0] == '/')
                memmove(dir, dir + 1, strlen(dir));
        if (strlen(top) > 9 && strcmp(top + strlen(top) - 9, ".squashfs") == 0)
                top[strlen(top) - 9] = 0;
        if (strchr(top, '/') || !safe_relpath(top, 100) || !safe_relpath(dir, 100))
                return;
        for (char *dot; top[0]; *dot = 0) {
                agent_pathf(path, sizeof(path), "/%s/%s.squashfs", dir, top);
                add_source(src, n, path, LAYOUT_ROOT, false, 0);
                dot = strrchr(top, '.');
                if (!dot)
                        break;
        }
}

/*
 * The squashfs files of the image that may hold the target kernel's module
 * tree, most likely first: those the entry names (archisobasedir=,
 * misobasedir=, modloop=, rd.live.dir=/rd.live.squashimg=, casper's layers,
 * NixOS' store for an init= in it, Alpine's modloop beside its kernel), then
 * the families' conventions.
 */
static size_t module_sources(const struct agent *a, const char *layerfs, struct source *src) {
        const char *cmd = a->c.cmdline, *kernel = a->c.kernel ? a->c.kernel : "";
        char v[128], v2[128], path[300];
        size_t n = 0;

        if (word_value(cmd, "archisobasedir=", v, sizeof(v)) && safe_relpath(v, 100)) {
                agent_pathf(path, sizeof(path), "/%s/x86_64/airootfs.sfs", v);
                add_source(src, &n, path, LAYOUT_ROOT, false, -1);
        }
        if (word_value(cmd, "misobasedir=", v, sizeof(v)) && safe_relpath(v, 100)) {
                agent_pathf(path, sizeof(path), "/%s/x86_64/rootfs.sfs", v);
                add_source(src, &n, path, LAYOUT_ROOT, false, -1);
        }
        if (word_value(cmd, "modloop=", v, sizeof(v)) && v[0] == '/')
                add_source(src, &n, v, LAYOUT_MODLOOP, false, -1);
        /* Alpine's init: /boot/modloop-FLAVOR beside /boot/vmlinuz-FLAVOR. */
        if (strncmp(kernel, "/boot/vmlinuz-", 14) == 0 && safe_relpath(kernel + 14, 64) && !strchr(kernel + 14, '/')) {
                agent_pathf(path, sizeof(path), "/boot/modloop-%s", kernel + 14);
                add_source(src, &n, path, LAYOUT_MODLOOP, false, -1);
        }
        casper_layers(a, layerfs, src, &n);
        /* dracut's (and kiwi's) rd.live.dir= and rd.live.squashimg=, LiveOS/squashfs.img unless said. */
        if (strstr(cmd, "root=live:") || strstr(cmd, "rd.live.image")) {
                if (!word_value(cmd, "rd.live.dir=", v, sizeof(v)))
                        strcpy(v, "LiveOS");
                if (!word_value(cmd, "rd.live.squashimg=", v2, sizeof(v2)))
                        strcpy(v2, "squashfs.img");
                while (v[0] == '/')
                        memmove(v, v + 1, strlen(v));
                if (safe_relpath(v, 100) && safe_relpath(v2, 100) && !strchr(v2, '/')) {
                        agent_pathf(path, sizeof(path), "/%s/%s", v, v2);
                        add_source(src, &n, path, LAYOUT_ROOT, true, -1);
                }
        }
        if (strstr(cmd, "init=/nix/store/"))
                add_source(src, &n, "/nix-store.squashfs", LAYOUT_NIXSTORE, false, -1);
        for (size_t i = 0; i < ELEMENTSOF(conventions); i++)
                add_source(src, &n, conventions[i].path, conventions[i].layout, conventions[i].rootfs_img, conventions[i].stack);
        return n;
}

/* Attach the @size bytes at @off of @fd to a free loop device, read-only, cleared when unused; its fd or -1 said why. */
static int loop_attach(int fd, uint64_t off, uint64_t size, const char *what) {
        _cleanup_(closep) int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);

        if (ctl < 0)
                return agent_fail("cannot open /dev/loop-control for %s: %m", what);
        for (unsigned tries = 0; tries < 8; tries++) {
                struct loop_config cfg = { .fd = (uint32_t)fd };
                char dev[32];
                int nr = ioctl(ctl, LOOP_CTL_GET_FREE), lfd;

                if (nr < 0)
                        return agent_fail("no free loop device for %s: %m", what);
                agent_pathf(dev, sizeof(dev), "/dev/loop%d", nr);
                lfd = open(dev, O_RDONLY | O_CLOEXEC);
                if (lfd < 0)
                        return agent_fail("cannot open %s for %s: %m", dev, what);
                cfg.info.lo_offset = off;
                cfg.info.lo_sizelimit = size;
                cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
                if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
                        return lfd;
                close(lfd);
                if (errno != EBUSY)
                        return agent_fail("cannot attach %s to %s: %m", what, dev);
        }
        return agent_fail("cannot attach %s: every free loop device was taken first", what);
}

/* Mount the loop device @lfd read-only (@fstype, @opts) at @dir (made); 0 or -1 said why. */
static int mount_loop(int lfd, const char *dir, const char *fstype, const char *opts, const char *what) {
        char dev[64];

        agent_pathf(dev, sizeof(dev), "/proc/self/fd/%d", lfd);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return agent_fail("cannot make %s: %m", dir);
        if (mount(dev, dir, fstype, MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC, opts) < 0)
                return agent_fail("cannot mount %s (%s) read-only at %s: %m", what, fstype, dir);
        return 0;
}

/*
 * kiwi's live root: LiveOS/squashfs.img holds LiveOS/rootfs.img, an ext4
 * image of the whole root (GBs).  Never extracted: the squashfs is
 * loop-mounted read-only from the image (the FUSE file: verified blocks),
 * then rootfs.img from it, ext4 read-only without journal replay (noload);
 * the kernel reads the blocks of the few files we open and no others.
 * Needs root, loop, squashfs and ext4 (the preboot loads them).
 */
static int kiwi_rootfs(struct agent *a, struct modtree *t, uint64_t off, uint64_t size, const char *path) {
        _cleanup_(closep) int img = open(a->image, O_RDONLY | O_CLOEXEC);
        _cleanup_(closep) int inner = -1;
        _cleanup_(freep) char *outer_dir = NULL, *inner_dir = NULL;
        char what[300];
        int lfd, r;

        if (img < 0)
                return agent_fail("cannot open %s: %m", a->image);
        if (asprintf(&outer_dir, "%s/kiwi-squashfs", a->work) < 0 || asprintf(&inner_dir, "%s/kiwi-rootfs", a->work) < 0)
                return agent_fail("out of memory");
        lfd = loop_attach(img, off, size, path);
        if (lfd < 0)
                return -1;
        r = mount_loop(lfd, outer_dir, "squashfs", NULL, path);
        close(lfd);     /* the mount holds the device; it clears itself when unmounted */
        if (r < 0)
                return -1;
        t->mnt[0] = outer_dir;
        outer_dir = NULL;
        agent_pathf(what, sizeof(what), "%s:/LiveOS/rootfs.img", path);
        inner = open_in_root(t->mnt[0], "LiveOS/rootfs.img");
        if (inner < 0)
                return agent_fail("%s: no LiveOS/rootfs.img in it (%s)", path, strerror(-inner));
        lfd = loop_attach(inner, 0, 0, what);
        if (lfd < 0)
                return -1;
        r = mount_loop(lfd, inner_dir, "ext4", "noload", what);
        close(lfd);
        if (r < 0)
                return -1;
        t->mnt[1] = inner_dir;
        inner_dir = NULL;
        return 0;
}

/* Unmount what kiwi_rootfs() mounted (the loop devices clear themselves). */
static void modtree_clear(struct modtree *t) {
        for (size_t i = ELEMENTSOF(t->mnt); i-- > 0;)
                if (t->mnt[i]) {
                        if (umount2(t->mnt[i], MNT_DETACH) < 0)
                                agent_say("warning: cannot unmount %s: %m", t->mnt[i]);
                        free(t->mnt[i]);
                }
        free(t->dir);
        free(t->base);
        *t = (struct modtree) {};
}

/* The module tree (…/modules/RELEASE with modules.dep) under @root, one of @layout's; set t->base; true when found. */
static bool find_tree(const struct agent *a, struct modtree *t, const char *root, enum layout layout) {
        for (size_t p = 0; p < 2 && layout_prefixes[layout][p]; p++) {
                char pattern[PATH_MAX];
                glob_t g = {};
                bool found = false;

                agent_pathf(pattern, sizeof(pattern), "%s/%s/%s/modules.dep", root, layout_prefixes[layout][p], a->release);
                if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0) {
                        /* Several (two kernels' store paths of one release): the first by name, said. */
                        const char *pick = g.gl_pathv[0];

                        for (size_t i = 1; i < g.gl_pathc; i++)
                                if (strcmp(g.gl_pathv[i], pick) < 0)
                                        pick = g.gl_pathv[i];
                        if (g.gl_pathc > 1)
                                agent_say("warning: %zu module trees for %s in the image; taking %s", g.gl_pathc, a->release, pick);
                        t->base = ib_strndup(pick, strlen(pick) - strlen("/modules.dep"));
                        found = t->base != NULL;
                }
                globfree(&g);
                if (found)
                        return true;
        }
        return false;
}

/*
 * The target kernel's module tree inside the image's root file system: the
 * squashfs files module_sources() lists, each asked (unsquashfs) for the
 * module lists only, in its layout's places; for kiwi's, rootfs.img inside
 * mounted.  1 found (t set), 0 not found, -1 failed (said).
 */
static int image_tree(struct agent *a, const char *layerfs, struct modtree *t) {
        _cleanup_(closep) int fd = open(a->image, O_RDONLY | O_CLOEXEC);
        struct source src[MAX_SOURCES];
        size_t n = module_sources(a, layerfs, src);
        struct ib_err e = {};

        if (fd < 0)
                return agent_fail("cannot open %s: %m", a->image);
        if (asprintf(&t->dir, "%s/squashfs", a->work) < 0)
                return agent_fail("out of memory");
        for (size_t i = 0; i < n; i++) {
                const enum layout l = src[i].layout;
                char *want[2 * ELEMENTSOF(modfile_names)];
                uint64_t off, size;
                size_t nw = 0;
                int r;

                if (ib_iso9660_locate_fd(fd, src[i].path, &off, &size, &e) < 0)
                        continue;
                for (size_t p = 0; p < 2 && layout_prefixes[l][p]; p++)
                        for (size_t f = 0; f < ELEMENTSOF(modfile_names); f++)
                                if (asprintf(&want[nw++], "%s/%s/%s", layout_prefixes[l][p], a->release, modfile_names[f]) < 0)
                                        return agent_fail("out of memory");
                if (a->verbose)
                        agent_say("looking for the modules of %s in %s at byte %" PRIu64, a->release, src[i].path, off);
                r = unsquash(a->image, off, t->dir, want, nw);
                for (size_t k = 0; k < nw; k++)
                        free(want[k]);
                if (r == 128)
                        agent_say("warning: %s: unsquashfs stopped (a module list larger than %" PRIu64 " bytes?)", src[i].path,
                            MAX_EXTRACTED);
                if (find_tree(a, t, t->dir, l)) {
                        /* Module files from this squashfs, then the layers below it in its stack. */
                        t->offs[t->n_offs++] = off;
                        for (size_t k = i + 1; src[i].stack >= 0 && k < n; k++) {
                                uint64_t lo, ls;

                                if (src[k].stack == src[i].stack && ib_iso9660_locate_fd(fd, src[k].path, &lo, &ls, &e) == 0)
                                        t->offs[t->n_offs++] = lo;
                        }
                        agent_say("kernel modules for %s: from the image's %s", a->release, src[i].path);
                        return 1;
                }
                /* (one rootfs.img mounted at most: the first squashfs that has one) */
                if (src[i].rootfs_img && !t->mnt[0] && kiwi_rootfs(a, t, off, size, src[i].path) == 0 &&
                    find_tree(a, t, t->mnt[1], l)) {
                        free(t->dir);
                        t->dir = strdup(t->mnt[1]);
                        if (!t->dir)
                                return agent_fail("out of memory");
                        agent_say("kernel modules for %s: from the image's %s, its LiveOS/rootfs.img mounted read-only", a->release,
                            src[i].path);
                        return 1;
                }
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
        char *layerfs;                  /* casper: LAYERFS_PATH of conf/conf.d/default-layer.conf, or NULL */
        struct modfiles files;          /* its lists, where it has them */
};

static void initrd_mods_free(struct initrd_mods *im) {
        ib_strv_free(im->have, im->n_have);
        free(im->prefix);
        free(im->layerfs);
        agent_modfiles_clear(&im->files);
}

/* casper's default layer, LAYERFS_PATH=NAME (quoted or not) in the initrd's conf/conf.d/default-layer.conf. */
static int casper_layer(struct initrd_mods *im, const char *data, size_t size) {
        for (const char *p = data, *end = data + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;

                if ((size_t)(le - p) > 13 && strncmp(p, "LAYERFS_PATH=", 13) == 0) {
                        const char *v = p + 13, *ve = le;

                        if (ve > v && (*v == '"' || *v == '\'') && ve[-1] == *v && ve - v >= 2)
                                v++, ve--;
                        free(im->layerfs);
                        im->layerfs = ib_strndup(v, (size_t)(ve - v));
                        if (!im->layerfs)
                                return -ENOMEM;
                }
                p = le + 1;
        }
        return 0;
}

static int initrd_cb(const struct ib_cpio_entry *e, void *ud) {
        struct initrd_mods *im = ud;
        const char *name = e->name, *rest;
        size_t pl;

        while (name[0] == '.' && name[1] == '/')
                name += 2;
        while (*name == '/')
                name++;
        if (strcmp(name, "conf/conf.d/default-layer.conf") == 0 && S_ISREG(e->mode) && e->size < 4096)
                return casper_layer(im, e->data, e->size);
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
                                size_t *n_required, bool *ret_unmatched) {
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
        for (size_t i = 0; i < a->n_modaliases; i++) {
                size_t before = nn;

                if (ib_kmods_match(k, a->modaliases[i], &names, &nn) < 0) {
                        agent_fail("out of memory");
                        goto out;
                }
                /* (a device these lists know no driver for: another tree may, or it is built in) */
                if (nn == before && ret_unmatched)
                        *ret_unmatched = true;
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
 * Carry the module file @src (@path in modules.dep; relative to @root when
 * that is not NULL, the image's tree) as @dst, a plain .ko:
 * the hook loads it with busybox insmod, which reads no zstd, and the
 * target kernel need not decompress modules (CONFIG_MODULE_DECOMPRESS is
 * 5.17 and later, and optional).  Decompressed with the bounds of a module.
 */
static int carry_module(struct ib_cpio *cpio, const char *root, const char *src, const char *path, const char *dst,
                        struct ib_err *e) {
        _cleanup_(freep) char *raw = NULL;
        _cleanup_(freep) uint8_t *ko = NULL;
        size_t raw_len, ko_len;
        int r;

        /* The image's tree: its links resolved inside it (a link to the preboot's /etc/shadow is not a module). */
        r = root ? read_in_root(root, src, MAX_MODULE, &raw, &raw_len) : ib_read_file(src, MAX_MODULE, &raw, &raw_len);
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
        char carried_names[1024] = "";
        char **paths = NULL, **initrd_paths = NULL;
        size_t initrd_n = 0, initrd_required = 0;
        struct ib_err e = {};
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
                bool unmatched = false;

                if (resolve_hook_modules(a, &im.files, true, &paths, &n, &n_required, &unmatched) == 0) {
                        need_tree = false;
                        for (size_t i = 0; i < n; i++)
                                need_tree = need_tree || !initrd_has(&im, paths[i]);
                        /*
                         * The initrd has the hook's modules but no driver for a
                         * network device (Slax's has the ethernet ones, not
                         * virtio_net): the image's tree may have it.  If it has
                         * no tree, the initrd's list stands (a built-in driver).
                         */
                        if (!need_tree && unmatched) {
                                initrd_paths = paths, initrd_n = n, initrd_required = n_required;
                                paths = NULL;
                                n = 0;
                                need_tree = true;
                        }
                }
                if (need_tree) {
                        ib_strv_free(paths, n);
                        paths = NULL;
                        n = 0;
                }
        }
        if (need_tree) {
                r = image_tree(a, im.layerfs, &t);
                if (r < 0)
                        goto out;
                from_image = r > 0;
                r = -1;
                if (!from_image && initrd_paths) {
                        agent_say("no driver in the image's initrd for a network device, and no module tree in the image: "
                                  "the hook takes what the initrd has");
                        paths = initrd_paths, n = initrd_n, n_required = initrd_required;
                        initrd_paths = NULL;
                        initrd_n = 0;
                        need_tree = false;
                } else if (!from_image) {
                        if (!a->modules_from) {
                                agent_fail("the image has no kernel modules for its kernel %s (in its initrd or its root file system "
                                     "images) and no --modules-from tree was given: the hook needs fuse, loop and the NIC driver",
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
                if (need_tree &&
                    ((from_image ? tree_modfiles_read(t.dir, t.base + strlen(t.dir) + 1, &tree) : agent_modfiles_read(t.base, &tree)) < 0 ||
                     resolve_hook_modules(a, &tree, false, &paths, &n, &n_required, NULL) < 0))
                        goto out;
        }
        /* Extracted trees: the modules to carry, from the squashfs that had the lists, then the layers below it. */
        for (size_t l = 0; from_image && l < t.n_offs; l++) {
                char **rel = NULL;
                size_t nr = 0;
                const char *prefix = t.base + strlen(t.dir) + 1;

                for (size_t i = 0; i < n; i++) {
                        char p[PATH_MAX];
                        struct stat st;

                        agent_pathf(p, sizeof(p), "%s/%s", t.base, paths[i]);
                        if (initrd_has(&im, paths[i]) || lstat(p, &st) == 0)
                                continue;
                        agent_pathf(p, sizeof(p), "%s/%s", prefix, paths[i]);
                        if (ib_strv_push(&rel, &nr, p) < 0) {
                                agent_fail("out of memory");
                                goto out;
                        }
                }
                if (nr)
                        unsquash(a->image, t.offs[l], t.dir, rel, nr);
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
                        if (from_image)
                                agent_pathf(src, sizeof(src), "%s/%s", t.base + strlen(t.dir) + 1, paths[i]);
                        else
                                agent_pathf(src, sizeof(src), "%s/%s", t.base, paths[i]);
                        agent_pathf(dst, sizeof(dst), HOOK_ROOT "/modules/%s.ko", name);
                        if (i >= n_required && (from_image ? !in_root(t.dir, src)
                                                          : access(src, R_OK) < 0)) {
                                agent_say("warning: the image has no %s for its kernel; the hook goes without it", paths[i]);
                                missing++;
                                continue;
                        }
                        if (carry_module(cpio, from_image ? t.dir : NULL, src, paths[i], dst, &e) < 0) {
                                agent_fail("module %s: %s", paths[i], e.msg);
                                goto out;
                        }
                        agent_pathf(line, sizeof(line), "/%s\n", dst);
                        carried++;
                        /* Their names, for the console (what a user reads to see why a driver is there). */
                        if (strlen(carried_names) + strlen(name) + 2 < sizeof(carried_names))
                                strcat(strcat(carried_names, carried_names[0] ? " " : ""), name);
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
        if (carried)
                agent_say("carried: %s", carried_names);
        r = 0;
out:
        ib_strv_free(paths, n);
        ib_strv_free(initrd_paths, initrd_n);
        initrd_mods_free(&im);
        agent_modfiles_clear(&tree);
        modtree_clear(&t);
        return r;
}
