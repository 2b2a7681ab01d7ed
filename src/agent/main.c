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

/* ---- step 5: measure ----------------------------------------------------------------- */

/* "/live/initrd.img + inetboot": what the initrd event's data says it is. */
static char *initrd_desc(const struct agent *a) {
        char *d = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&d, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < a->c.n_initrds; i++)
                fprintf(f, "%s%s", i ? " " : "", a->c.initrds[i]);
        fputs(" + inetboot", f);
        if (fclose(f) != 0) {
                free(d);
                return NULL;
        }
        return d;
}

/*
 * site.conf: the mirrors and the cache, "KEY VALUE" lines the hook reads as
 * data (never sources).  Not measured, by design: blocks are verified
 * against the manifest wherever they come from, and a publisher's predicted
 * PCRs must not depend on the mirror a machine used or the disk it caches on.
 */
static int site_conf(const struct agent *a, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        fputs("IB_MIRRORS", f);
        for (size_t i = 0; i < a->n_mirrors; i++)
                fprintf(f, " %s", a->mirrors[i]);
        fprintf(f, "\nIB_CACHE %s\n", a->req.cache ? a->req.cache : "");
        fprintf(f, "IB_CACHEFILL %s\n", a->req.cache_fill ? a->req.cache_fill : "");
        fprintf(f, "IB_PROFILE %s\n", a->req.profile == IB_PROFILE_RECORD ? "record" : a->req.profile == IB_PROFILE_OFF ? "off" : "prefetch");
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/*
 * Open the TPM the policy asks for.  Returns 1 with *ret set, 0 when the
 * boot goes on unmeasured (said why), -1 when it must stop.
 */
static int open_tpm(struct agent *a, struct ib_tpm **ret) {
        struct ib_err e = {};
        int r;

        *ret = NULL;
        if (a->req.tpm == IB_TPM_OFF) {
                agent_say("measured boot: off (inetboot.tpm=off); this boot is not measured");
                return 0;
        }
        if (a->dry_run && !a->tpm_spec)
                return 0;       /* a dry run computes the log; --tpm makes it extend too */
        r = ib_tpm_open(a->tpm_spec, ret, &e);
        if (r >= 0)
                return 1;
        if (a->req.tpm == IB_TPM_REQUIRED)
                return agent_fail("measured boot is required (inetboot.tpm=required) but %s", e.msg);
        agent_say("warning: this boot is NOT measured: %s (inetboot.tpm=required forbids that)", e.msg);
        return 0;
}

static int measure(struct agent *a) {
        _cleanup_(ib_tpm_closep) struct ib_tpm *tpm = NULL;
        _cleanup_(freep) char *desc = initrd_desc(a), *site = NULL;
        struct ib_eventlog log = {};
        struct ib_measure_input in = {
                .image_name = a->m->name, .manifest = a->manifest, .manifest_len = a->manifest_len,
                .kernel_path = a->c.kernel, .kernel = a->kernel, .kernel_len = a->kernel_len,
                .initrd_desc = desc, .initrd = a->initrd, .initrd_len = a->initrd_len, .cmdline = a->cmdline,
                .hypervisor_path = a->c.hypervisor, .hypervisor = a->hyp, .hypervisor_len = a->hyp_len,
                .hypervisor_cmdline = a->c.hypervisor_args,
        };
        uint8_t start[IB_EVENTLOG_NUM_PCRS][32] = {};
        uint16_t alg = a->bank;
        struct ib_cpio *cpio = NULL;
        struct ib_err e = {};
        void *arch = NULL;
        size_t arch_len = 0, site_len = 0, n = 0;
        int have, r = -1;

        if (!desc)
                return agent_fail("out of memory");
        have = open_tpm(a, &tpm);
        if (have < 0)
                return -1;
        if (tpm) {
                alg = ib_measure_alg(ib_tpm_family(tpm));
                if (ib_tpm_pcr_read(tpm, IB_PCR_STRINGS, start[IB_PCR_STRINGS]) < 0 ||
                    ib_tpm_pcr_read(tpm, IB_PCR_FILES, start[IB_PCR_FILES]) < 0) {
                        agent_fail("cannot read PCRs %u and %u: %s", IB_PCR_STRINGS, IB_PCR_FILES, ib_tpm_error(tpm));
                        goto out;
                }
        }
        if (ib_measure_events(alg, &in, start, &log) < 0) {
                agent_fail("out of memory");
                goto out;
        }
        for (size_t i = 0; tpm && i < log.n; i++) {
                if (log.ev[i].type == IB_EV_NO_ACTION)
                        continue;
                if (ib_tpm_extend(tpm, log.ev[i].pcr, log.ev[i].digest) < 0) {
                        /* PCRs half extended cannot be attested; with policy auto the boot goes on, and says so. */
                        if (a->req.tpm == IB_TPM_REQUIRED) {
                                agent_fail("cannot extend PCR %u: %s", log.ev[i].pcr, ib_tpm_error(tpm));
                                goto out;
                        }
                        agent_say("warning: cannot extend PCR %u: %s; this boot will not attest", log.ev[i].pcr,
                            ib_tpm_error(tpm));
                        break;
                }
                n++;
        }
        if (tpm)
                agent_say("measured boot: %zu events into PCRs %u and %u of the TPM %s (%s bank): the manifest, the kernel, "
                    "the initrd, the command line%s", n, IB_PCR_FILES, IB_PCR_STRINGS,
                    ib_tpm_family(tpm) == IB_TPM_20 ? "2.0" : "1.2", ib_alg_name(alg),
                    a->c.hypervisor ? ", the hypervisor and its command line" : "");
        else if (a->dry_run)
                agent_say("dry run: the event log of this boot (%s bank) is in %s/eventlog", ib_alg_name(alg), a->out);
        /* After what was measured, in an archive of its own: the log (the hook puts it in /dev/.inetboot) and site.conf. */
        if (ib_eventlog_serialize(&log, &a->eventlog, &a->eventlog_len) < 0 || site_conf(a, &site, &site_len) < 0 ||
            ib_cpio_new(&cpio) < 0) {
                agent_fail("out of memory");
                goto out;
        }
        if (ib_cpio_add_file(cpio, HOOK_ROOT "/eventlog", 0644, a->eventlog, a->eventlog_len, &e) < 0 ||
            ib_cpio_add_file(cpio, HOOK_ROOT "/etc/site.conf", 0644, site, site_len, &e) < 0 ||
            ib_cpio_finish(cpio, &arch, &arch_len, &e) < 0) {
                agent_fail("%s", e.msg);
                goto out;
        }
        r = agent_initrd_append(a, arch, arch_len);
out:
        free(arch);
        ib_cpio_free(cpio);
        ib_eventlog_clear(&log);
        return r;
}

/* ---- step 6: kexec ------------------------------------------------------------------- */

static int write_out(struct agent *a, const char *dir) {
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return agent_fail("cannot create %s: %m", dir);
        if (agent_write_text(dir, "kernel", a->kernel, a->kernel_len) < 0 || agent_write_text(dir, "initrd", a->initrd, a->initrd_len) < 0 ||
            agent_write_text(dir, "cmdline", a->cmdline, strlen(a->cmdline)) < 0 ||
            (a->eventlog && agent_write_text(dir, "eventlog", a->eventlog, a->eventlog_len) < 0))
                return -1;
        if (a->c.hypervisor &&
            (agent_write_text(dir, "hypervisor", a->hyp, a->hyp_len) < 0 ||
             agent_write_text(dir, "hypervisor-cmdline", a->c.hypervisor_args, strlen(a->c.hypervisor_args)) < 0))
                return -1;
        return 0;
}

/*
 * A hypervisor entry: kexec-tools loads the hypervisor as a Multiboot2
 * image (kexec_load: kexec_file_load knows no multiboot) with the kernel
 * and its command line as the first module and the initrd as the second,
 * as GRUB's multiboot2/module2 lines do.  Its multiboot 1 loader is not
 * used: it puts the boot information at physical address 0, over the BIOS
 * data area, and Xen then finds no low memory for its trampoline.
 */
static int kexec_multiboot(struct agent *a, const char *kpath, const char *ipath) {
        _cleanup_(freep) char *hpath = NULL, *harg = NULL, *karg = NULL, *iarg = NULL;
        int r, probe, probe_errno;

        if (asprintf(&hpath, "%s/hypervisor.loaded", a->work) < 0 ||
            asprintf(&harg, "--command-line=%s", a->c.hypervisor_args) < 0 ||
            asprintf(&karg, "--module=%s %s", kpath, a->cmdline) < 0 || asprintf(&iarg, "--module=%s", ipath) < 0)
                return agent_fail("out of memory");
        if (ib_write_file_atomic(hpath, a->hyp_image, a->hyp_image_len, 0644) < 0)
                return agent_fail("cannot write %s: %m", hpath);
        agent_say("loading %s with kexec-tools (kexec_load, Multiboot2): %s and %s as its modules", a->c.hypervisor,
            a->c.kernel, a->c.n_initrds ? "the initrd" : "inetboot's initrd");
        r = agent_run((char *[]) { "kexec", "-c", "-l", "--type=multiboot2-x86", hpath, harg, karg, iarg, NULL }, false);
        if (r == 0)
                return 0;
        /* Why?  Unloading (no segments) is refused under lockdown before anything else, and is harmless here. */
        probe = (int)syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL);
        probe_errno = errno;
        if (probe < 0 && probe_errno == EPERM)
                return agent_fail("the running kernel refuses kexec_load (%s): kernel lockdown (Secure Boot) forbids it, and a "
                            "hypervisor loads only with kexec_load (kexec_file_load has no multiboot); boot the preboot "
                            "with Secure Boot off to boot this entry", strerror(probe_errno));
        return agent_fail("cannot load the hypervisor %s: kexec-tools exit %d", a->c.hypervisor, r);
}

static int do_kexec(struct agent *a) {
        _cleanup_(freep) char *kpath = NULL, *ipath = NULL, *iarg = NULL, *carg = NULL;
        _cleanup_(closep) int kfd = -1, ifd = -1;
        int r, file_errno;

        if (write_out(a, a->work) < 0)
                return -1;
        /*
         * Staged: what is loaded is read from there, so the copies in memory
         * and inetboot-httpfs (its RAM cache; it writes its disk cache out as
         * it goes) go before the kernel makes its own copies.  In 384 MiB the
         * kernel OOM-killed us, then inetboot-httpfs, in kexec_file_load.
         */
        free(a->initrd);
        free(a->kernel);
        a->initrd = NULL;
        a->kernel = NULL;
        agent_stop_httpfs(a);
        if (asprintf(&kpath, "%s/kernel", a->work) < 0 || asprintf(&ipath, "%s/initrd", a->work) < 0 ||
            asprintf(&iarg, "--initrd=%s", ipath) < 0 || asprintf(&carg, "--command-line=%s", a->cmdline) < 0)
                return agent_fail("out of memory");
        kfd = open(kpath, O_RDONLY | O_CLOEXEC);
        ifd = open(ipath, O_RDONLY | O_CLOEXEC);
        if (kfd < 0 || ifd < 0)
                return agent_fail("cannot open the staged kernel and initrd: %m");
        if (a->c.hypervisor) {
                if (kexec_multiboot(a, kpath, ipath) < 0)
                        return -1;
                r = 0;
                file_errno = 0;
        } else if (a->kexec_load) {
                r = -1;
                file_errno = ENOSYS;
        } else {
                agent_say("loading %s with kexec_file_load", a->c.kernel);
                r = (int)syscall(SYS_kexec_file_load, kfd, ifd, strlen(a->cmdline) + 1, a->cmdline, 0UL);
                file_errno = errno;
        }
        if (r < 0) {
                char *argv[] = { "kexec", "-c", "-l", kpath, iarg, carg, NULL };

                if (a->kexec_load)
                        agent_say("loading %s with kexec-tools (kexec_load), as asked", a->c.kernel);
                else
                        agent_say("kexec_file_load refused (%s); trying kexec-tools (kexec_load)", strerror(file_errno));
                r = agent_run(argv, false);
                if (r != 0) {
                        if (file_errno == EPERM || file_errno == EKEYREJECTED)
                                return agent_fail("the running kernel refuses kexec (%s): kernel lockdown (Secure Boot) forbids "
                                            "loading this kernel; boot the preboot with Secure Boot off, or an image whose "
                                            "kernel is signed for this machine", strerror(file_errno));
                        return agent_fail("cannot load the kernel: kexec_file_load: %s; kexec-tools exit %d", strerror(file_errno), r);
                }
        }
        sync();
        agent_say("starting %s", a->c.label);
        fflush(NULL);
        reboot(LINUX_REBOOT_CMD_KEXEC);
        return agent_fail("kexec failed: %m");
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
                if (measure(&a) < 0)
                        goto out;
                if (write_out(&a, a.out) < 0)
                        goto out;
                agent_say("dry run: kernel, initrd and cmdline%s written to %s",
                    a.c.hypervisor ? ", hypervisor and hypervisor-cmdline" : "", a.out);
                ret = 0;
                goto out;
        }
        if (measure(&a) < 0)
                goto out;
        /* 6 */
        close(fd);
        fd = -1;
        do_kexec(&a);
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
