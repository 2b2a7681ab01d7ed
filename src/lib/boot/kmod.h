/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmod.h: which kernel modules to carry, in which order, from a kernel's own
 * modules.dep, modules.alias and modules.builtin (the text files depmod
 * writes), and which kernel release a bzImage is.
 *
 * The preboot and the booted system may run different kernels, so modules
 * are always chosen from the *target* kernel's tree: by name (fuse, loop)
 * or by the modalias of a device the machine has (the NIC in use).  The
 * result is a load order: every module after the modules it needs, each
 * once, as busybox insmod wants it.
 */
#ifndef INETBOOT_KMOD_H
#define INETBOOT_KMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IB_KMOD_MAX_DEPTH 32u

struct ib_kmods;

/* Parse the three files' texts (@alias and @builtin may be NULL). */
int ib_kmods_new(const char *dep, size_t dep_len, const char *alias, size_t alias_len, const char *builtin,
                 size_t builtin_len, struct ib_kmods **ret, struct ib_err *err);
struct ib_kmods *ib_kmods_free(struct ib_kmods *k);

/*
 * Append module @name (dashes and underscores are the same) and everything it
 * needs to the load order *paths (paths relative to /lib/modules/RELEASE,
 * as modules.dep names them), skipping what is already there.  A built-in
 * module adds nothing and returns 0; an unknown one returns -ENOENT.
 */
int ib_kmods_add(struct ib_kmods *k, const char *name, char ***paths, size_t *n, struct ib_err *err);

/*
 * Module names whose alias patterns match @modalias (as in
 * /sys/.../modalias), appended to *names without duplicates.  Returns how
 * many matched.
 */
int ib_kmods_match(struct ib_kmods *k, const char *modalias, char ***names, size_t *n);

/* The module name of a modules.dep path: "kernel/x/virtio_net.ko.xz" -> "virtio_net". */
int ib_kmod_name(const char *path, char *out, size_t size);

/* @path names a compressed module (.ko.xz, .ko.zst, .ko.gz), as modules.dep does. */
bool ib_kmod_compressed(const char *path);

/*
 * The plain ELF module of the @len bytes at @data, the file @path of a
 * module tree: decompressed when @path says it is compressed (xz, zstd or
 * gzip, as the kernel's CONFIG_MODULE_COMPRESS_* write them), copied
 * otherwise, into a new buffer *ret (free() it).  An appended module
 * signature is inside the compressed stream, so it comes out intact.  At
 * most @max bytes (-E2BIG beyond); -EINVAL for a corrupt stream or a result
 * that is not ELF.  The output depends on the input only (it is measured).
 */
int ib_kmod_plain(const void *data, size_t len, const char *path, size_t max, uint8_t **ret, size_t *ret_len,
                  struct ib_err *err);

/*
 * The release ("6.1.0-26-amd64") of a bzImage, from its setup header
 * (kernel_version field); -EINVAL if @img is not a bzImage with one.
 */
int ib_kernel_release(const void *img, size_t len, char *out, size_t size, struct ib_err *err);

#endif
