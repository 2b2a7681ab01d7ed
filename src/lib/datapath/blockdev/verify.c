/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify.c: the hashers: a raw mirror's blocks checked as they arrive,
 * served at once; a finished request verified outside every lock, then
 * acted on under bd->lock.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Block @i of a finished request's data (where its source decoded it, in plain: a store's is decompressed). */
const uint8_t *ib_bd_request_block(struct ib_blockdev *bd, const struct request *rq, uint64_t i) {
        return rq->plain ? rq->plain + i * bd->m->block_size : ib_bd_rq_at(rq, i * bd->m->block_size);
}

/*
 * Whether block @i of a request's data is the manifest's block (a store's:
 * once decompressed).  Its SHA-256 stays in rq->sha[i]: a mismatch is judged
 * by what was sent (ib_bd_finish_request()).
 */
static bool block_matches(struct ib_blockdev *bd, struct request *rq, uint64_t i) {
        uint64_t b = rq->first + i;
        uint8_t tmp[32], *sha = rq->sha ? rq->sha[i] : tmp;

        return ib_sha256(ib_bd_request_block(bd, rq, i), ib_manifest_block_len(bd->m, b), sha) == 0 &&
               memcmp(sha, bd->m->blocks[b], 32) == 0;
}

/*
 * A hasher's job on block @i of a raw mirror's request, as soon as its last
 * byte has arrived: verify it, and where it was received into its slot,
 * serve it at once (the slot stays reserved, so not evicted, until the
 * request ends; ib_bd_finish_request() then finds it published).
 */
static void check_block(struct ib_blockdev *bd, struct request *rq, uint64_t i) {
        uint64_t b = rq->first + i;

        rq->good[i] = block_matches(bd, rq, i);
        if (!rq->good[i] || !rq->slots)
                return;
        pthread_mutex_lock(&bd->lock);
        if (bd->slot_of[b] < 0) {
                ib_bd_slot_publish(bd, (size_t)rq->slots[i], b);
                bd->from_disk[b] = 0;
                pthread_cond_broadcast(&bd->cond);
        }
        pthread_mutex_unlock(&bd->lock);
}

/*
 * The CPU-heavy half of a finished request, run without the lock: decompress
 * a store's block and hash it (a raw mirror's blocks were checked as they
 * arrived, check_block(); one not handed out is checked now).  Only rq and
 * the (immutable) manifest are touched.  ib_bd_finish_request() then acts on
 * rq->good, which stays NULL when the answer brought no blocks.
 */
void ib_bd_verify_request(struct ib_blockdev *bd, struct request *rq) {
        long status = 0;

        curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
        if (rq->result != CURLE_OK || rq->overflow || !bd->mirrors[rq->mirror].src->decode(rq, status)) {
                free(rq->good);
                rq->good = NULL;
                /*
                 * What came instead of blocks (a store's file that is no block of
                 * ours) is judged as bad blocks are, by its SHA-256.
                 */
                for (uint64_t i = 0; rq->result == CURLE_OK && !rq->overflow && rq->buf && rq->sha && i < rq->count; i++)
                        ib_sha256(rq->buf, rq->got, rq->sha[i]);
                return;
        }
        for (uint64_t i = rq->checked; i < rq->count; i++)
                rq->good[i] = block_matches(bd, rq, i);
}

/* Queue work for the hashers.  Called with bd->vlock held. */
void ib_bd_push_job(struct ib_blockdev *bd, struct job *job) {
        job->next = NULL;
        if (bd->vq_tail)
                bd->vq_tail->next = job;
        else
                bd->vq_head = job;
        bd->vq_tail = job;
        pthread_cond_signal(&bd->vcond);
}

/*
 * A request's transfer has ended (the fetch thread): it is finished once
 * the hashers have checked the blocks handed out, by whichever ends last.
 */
void ib_bd_request_received(struct ib_blockdev *bd, struct request *rq) {
        pthread_mutex_lock(&bd->vlock);
        rq->received = true;
        if (!rq->pending)
                ib_bd_push_job(bd, &rq->finish);
        pthread_mutex_unlock(&bd->vlock);
}

/*
 * Finish a request: verify what is left of it (a store's block) without any
 * lock, then act on it under bd->lock and wake its readers.  Run by the
 * hashers, so that hashing is spread over the CPUs and the fetch thread only
 * receives.
 */
static void complete_request(struct ib_blockdev *bd, struct request *rq) {
        if (rq->disk) {
                ib_bd_complete_disk_job(bd, rq);
                return;
        }
        ib_bd_verify_request(bd, rq);
        pthread_mutex_lock(&bd->lock);
        ib_bd_finish_request(bd, rq, rq->result);
        pthread_cond_broadcast(&bd->cond);
        /* Readers have their blocks: hand the verified ones to the cache writer. */
        for (uint64_t i = 0; bd->dc && rq->good && i < rq->count; i++)
                if (rq->good[i])
                        ib_bd_queue_write(bd, rq->first + i, ib_bd_request_block(bd, rq, i));
        ib_bd_release_slots(bd, rq);
        pthread_mutex_unlock(&bd->lock);
        ib_bd_wake(bd); /* room for another request */
        ib_bd_request_free(rq);
}

void *ib_bd_hasher_thread(void *p) {
        struct ib_blockdev *bd = p;

        pthread_mutex_lock(&bd->vlock);
        for (;;) {
                struct job *job = bd->vq_head;
                struct request *rq;
                bool finish;

                if (!job) {
                        if (bd->vstop)
                                break;
                        pthread_cond_wait(&bd->vcond, &bd->vlock);
                        continue;
                }
                bd->vq_head = job->next;
                if (!bd->vq_head)
                        bd->vq_tail = NULL;
                rq = job->rq;
                finish = job->block == JOB_FINISH;
                pthread_mutex_unlock(&bd->vlock);
                if (!finish) {
                        /* The last block checked of a request whose transfer has ended finishes it. */
                        check_block(bd, rq, job->block);
                        pthread_mutex_lock(&bd->vlock);
                        finish = --rq->pending == 0 && rq->received;
                        pthread_mutex_unlock(&bd->vlock);
                }
                if (finish)
                        complete_request(bd, rq);
                pthread_mutex_lock(&bd->vlock);
        }
        pthread_mutex_unlock(&bd->vlock);
        return NULL;
}
