/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * image.h: hashing an image into blocks, and checking one against a manifest.
 */
#ifndef INETBOOT_IMAGE_H
#define INETBOOT_IMAGE_H

#include <stdint.h>

#include "manifest.h"

/* SHA-256 of one buffer. */
int ib_sha256(const void *buf, size_t len, uint8_t ret[32]);

/*
 * Read @size bytes of @fd and return the SHA-256 of the whole and of every
 * @block_size block (the last one short).  Block hashing runs on a second
 * thread beside the whole-image hash.  -EIO if the file is shorter than @size.
 */
int ib_image_hash(int fd, uint64_t size, uint32_t block_size, uint8_t ret_sha256[32],
                  uint8_t (**ret_blocks)[32], struct ib_err *err);

/* Called for each block that does not match; return <0 to stop. */
typedef int (*ib_image_bad_fn)(void *userdata, uint64_t block, uint64_t offset);

/*
 * Check @fd against @m: size, every block, the whole-image SHA-256.  Returns
 * the number of bad blocks (0: the image is the one signed), or -errno.
 * A size mismatch is -EMEDIUMTYPE with a message.
 */
int64_t ib_image_verify(int fd, const struct ib_manifest *m, ib_image_bad_fn bad, void *userdata, struct ib_err *err);

#endif
