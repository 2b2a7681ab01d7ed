/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * multiboot.h: a hypervisor image (Xen's xen.gz) as kexec-tools loads it.
 *
 * Boot configs name the hypervisor as it sits on the medium, usually gzip'd
 * (GRUB decompresses it on the fly).  kexec-tools' multiboot loaders do not
 * decompress, and only its multiboot2 loader leaves the BIOS data area at
 * physical page 0 alone (its multiboot 1 loader puts the boot information
 * there, and Xen reads the EBDA's place from it), so the agent hands
 * kexec-tools the decompressed image with --type=multiboot2-x86.  What is
 * measured and hash-checked is the file as published; this is only for the
 * load.
 */
#ifndef INETBOOT_MULTIBOOT_H
#define INETBOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IB_MULTIBOOT2_MAGIC  0xe85250d6u   /* the header's magic (Multiboot2 spec, 3.1.1) */
#define IB_MULTIBOOT2_SEARCH 32768u        /* the header lies in the image's first 32 KiB */

/*
 * Does @buf (an image, not compressed) carry a valid Multiboot2 header: the
 * magic on an 8-byte boundary within its first 32 KiB, architecture 0
 * (i386, protected mode), a header length that fits, and the checksum that
 * makes magic + architecture + length + checksum zero modulo 2^32?
 * Returns its offset, or -ENOENT.
 */
long ib_multiboot2_header(const void *buf, size_t len);

/*
 * The image kexec-tools is to load, from the hypervisor file @buf as read
 * from the medium: a gzip file (one member, as the kernel's and GRUB's
 * gunzip read it) is decompressed into a new buffer (at most @max bytes),
 * anything else is copied.  The result must have a Multiboot2 header.
 * *ret (malloc'd) and *ret_len are set only on success.  Errors: -EBADMSG
 * (corrupt gzip data, or no Multiboot2 header: @err says which), -EFBIG
 * (larger than @max), -ENOMEM.
 */
int ib_multiboot_image(const void *buf, size_t len, size_t max, void **ret, size_t *ret_len, struct ib_err *err);

#endif
