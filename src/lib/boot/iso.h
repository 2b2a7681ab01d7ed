/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iso.h: read files out of an ISO 9660 image as an unprivileged user.
 *
 * Built on libarchive (Rock Ridge, Joliet, zisofs, El Torito images; fuzzed
 * upstream by OSS-Fuzz; in every distribution), so no mount and no root.
 * ib_iso_open() indexes the directory tree once; lookups resolve symlinks
 * and hard links and fall back to a case-insensitive match, as plain
 * ISO 9660 names are upper case.
 */
#ifndef INETBOOT_ISO_H
#define INETBOOT_ISO_H

#include <stdint.h>

#include "util.h"

#define IB_ISO_MAX_FILES (1u << 20)

struct ib_iso;

int ib_iso_open(const char *path, struct ib_iso **ret, struct ib_err *err);
struct ib_iso *ib_iso_free(struct ib_iso *iso);
static inline void ib_iso_freep(struct ib_iso **p) { ib_iso_free(*p); }

/* The canonical absolute path of the regular file @path names, or -ENOENT. */
int ib_iso_resolve(struct ib_iso *iso, const char *path, const char **ret);

/* Read a whole file of at most @max bytes (NUL-terminated, not counted). */
int ib_iso_read(struct ib_iso *iso, const char *path, size_t max, char **ret, size_t *ret_len, struct ib_err *err);

/*
 * An ib_bootcfg_read_fn over an open ISO (@iso is the struct ib_iso *):
 * resolves links, reads at most IB_ISO_MAX_CONFIG bytes.
 */
#define IB_ISO_MAX_CONFIG (1u << 20)
int ib_iso_read_cb(void *iso, const char *path, char **ret, size_t *ret_len);

/* Size and SHA-256 of a file's contents. */
int ib_iso_hash(struct ib_iso *iso, const char *path, uint64_t *ret_size, uint8_t ret_sha256[32], struct ib_err *err);

#endif
