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
 *
 * Each step is a file of its own, sharing struct agent (agent.h):
 * manifest.c (2: the manifest, its signature, the mirrors), serve.c (2:
 * inetboot-httpfs serving the image), entry.c (3), load.c (reading the
 * kernel, initrds and hypervisor from the image), modules.c and initrd.c
 * (4: the target initrd), cmdline.c (4: the target command line),
 * measure.c (5), kexec.c (6).  iscript.c runs iscript= before them;
 * listmodules.c is --list-modules, a tool of its own; log.c and util.c
 * serve them all.  main() reads the options and the command line, then
 * calls the steps in that order.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "eventlog.h"
#include "kmod.h"

#include "agent.h"

#ifndef IB_DATA_DIR
#define IB_DATA_DIR "/usr/local/lib/inetboot"
#endif

static const char *prog = "inetboot-agent";

/* @text from column @col (< 26) on, wrapped at 79 columns onto lines that start at column 26. */
static void wrap(FILE *f, const char *text, size_t col) {
        for (size_t pad = 26 - col; *text; pad = 26) {
                size_t cut = strlen(text);

                if (cut > 79 - 26) {
                        for (cut = 79 - 26; cut > 0 && text[cut] != ' '; cut--)
                                ;
                        if (cut == 0)
                                cut = strcspn(text, " ");
                }
                fprintf(f, "%*s%.*s\n", (int)pad, "", (int)cut, text);
                text += cut + strspn(text + cut, " ");
        }
}

/* The words of the command line, from the one table of them (cmdline.c). */
static void usage_words(FILE *f) {
        for (size_t i = 0; i < ib_cmdline_n_words; i++) {
                const struct ib_cmdline_word *w = &ib_cmdline_words[i];
                char head[64];
                int n;

                if (w->carried)
                        continue;
                n = snprintf(head, sizeof(head), "  %s%s%s%s", w->name, w->value ? "=" : "", w->value ? w->value : "",
                             w->readers & IB_WORD_AGENT ? "" : " (preboot)");
                if (n < 0)
                        continue;
                fputs(head, f);
                if ((size_t)n >= 25) {
                        fputc('\n', f);
                        n = 0;
                }
                wrap(f, w->what, (size_t)n);
        }
        fputs("  console=, ip=, earlyprintk=, loglevel=  carried over to the booted kernel\n", f);
}

/*
 * Path options as absolute paths, taken once while the working directory is
 * known: inetboot-httpfs, which the agent starts on them, runs in / once it
 * daemonizes, and mount(8) and kexec(8) get them too.
 */
static char *abs_paths[12];
static size_t n_abs_paths;

static bool make_absolute(const char *what, const char **path) {
        char *p;
        int r;

        if (!*path || (*path)[0] == '/')
                return true;
        r = n_abs_paths < ELEMENTSOF(abs_paths) ? ib_path_absolute(*path, &p) : -E2BIG;
        if (r < 0) {
                fprintf(stderr, "%s: %s %s: cannot make the path absolute: %s\n", prog, what, *path, strerror(-r));
                return false;
        }
        abs_paths[n_abs_paths++] = p;
        *path = p;
        return true;
}

static void free_absolute(void) {
        for (size_t i = 0; i < n_abs_paths; i++)
                free(abs_paths[i]);
        n_abs_paths = 0;
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: %s [OPTIONS]\n"
                "       %s --list-modules --modules-dir DIR [--for-devices [--sysfs DIR]] [--load] [NAME...]\n"
                "\n"
                "Boot the live image named on the kernel command line: fetch and verify its\n"
                "manifest, serve the image with inetboot-httpfs, take the chosen entry's kernel\n"
                "and initrd, append the inetboot hook, measure them into the TPM, and kexec.\n"
                "\n"
                "Kernel command line (or --cmdline; docs/cmdline.md):\n",
                prog, prog);
        usage_words(f);
        fprintf(f,
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
                "      --manifest FILE     a local manifest (its signature FILE.sig) instead of\n"
                "                          inetboot.url= (with --dry-run: a publisher's prediction)\n"
                "      --image FILE        with --dry-run and --manifest: read this local copy of\n"
                "                          the image (checked whole against the manifest first)\n"
                "                          instead of serving it over HTTP\n"
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
                IB_KEYS_DIR, IB_DATA_DIR);
}

int main(int argc, char **argv) {
        enum { O_CMDLINE = 256, O_DRY, O_OUT, O_WORK, O_HOOK, O_HTTPFS, O_CACHE, O_CA, O_INSECURE, O_MODALIAS,
               O_MODFROM, O_LISTMOD, O_MODDIR, O_KEXEC_LOAD, O_TPM, O_BANK, O_TIMESTAMPS, O_FORDEV, O_SYSFS, O_LOAD,
               O_MANIFEST, O_IMAGE };
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
                { "manifest", required_argument, NULL, O_MANIFEST },
                { "image", required_argument, NULL, O_IMAGE },
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
                case O_MANIFEST: a.manifest_file = optarg; break;
                case O_IMAGE: a.image_file = optarg; break;
                case 'v': a.verbose = true; break;
                case 'h': usage(stdout); return 0;
                default: fprintf(stderr, "Try '%s --help'.\n", prog); return 2;
                }
        atexit(free_absolute);
        if (!make_absolute("--keys", &a.keys) || !make_absolute("--out", &a.out) || !make_absolute("--work", &a.work) ||
            !make_absolute("--hook", &a.hook_path) || !make_absolute("--httpfs", &a.httpfs) ||
            !make_absolute("--cache", &a.cache_dir) || !make_absolute("--ca-file", &a.ca_file) ||
            !make_absolute("--modules-from", &a.modules_from) || !make_absolute("--modules-dir", &moddir) ||
            !make_absolute("--sysfs", &sysfs) || !make_absolute("--manifest", &a.manifest_file) ||
            !make_absolute("--image", &a.image_file))
                return 1;
        if (list_mod) {
                if (!moddir || (optind >= argc && !for_devices)) {
                        fprintf(stderr, "%s: --list-modules needs --modules-dir DIR and module names or --for-devices\n",
                                prog);
                        return 2;
                }
                return agent_list_modules(moddir, for_devices ? sysfs : NULL, load, argv + optind, argc - optind);
        }
        if (for_devices || load) {
                fprintf(stderr, "%s: --for-devices and --load go with --list-modules\n", prog);
                return 2;
        }
        if (optind != argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", prog, argv[optind], prog);
                return 2;
        }
        if ((a.image_file && (!a.dry_run || !a.manifest_file)) || (a.manifest_file && !a.dry_run)) {
                fprintf(stderr, "%s: --manifest and --image are for --dry-run (--image needs --manifest)\n", prog);
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
        for (size_t i = 0; i < a.req.n_notes; i++)
                agent_say("warning: %s", a.req.notes[i]);
        if (!a.cache_dir && a.req.cache) {
                if (a.req.cache[0] != '/') {
                        agent_fail("inetboot.cache=%s: the preboot resolves devices to a directory; the agent needs --cache DIR",
                             a.req.cache);
                        goto out;
                }
                a.cache_dir = a.req.cache;
        }
        if (a.req.n_urls == 0 && !a.req.iscript && !a.manifest_file) {
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
        if (a.req.iscript && agent_run_iscript(&a) < 0)
                goto out;
        if (a.req.n_urls == 0 && !a.manifest_file) {
                ret = 0;
                goto out;
        }

        /* 1-2: manifest, signature, mirrors, the image served */
        if ((a.manifest_file ? agent_read_manifest(&a) : agent_fetch_manifest(&a)) < 0 || agent_parse_manifest(&a) < 0 ||
            (a.image_file ? agent_local_image(&a) : agent_start_httpfs(&a)) < 0)
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
        free(a.manifest_url);
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
