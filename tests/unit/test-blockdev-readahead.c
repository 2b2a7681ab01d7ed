/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The readahead plan (blockdev/readahead.c): when a stream is confirmed, how its window grows, where it stops. */
#include <inttypes.h>

#include "blockdev/internal.h"
#include "unit.h"

#define BS 65536u                       /* RA_CONFIRM (1 MiB) is 16 blocks */
#define KIB 1024u

static struct ib_manifest m = { .size = 1000ull * BS, .block_size = BS, .n_blocks = 1000 };

/* A block device with nothing but what ra_plan() reads: no cache, readahead 8. */
static void reset(struct ib_blockdev *bd) {
        *bd = (struct ib_blockdev){ .m = &m };
        bd->o.readahead = 8;
}

int main(void) {
        struct ib_blockdev *bd = calloc(1, sizeof(*bd));
        uint64_t from = 0, to = 0, first = UINT64_MAX, last = 0;
        bool any = false, got;
        uint8_t *planned;

        REQUIRE("calloc", bd != NULL);

        /* Reads of 128 KiB, each where the last ended: nothing until 1 MiB was read in order. */
        reset(bd);
        for (unsigned i = 0; i < 7; i++)
                any |= ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to);
        CHECK("no readahead before RA_CONFIRM bytes in order", !any);
        got = ib_bd_ra_plan(bd, 7 * 128 * KIB, 128 * KIB, &from, &to);
        CHECK("the read that reaches RA_CONFIRM reads ahead", got);
        CHECK("from the block after the read, a window of the read's size", got && from == 16 && to == 17);
        got = ib_bd_ra_plan(bd, 8 * 128 * KIB, 128 * KIB, &from, &to);
        CHECK("the window doubles when the reader reaches its second half", got && from == 18 && to == 21);
        CHECK("a read within what was read reads nothing ahead", !ib_bd_ra_plan(bd, 8 * 128 * KIB, 64 * KIB, &from, &to));
        for (unsigned i = 9; i < 20; i++)
                if (ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to))
                        last = to, first = first < from ? first : from;
        CHECK("the window stops at --readahead blocks ahead", last == 39 + 8);
        CHECK("what is read ahead is contiguous from where it was", first == 22);

        /* --readahead bounds the window as it doubles. */
        reset(bd);
        bd->o.readahead = 6;
        last = 0;
        for (unsigned i = 0; i < 20; i++)
                if (ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to))
                        last = to;
        CHECK("a window that would double past --readahead stops at it", last == 39 + 6);

        /* Reads near each other but with gaps (a booted system's squashfs): the count starts again each time. */
        reset(bd);
        any = false;
        for (unsigned i = 0; i < 64; i++)
                any |= ib_bd_ra_plan(bd, (uint64_t)i * BS, 60 * KIB, &from, &to);
        CHECK("reads with gaps are never read ahead for", !any);

        /* Filling a disk cache, the span of blocks a stream touches confirms it. */
        reset(bd);
        bd->dc = (struct ib_diskcache *)&m;     /* only tested for NULL by ra_plan() */
        any = false;
        for (unsigned i = 0; i < 16; i++)
                any |= ib_bd_ra_plan(bd, (uint64_t)i * BS, 60 * KIB, &from, &to);
        CHECK("with a disk cache, a span of RA_CONFIRM bytes confirms a stream", any);

        /* No readahead at all. */
        reset(bd);
        bd->o.readahead = 0;
        any = false;
        for (unsigned i = 0; i < 32; i++)
                any |= ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to);
        CHECK("readahead 0: nothing read ahead", !any);

        /* Within a boot profile being prefetched, the profile is the better guess. */
        reset(bd);
        REQUIRE("calloc", (planned = calloc(m.n_blocks, 1)) != NULL);
        memset(planned, 1, 40);
        bd->planned = planned;
        any = false;
        for (unsigned i = 0; i < 20; i++)
                any |= ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to);
        CHECK("blocks of the profile: nothing read ahead", !any);
        got = ib_bd_ra_plan(bd, 20 * 128 * KIB, 128 * KIB, &from, &to);
        CHECK("past the profile, readahead resumes", got && from == 42);
        bd->planned = NULL;
        free(planned);

        /* The end of the image bounds the window. */
        reset(bd);
        last = 0;
        for (unsigned i = 480; i < 500; i++)
                if (ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to))
                        last = to;
        CHECK("nothing past the last block", last == m.n_blocks - 1);

        /* Two readers at once: each stream is followed on its own. */
        reset(bd);
        any = false;
        got = false;
        for (unsigned i = 0; i < 8; i++) {
                any |= ib_bd_ra_plan(bd, (uint64_t)i * 128 * KIB, 128 * KIB, &from, &to);
                got |= ib_bd_ra_plan(bd, (uint64_t)(i + 200) * 128 * KIB, 128 * KIB, &from, &to);
        }
        CHECK("two interleaved streams are both read ahead for", any && got && from == 416);

        free(bd);
        UNIT_EXIT();
}
