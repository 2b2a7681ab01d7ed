/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * diskfill.c: the disk cache seen from the engine: reads (by a hasher,
 * re-verified), writes (queued for the cache writer thread), and the cache
 * fill that fetches the rest of the image while no reader reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * 1 and @buf filled on a verified hit, 0 on a miss, -EBADMSG when the entry
 * was corrupt (the cache dropped it).  Called by a hasher without bd->lock.
 */
static int disk_get(struct ib_blockdev *bd, uint64_t b, uint8_t *buf) {
        return ib_diskcache_get(bd->dc, bd->m->blocks[b], buf, ib_manifest_block_len(bd->m, b));
}

/* Called by the cache writer without bd->lock: the cache has its own. */
static int disk_put(struct ib_blockdev *bd, uint64_t b, const uint8_t *data) {
        int r;

        if (!bd->dc || ib_diskcache_has(bd->dc, bd->m->blocks[b]))
                return 0;
        r = ib_diskcache_put(bd->dc, bd->m->blocks[b], data, ib_manifest_block_len(bd->m, b));
        if (r < 0)
                ib_bd_log(bd, "cache: cannot store block %" PRIu64 ": %s", b, strerror(-r));
        return r;
}

/* Blocks of the image the disk cache does not hold. */
uint64_t ib_bd_cache_missing(struct ib_blockdev *bd) {
        uint64_t n = 0;

        for (uint64_t b = 0; b < bd->m->n_blocks; b++)
                n += !ib_diskcache_has(bd->dc, bd->m->blocks[b]);
        return n;
}

static void fill_end(struct ib_blockdev *bd, enum fill_state st, const char *why) {
        uint64_t missing = ib_bd_cache_missing(bd);

        bd->fill = st;
        if (st == FILL_DONE && !bd->fill_t0_ms)
                ib_bd_log(bd, "cache: the whole image is in the cache");
        else if (st == FILL_DONE)
                ib_bd_log(bd, "cache: the whole image is in the cache; the fill fetched %" PRIu64 " blocks (%.1f MB) in %.1f s",
                      bd->fill_blocks, (double)bd->fill_bytes / 1e6, (double)(ib_now_ms() - bd->fill_t0_ms) / 1000);
        else
                ib_bd_log(bd, "cache: the fill stops with %" PRIu64 " of %" PRIu64 " blocks not cached: %s; they are fetched when read",
                      missing, bd->m->n_blocks, why);
}

/*
 * The cache fill.  A run that caches on a disk (o.cache_fill) fetches the
 * blocks of the image that no reader asked for too, once the readers have
 * been quiet for o.cache_fill_idle seconds, so that the next run finds every
 * block it reads in the cache whatever it reads (a booted system does not
 * read the same blocks twice in a row: services start in another order, the
 * user opens other files).  It goes through the image in order, in runs of
 * a quarter of --max-run blocks, with at most half the request slots, and
 * only when neither a reader nor readahead has anything queued: a read that
 * comes meanwhile goes first, and the fill waits another idle spell.  Its
 * blocks go to the disk, not the RAM cache (unless a reader came for one).
 * It stops where the cache would have to evict (its bound, or the file
 * system's room, ib_diskcache_room()), when the disk fails a write, or when
 * a pass over the image caches nothing more.  Called by ib_bd_schedule() with
 * bd->lock held, when both queues are empty.
 */
void ib_bd_fill_schedule(struct ib_blockdev *bd, uint64_t now, unsigned limit) {
        unsigned most = limit > 2 ? limit / 2 : 1;
        uint64_t run = bd->o.max_run >= 4 ? bd->o.max_run / 4 : bd->o.max_run, nb = bd->m->n_blocks, copied = 0;

        if (bd->fill != FILL_WAITING && bd->fill != FILL_RUNNING)
                return;
        if (now < bd->last_read_ms + (uint64_t)bd->o.cache_fill_idle * 1000)
                return;
        while (bd->fill_inflight < most && bd->inflight < limit) {
                uint64_t b, n = 1, bytes, wq, missing;
                bool usable;
                int mi, err;

                pthread_mutex_lock(&bd->wlock);
                wq = bd->wq_bytes;
                err = bd->fill_error;
                pthread_mutex_unlock(&bd->wlock);
                if (err) {
                        char why[96];

                        snprintf(why, sizeof(why), "the cache cannot store a block (%s)", strerror(-err));
                        fill_end(bd, FILL_STOPPED, why);
                        return;
                }
                if (wq + copied > FILL_QUEUE_MAX)
                        return;
                /* The next block that is nowhere: not cached, not on its way, not in RAM (a block in RAM is written from there). */
                for (; bd->fill_next < nb; bd->fill_next++) {
                        b = bd->fill_next;
                        if (bd->state[b] != B_ABSENT || ib_diskcache_has(bd->dc, bd->m->blocks[b]))
                                continue;
                        if (bd->slot_of[b] < 0)
                                break;
                        if (copied > FILL_QUEUE_MAX)
                                return;
                        ib_bd_queue_write(bd, b, ib_bd_slot_ptr(bd, (size_t)bd->slot_of[b]));
                        copied += ib_manifest_block_len(bd->m, b);
                }
                if (bd->fill_next >= nb) {
                        /* The end of a pass: once what is on its way has landed, count what is still missing. */
                        if (bd->fill_inflight || wq || copied)
                                return;
                        missing = ib_bd_cache_missing(bd);
                        if (missing == 0) {
                                fill_end(bd, FILL_DONE, NULL);
                                return;
                        }
                        if (missing >= bd->fill_missing) {
                                fill_end(bd, FILL_STOPPED, "a pass over the image cached nothing more");
                                return;
                        }
                        bd->fill_missing = missing;
                        bd->fill_next = 0;
                        continue;
                }
                b = bd->fill_next;
                mi = ib_bd_pick_mirror(bd, b, now, &usable);
                if (!usable) {
                        fill_end(bd, FILL_STOPPED, "no mirror is usable");
                        return;
                }
                if (mi < 0)
                        return;         /* every mirror is busy or backing off */
                while (n < run && n < bd->mirrors[mi].src->max_blocks && b + n < nb && bd->state[b + n] == B_ABSENT && bd->slot_of[b + n] < 0 &&
                       !ib_diskcache_has(bd->dc, bd->m->blocks[b + n]))
                        n++;
                bytes = ib_bd_run_bytes(bd->m, b, n);
                if (ib_diskcache_room(bd->dc) < wq + copied + bd->fill_pending + bytes) {
                        fill_end(bd, FILL_FULL, "the cache has no room for more without evicting (--cache-size, or the disk)");
                        return;
                }
                if (bd->fill == FILL_WAITING) {
                        missing = ib_bd_cache_missing(bd);
                        bd->fill = FILL_RUNNING;
                        bd->fill_t0_ms = now;
                        ib_bd_log(bd, "cache: no read for %u s; fetching the %" PRIu64 " blocks (%.1f MB) of the image not in the cache",
                              bd->o.cache_fill_idle, missing, (double)missing * bd->m->block_size / 1e6);
                }
                for (uint64_t k = b; k < b + n; k++)
                        bd->deadline_ms[k] = now + (uint64_t)bd->o.deadline * 1000;
                if (ib_bd_start_request(bd, (unsigned)mi, b, n, true) < 0)
                        return;
                bd->fill_next = b + n;
        }
}

/* Queue a copy of a verified block for the disk cache; when the disk lags too far, skip it. */
void ib_bd_queue_write(struct ib_blockdev *bd, uint64_t b, const uint8_t *data) {
        size_t len = ib_manifest_block_len(bd->m, b);
        struct wjob *j;

        if (ib_diskcache_has(bd->dc, bd->m->blocks[b]))
                return;
        pthread_mutex_lock(&bd->wlock);
        if (bd->wq_bytes + len > WRITE_QUEUE_MAX || !(j = malloc(sizeof(*j) + len))) {
                bd->cache_skipped++;
                pthread_mutex_unlock(&bd->wlock);
                return;
        }
        j->block = b;
        j->next = NULL;
        memcpy(j->data, data, len);
        if (bd->wq_tail)
                bd->wq_tail->next = j;
        else
                bd->wq_head = j;
        bd->wq_tail = j;
        bd->wq_bytes += len;
        pthread_cond_signal(&bd->wcond);
        pthread_mutex_unlock(&bd->wlock);
}

/* The cache writer; on stop it drains the queue first, so an unmount leaves a complete cache. */
void *ib_bd_writer_thread(void *p) {
        struct ib_blockdev *bd = p;
        int r;

        pthread_mutex_lock(&bd->wlock);
        for (;;) {
                struct wjob *j = bd->wq_head;

                if (!j) {
                        if (bd->wstop)
                                break;
                        pthread_cond_wait(&bd->wcond, &bd->wlock);
                        continue;
                }
                bd->wq_head = j->next;
                if (!bd->wq_head)
                        bd->wq_tail = NULL;
                pthread_mutex_unlock(&bd->wlock);
                r = disk_put(bd, j->block, j->data);
                pthread_mutex_lock(&bd->wlock);
                /* The disk is full or failing: the fill stops (a reader's block is still only skipped). */
                if (r < 0 && r != -E2BIG && !bd->fill_error)
                        bd->fill_error = r;
                bd->wq_bytes -= ib_manifest_block_len(bd->m, j->block);
                free(j);
        }
        pthread_mutex_unlock(&bd->wlock);
        return NULL;
}

/* Hand a block the disk cache has to the hashers; called by ib_bd_schedule() with bd->lock held. */
int ib_bd_queue_disk_job(struct ib_blockdev *bd, uint64_t b) {
        struct request *rq = calloc(1, sizeof(*rq));

        if (!rq || !(rq->buf = malloc(ib_manifest_block_len(bd->m, b)))) {
                free(rq);
                return -ENOMEM;
        }
        rq->disk = true;
        rq->first = b;
        rq->count = 1;
        rq->finish = (struct job){ .rq = rq, .block = JOB_FINISH };
        bd->state[b] = B_INFLIGHT;
        bd->disk_jobs++;
        pthread_mutex_lock(&bd->vlock);
        ib_bd_push_job(bd, &rq->finish);
        pthread_mutex_unlock(&bd->vlock);
        return 0;
}

/* A disk-cache read, by a hasher: the file is read and re-verified outside bd->lock. */
void ib_bd_complete_disk_job(struct ib_blockdev *bd, struct request *rq) {
        uint64_t b = rq->first;
        int r = disk_get(bd, b, rq->buf);

        pthread_mutex_lock(&bd->lock);
        bd->disk_jobs--;
        bd->state[b] = B_ABSENT;
        if (r > 0) {
                bd->disk_hits++;
                ib_bd_cache_insert(bd, b, rq->buf);
                bd->from_disk[b] = 1;
        } else {
                if (r == -EBADMSG) {
                        bd->verify_failures++;
                        ib_bd_log(bd, "cache: the entry of block %" PRIu64 " is corrupt; dropped, fetching again", b);
                }
                /* Gone or corrupt: from a mirror, then (no longer in the cache, so no loop). */
                ib_bd_want_block(bd, b, bd->waiters[b] > 0);
        }
        pthread_cond_broadcast(&bd->cond);
        pthread_mutex_unlock(&bd->lock);
        ib_bd_wake(bd);
        ib_bd_request_free(rq);
}
