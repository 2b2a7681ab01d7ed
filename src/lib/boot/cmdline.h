/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdline.h: what the kernel command line asks inetboot to boot.
 *
 * The words are split as the kernel splits them (lib/cmdline.c next_arg():
 * blanks separate, double quotes group and are removed, "--" ends the
 * kernel's part).  Our own forms and the seeds' forms are understood:
 *
 *   inetboot.url=URL      repeatable; a manifest URL (…​.manifest) or an
 *                         image URL (the manifest is then URL.manifest)
 *   inetboot.entry=LABEL  which boot entry (label, or its 1-based number)
 *   inetboot.cache=SPEC   persistent block cache (a directory, or a device
 *                         such as LABEL=IBCACHE or /dev/sdb1); "off": none,
 *                         not even a disk labelled IBCACHE that the preboot
 *                         would use by itself
 *   inetboot.profile=MODE the booted system's use of the manifest's boot
 *                         profile: "prefetch" (default), "off", or "record"
 *                         (write the blocks it reads to /dev/.inetboot/profile,
 *                         for inetboot-sign make --profile; no prefetch)
 *   inetboot.cachefill=S  the booted system's cache fill: after S seconds
 *                         without a read it fetches the rest of the image
 *                         into the cache (inetboot-httpfs --cache-fill;
 *                         default 30); "off": it caches what it reads only
 *   inetboot.insecure     boot without a trusted signature (only if the
 *                         media's policy allows it)
 *   inetboot.allow-rollback  the machine's owner boots a manifest whose
 *                         serial is below the one the cache's trust state
 *                         holds (docs/signatures.md); the floor goes down
 *   inetboot.tpm=POLICY   measured boot: "auto" (default: measure when the
 *                         machine has a TPM, say so when it has none),
 *                         "required" (no TPM, no boot), "off"
 *   netdir=URL.iso type=… the seeds' form: an image URL
 *   httpfuse=URL          the seeds' form: an image URL
 *   iscript=URL           a preboot script, run only if signed
 *   bootxen=1             the seeds' form: boot the first entry that has
 *                         a hypervisor (Xen) when inetboot.entry= names none
 *   console=…, ip=…       carried over to the booted kernel
 *
 * Nothing here fetches anything; it only reads words.
 */
#ifndef INETBOOT_CMDLINE_H
#define INETBOOT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define IB_CMDLINE_MAX      4096u   /* COMMAND_LINE_SIZE on x86 is 2048; a margin for tests */
#define IB_CMDLINE_MAX_URLS 16u

enum ib_tpm_policy {
        IB_TPM_AUTO = 0,
        IB_TPM_REQUIRED,
        IB_TPM_OFF,
};

enum ib_profile_mode {
        IB_PROFILE_PREFETCH = 0,
        IB_PROFILE_OFF,
        IB_PROFILE_RECORD,
};

struct ib_bootreq {
        char **urls;            /* as given, in order: the mirrors to try */
        size_t n_urls;
        char *entry;            /* NULL: the first entry */
        char *cache;            /* NULL: no persistent cache */
        char *cache_fill;       /* NULL: inetboot-httpfs' default; "off" or seconds (checked) */
        char *iscript;          /* NULL: none */
        bool insecure;
        bool allow_rollback;    /* inetboot.allow-rollback */
        enum ib_tpm_policy tpm;
        enum ib_profile_mode profile;
        bool seed_form;         /* the URL came from netdir= or httpfuse= */
        bool bootxen;           /* bootxen=1: prefer an entry with a hypervisor */
        char **carry;           /* console=, ip=, … to pass on to the booted kernel */
        size_t n_carry;
};

/*
 * Split @s (at most IB_CMDLINE_MAX bytes) into words, as the kernel does.
 * Returns the number of words in *ret (a NULL-terminated vector).
 */
int ib_cmdline_split(const char *s, char ***ret, size_t *ret_n, struct ib_err *err);

/*
 * Read the words of a kernel command line into @req.  Unknown words are
 * ignored (they belong to the kernel or to the booted system); malformed
 * forms of ours (an empty URL, a URL that is not http(s), too many URLs)
 * fail with a message that names the word.
 */
int ib_bootreq_parse(const char *cmdline, struct ib_bootreq *req, struct ib_err *err);
void ib_bootreq_clear(struct ib_bootreq *req);

/* A URL names a manifest when its path ends in ".manifest" (query and fragment aside). */
bool ib_url_is_manifest(const char *url);

/*
 * The manifest's URL and the image's URL for one inetboot.url: a manifest
 * URL stands for itself and, minus ".manifest", for the image next to it;
 * an image URL has its manifest at URL.manifest.  Either out may be NULL.
 */
int ib_url_pair(const char *url, char **ret_manifest, char **ret_image);

#endif
