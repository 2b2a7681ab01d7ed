/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sched.c: the fetch queues (demand before background), the choice of a
 * mirror, and what a finished request means for its blocks and its mirror
 * (served, requeued, failed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int queue_push(struct queue *q, uint64_t b, bool front) {
        if (q->len == q->cap) {
                size_t ncap = q->cap ? q->cap * 2 : 256;
                uint64_t *nv = malloc(ncap * sizeof(uint64_t));

                if (!nv)
                        return -ENOMEM;
                for (size_t i = 0; i < q->len; i++)
                        nv[i] = q->v[(q->head + i) % q->cap];
                free(q->v);
                q->v = nv;
                q->cap = ncap;
                q->head = 0;
        }
        if (front) {
                q->head = (q->head + q->cap - 1) % q->cap;
                q->v[q->head] = b;
        } else
                q->v[(q->head + q->len) % q->cap] = b;
        q->len++;
        return 0;
}

static bool queue_pop(struct queue *q, uint64_t *b) {
        if (q->len == 0)
                return false;
        *b = q->v[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        return true;
}

/* Mark a block wanted; a demand read goes before readahead and prefetch. */
void ib_bd_want_block(struct ib_blockdev *bd, uint64_t b, bool demand) {
        if (bd->state[b] == B_INFLIGHT || bd->slot_of[b] >= 0)
                return;
        if (bd->state[b] == B_QUEUED && !demand)
                return;
        if (bd->state[b] == B_ABSENT)
                bd->deadline_ms[b] = ib_now_ms() + (uint64_t)bd->o.deadline * 1000;
        bd->state[b] = B_QUEUED;
        /* A stale duplicate in a queue is skipped when popped (its state is no longer QUEUED). */
        if (queue_push(demand ? &bd->demand : &bd->background, b, false) < 0)
                bd->state[b] = B_ABSENT;
}

/*
 * A failed request: one failure is retried at once (a glitch costs one round
 * trip); from the second in a row the mirror backs off, doubling up to
 * BACKOFF_MAX_MS, until an answer succeeds.
 */
static void mirror_down(struct ib_blockdev *bd, unsigned i, const char *why) {
        struct mirror *mi = &bd->mirrors[i];

        mi->errors++;
        if (++mi->failures_in_row < 2) {
                ib_bd_log(bd, "mirror %s: %s; retrying", mi->url, why);
                return;
        }
        mi->down_until_ms = ib_now_ms() + mi->backoff_ms;
        ib_bd_log(bd, "mirror %s: %s; retrying it in %u ms", mi->url, why, mi->backoff_ms);
        mi->backoff_ms = mi->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : mi->backoff_ms * 2;
}

void ib_bd_mirror_broken(struct ib_blockdev *bd, unsigned i, const char *why) {
        struct mirror *mi = &bd->mirrors[i];

        mi->errors++;
        if (!mi->broken) {
                mi->broken = strdup(why);
                ib_bd_log(bd, "mirror %s: %s; not using it again", mi->url, why);
        }
}

/*
 * Distrust mirror @i for the image: it serves bytes the publisher did not
 * sign.  Said once, with @why; the mirror is not used again, so that with no
 * other mirror every read of a block not yet fetched fails at once (EIO).
 */
static void mirror_distrust(struct ib_blockdev *bd, unsigned i, const char *why) {
        struct mirror *mi = &bd->mirrors[i];

        mi->errors++;
        if (mi->broken)
                return;
        mi->broken = strdup("serves bytes the publisher did not sign");
        mi->distrusted = true;
        ib_bd_log(bd, "mirror %s serves bytes the publisher did not sign (%s): not using it again for image %s", mi->url, why,
                  bd->m->name);
}

/*
 * Judge mirror @i after its copy of block @b failed verification; @sha:
 * the SHA-256 of what it sent.  Not a network error, so no back-off: a
 * first bad copy is fetched once more from the same mirror, past any cache
 * (bd->recheck).  The same wrong bytes twice are the mirror's copy, not
 * damage on the way (a flipped bit never flips the same way twice):
 * distrusted.  So is a mirror whose last MAX_LIES_IN_ROW blocks all failed,
 * whatever it sent.  A single damaged transfer costs one round trip.
 * Called with bd->lock held.
 */
static void mirror_lied(struct ib_blockdev *bd, unsigned i, uint64_t b, const uint8_t sha[32]) {
        struct mirror *mi = &bd->mirrors[i];
        struct suspect *sp = NULL;
        char why[256], hex[17], want[17];

        if (mi->broken)
                return;         /* (said already, or another fault: its blocks go elsewhere) */
        mi->lies_in_row++;
        ib_hex(sha, 8, hex);
        ib_hex(bd->m->blocks[b], 8, want);
        for (unsigned k = 0; k < MIRROR_SUSPECTS; k++)
                if (mi->suspects[k].used && mi->suspects[k].block == b)
                        sp = &mi->suspects[k];
        if (sp && memcmp(sp->sha, sha, 32) == 0) {
                snprintf(why, sizeof(why), "block %" PRIu64 " came twice, the second time past any cache, as the same bytes "
                         "(SHA-256 %s..., the manifest says %s...): its copy of the image is not the signed one", b, hex, want);
                mirror_distrust(bd, i, why);
                return;
        }
        if (mi->lies_in_row >= MAX_LIES_IN_ROW) {
                snprintf(why, sizeof(why), "%u blocks in a row failed verification, the last block %" PRIu64, mi->lies_in_row, b);
                mirror_distrust(bd, i, why);
                return;
        }
        ib_bd_log(bd, "block %" PRIu64 " from %s: SHA-256 does not match the manifest (%s..., not %s...); %s", b, mi->url, hex,
                  want, sp ? "other wrong bytes than the first time: damaged on the way? fetching it again"
                            : "fetching it once more from the same mirror, past any cache");
        if (!sp) {
                sp = &mi->suspects[mi->next_suspect];
                mi->next_suspect = (mi->next_suspect + 1) % MIRROR_SUSPECTS;
        }
        *sp = (struct suspect){ .block = b, .used = true };
        memcpy(sp->sha, sha, 32);
        bd->recheck[b] = (uint8_t)(i + 1);
}

/* Block @b from mirror @i matched the manifest.  Called with bd->lock held. */
static void mirror_verified(struct ib_blockdev *bd, unsigned i, uint64_t b) {
        struct mirror *mi = &bd->mirrors[i];

        mi->lies_in_row = 0;
        if (bd->recheck[b] == i + 1)
                ib_bd_log(bd, "block %" PRIu64 " from %s: matches the manifest when fetched again: the first copy was damaged on "
                          "the way, not the mirror's", b, mi->url);
        bd->recheck[b] = 0;
        for (unsigned k = 0; k < MIRROR_SUSPECTS; k++)
                if (mi->suspects[k].used && mi->suspects[k].block == b)
                        mi->suspects[k].used = false;
}

/* Expected time to fetch @bytes from the mirror: unmeasured mirrors keep their order. */
static double mirror_cost(const struct mirror *mi, unsigned order, size_t bytes) {
        if (mi->rate <= 0)
                return 1e6 + order;
        return mi->latency_ms + 1000.0 * (double)bytes / mi->rate;
}

/* The best mirror for block @b now, or -1. */
int ib_bd_pick_mirror(struct ib_blockdev *bd, uint64_t b, uint64_t now, bool *any_usable) {
        unsigned per_mirror = bd->o.parallel;
        double best = 0;
        int pick = -1;

        *any_usable = false;
        for (unsigned i = 0; i < bd->n_mirrors; i++) {
                struct mirror *mi = &bd->mirrors[i];
                double c;

                if (mi->broken)
                        continue;
                *any_usable = true;
                if (mi->down_until_ms > now || mi->inflight >= per_mirror)
                        continue;
                c = mirror_cost(mi, i, ib_manifest_block_len(bd->m, b));
                /* A block whose copy failed verification once goes back to that mirror first (mirror_lied()). */
                if (bd->recheck[b] == i + 1)
                        c -= 2e7;
                /* After integrity failures, rotate to the next mirror. */
                if (bd->attempts[b] && bd->n_mirrors > 1 && (bd->attempts[b] % bd->n_mirrors) == (i + 1) % bd->n_mirrors)
                        c -= 1e7;
                if (pick < 0 || c < best) {
                        best = c;
                        pick = (int)i;
                }
        }
        return pick;
}

/* Give up on a block: its readers get EIO. */
static void fail_block(struct ib_blockdev *bd, uint64_t b, const char *why) {
        bd->state[b] = B_ABSENT;
        bd->attempts[b] = 0;
        if (bd->waiters[b])
                bd->failed[b] = 1;
        bd->eio++;
        ib_bd_log(bd, "block %" PRIu64 " (offset %" PRIu64 "): %s: read fails with EIO", b, b * bd->m->block_size, why);
}

/*
 * Send blocks back to the queue after a failed request (not the block's
 * fault), but those served already (verified as they arrived).  Last to
 * first, each to the front: the run stays in order, so that ib_bd_schedule()
 * merges it into one request again.  The cache fill's blocks that no reader
 * waits for are left to its next pass.
 */
static void requeue(struct ib_blockdev *bd, uint64_t first, uint64_t count, bool fill) {
        for (uint64_t b = first + count; b-- > first;) {
                bd->state[b] = B_ABSENT;
                if (bd->slot_of[b] >= 0)
                        continue;
                bd->retries++;
                if (fill && !bd->waiters[b])
                        continue;
                if (ib_now_ms() >= bd->deadline_ms[b] && bd->waiters[b]) {
                        fail_block(bd, b, "no mirror answered in time");
                        continue;
                }
                bd->state[b] = B_QUEUED;
                queue_push(bd->waiters[b] ? &bd->demand : &bd->background, b, true);
        }
}

void ib_bd_finish_request(struct ib_blockdev *bd, struct request *rq, CURLcode cc) {
        struct mirror *mi = &bd->mirrors[rq->mirror];
        bool permanent, missing;
        const char *why = ib_bd_check_answer(bd, rq, cc, &permanent, &missing);
        double t_total = 0, t_first = 0;
        unsigned good = 0;

        mi->inflight--;
        bd->inflight--;
        bd->fill_inflight -= rq->fill;
        if (rq->fill)
                bd->fill_pending -= rq->want;
        if (why && missing) {
                /* This source lacks the block (a store's 404): count it against the block, like bad data. */
                bd->attempts[rq->first] += MAX_ATTEMPTS_PER_MIRROR;
                ib_bd_log(bd, "block %" PRIu64 ": %s (%s)", rq->first, why, mi->url);
                bd->state[rq->first] = B_ABSENT;
                if (bd->attempts[rq->first] >= MAX_ATTEMPTS_PER_MIRROR * bd->n_mirrors)
                        fail_block(bd, rq->first, "no mirror gave a copy that matches the manifest");
                else
                        requeue(bd, rq->first, 1, rq->fill);
                return;
        }
        if (why) {
                if (permanent || strstr(why, "changed on the server"))
                        ib_bd_mirror_broken(bd, rq->mirror, why);
                else
                        mirror_down(bd, rq->mirror, why);
                requeue(bd, rq->first, rq->count, rq->fill);
                return;
        }
        ib_bd_pin_validators(mi, rq);
        {
                long v = 0;

                curl_easy_getinfo(rq->easy, CURLINFO_HTTP_VERSION, &v);
                mi->h2 = v == CURL_HTTP_VERSION_2_0;
        }
        for (uint64_t b = rq->first; b < rq->first + rq->count; b++) {
                bd->state[b] = B_ABSENT;
                if (rq->good && rq->good[b - rq->first]) {
                        const uint8_t *data = ib_bd_request_block(bd, rq, b - rq->first);

                        /* The fill's blocks go to the disk alone, unless a reader came for one meanwhile. */
                        if (rq->slots) {
                                if (bd->slot_of[b] < 0)
                                        ib_bd_slot_publish(bd, (size_t)rq->slots[b - rq->first], b);
                                bd->from_disk[b] = 0;
                        } else if (!rq->fill || bd->waiters[b]) {
                                ib_bd_cache_insert(bd, b, data);
                                bd->from_disk[b] = 0;
                        }
                        if (rq->fill) {
                                bd->fill_blocks++;
                                bd->fill_bytes += ib_manifest_block_len(bd->m, b);
                        }
                        bd->attempts[b] = 0;
                        mirror_verified(bd, rq->mirror, b);
                        good++;
                        continue;
                }
                bd->verify_failures++;
                mi->verify_failures++;
                bd->attempts[b]++;
                mirror_lied(bd, rq->mirror, b, rq->sha[b - rq->first]);
                if (bd->attempts[b] >= MAX_ATTEMPTS_PER_MIRROR * bd->n_mirrors)
                        fail_block(bd, b, "no mirror gave a copy that matches the manifest");
                else
                        requeue(bd, b, 1, rq->fill);
        }
        mi->bytes += rq->got;
        /*
         * The mirror answered: the network works, whatever its blocks were
         * worth (bad ones were judged above, with no back-off).
         */
        mi->backoff_ms = BACKOFF_MIN_MS;
        mi->failures_in_row = 0;
        if (good < rq->count)
                return;
        curl_easy_getinfo(rq->easy, CURLINFO_TOTAL_TIME, &t_total);
        curl_easy_getinfo(rq->easy, CURLINFO_STARTTRANSFER_TIME, &t_first);
        if (t_total > 0) {
                double rate = (double)rq->got / t_total;

                mi->rate = mi->rate > 0 ? 0.7 * mi->rate + 0.3 * rate : rate;
                mi->latency_ms = mi->latency_ms > 0 ? 0.7 * mi->latency_ms + 0.3 * t_first * 1000 : t_first * 1000;
        }
}

/* Start requests while there is room; called with the lock held. */
/*
 * Start requests: demand reads first.  Background work (readahead, a boot
 * profile's prefetch) leaves one request slot free for demand reads and asks
 * for at most a quarter of --max-run blocks at once, so that a reader never
 * waits behind a queue of long background transfers on a thin link.
 */
void ib_bd_schedule(struct ib_blockdev *bd) {
        uint64_t now = ib_now_ms();
        unsigned limit = bd->o.parallel * (bd->n_mirrors ? bd->n_mirrors : 1);

        while (bd->inflight < limit) {
                struct queue *q = bd->demand.len ? &bd->demand : &bd->background;
                bool bg = q == &bd->background;
                uint64_t b, n = 1, run = bg && bd->o.max_run >= 4 ? bd->o.max_run / 4 : bd->o.max_run;
                bool usable;
                int mi;

                if (bg && limit > 1 && bd->inflight >= limit - 1)
                        return;
                if (!queue_pop(q, &b)) {
                        /* Nothing asked for, nothing read ahead: the fill may use the link. */
                        ib_bd_fill_schedule(bd, now, limit);
                        return;
                }
                if (bd->state[b] != B_QUEUED || bd->slot_of[b] >= 0) {
                        if (bd->slot_of[b] >= 0 && bd->state[b] == B_QUEUED)
                                bd->state[b] = B_ABSENT;
                        continue;
                }
                /* In the disk cache: a hasher reads and verifies it (a miss comes back here). */
                if (bd->dc && ib_diskcache_has(bd->dc, bd->m->blocks[b])) {
                        if (bd->disk_jobs >= MAX_DISK_JOBS) {
                                queue_push(q, b, true);
                                return;
                        }
                        if (ib_bd_queue_disk_job(bd, b) == 0)
                                continue;
                }
                mi = ib_bd_pick_mirror(bd, b, now, &usable);
                if (!usable) {
                        fail_block(bd, b, bd->n_mirrors ? "every mirror has failed for good" : "no mirror to fetch it from");
                        pthread_cond_broadcast(&bd->cond);
                        continue;
                }
                if (mi < 0) {
                        /* Every usable mirror is backing off or busy: wait, unless the block's time is up. */
                        if (now >= bd->deadline_ms[b] && bd->waiters[b]) {
                                fail_block(bd, b, "no mirror answered in time");
                                pthread_cond_broadcast(&bd->cond);
                                continue;
                        }
                        queue_push(q, b, true);
                        return;
                }
                /* Merge the following queued blocks into one request, as many as the source takes (a store: one). */
                while (n < run && n < bd->mirrors[mi].src->max_blocks && b + n < bd->m->n_blocks && bd->state[b + n] == B_QUEUED && bd->slot_of[b + n] < 0 &&
                       !(bd->dc && ib_diskcache_has(bd->dc, bd->m->blocks[b + n])))
                        n++;
                if (ib_bd_start_request(bd, (unsigned)mi, b, n, false) < 0) {
                        queue_push(q, b, true);
                        return;
                }
        }
}
