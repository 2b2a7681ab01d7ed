/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ramcache.c: the RAM cache, one slot a block: the clock that picks a
 * victim (never a busy slot), the slots a request receives into, and those
 * a reader holds while the kernel takes their bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

uint8_t *ib_bd_slot_ptr(struct ib_blockdev *bd, size_t s) {
        return bd->slot_data + s * bd->m->block_size;
}

/*
 * A slot for a new block, by the clock: one not referenced since the hand
 * last passed, and whose block no reader waits for while another victim
 * exists.  A busy slot is never taken: a request is receiving into it, or
 * a reader holds it while the kernel takes its bytes (both without bd->lock).  The slot comes
 * back empty; -1 when every slot is busy.
 */
ssize_t ib_bd_slot_victim(struct ib_blockdev *bd) {
        for (size_t i = 0; i < 3 * bd->n_slots; i++) {
                size_t s = (bd->hand + i) % bd->n_slots;
                int64_t old = bd->slot_block[s];

                if (bd->slot_busy[s])
                        continue;
                if (old >= 0 && i < 2 * bd->n_slots && bd->waiters[old] > 0)
                        continue;
                if (old >= 0 && i < bd->n_slots && bd->slot_ref[s]) {
                        bd->slot_ref[s] = 0;
                        continue;
                }
                if (old >= 0)
                        bd->slot_of[old] = -1;
                bd->slot_block[s] = -1;
                bd->hand = (s + 1) % bd->n_slots;
                return (ssize_t)s;
        }
        return -1;
}

/* Put block @b, in the slot @s it was stored in, into the RAM cache. */
void ib_bd_slot_publish(struct ib_blockdev *bd, size_t s, uint64_t b) {
        bd->slot_block[s] = (int64_t)b;
        bd->slot_ref[s] = 1;
        bd->slot_of[b] = (int32_t)s;
}

/* A copy of block @b into the RAM cache; with every slot busy it is not kept (a reader asks again). */
void ib_bd_cache_insert(struct ib_blockdev *bd, uint64_t b, const uint8_t *data) {
        ssize_t s;

        if (bd->slot_of[b] >= 0 || (s = ib_bd_slot_victim(bd)) < 0)
                return;
        memcpy(ib_bd_slot_ptr(bd, (size_t)s), data, ib_manifest_block_len(bd->m, b));
        ib_bd_slot_publish(bd, (size_t)s, b);
}

/*
 * Reserve a slot for each block of a raw mirror's request; on success the
 * request receives into them.  At most half the slots are reserved at once,
 * so that readers' blocks have room.  Called with bd->lock held.
 */
void ib_bd_reserve_slots(struct ib_blockdev *bd, struct request *rq) {
        uint64_t i;

        if (bd->slots_reserved + rq->count > bd->n_slots / 2 || !(rq->slots = malloc(rq->count * sizeof(*rq->slots))))
                return;
        for (i = 0; i < rq->count; i++) {
                ssize_t s = ib_bd_slot_victim(bd);

                if (s < 0)
                        break;
                rq->slots[i] = (int32_t)s;
                bd->slot_busy[s]++;
        }
        if (i < rq->count) {
                while (i--)
                        bd->slot_busy[rq->slots[i]]--;
                free(rq->slots);
                rq->slots = NULL;
                return;
        }
        bd->slots_reserved += rq->count;
        rq->slot_data = bd->slot_data;
}

/* Give the reserved slots back; the blocks published stay in theirs.  Called with bd->lock held. */
void ib_bd_release_slots(struct ib_blockdev *bd, struct request *rq) {
        if (!rq->slots)
                return;
        for (uint64_t i = 0; i < rq->count; i++)
                bd->slot_busy[rq->slots[i]]--;
        bd->slots_reserved -= rq->count;
        free(rq->slots);
        rq->slots = NULL;
}

/* The slots of blocks b0..b1, all in the RAM cache, made busy (not evicted) for a reader.  Called with bd->lock held. */
void ib_bd_hold_slots(struct ib_blockdev *bd, uint64_t b0, uint64_t b1) {
        for (uint64_t b = b0; b <= b1; b++) {
                int32_t s = bd->slot_of[b];

                bd->slot_ref[s] = 1;
                bd->slot_busy[s]++;
        }
}

void ib_bd_unhold_slots(struct ib_blockdev *bd, uint64_t b0, uint64_t b1) {
        for (uint64_t b = b0; b <= b1; b++)
                bd->slot_busy[bd->slot_of[b]]--;
}

/*
 * Where the bytes off..off+len of blocks b0..b1 lie in the RAM cache: one
 * piece a block, in @iov.  The blocks' slots must be held (slot_of[b]
 * cannot change while its slot is busy, so no lock is needed).
 */
size_t ib_bd_slot_pieces(struct ib_blockdev *bd, size_t len, uint64_t off, uint64_t b0, uint64_t b1, struct iovec *iov) {
        const struct ib_manifest *m = bd->m;
        size_t n = 0;

        for (uint64_t b = b0; b <= b1; b++) {
                uint64_t boff = b * m->block_size, blen = ib_manifest_block_len(m, b);
                uint64_t from = off > boff ? off - boff : 0;
                uint64_t to = off + len < boff + blen ? off + len - boff : blen;

                iov[n].iov_base = ib_bd_slot_ptr(bd, (size_t)bd->slot_of[b]) + from;
                iov[n++].iov_len = (size_t)(to - from);
        }
        return n;
}
