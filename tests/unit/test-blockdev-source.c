/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kinds of source (blockdev/source-range.c, source-store.c): the URL
 * and Range of a request, the checks of an answer, decoding it.  Fake
 * requests, no network.
 */
#include <zstd.h>

#include "blockdev/internal.h"
#include "unit.h"

#define BS 4096u

static uint8_t blocks[10][32];
static struct ib_manifest m = { .size = 10 * BS - 100, .block_size = BS, .n_blocks = 10, .blocks = blocks };

/* Whether check() finds nothing wrong. */
static bool accepts(const struct ib_source_ops *src, const struct mirror *mi, const struct request *rq, long status) {
        bool permanent = false, missing = false;

        return src->check(&m, mi, rq, status, &permanent, &missing) == NULL && !permanent && !missing;
}

/* check()'s complaint, and whether it is permanent and whether the block is missing. */
static const char *why(const struct ib_source_ops *src, const struct mirror *mi, const struct request *rq, long status,
                       bool *permanent, bool *missing) {
        *permanent = *missing = false;
        return src->check(&m, mi, rq, status, permanent, missing);
}

/* A request for blocks 3 and 4 from a Range mirror, answered in full. */
static struct request range_rq(void) {
        struct request rq = { .first = 3, .count = 2, .len = 2 * BS, .want = 2 * BS, .got = 2 * BS, .block_size = BS };

        snprintf(rq.content_range, sizeof(rq.content_range), "bytes %u-%u/%u", 3 * BS, 5 * BS - 1, 10 * BS - 100);
        return rq;
}

static void test_range(void) {
        const struct ib_source_ops *src = &ib_source_range;
        struct mirror mi = { .url = "http://mirror/img.iso", .src = src };
        struct request rq = range_rq();
        char range[80] = "x", *url = NULL;
        bool permanent, missing;
        const char *w;

        CHECK("range: the image's kind", strcmp(src->name, "image") == 0);
        CHECK("range: the answer takes the bytes asked for", src->answer_room(2 * BS) == 2 * BS);
        CHECK("range: answers stream (206)", src->stream_status == 206);
        CHECK("range: validators pinned", src->validators);
        CHECK("range: runs of blocks", src->max_blocks > 1000);
        REQUIRE("range: locate", src->locate(mi.url, &m, &rq, &url, range, sizeof(range)) == 0);
        CHECK("range: the URL is the image's", strcmp(url, "http://mirror/img.iso") == 0);
        CHECK("range: the Range is the blocks' bytes", strcmp(range, "12288-20479") == 0);
        free(url);

        CHECK("range: a 206 of the range asked for is good", accepts(src, &mi, &rq, 206));
        w = why(src, &mi, &rq, 200, &permanent, &missing);
        CHECK("range: a 200 means Range is ignored, for good", w && strstr(w, "ignores Range") && permanent);
        w = why(src, &mi, &rq, 404, &permanent, &missing);
        CHECK("range: a 404 is for good", w && strcmp(w, "HTTP status 404") == 0 && permanent && !missing);
        w = why(src, &mi, &rq, 503, &permanent, &missing);
        CHECK("range: a 503 is a passing fault", w && strcmp(w, "HTTP status 503") == 0 && !permanent);

        rq.overflow = true;
        w = why(src, &mi, &rq, 200, &permanent, &missing);
        CHECK("range: a 200 body larger than the range: the whole file, for good", w && strstr(w, "whole file") && permanent);
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: a 206 body larger than the range", w && strstr(w, "more bytes") && !permanent);
        rq = range_rq();

        snprintf(rq.content_range, sizeof(rq.content_range), "bytes 0-8191/%u", 10 * BS - 100);
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: another Content-Range", w && strstr(w, "does not match the requested 12288-20479") && !permanent);
        snprintf(rq.content_range, sizeof(rq.content_range), "bytes 12288-20479/%u", 10 * BS);
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: a file of another size, for good", w && strstr(w, "serves a file of 40960 bytes") && permanent);
        snprintf(rq.content_range, sizeof(rq.content_range), "bytes 12288-20479/*");
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: no valid Content-Range", w && strstr(w, "without a valid Content-Range"));
        rq = range_rq();
        rq.got = BS;
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: a short body", w && strcmp(w, "short body") == 0);
        rq = range_rq();

        mi.etag = "\"one\"";
        snprintf(rq.etag, sizeof(rq.etag), "\"one\"");
        CHECK("range: the same ETag is good", accepts(src, &mi, &rq, 206));
        snprintf(rq.etag, sizeof(rq.etag), "\"two\"");
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: another ETag: the file changed", w && strstr(w, "changed on the server"));
        mi.etag = NULL;
        mi.last_modified = "Mon, 07 Dec 2026 10:00:00 GMT";
        snprintf(rq.last_modified, sizeof(rq.last_modified), "Tue, 08 Dec 2026 10:00:00 GMT");
        w = why(src, &mi, &rq, 206, &permanent, &missing);
        CHECK("range: another Last-Modified: the file changed", w && strstr(w, "changed on the server"));
        mi.last_modified = NULL;

        rq = range_rq();
        CHECK("range: a whole 206 decodes, in place", src->decode(&rq, 206) && rq.plain == NULL);
        CHECK("range: a 200 brings no blocks", !src->decode(&rq, 200));
        rq.got = BS;
        CHECK("range: nor a short one", !src->decode(&rq, 206));
}

static void test_store(void) {
        const struct ib_source_ops *src = &ib_source_store;
        struct mirror mi = { .url = "http://store/s", .src = src };
        struct request rq = { .first = 5, .count = 1, .want = BS, .block_size = BS };
        uint8_t block[BS], *file;
        char range[80] = "x", *url = NULL, want[200], hex[65];
        bool permanent, missing;
        const char *w;
        size_t n;

        for (unsigned i = 0; i < 32; i++)
                blocks[5][i] = (uint8_t)(0xa0 + i);
        ib_hex(blocks[5], 32, hex);
        snprintf(want, sizeof(want), "http://store/s/a0/%s.zst", hex);

        CHECK("store: the store's kind", strcmp(src->name, "store") == 0);
        CHECK("store: one block a request", src->max_blocks == 1);
        CHECK("store: blocks only once the file is whole", src->stream_status == 0);
        CHECK("store: no validators", !src->validators);
        CHECK("store: room for the compressed file", src->answer_room(BS) >= ZSTD_compressBound(BS));
        REQUIRE("store: locate", src->locate(mi.url, &m, &rq, &url, range, sizeof(range)) == 0);
        CHECK("store: STORE/xx/<sha256>.zst", strcmp(url, want) == 0);
        CHECK("store: no Range", range[0] == 0);
        free(url);
        REQUIRE("store: locate", src->locate("http://store/s/", &m, &rq, &url, range, sizeof(range)) == 0);
        CHECK("store: a base ending in / gets no second one", strcmp(url, want) == 0);
        free(url);

        CHECK("store: a 200 is good", accepts(src, &mi, &rq, 200));
        w = why(src, &mi, &rq, 404, &permanent, &missing);
        CHECK("store: a 404 is a missing block, the store still good", w && missing && !permanent);
        w = why(src, &mi, &rq, 403, &permanent, &missing);
        CHECK("store: a 403 is for good", w && permanent && !missing);
        w = why(src, &mi, &rq, 500, &permanent, &missing);
        CHECK("store: a 500 is a passing fault", w && strcmp(w, "HTTP status 500") == 0 && !permanent && !missing);
        rq.overflow = true;
        w = why(src, &mi, &rq, 200, &permanent, &missing);
        CHECK("store: a file larger than any block file", w && strstr(w, "larger than any compressed block"));
        rq.overflow = false;

        memset(block, 0x3c, sizeof(block));
        rq.len = src->answer_room(BS);
        REQUIRE("store: a buffer", (file = rq.buf = malloc(rq.len)) != NULL);
        n = ZSTD_compress(rq.buf, rq.len, block, BS, 3);
        REQUIRE("store: a block file", !ZSTD_isError(n));
        rq.got = n;
        CHECK("store: a 200's file decodes", src->decode(&rq, 200) && rq.plain && rq.good);
        CHECK("store: into the block", rq.plain && memcmp(rq.plain, block, BS) == 0);
        free(rq.plain);
        free(rq.good);
        rq.plain = NULL;
        rq.good = NULL;
        CHECK("store: a 404's body is no block", !src->decode(&rq, 404) && !rq.plain);
        file[n / 2] ^= 0xff;
        CHECK("store: a damaged file is no block", !src->decode(&rq, 200) && !rq.plain && !rq.good);
        n = ZSTD_compress(rq.buf, rq.len, block, BS - 1, 3);
        rq.got = ZSTD_isError(n) ? 0 : n;
        CHECK("store: nor a file of another length", !src->decode(&rq, 200) && !rq.plain);
        free(file);
}

int main(void) {
        test_range();
        test_store();
        UNIT_EXIT();
}
