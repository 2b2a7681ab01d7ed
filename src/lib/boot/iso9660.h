/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iso9660.h: where in an ISO 9660 image do the bytes of a file lie?
 *
 * libarchive (iso.h) reads files out of an image but does not tell where
 * their extents are.  To use a squashfs inside a remote ISO in place
 * (unsquashfs -o OFFSET, losetup -o OFFSET) without downloading it, this
 * small reader walks the directory tree itself and returns the byte offset
 * and size of one regular file.
 *
 * It is strict and bounded: 2048-byte logical blocks only, at most 64
 * volume descriptors, directories of at most 16 MiB, at most 1 Mi
 * directory records and 1 Mi System Use continuation areas per call, 32
 * continuation areas per record; every record, name and System Use entry
 * is checked against its sector, and every extent against the volume size
 * from the primary volume descriptor (and, for the _fd variants, against
 * the size of the file or block device).  It reads one sector at a time,
 * so memory use does not depend on the image.
 *
 * Names: the Rock Ridge name (SUSP "NM", continuation entries concatenated,
 * continuation areas "CE" followed, the "SP" skip length honoured) when
 * there is one, compared exactly; otherwise the ISO 9660 name without its
 * ";1" version and trailing ".", compared ignoring ASCII case.  Deep
 * directories relocated by Rock Ridge ("CL"/"RE") are found where the path
 * names them.  Joliet is not read (a Joliet image has a Rock Ridge or plain
 * ISO 9660 tree too).
 *
 * Not supported, each with its own error and message: symbolic links
 * anywhere in the path (-ELOOP; not followed), multi-extent files (files of
 * 4 GiB and more, -EFBIG), zisofs-compressed and interleaved files
 * (-EOPNOTSUPP).  A directory as the last component is -EISDIR, a file in
 * the middle -ENOTDIR, a missing name -ENOENT, a malformed image -EBADMSG
 * (also when a read comes back short: the image is truncated), something
 * that is no ISO 9660 image -EINVAL.
 */
#ifndef INETBOOT_ISO9660_H
#define INETBOOT_ISO9660_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define IB_ISO9660_SECTOR 2048u
#define IB_ISO9660_MAX_DESCRIPTORS 64u
#define IB_ISO9660_MAX_DIR (16u << 20)
#define IB_ISO9660_MAX_RECORDS (1u << 20)
#define IB_ISO9660_MAX_CE_AREAS (1u << 20)
#define IB_ISO9660_MAX_CE_HOPS 32u

/*
 * Read @len bytes at @off of the image into @buf.  Returns the number of
 * bytes read, short only at the end of the image, or -errno.
 */
typedef ssize_t (*ib_iso9660_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/*
 * The volume id (label) of the primary volume descriptor, trailing spaces
 * removed, into @out (NUL-terminated; control characters become '_').
 * @out is written only on success.
 */
int ib_iso9660_label(ib_iso9660_read_fn rd, void *ctx, char out[33], struct ib_err *err);

/*
 * Locate the regular file at absolute @path ("/live/filesystem.squashfs"):
 * its data are the *ret_size bytes at byte offset *ret_offset of the image.
 * With only a read function, extents are checked against the volume size
 * the image claims; the outputs are written only on success.
 */
int ib_iso9660_locate(ib_iso9660_read_fn rd, void *ctx, const char *path, uint64_t *ret_offset, uint64_t *ret_size,
                      struct ib_err *err);

/* The same over a file descriptor (pread; a regular file or a block device). */
int ib_iso9660_label_fd(int fd, char out[33], struct ib_err *err);
int ib_iso9660_locate_fd(int fd, const char *path, uint64_t *ret_offset, uint64_t *ret_size, struct ib_err *err);

#endif
