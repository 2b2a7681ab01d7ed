/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpio.h: the initramfs side of inetboot.  A reproducible writer for the
 * "newc" cpio format that the kernel unpacks (inetboot's own archive, which
 * is appended to a distribution's initrd), and a strict, bounded reader of
 * whole initrd images as the kernel sees them
 * (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * Writer: the same calls give the same bytes.  Every header has mtime, uid,
 * gid, dev, rdev and check 0; inode numbers count from 1 in order of
 * addition; nlink is 1 for files and symlinks, 2 for directories.  Names are
 * stored without a leading "/" ("inetboot/bin/x", as GNU cpio stores the
 * output of `find .`), header+name and data are padded to 4 bytes, and the
 * archive ends with "TRAILER!!!" padded to a multiple of 512.  Missing parent
 * directories are emitted (mode 0755) before an entry, each directory once.
 * Hard links, devices and timestamps are not supported.  Beware that the
 * kernel applies an archive's directory mode to a directory of the same name
 * that an earlier archive created, so add under a private prefix.
 *
 * Reader: an image is a sequence of segments, each either uncompressed newc
 * archives (magic 070701 or 070702, each ending with TRAILER!!!, NUL padding
 * between them, every archive starting 4-aligned) or a compressed stream
 * (gzip, zstd, xz, lzma, bzip2, lz4 legacy: the kernel's decompressors) whose
 * decompressed contents are again newc archives.  Real images are one
 * compressed archive (dracut) or an uncompressed early-microcode archive
 * followed by a compressed main one (Debian's initramfs-tools).
 *
 * Compressed segments are decoded by the codecs' own libraries (zlib,
 * liblzma, libbz2, liblz4, libzstd), one stream each as the kernel's
 * decompressors read them: one gzip member, one xz stream, one bzip2 stream,
 * one .lzma stream, zstd frames up to the first byte that starts none; an
 * lz4 legacy stream has no end mark and runs to the end of the image (a
 * repeated magic inside it is skipped, as by the kernel's unlz4), so bytes
 * after it are an error.  Integrity checks the format carries (gzip CRC-32
 * and size, bzip2 CRCs, the xz check, the zstd checksum) are verified.
 *
 * After each compressed stream the walk goes on from where the stream
 * ended, as the kernel does (so a second concatenated stream is read too).
 * Limitations: an archive split across two gzip, bzip2 or xz streams (pbzip2
 * writes such files) is an error, as it is for the kernel, and so is a
 * stream that decompresses to another compressed stream (gzip inside gzip).
 * lzo-compressed segments are not supported.
 */
#ifndef INETBOOT_CPIO_H
#define INETBOOT_CPIO_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define IB_CPIO_NAME_MAX 4095u                  /* bytes of a stored name, without its NUL */
#define IB_CPIO_DATA_MAX UINT32_C(0xffffffff)   /* the 32-bit size field */

/* The format, shared by the writer (cpio.c) and the reader (initrd.c). */
#define IB_CPIO_HDR_LEN 110u                    /* "070701" and 13 fields of 8 hex digits */
#define IB_CPIO_TRAILER "TRAILER!!!"
#define IB_CPIO_NAME_SIZE_MAX 4096u             /* PATH_MAX, NUL included, as the kernel checks */
static inline size_t ib_cpio_align4(size_t n) {
        return (n + 3) & ~(size_t)3;
}

/* ---- writer ------------------------------------------------------------- */

struct ib_cpio;

int ib_cpio_new(struct ib_cpio **ret);
struct ib_cpio *ib_cpio_free(struct ib_cpio *c);
static inline void ib_cpio_freep(struct ib_cpio **p) { ib_cpio_free(*p); }

/*
 * Add one entry.  @path is relative ("a/b"; one leading "/" is dropped) and
 * must not be empty, contain "//", "." or ".." components, end in "/",
 * exceed IB_CPIO_NAME_MAX bytes or be (or lie under) "TRAILER!!!".  @perm is
 * permission bits only (at most 07777).  Errors: -EINVAL (bad name or perm),
 * -ENAMETOOLONG, -EEXIST (the path was added already; re-adding a directory
 * with the same @perm is a no-op), -ENOTDIR (a parent was added as a
 * non-directory), -EFBIG (data over IB_CPIO_DATA_MAX), -ENOMEM.  A failed
 * call leaves the writer as it was.
 */
int ib_cpio_add_dir(struct ib_cpio *c, const char *path, mode_t perm, struct ib_err *err);
int ib_cpio_add_file(struct ib_cpio *c, const char *path, mode_t perm, const void *data, size_t len, struct ib_err *err);

/* The contents of the host's regular file @src (read whole, into memory). */
int ib_cpio_add_file_from(struct ib_cpio *c, const char *path, mode_t perm, const char *src, struct ib_err *err);

/* Mode 0777; @target is stored as is (1 to IB_CPIO_NAME_MAX bytes). */
int ib_cpio_add_symlink(struct ib_cpio *c, const char *path, const char *target, struct ib_err *err);

/*
 * Append the trailer and hand over the buffer (caller frees); the writer is
 * then empty, as from ib_cpio_new(), and may build another archive.
 */
int ib_cpio_finish(struct ib_cpio *c, void **ret, size_t *ret_len, struct ib_err *err);

/* ---- reader ------------------------------------------------------------- */

struct ib_cpio_entry {
        const char *name;       /* as stored, e.g. "usr/lib/modules/6.1.0-x/kernel/fs/fuse/fuse.ko" */
        uint32_t mode;          /* type and permission bits */
        const void *data;       /* file contents or symlink target (not NUL-terminated) */
        size_t size;            /* 0 for directories, devices, fifos, sockets */
};

/*
 * Call @cb for every entry (not the trailer) of every archive in the initrd
 * image @buf; @cb returning non-zero stops the walk and is returned, with
 * @err untouched.  Entries point into @buf or into decompressed bytes, so
 * they are valid during the callback only.  @max_unpacked caps decompressed
 * bytes, all segments together (-E2BIG beyond).
 *
 * Compressed segments are decoded as streams through a window that holds
 * about one entry (the largest file is what it costs), whatever their size,
 * and their entries are passed on as they come: a segment found corrupt
 * part-way has had its first entries seen.
 *
 * Strict: every header field is exactly 8 hex digits, names are 1 to 4096
 * bytes with one NUL at their end, directories carry no data, symlink
 * targets are 1 to 4095 bytes without NUL, 070702 checksums of regular files
 * must match (-EBADMSG), file types are the seven POSIX ones, and every size
 * is checked against what is left.  Malformed or truncated input is -EINVAL
 * with a message giving the byte offset (in the decompressed stream, for a
 * compressed segment); -EOPNOTSUPP for an lzo-compressed segment.
 */
int ib_initrd_walk(const void *buf, size_t len, size_t max_unpacked, int (*cb)(const struct ib_cpio_entry *e, void *ctx),
                   void *ctx, struct ib_err *err);

/*
 * One whole compressed stream @in (@len bytes; gzip, zstd, xz, lzma, bzip2
 * or lz4 legacy, told by its magic, as for initrd segments) decompressed
 * into a new buffer *ret (*ret_len bytes; free() it).  @name is what the
 * bytes are, for messages.  At most @max bytes come out (-E2BIG beyond);
 * zero padding may follow the stream, anything else is -EINVAL, as are a
 * corrupt or truncated stream and an unknown magic; -EOPNOTSUPP for lzo.
 */
int ib_decompress(const void *in, size_t len, size_t max, const char *name, uint8_t **ret, size_t *ret_len,
                  struct ib_err *err);

#endif
