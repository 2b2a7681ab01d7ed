/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bootcfg.h: boot entries from an image's own boot loader configs.
 *
 * Like u-root's pkg/boot: isolinux/syslinux and GRUB configs are parsed into
 * one list of entries (label, kernel, initrds, command line, hypervisor);
 * nothing is loaded or booted here.  Files are read through a callback, so
 * the same code runs over an ISO read with libarchive, a mounted tree, or
 * test fixtures.  Config text is untrusted input: every size is bounded.
 */
#ifndef INETBOOT_BOOTCFG_H
#define INETBOOT_BOOTCFG_H

#include <stddef.h>

#include "util.h"

#define IB_BOOTCFG_MAX_FILE     (1u << 20)  /* one config file */
#define IB_BOOTCFG_MAX_DEPTH    8u          /* include/source/configfile nesting */
#define IB_BOOTCFG_MAX_FILES    64u         /* config files read in one scan */
#define IB_BOOTCFG_MAX_ENTRIES  256u

struct ib_bootcfg_entry {
        char *label;            /* menu label as shown ("^" hotkey markers removed) */
        char *kernel;           /* absolute path in the image, normalised */
        char **initrds;         /* absolute paths, in load order */
        size_t n_initrds;
        char *cmdline;          /* kernel arguments; initrd= removed; single spaces; "" if none */
        char *hypervisor;       /* multiboot kernel (e.g. /boot/xen.gz) or NULL */
        char *hypervisor_args;  /* its arguments ("" if none), NULL without hypervisor */
        char *source;           /* config file the entry came from */
};

/*
 * Read callback: the file at absolute @path in the image.  Returns 0 and a
 * malloc'ed, NUL-terminated buffer, or -ENOENT when there is no such file.
 */
typedef int (*ib_bootcfg_read_fn)(void *userdata, const char *path, char **ret_data, size_t *ret_len);

/*
 * Scan the well-known config locations (isolinux/syslinux, GRUB grub.cfg,
 * EFI grub.cfg; loopback.cfg only when nothing else has entries), follow
 * includes, and return the de-duplicated entries.  Zero entries is not an
 * error (*ret_n == 0).
 */
int ib_bootcfg_scan(ib_bootcfg_read_fn read, void *userdata,
                    struct ib_bootcfg_entry **ret, size_t *ret_n, struct ib_err *err);

/*
 * Parse one syslinux-family config at @path (and what it includes); relative
 * paths are taken from @path's directory.  New entries are appended to
 * *entries (which holds *n already, may be NULL/0); on failure both are left
 * as they were.  No de-duplication.  -ENOENT when @path does not exist.
 */
int ib_bootcfg_parse_syslinux(ib_bootcfg_read_fn read, void *userdata, const char *path,
                              struct ib_bootcfg_entry **entries, size_t *n, struct ib_err *err);

/*
 * Parse one GRUB config at @path (and what it sources), with no variable set
 * but $prefix (@path's directory).  Appends like ib_bootcfg_parse_syslinux().
 */
int ib_bootcfg_parse_grub(ib_bootcfg_read_fn read, void *userdata, const char *path,
                          struct ib_bootcfg_entry **entries, size_t *n, struct ib_err *err);

/*
 * Distro family from a kernel command line and (may be NULL) the kernel's
 * path: debian-live, casper, dracut-live, arch, miso, opensuse, nixos,
 * alpine, knoppix, slax, generic.
 */
const char *ib_bootcfg_family(const char *cmdline, const char *kernel);

/*
 * The family of an entry: ib_bootcfg_family() of its command line and
 * kernel, or, when that is generic, "knoppix" if one of its @n_initrds
 * initrds (paths, may be NULL when 0) is KNOPPIX's minirt (minirt*), "slax"
 * if one is Linux Live Kit's initrfs.img.
 */
const char *ib_bootcfg_entry_family(const char *cmdline, const char *kernel, char *const *initrds, size_t n_initrds);

void ib_bootcfg_entries_free(struct ib_bootcfg_entry *e, size_t n);

#endif
