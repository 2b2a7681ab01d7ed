/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inetboot-agent: the preboot's boot loader.  Like u-root's pkg/boot it
 * goes parse -> select -> load -> exec:
 *
 *   1. read the kernel command line (inetboot.url=, the seeds' netdir=, ...);
 *   2. fetch the manifest and its signature, verify them, start
 *      inetboot-httpfs on the image;
 *   3. choose the boot entry (the manifest's, or the image's own configs);
 *   4. build the target initrd: the image's initrd bytes unchanged, then a
 *      reproducible cpio with the hook, inetboot-httpfs, the manifest, the
 *      keys and the kernel modules the hook needs, from the target kernel's
 *      own module tree;
 *   5. measure the manifest, the kernel, that initrd and the command line
 *      into the TPM (PCRs 9 and 8, docs/measurements.md) and append the
 *      event log to the initrd;
 *   6. kexec the image's kernel (kexec_file_load, else kexec-tools); an
 *      entry with a hypervisor (Xen) kexecs the hypervisor as a Multiboot2
 *      image with kexec-tools, the kernel and the initrd as its modules.
 *
 * --dry-run stops before 6 and writes kernel, initrd, cmdline and eventlog
 * (and hypervisor, hypervisor-cmdline) into --out; it extends a TPM only
 * when --tpm names one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/reboot.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "bootcfg.h"
#include "cmdline.h"
#include "cpio.h"
#include "eventlog.h"
#include "fetch.h"
#include "iso9660.h"
#include "kmod.h"
#include "manifest.h"
#include "measure.h"
#include "multiboot.h"
#include "progress.h"
#include "sig.h"
#include "tpm.h"

#include "agent.h"

#ifndef IB_DATA_DIR
#define IB_DATA_DIR "/usr/local/lib/inetboot"
#endif

static const char *prog = "inetboot-agent";

static void usage(FILE *f) {
        fprintf(f,
                "Usage: %s [OPTIONS]\n"
                "       %s --list-modules --modules-dir DIR [--for-devices [--sysfs DIR]] [--load] [NAME...]\n"
                "\n"
                "Boot the live image named on the kernel command line: fetch and verify its\n"
                "manifest, serve the image with inetboot-httpfs, take the chosen entry's kernel\n"
                "and initrd, append the inetboot hook, measure them into the TPM, and kexec.\n"
                "\n"
                "Kernel command line (or --cmdline):\n"
                "  inetboot.url=URL        manifest or image URL; repeat it for mirrors\n"
                "  inetboot.entry=LABEL    boot entry by label or 1-based number (default: first)\n"
                "  inetboot.cache=DIR      persistent block cache (the preboot mounts devices)\n"
                "  inetboot.profile=MODE   the booted system's boot profile: prefetch (default),\n"
                "                          off, record (to /dev/.inetboot/profile)\n"
                "  inetboot.cachefill=S    the booted system fetches the rest of the image into\n"
                "                          the cache after S s without a read (default 30); off\n"
                "  inetboot.insecure       boot an unsigned image (only with --allow-insecure)\n"
                "  inetboot.tpm=POLICY     auto (measure if there is a TPM), required, off\n"
                "  netdir=URL, httpfuse=URL  the seeds' forms of inetboot.url=URL\n"
                "  iscript=URL             run a preboot script first, only if signed\n"
                "  bootxen=1               the seeds' form: the first entry with a hypervisor\n"
                "\n"
                "Options:\n"
                "  -K, --keys DIR          trusted publisher keys (default %s)\n"
                "      --cmdline ARGS      read ARGS instead of /proc/cmdline\n"
                "      --dry-run           do everything but kexec; write kernel, initrd, cmdline\n"
                "                          and eventlog (and hypervisor, hypervisor-cmdline) into\n"
                "                          --out DIR\n"
                "      --out DIR           where --dry-run writes (created)\n"
                "      --work DIR          mount point and scratch space (default /run/inetboot)\n"
                "      --hook FILE         the hook payload archive (default %s/hook.cpio.zst)\n"
                "      --httpfs PATH       the inetboot-httpfs program (default: beside this one)\n"
                "      --cache DIR         block cache directory (overrides inetboot.cache=)\n"
                "      --ca-file FILE      extra CA certificates for HTTPS\n"
                "      --allow-insecure    the media's policy lets inetboot.insecure boot unsigned images\n"
                "      --modalias STR      carry the driver for this device (repeatable; default:\n"
                "                          the network devices in /sys/class/net)\n"
                "      --kexec-load        load with kexec-tools (kexec_load), not kexec_file_load\n"
                "      --tpm SPEC          the TPM to measure into: auto (default), tpm2[:TCTI],\n"
                "                          tpm12[:PORT]; a dry run measures only with --tpm\n"
                "      --bank sha256|sha1  the event log's bank when no TPM is used (a dry run\n"
                "                          predicting a TPM 1.2 boot: sha1)\n"
                "      --modules-from DIR  a module tree (/lib/modules/RELEASE) to take modules from\n"
                "                          when the image has none for its kernel\n"
                "      --list-modules      print the load order of the NAMEd modules of --modules-dir\n"
                "                          DIR (dependencies first) and exit; with --for-devices\n"
                "                          also those for the devices the machine has (their\n"
                "                          modaliases under --sysfs DIR, default /sys), less what\n"
                "                          is loaded or not in DIR; with --load, loads them instead\n"
                "                          (finit_module) and prints those that loaded, scanning\n"
                "                          the devices again while drivers show new ones (the\n"
                "                          preboot's coldplug)\n"
                "      --timestamps        start each message with the seconds since boot, as\n"
                "                          the kernel's console lines (where a boot's time goes)\n"
                "  -v, --verbose           say more\n"
                "  -h, --help              this text\n",
                prog, prog, IB_KEYS_DIR, IB_DATA_DIR);
}

/* ---- iscript= ------------------------------------------------------------------------- */

static int run_iscript(struct agent *a) {
        _cleanup_(freep) char *text = NULL, *sig = NULL, *surl = NULL, *path = NULL;
        size_t len, sl;
        struct ib_err e = {};
        int r;

        if (asprintf(&surl, "%s.sig", a->req.iscript) < 0 || asprintf(&path, "%s/iscript", a->work) < 0)
                return agent_fail("out of memory");
        agent_say("fetching the preboot script %s", a->req.iscript);
        if (ib_fetch(a->req.iscript, a->ca_file, 1u << 20, &text, &len, &e) < 0 ||
            ib_fetch(surl, a->ca_file, IB_SIG_MAX_BYTES, &sig, &sl, &e) < 0)
                return agent_fail("iscript: %s", e.msg);
        if (ib_verify(a->keys, text, len, sig, sl, NULL, &e) < 0)
                return agent_fail("iscript %s is not run: %s", a->req.iscript, e.msg);
        if (ib_write_file_atomic(path, text, len, 0700) < 0)
                return agent_fail("cannot write %s: %m", path);
        r = agent_run((char *[]) { "/bin/sh", path, NULL }, false);
        if (r != 0)
                return agent_fail("the preboot script %s failed (exit %d)", a->req.iscript, r);
        return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

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

static int list_modules(const char *dir, const char *sysfs, bool load, char **names, int n) {
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

int main(int argc, char **argv) {
        enum { O_CMDLINE = 256, O_DRY, O_OUT, O_WORK, O_HOOK, O_HTTPFS, O_CACHE, O_CA, O_INSECURE, O_MODALIAS,
               O_MODFROM, O_LISTMOD, O_MODDIR, O_KEXEC_LOAD, O_TPM, O_BANK, O_TIMESTAMPS, O_FORDEV, O_SYSFS, O_LOAD };
        static const struct option opts[] = {
                { "keys", required_argument, NULL, 'K' },
                { "cmdline", required_argument, NULL, O_CMDLINE },
                { "dry-run", no_argument, NULL, O_DRY },
                { "out", required_argument, NULL, O_OUT },
                { "work", required_argument, NULL, O_WORK },
                { "hook", required_argument, NULL, O_HOOK },
                { "httpfs", required_argument, NULL, O_HTTPFS },
                { "cache", required_argument, NULL, O_CACHE },
                { "ca-file", required_argument, NULL, O_CA },
                { "allow-insecure", no_argument, NULL, O_INSECURE },
                { "modalias", required_argument, NULL, O_MODALIAS },
                { "modules-from", required_argument, NULL, O_MODFROM },
                { "list-modules", no_argument, NULL, O_LISTMOD },
                { "modules-dir", required_argument, NULL, O_MODDIR },
                { "kexec-load", no_argument, NULL, O_KEXEC_LOAD },
                { "tpm", required_argument, NULL, O_TPM },
                { "bank", required_argument, NULL, O_BANK },
                { "timestamps", no_argument, NULL, O_TIMESTAMPS },
                { "for-devices", no_argument, NULL, O_FORDEV },
                { "sysfs", required_argument, NULL, O_SYSFS },
                { "load", no_argument, NULL, O_LOAD },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct agent a = { .keys = IB_KEYS_DIR, .work = "/run/inetboot", .hook_path = IB_DATA_DIR "/hook.cpio.zst",
                           .bank = IB_ALG_SHA256 };
        _cleanup_(freep) char *proc_cmdline = NULL, *httpfs_default = NULL;
        const char *moddir = NULL, *sysfs = "/sys";
        bool list_mod = false, for_devices = false, load = false;
        _cleanup_(closep) int fd = -1;
        struct ib_err e = {};
        int c, ret = 1;

        while ((c = getopt_long(argc, argv, "K:vh", opts, NULL)) != -1)
                switch (c) {
                case 'K': a.keys = optarg; break;
                case O_CMDLINE: a.cmdline_arg = optarg; break;
                case O_DRY: a.dry_run = true; break;
                case O_OUT: a.out = optarg; break;
                case O_WORK: a.work = optarg; break;
                case O_HOOK: a.hook_path = optarg; break;
                case O_HTTPFS: a.httpfs = optarg; break;
                case O_CACHE: a.cache_dir = optarg; break;
                case O_CA: a.ca_file = optarg; break;
                case O_INSECURE: a.allow_insecure = true; break;
                case O_MODALIAS:
                        if (a.n_modaliases >= MAX_MODALIAS) {
                                fprintf(stderr, "%s: too many --modalias options\n", prog);
                                return 2;
                        }
                        a.modaliases[a.n_modaliases++] = strdup(optarg);
                        break;
                case O_MODFROM: a.modules_from = optarg; break;
                case O_LISTMOD: list_mod = true; break;
                case O_MODDIR: moddir = optarg; break;
                case O_KEXEC_LOAD: a.kexec_load = true; break;
                case O_TPM: a.tpm_spec = optarg; break;
                case O_BANK:
                        if (strcmp(optarg, "sha256") != 0 && strcmp(optarg, "sha1") != 0) {
                                fprintf(stderr, "%s: --bank takes sha256 (TPM 2.0) or sha1 (TPM 1.2)\n", prog);
                                return 2;
                        }
                        a.bank = optarg[3] == '2' ? IB_ALG_SHA256 : IB_ALG_SHA1;
                        break;
                case O_TIMESTAMPS: agent_timestamps = true; break;
                case O_FORDEV: for_devices = true; break;
                case O_SYSFS: sysfs = optarg; break;
                case O_LOAD: load = true; break;
                case 'v': a.verbose = true; break;
                case 'h': usage(stdout); return 0;
                default: fprintf(stderr, "Try '%s --help'.\n", prog); return 2;
                }
        if (list_mod) {
                if (!moddir || (optind >= argc && !for_devices)) {
                        fprintf(stderr, "%s: --list-modules needs --modules-dir DIR and module names or --for-devices\n",
                                prog);
                        return 2;
                }
                return list_modules(moddir, for_devices ? sysfs : NULL, load, argv + optind, argc - optind);
        }
        if (for_devices || load) {
                fprintf(stderr, "%s: --for-devices and --load go with --list-modules\n", prog);
                return 2;
        }
        if (optind != argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", prog, argv[optind], prog);
                return 2;
        }
        if (a.dry_run != !!a.out) {
                fprintf(stderr, "%s: --dry-run and --out DIR go together\nTry '%s --help'.\n", prog, prog);
                return 2;
        }
        if (!a.httpfs && !(a.httpfs = httpfs_default = ib_sibling_program("inetboot-httpfs", "/usr/bin/inetboot-httpfs"))) {
                fprintf(stderr, "%s: out of memory\n", prog);
                return 1;
        }
        if (!a.cmdline_arg) {
                size_t len;

                if (ib_read_file("/proc/cmdline", IB_CMDLINE_MAX, &proc_cmdline, &len) < 0) {
                        fprintf(stderr, "%s: cannot read /proc/cmdline: %m\n", prog);
                        return 1;
                }
                a.cmdline_arg = proc_cmdline;
        }
        if (ib_bootreq_parse(a.cmdline_arg, &a.req, &e) < 0) {
                agent_fail("the kernel command line: %s", e.msg);
                return 2;
        }
        if (!a.cache_dir && a.req.cache) {
                if (a.req.cache[0] != '/') {
                        agent_fail("inetboot.cache=%s: the preboot resolves devices to a directory; the agent needs --cache DIR",
                             a.req.cache);
                        goto out;
                }
                a.cache_dir = a.req.cache;
        }
        if (a.req.n_urls == 0 && !a.req.iscript) {
                agent_fail("nothing to boot: no inetboot.url= (or netdir=, httpfuse=) on the kernel command line");
                ret = 3;
                goto out;
        }
        if (mkdir(a.work, 0755) < 0 && errno != EEXIST) {
                agent_fail("cannot create %s: %m", a.work);
                goto out;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                agent_fail("cannot initialise libcurl");
                goto out;
        }
        if (a.req.iscript && run_iscript(&a) < 0)
                goto out;
        if (a.req.n_urls == 0) {
                ret = 0;
                goto out;
        }

        /* 1-2: manifest, signature, mirrors, the image served */
        if (agent_fetch_manifest(&a) < 0 || agent_parse_manifest(&a) < 0 || agent_start_httpfs(&a) < 0)
                goto out;
        if (!a.dry_run)
                agent_mount_iso(&a);
        fd = open(a.image, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                agent_fail("cannot open %s: %m", a.image);
                goto out;
        }
        /* 3: the entry, its kernel */
        if (agent_choose_entry(&a, fd) < 0 ||
            agent_read_image_file(&a, fd, a.c.kernel, a.c.kernel_ref, MAX_KERNEL, &a.kernel, &a.kernel_len) < 0 ||
            (a.c.hypervisor && agent_read_hypervisor(&a, fd) < 0))
                goto out;
        if (ib_kernel_release(a.kernel, a.kernel_len, a.release, sizeof(a.release), &e) < 0) {
                agent_fail("%s: %s", a.c.kernel, e.msg);
                goto out;
        }
        agent_say("kernel %s: Linux %s, %zu bytes", a.c.kernel, a.release, a.kernel_len);
        /* 4: initrd, command line; 5: measure */
        if (agent_build_initrd(&a, fd) < 0 || agent_build_cmdline(&a) < 0)
                goto out;
        agent_say("command line: %s", a.cmdline);
        if (a.dry_run) {
                if (agent_measure(&a) < 0)
                        goto out;
                if (agent_write_out(&a, a.out) < 0)
                        goto out;
                agent_say("dry run: kernel, initrd and cmdline%s written to %s",
                    a.c.hypervisor ? ", hypervisor and hypervisor-cmdline" : "", a.out);
                ret = 0;
                goto out;
        }
        if (agent_measure(&a) < 0)
                goto out;
        /* 6 */
        close(fd);
        fd = -1;
        agent_kexec(&a);
out:
        if (fd >= 0)
                close(fd);
        fd = -1;
        agent_stop_httpfs(&a);
        ib_bootreq_clear(&a.req);
        ib_manifest_free(a.m);
        ib_strv_free(a.mirrors, a.n_mirrors);
        ib_bootcfg_entries_free(a.scanned, a.n_scanned);
        for (size_t i = 0; i < a.n_modaliases; i++)
                free(a.modaliases[i]);
        free(a.manifest);
        free(a.sig);
        free(a.mnt);
        free(a.image);
        free(a.kernel);
        free(a.hyp);
        free(a.hyp_image);
        free(a.initrd);
        free(a.cmdline);
        free(a.eventlog);
        return ret;
}
