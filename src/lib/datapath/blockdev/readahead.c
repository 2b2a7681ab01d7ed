/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * readahead.c: what to read before it is asked for (the readahead plan,
 * one stream a sequential reader) and the boot profile recorder.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"

/*
 * The boot profile recorder: the blocks readers ask for, in the order first
 * asked (readahead and prefetch are not readers), one index per line --
 * what `inetboot-sign make --profile` reads.  Called with the lock held, so
 * lines are in order; a block is written once, so at most n_blocks lines.
 */
void ib_bd_record_profile(struct ib_blockdev *bd, uint64_t b0, uint64_t b1) {
        char line[24 * 16];
        size_t len = 0;

        for (uint64_t b = b0; b <= b1; b++) {
                if (bd->asked[b])
                        continue;
                bd->asked[b] = 1;
                len += (size_t)snprintf(line + len, sizeof(line) - len, "%" PRIu64 "\n", b);
                if (len > sizeof(line) - 24) {
                        if (write(bd->profile_fd, line, len) != (ssize_t)len)
                                ib_bd_log(bd, "profile: cannot write %s: %m", bd->o.record_profile);
                        len = 0;
                }
        }
        if (len && write(bd->profile_fd, line, len) != (ssize_t)len)
                ib_bd_log(bd, "profile: cannot write %s: %m", bd->o.record_profile);
}

/*
 * Whether a read of blocks b0..b1 reads where the network has to serve:
 * some block comes, or came, from a mirror.  A reader served wholly from the
 * disk cache is on ground a previous run read (and cached) already.
 */
bool ib_bd_reads_from_network(struct ib_blockdev *bd, uint64_t b0, uint64_t b1) {
        if (!bd->dc)
                return true;
        for (uint64_t b = b0; b <= b1; b++)
                if (bd->slot_of[b] >= 0 ? !bd->from_disk[b] : !ib_diskcache_has(bd->dc, bd->m->blocks[b]))
                        return true;
        return false;
}

/*
 * Readahead, after the kernel's: a read that starts at or just behind where
 * one of the last few streams of reads is, or in the blocks read ahead for it,
 * continues that stream; any other read starts a new one.  Nothing is read
 * ahead until a stream has read RA_CONFIRM bytes (at least two blocks) in
 * order, each read starting where the one before it ended (or overlapping
 * it; a gap starts the count again): a booted system's squashfs reads are
 * runs of ~128 KiB at scattered places, near each other but with gaps
 * between them, and a guess after each would fetch blocks nobody reads.
 * Filling a disk cache, a stream is confirmed by the span of blocks its
 * reads touch instead: what is read ahead then is kept for the next runs,
 * whose reads are not quite this run's (a booted system starts its services
 * in a different order each time), and a block near those read now is the
 * likeliest to be one of theirs.  The window then starts at the read's own
 * size and doubles each time the reader gets into its second half, up to
 * --readahead blocks.  Within a boot profile
 * being prefetched nothing is read ahead: the profile is the better guess.
 * Returns true and the blocks to read ahead, *from..*to.
 * Called with bd->lock held.
 */
bool ib_bd_ra_plan(struct ib_blockdev *bd, uint64_t off, uint64_t len, uint64_t *from, uint64_t *to) {
        struct ra_stream *s = NULL, *lru = &bd->ra[0];
        uint64_t b0 = off / bd->m->block_size, b1 = (off + len - 1) / bd->m->block_size, span, target;

        if (!bd->o.readahead)
                return false;
        for (unsigned i = 0; i < RA_STREAMS; i++) {
                struct ra_stream *st = &bd->ra[i];
                uint64_t slack = st->win > 2 ? st->win : 2;

                if (st->used && b0 + slack >= st->last && b0 <= st->end + 1) {
                        s = st;
                        break;
                }
                if (st->used < lru->used)
                        lru = st;
        }
        bd->ra_clock++;
        if (!s) {
                *lru = (struct ra_stream){ .first = b0, .last = b1, .end = b1, .pos = off + len, .run = len,
                                           .used = bd->ra_clock };
                return false;
        }
        s->used = bd->ra_clock;
        if (off <= s->pos && off + len > s->pos) {
                s->run += off + len - s->pos;
                s->pos = off + len;
        } else if (off > s->pos) {
                s->run = len;
                s->pos = off + len;
        }
        if (b1 <= s->last)
                return false;           /* within what the stream has read, or behind it */
        s->last = b1;
        if (s->end < b1)
                s->end = b1;
        span = b1 - s->first + 1;
        if (span < 2 || (bd->dc ? span * bd->m->block_size : s->run) < RA_CONFIRM)
                return false;
        if (bd->planned) {
                bool all = true;

                for (uint64_t b = b0; b <= b1 && all; b++)
                        all = bd->planned[b];
                if (all)
                        return false;
        }
        if (!s->win)
                s->win = (unsigned)(b1 - b0 + 1);
        else if (b1 + s->win / 2 >= s->end)
                s->win *= 2;
        if (s->win > bd->o.readahead)
                s->win = bd->o.readahead;
        target = b1 + s->win < bd->m->n_blocks ? b1 + s->win : bd->m->n_blocks - 1;
        if (target <= s->end)
                return false;
        *from = s->end + 1;
        *to = target;
        s->end = target;
        return true;
}

/*
 * Read ahead blocks from..to.  Where the reader is served from the disk
 * cache the guess reaches only as far as the cache does: a block the
 * previous runs did not read is fetched when a reader asks for it, not
 * before (a warm cache costs the network nothing a reader did not need).
 * Called with bd->lock held.
 */
void ib_bd_read_ahead(struct ib_blockdev *bd, uint64_t from, uint64_t to, bool network) {
        for (uint64_t b = from; b <= to; b++)
                if (network || ib_diskcache_has(bd->dc, bd->m->blocks[b]))
                        ib_bd_want_block(bd, b, false);
}
