/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * source-store.c: a block store, content-addressed and immutable:
 * STORE/xx/<sha256>.zst is block <sha256> compressed with zstd, asked for
 * one block a request.  Its answer is a 200 with the file, or a 404 when
 * the store lacks the block; the block exists only once the file is whole
 * and decompressed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "internal.h"

/* Room for the compressed file of @want bytes: more is not a block file of ours. */
static size_t store_answer_room(size_t want) {
        return ZSTD_compressBound(want);
}

/* STORE/xx/<sha256>.zst of the request's (one) block; no Range. */
static int store_locate(const char *base, const struct ib_manifest *m, const struct request *rq, char **ret_url, char *range,
                        size_t range_size) {
        char hex[65], *url;

        ib_hex(m->blocks[rq->first], 32, hex);
        if (asprintf(&url, "%s%s%.2s/%s.zst", base, base[strlen(base) - 1] == '/' ? "" : "/", hex, hex) < 0)
                return -ENOMEM;
        range[0] = 0;
        *ret_url = url;
        return 0;
}

/* Content-addressed and immutable: a 200 with the compressed block, or nothing. */
static const char *store_check(const struct ib_manifest *m, const struct mirror *mi, const struct request *rq, long status,
                               bool *permanent, bool *missing) {
        static __thread char why[512];

        if (rq->overflow)
                return "block file larger than any compressed block";
        if (status == 404) {
                *missing = true;
                return "the block store has no such block";
        }
        if (status != 200) {
                *permanent = status == 403 || status == 410;
                snprintf(why, sizeof(why), "HTTP status %ld", status);
                return why;
        }
        return NULL;
}

/* The block, decompressed into rq->plain; a file that is not one block of ours brings none. */
static bool store_decode(struct request *rq, long status) {
        size_t n;

        if (status != 200 || !(rq->plain = malloc(rq->want)))
                return false;
        n = ZSTD_decompress(rq->plain, rq->want, rq->buf, rq->got);
        if (ZSTD_isError(n) || n != rq->want) {
                free(rq->plain); /* not a block file of ours: the block fails verification */
                rq->plain = NULL;
                return false;
        }
        return (rq->good = calloc(rq->count, sizeof(bool))) != NULL;
}

const struct ib_source_ops ib_source_store = {
        .name = "store",
        .max_blocks = 1,
        .stream_status = 0,
        .validators = false,
        .mismatch = "its first block file is not the manifest's first block",
        .answer_room = store_answer_room,
        .locate = store_locate,
        .check = store_check,
        .decode = store_decode,
};
