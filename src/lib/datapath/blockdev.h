/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * blockdev.h: the verifying block device behind inetboot-httpfs.
 *
 * The data path of one read, top to bottom:
 *   ib_blockdev_pread_held(off, len)
 *     -> block range -> RAM cache -> persistent cache (re-verified)
 *     -> fetch queue -> fetch thread (libcurl multi, HTTP Range on a mirror,
 *        adjacent blocks merged into one request, independent ones parallel)
 *     -> HTTP checks (206, Content-Range, size, ETag/Last-Modified pinned)
 *     -> SHA-256 == manifest -> caches -> the RAM cache's slots, held
 *        until ib_blockdev_release() (the FUSE reply is written from them).
 * A block that fails verification is never returned: another mirror is
 * tried; when every mirror gave bad data, or no mirror answered before the
 * deadline, the read fails with -EIO.
 */
#ifndef INETBOOT_BLOCKDEV_H
#define INETBOOT_BLOCKDEV_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "manifest.h"

struct ib_blockdev_opts {
        size_t ram_cache;               /* bytes of RAM cache (default 64 MiB) */
        const char *cache_dir;          /* persistent cache, NULL for none */
        uint64_t cache_max;             /* its bound in bytes, 0 for none */
        unsigned parallel;              /* requests in flight at once (default 4) */
        unsigned max_run;               /* most blocks merged into one request (default 16) */
        unsigned readahead;             /* blocks read ahead on sequential access (default 8) */
        bool no_readahead;              /* no readahead at all */
        unsigned connect_timeout;       /* seconds (default 10) */
        unsigned stall_timeout;         /* seconds without progress count as a stall (default 15) */
        unsigned deadline;              /* seconds a block may wait for a mirror before EIO (default 120) */
        const char *ca_file;            /* extra CA bundle for HTTPS, NULL for the system's */
        bool cache_fill;                /* with cache_dir: once no reader has asked for anything for
                                           cache_fill_idle seconds, fetch the rest of the image into the
                                           persistent cache, so that the next run needs no network
                                           whatever it reads; bounded by cache_max and the disk's room */
        unsigned cache_fill_idle;
        const char *record_profile;     /* append each block's index here the first time a reader asks
                                           for it (a boot profile, for inetboot-sign --profile); NULL: none */
        void (*log)(void *userdata, const char *msg);  /* one line, no newline; may be NULL */
        void *log_userdata;
};

struct ib_blockdev;

/* @m must stay alive as long as the block device. */
int ib_blockdev_new(const struct ib_manifest *m, const struct ib_blockdev_opts *opts, struct ib_blockdev **ret,
                    struct ib_err *err);

/* A raw image mirror; before ib_blockdev_start().  Duplicates are ignored. */
int ib_blockdev_add_mirror(struct ib_blockdev *bd, const char *url, struct ib_err *err);

/*
 * A block store (docs/manifest.md): URL/xx/<sha256 hex>.zst holds each block
 * zstd-compressed, as `inetboot-sign make --blocks` writes them.
 */
int ib_blockdev_add_store(struct ib_blockdev *bd, const char *url, struct ib_err *err);

/*
 * Fetch and verify the first block from every mirror, synchronously, so
 * that a mirror that cannot work (ignores Range, serves another file, 404)
 * is known before mounting.  Pins each mirror's ETag/Last-Modified.
 * Returns the number of mirrors still usable (unreachable ones count: they
 * may come back), or -EIO when none is, with every mirror's reason in @err.
 */
int ib_blockdev_probe(struct ib_blockdev *bd, struct ib_err *err);

/* Start the fetch thread.  Call after any fork (daemonizing). */
int ib_blockdev_start(struct ib_blockdev *bd, struct ib_err *err);

/*
 * Read verified bytes, without a copy: they are handed out where they lie
 * in the RAM cache, one piece a block, in @iov (room for
 * ib_blockdev_pieces(len, off) entries).  Returns the count (short only at
 * the end of the image) or -EIO.  The blocks stay in the cache, unchanged, until
 * ib_blockdev_release() with the same @len and @off, which the caller must
 * call once it is done with them whenever the count returned is above 0.
 */
size_t ib_blockdev_pieces(const struct ib_blockdev *bd, size_t len, uint64_t off);
ssize_t ib_blockdev_pread_held(struct ib_blockdev *bd, size_t len, uint64_t off, struct iovec *iov, size_t *n_iov);
void ib_blockdev_release(struct ib_blockdev *bd, size_t len, uint64_t off);

/* Queue blocks to fetch in the background (boot profile, readahead). */
void ib_blockdev_prefetch(struct ib_blockdev *bd, const uint64_t *blocks, size_t n);

/* Human-readable statistics: per mirror, caches, verification, latency. */
void ib_blockdev_stats(struct ib_blockdev *bd, FILE *f);

struct ib_blockdev *ib_blockdev_free(struct ib_blockdev *bd);

#endif
