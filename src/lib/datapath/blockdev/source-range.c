/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * source-range.c: a mirror of the image itself, asked for a run of blocks
 * by an HTTP Range request.  Its answer (206) is the blocks in order, so a
 * request receives them into RAM-cache slots and each is verified as it
 * arrives; the Content-Range, the file's size and its validators (pinned
 * from the first good answer) must be the ones asked for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The answer takes the bytes asked for, no more. */
static size_t range_answer_room(size_t want) {
        return want;
}

/* The image's URL, and the bytes of the request's blocks as a Range. */
static int range_locate(const char *base, const struct ib_manifest *m, const struct request *rq, char **ret_url, char *range,
                        size_t range_size) {
        uint64_t off = rq->first * m->block_size;
        char *url = strdup(base);

        if (!url)
                return -ENOMEM;
        snprintf(range, range_size, "%" PRIu64 "-%" PRIu64, off, off + rq->len - 1);
        *ret_url = url;
        return 0;
}

/* A 206 with the Content-Range asked for, of a file the manifest's size, whole, and still the same file. */
static const char *range_check(const struct ib_manifest *m, const struct mirror *mi, const struct request *rq, long status,
                               bool *permanent, bool *missing) {
        static __thread char why[512];
        uint64_t off = rq->first * m->block_size, a, b, total;
        char tail;

        if (rq->overflow) {
                *permanent = status == 200;
                return status == 200 ? "server ignores Range requests (answered 200 with the whole file)"
                                     : "more bytes than the requested range";
        }
        if (status == 200) {
                *permanent = true;
                return "server ignores Range requests (answered 200 to a Range request)";
        }
        if (status != 206) {
                *permanent = status == 404 || status == 403 || status == 410 || status == 416;
                snprintf(why, sizeof(why), "HTTP status %ld", status);
                return why;
        }
        if (sscanf(rq->content_range, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64 "%c", &a, &b, &total, &tail) != 3)
                return "206 answer without a valid Content-Range";
        if (total != m->size) {
                *permanent = true;
                snprintf(why, sizeof(why), "serves a file of %" PRIu64 " bytes, the manifest says %" PRIu64, total, m->size);
                return why;
        }
        if (a != off || b != off + rq->len - 1) {
                snprintf(why, sizeof(why), "Content-Range %s does not match the requested %" PRIu64 "-%" PRIu64,
                         rq->content_range, off, off + rq->len - 1);
                return why;
        }
        if (rq->got != rq->len)
                return "short body";
        /* The file must stay the one we started with. */
        if ((mi->etag && strcmp(mi->etag, rq->etag) != 0) || (mi->last_modified && strcmp(mi->last_modified, rq->last_modified) != 0)) {
                snprintf(why, sizeof(why), "the file changed on the server (ETag %s -> %s)", mi->etag ?: "-", rq->etag);
                return why;
        }
        return NULL;
}

/* The blocks are where they were received; a 206 of every byte asked for has them all. */
static bool range_decode(struct request *rq, long status) {
        return status == 206 && rq->got == rq->want;
}

const struct ib_source_ops ib_source_range = {
        .name = "image",
        .max_blocks = UINT64_MAX,
        .stream_status = 206,
        .validators = true,
        .mismatch = "its first block does not match the manifest (another file?)",
        .answer_room = range_answer_room,
        .locate = range_locate,
        .check = range_check,
        .decode = range_decode,
};
