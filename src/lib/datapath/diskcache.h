/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * diskcache.h: the persistent block cache (a disk or a USB stick).
 *
 * Layout: DIR/blocks/xx/<sha256 hex>, one file per block, named by the
 * SHA-256 of its content, so images that share blocks share entries.  An
 * entry is written to a temporary file and renamed into place (a crash
 * leaves no partial entry), and it is hashed again whenever it is read: a
 * corrupt entry is removed and reported as a miss.  The cache is bounded:
 * beyond max_bytes the least recently used entries are evicted (a hit
 * refreshes an entry's mtime).  Works on ext4 and FAT alike.
 */
#ifndef INETBOOT_DISKCACHE_H
#define INETBOOT_DISKCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

struct ib_diskcache;

/* Open (creating) the cache at @dir; max_bytes 0 means no bound. Scans the existing entries. */
int ib_diskcache_open(const char *dir, uint64_t max_bytes, struct ib_diskcache **ret, struct ib_err *err);

/* 1 and @buf filled with exactly @len verified bytes; 0 on a miss; -EBADMSG when a corrupt entry was dropped. */
int ib_diskcache_get(struct ib_diskcache *dc, const uint8_t sha[32], void *buf, size_t len);

/* Is there an entry (not verified)? */
bool ib_diskcache_has(struct ib_diskcache *dc, const uint8_t sha[32]);

/* Store @len bytes whose SHA-256 the caller verified is @sha; evicts as needed. */
int ib_diskcache_put(struct ib_diskcache *dc, const uint8_t sha[32], const void *data, size_t len);

/*
 * Bytes that can still be stored without evicting an entry and without
 * filling the file system: what the bound leaves, and what the file system
 * has free beyond a margin (a twentieth of it, at most 64 MiB) for whatever
 * else lives there.  For a fill of the whole image, which must not push out
 * the blocks a boot reads.
 */
uint64_t ib_diskcache_room(struct ib_diskcache *dc);

/* "cache-bytes N", "cache-entries N", "cache-evictions N" lines. */
void ib_diskcache_stats(struct ib_diskcache *dc, FILE *f);

struct ib_diskcache *ib_diskcache_free(struct ib_diskcache *dc);

#endif
