/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch.h: a whole small file (a manifest, a signature, a script) from a
 * local path or an http(s) URL, bounded in size; and a small POST (a quote
 * to an attestation service).  Redirects are followed
 * (http and https only), the connection times out, and the error says
 * which URL failed and how.  The block data path is blockdev.c, not this.
 */
#ifndef INETBOOT_FETCH_H
#define INETBOOT_FETCH_H

#include <stddef.h>

#include "util.h"

/*
 * Read @what (a path or URL) into a NUL-terminated buffer of at most @max
 * bytes.  @ca_file (may be NULL) adds CA certificates for HTTPS.  Errors:
 * -ENOENT (no such file, HTTP 404/410), -EFBIG (larger than @max), -EIO
 * (anything else); err says which.
 */
int ib_fetch(const char *what, const char *ca_file, size_t max, char **ret, size_t *ret_len, struct ib_err *err);

/*
 * POST @body_len bytes of @body to @url and read the answer, whatever its
 * status (into *ret_status), with the same limits as ib_fetch().  Errors:
 * -EFBIG (an answer over @max bytes), -EIO (no answer); err says which.
 */
int ib_http_post(const char *url, const char *ca_file, const void *body, size_t body_len, size_t max, char **ret,
                 size_t *ret_len, long *ret_status, struct ib_err *err);

#endif
