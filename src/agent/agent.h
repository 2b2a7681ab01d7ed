/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * agent.h: what the files of inetboot-agent share: the state of one boot
 * (struct agent) and each step's entry points.  Internal to src/agent/.
 * main.c runs the steps in order (see its header comment).
 */
#ifndef INETBOOT_AGENT_H
#define INETBOOT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bootcfg.h"
#include "cmdline.h"
#include "manifest.h"
#include "util.h"

struct ib_cpio;
struct ib_kmods;

#define MAX_KERNEL   (256u << 20)
#define MAX_INITRD   (1024u << 20)
#define MAX_MODULE   (64u << 20)
#define MAX_HYPERVISOR (64u << 20)
#define MAX_MODALIAS 64u

/* Where the hook finds things in the target's initramfs (docs in initramfs/README.md). */
#define HOOK_ROOT "inetboot"

/* A kernel's module lists (modules.c's modfile_names); text NULL where a file is absent. */
#define AGENT_N_MODFILES 3
struct modfiles {
        char *text[AGENT_N_MODFILES];
        size_t len[AGENT_N_MODFILES];
};

struct choice {
        const char *label, *family, *cmdline, *kernel;
        const char *const *initrds;
        size_t n_initrds;
        const struct ib_file_ref *kernel_ref, *initrd_refs;     /* NULL when from the image's configs */
        const char *hypervisor;                                 /* NULL: none */
        const char *hypervisor_args;                            /* "" when none */
        const struct ib_file_ref *hypervisor_ref;               /* NULL when from the image's configs */
};

struct agent {
        /* options */
        const char *keys, *out, *work, *hook_path, *httpfs, *ca_file, *cmdline_arg, *cache_dir, *modules_from;
        const char *manifest_file;      /* --manifest: a local manifest (and FILE.sig) instead of inetboot.url= */
        const char *image_file;         /* --image: a dry run reads this local copy, checked whole, instead of a mount */
        const char *tpm_spec;           /* --tpm; NULL: the machine's (none in a dry run) */
        uint16_t bank;                  /* --bank: the log's bank when no TPM is used */
        bool dry_run, allow_insecure, verbose, kexec_load;
        char *modaliases[MAX_MODALIAS];
        size_t n_modaliases;

        struct ib_bootreq req;
        char *manifest, *sig;           /* texts as fetched */
        size_t manifest_len, sig_len;
        bool verified;
        uint8_t key_id[32];             /* of the key that verified it */
        struct ib_keyring *kr;          /* the verified keyring, if the keys have roots and one was published */
        char *keyring, *keyring_sig;    /* its texts as fetched */
        size_t keyring_len, keyring_sig_len;
        bool certified;                 /* key_id is the keyring's, not the keys folder's */
        char *manifest_url;             /* where it came from; NULL: the cache's copy */
        struct ib_manifest *m;
        char **mirrors;                 /* image URLs for inetboot-httpfs -m */
        size_t n_mirrors;

        pid_t httpfs_pid;
        char *mnt, *image;              /* mount point, image path under it */
        char *iso_mnt;                  /* the image loop-mounted read-only, for the preboot's shell */

        struct ib_bootcfg_entry *scanned;
        size_t n_scanned;
        struct choice c;
        const char *initrd_paths[IB_MANIFEST_MAX_INITRDS];      /* c.initrds of a manifest entry */
        char *kernel;                   /* the kernel image */
        size_t kernel_len;
        char *hyp;                      /* the hypervisor file, as in the image (measured) */
        size_t hyp_len;
        void *hyp_image;                /* ... as kexec-tools loads it (decompressed) */
        size_t hyp_image_len;
        char release[65];
        char *initrd;                   /* the target initrd being built */
        size_t initrd_len, hook_len;
        char *cmdline;
        uint8_t *eventlog;              /* the measurement log (docs/measurements.md) */
        size_t eventlog_len;
};

/* log.c: --timestamps; say(), fail() print on stderr; fail() returns -1. */
extern bool agent_timestamps;
_printf_(1, 2) void agent_say(const char *fmt, ...);
_printf_(1, 2) int agent_fail(const char *fmt, ...);

/* util.c: compose a path into @buf; false (and an empty string) when it does not fit. */
_printf_(3, 4) bool agent_pathf(char *buf, size_t size, const char *fmt, ...);
/* Write @len bytes of @buf to @dir/@name (atomically); 0, or -1 said why. */
int agent_write_text(const char *dir, const char *name, const void *buf, size_t len);
/* Run @argv (PATH searched), @quiet: its output to /dev/null; its exit status, 128 killed, or -errno. */
int agent_run(char *const argv[], bool quiet);
/* The same, no file it writes larger than @max_file bytes (0: no bound; past it the program is killed, 128). */
int agent_run_limited(char *const argv[], bool quiet, uint64_t max_file);

/* manifest.c: --manifest FILE (and FILE.sig) read and verified; 0 or -1 said why. */
int agent_read_manifest(struct agent *a);
/* serve.c: --image FILE checked whole against the manifest and used in place of the mounted image. */
int agent_local_image(struct agent *a);
/* manifest.c: fetch the manifest and its signature (or the cached copy) and verify them; 0 or -1 said why. */
int agent_fetch_manifest(struct agent *a);
/* Parse the fetched manifest into a->m and gather the image's mirrors; 0 or -1 said why. */
int agent_parse_manifest(struct agent *a);

/* serve.c: start inetboot-httpfs on the image and wait for its mount (a->mnt, a->image); 0 or -1 said why. */
int agent_start_httpfs(struct agent *a);
/* Loop-mount the image read-only at WORK/iso for the preboot's shell; a failure is only said. */
void agent_mount_iso(struct agent *a);
/* Unmount what was mounted and stop inetboot-httpfs (it flushes its cache first); safe to call twice. */
void agent_stop_httpfs(struct agent *a);

/*
 * load.c: read the file @path of the image on @fd, at most @max bytes, into
 * *ret (NUL-terminated); a progress line when @a is given.  Sets @e.
 */
int agent_image_read(const struct agent *a, int fd, const char *path, size_t max, char **ret, size_t *ret_len,
                     struct ib_err *e);
/* Read @path of the image, checked against the manifest's @ref when not NULL; 0 or -1 said why. */
int agent_read_image_file(const struct agent *a, int fd, const char *path, const struct ib_file_ref *ref, size_t max,
                          char **ret, size_t *ret_len);
/* Read the chosen entry's hypervisor into a->hyp and, as kexec-tools loads it, a->hyp_image; 0 or -1. */
int agent_read_hypervisor(struct agent *a, int fd);

/* entry.c: choose the boot entry into a->c (the image on @fd is scanned when the manifest has none); 0 or -1. */
int agent_choose_entry(struct agent *a, int fd);

/* modules.c: clear @f's texts. */
void agent_modfiles_clear(struct modfiles *f);
/* Read the lists of the module tree @base (/lib/modules/RELEASE); only modules.dep must be there; 0 or -1. */
int agent_modfiles_read(const char *base, struct modfiles *f);
/* The module database of @f's lists (kmod.h); sets @e. */
int agent_modfiles_kmods(const struct modfiles *f, struct ib_kmods **ret, struct ib_err *e);
/*
 * Add the modules the hook needs to @cpio and inetboot/modules.order
 * (a->initrd holds the image's initrds, @image_initrd_len bytes); 0 or -1.
 */
int agent_add_modules(struct agent *a, struct ib_cpio *cpio, size_t image_initrd_len);

/* initrd.c: append @len bytes to a->initrd, zero-padded to 4 bytes; 0 or -1 said why. */
int agent_initrd_append(struct agent *a, const void *buf, size_t len);
/* Build the target initrd (a->initrd) of the chosen entry, image on @fd; 0 or -1 said why. */
int agent_build_initrd(struct agent *a, int fd);

/* cmdline.c: build the target kernel's command line (a->cmdline) from a->c and a->req; 0 or -1 said why. */
int agent_build_cmdline(struct agent *a);

/* measure.c: measure the boot into the TPM the policy asks for, append the log to the initrd; 0 or -1. */
int agent_measure(struct agent *a);

/* kexec.c: write kernel, initrd, cmdline, eventlog (and hypervisor) into @dir; 0 or -1 said why. */
int agent_write_out(struct agent *a, const char *dir);
/* Load the built boot with kexec and start it; returns (-1, said why) only when that failed. */
int agent_kexec(struct agent *a);

/* iscript.c: fetch, verify and run the iscript= script; 0 or -1 said why. */
int agent_run_iscript(struct agent *a);

/* listmodules.c: --list-modules; the program's exit status. */
int agent_list_modules(const char *dir, const char *sysfs, bool load, char **names, int n);

#endif
