/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The RAM cache (blockdev/ramcache.c): the clock's victim, never a busy slot; reservation; holding. */
#include "blockdev/internal.h"
#include "unit.h"

#define BS 4096u
#define SLOTS 8u
#define BLOCKS 64u

static struct ib_manifest m = { .size = BLOCKS * BS, .block_size = BS, .n_blocks = BLOCKS };

/* A RAM cache of SLOTS empty slots for an image of BLOCKS blocks, and nothing else. */
static struct ib_blockdev *cache_new(void) {
        struct ib_blockdev *bd = calloc(1, sizeof(*bd));

        if (!bd)
                return NULL;
        bd->m = &m;
        bd->n_slots = SLOTS;
        bd->slot_data = calloc(SLOTS, BS);
        bd->slot_block = malloc(SLOTS * sizeof(*bd->slot_block));
        bd->slot_ref = calloc(SLOTS, 1);
        bd->slot_busy = calloc(SLOTS, sizeof(*bd->slot_busy));
        bd->slot_of = malloc(BLOCKS * sizeof(*bd->slot_of));
        bd->waiters = calloc(BLOCKS, sizeof(*bd->waiters));
        bd->from_disk = calloc(BLOCKS, 1);
        if (!bd->slot_data || !bd->slot_block || !bd->slot_ref || !bd->slot_busy || !bd->slot_of || !bd->waiters || !bd->from_disk)
                return NULL;
        for (unsigned s = 0; s < SLOTS; s++)
                bd->slot_block[s] = -1;
        memset(bd->slot_of, 0xff, BLOCKS * sizeof(*bd->slot_of));
        return bd;
}

static void cache_free(struct ib_blockdev *bd) {
        free(bd->slot_data);
        free(bd->slot_block);
        free(bd->slot_ref);
        free(bd->slot_busy);
        free(bd->slot_of);
        free(bd->waiters);
        free(bd->from_disk);
        free(bd);
}

/* Blocks 0..SLOTS-1 in the slots of the same numbers, none referenced since, the hand at 0. */
static void fill(struct ib_blockdev *bd) {
        uint8_t data[BS];

        for (unsigned s = 0; s < SLOTS; s++)
                bd->slot_block[s] = -1;
        memset(bd->slot_of, 0xff, BLOCKS * sizeof(*bd->slot_of));
        bd->hand = 0;
        for (unsigned b = 0; b < SLOTS; b++) {
                memset(data, (int)b, BS);
                ib_bd_cache_insert(bd, b, data);
        }
        memset(bd->slot_ref, 0, SLOTS);
        bd->hand = 0;
}

/* Whether slot @s and block @b know each other no more (the victim comes back empty). */
static bool emptied(struct ib_blockdev *bd, ssize_t s, uint64_t b) {
        return s >= 0 && bd->slot_block[s] == -1 && bd->slot_of[b] == -1;
}

int main(void) {
        struct ib_blockdev *bd = cache_new();
        struct request rq = { .count = 2 };
        unsigned ok_data = 0, busy_taken = 0;
        uint8_t data[BS];
        ssize_t s;

        REQUIRE("a cache", bd != NULL);

        /* Empty slots go first, in the hand's order. */
        s = ib_bd_slot_victim(bd);
        CHECK("an empty cache gives slot 0", s == 0);
        CHECK("then slot 1 (the hand moved on)", ib_bd_slot_victim(bd) == 1);

        /* Inserted blocks are where the index says, with their bytes. */
        fill(bd);
        for (unsigned b = 0; b < SLOTS; b++)
                ok_data += bd->slot_of[b] >= 0 && ib_bd_slot_ptr(bd, (size_t)bd->slot_of[b])[BS - 1] == b &&
                           bd->slot_block[bd->slot_of[b]] == (int64_t)b;
        CHECK("every inserted block is in the cache with its bytes", ok_data == SLOTS);

        /* The clock: a slot referenced since the hand passed gets a second chance. */
        memset(bd->slot_ref, 1, SLOTS);
        bd->slot_ref[3] = 0;
        s = ib_bd_slot_victim(bd);
        CHECK("the unreferenced slot is the victim", s == 3 && emptied(bd, s, 3));
        CHECK("the hand passed clears the references", bd->slot_ref[0] == 0 && bd->slot_ref[2] == 0);

        /* A busy slot is never taken, whatever else. */
        fill(bd);
        for (unsigned s2 = 0; s2 < SLOTS; s2++)
                bd->slot_busy[s2] = s2 != 6;
        s = ib_bd_slot_victim(bd);
        CHECK("the one slot not busy is the victim", s == 6 && emptied(bd, s, 6));
        bd->slot_busy[6] = 1;           /* the caller's, now */
        CHECK("with every slot busy there is none", ib_bd_slot_victim(bd) == -1);
        for (unsigned i = 0; i < 4 * SLOTS; i++)
                busy_taken += ib_bd_slot_victim(bd) >= 0;
        CHECK("nor on any later turn of the hand", busy_taken == 0);
        CHECK("and the busy slots keep their blocks", bd->slot_of[0] == 0 && bd->slot_of[7] == 7);
        memset(data, 0x55, BS);
        ib_bd_cache_insert(bd, 40, data);
        CHECK("a block with every slot busy is not kept", bd->slot_of[40] == -1);
        memset(bd->slot_busy, 0, SLOTS * sizeof(*bd->slot_busy));

        /* A block readers wait for is kept while another victim exists, even referenced ones. */
        fill(bd);
        memset(bd->slot_ref, 1, SLOTS);
        for (unsigned b = 0; b < SLOTS; b++)
                bd->waiters[b] = b != 5;
        s = ib_bd_slot_victim(bd);
        CHECK("the block no reader waits for goes, though referenced", s == 5 && emptied(bd, s, 5));
        fill(bd);
        for (unsigned b = 0; b < SLOTS; b++)
                bd->waiters[b] = 1;
        CHECK("when every block has readers, one still goes", ib_bd_slot_victim(bd) >= 0);
        memset(bd->waiters, 0, BLOCKS * sizeof(*bd->waiters));

        /* A held block's slot is busy until released. */
        fill(bd);
        ib_bd_hold_slots(bd, 2, 3);
        CHECK("holding makes the slots busy and referenced",
              bd->slot_busy[2] == 1 && bd->slot_busy[3] == 1 && bd->slot_ref[2] && bd->slot_ref[3]);
        for (unsigned i = 0; i < SLOTS; i++)
                ib_bd_slot_victim(bd);
        CHECK("a whole turn of evictions leaves the held blocks", bd->slot_of[2] == 2 && bd->slot_of[3] == 3);
        ib_bd_unhold_slots(bd, 2, 3);
        CHECK("released, they are not busy", bd->slot_busy[2] == 0 && bd->slot_busy[3] == 0);

        /* A request reserves a slot a block, at most half the cache at once. */
        fill(bd);
        ib_bd_reserve_slots(bd, &rq);
        CHECK("a request of 2 blocks reserves 2 slots", rq.slots && bd->slots_reserved == 2 && rq.slot_data == bd->slot_data);
        CHECK("its slots are busy", rq.slots && bd->slot_busy[rq.slots[0]] == 1 && bd->slot_busy[rq.slots[1]] == 1);
        {
                struct request big = { .count = SLOTS / 2 - 1 };

                ib_bd_reserve_slots(bd, &big);
                CHECK("beyond half the slots, a request gets none", big.slots == NULL && bd->slots_reserved == 2);
        }
        {
                int32_t s0 = rq.slots ? rq.slots[0] : 0, s1 = rq.slots ? rq.slots[1] : 0;

                ib_bd_release_slots(bd, &rq);
                CHECK("released: not busy, nothing reserved",
                      rq.slots == NULL && bd->slot_busy[s0] == 0 && bd->slot_busy[s1] == 0 && bd->slots_reserved == 0);
        }

        cache_free(bd);
        UNIT_EXIT();
}
