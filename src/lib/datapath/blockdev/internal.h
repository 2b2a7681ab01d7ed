/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * blockdev/internal.h: the block engine's rooms share these structs.  Not a
 * public API: src/lib/datapath/blockdev.h is.
 *
 * One engine, split by job:
 *   blockdev.c   new, start, free; a read (wait, hold), release, prefetch, stats
 *   ramcache.c   the RAM cache's slots: eviction, reservation, holding
 *   readahead.c  the readahead plan and the boot profile recorder
 *   sched.c      the queues, the choice of a mirror, requeueing, a request's outcome
 *   transfer.c   libcurl (all of it): requests, receiving into slots, the probe, the fetch thread
 *   verify.c     the hashers: blocks checked as they arrive, requests finished
 *   diskfill.c   the disk cache: reads, the writer thread, the cache fill
 *   source-range.c, source-store.c
 *                the kinds of source, behind struct ib_source_ops
 *
 * Threads: readers (FUSE worker threads, any number), the fetch thread (owns
 * the libcurl multi handle), the hashers (one a CPU, MAX_HASHERS at most) and
 * the cache writer (with a disk cache).  Readers queue the blocks they miss
 * and wait on bd->cond, which is broadcast whenever a block arrives or
 * fails.  Bytes are copied outside every lock: a request receives into
 * RAM-cache slots reserved for it, and a reader is handed the slots it
 * reads, held.  The fetch thread only receives: each block goes to a hasher
 * as its last byte arrives, and is served as soon as it matches the
 * manifest, while the rest of its request is still coming.
 *
 * Locks: three mutexes, each with its condition variable.  Lock order:
 * bd->lock first; bd->vlock and bd->wlock are taken alone or inside
 * bd->lock, never the other way round, and never one inside the other.
 *
 *   bd->lock (cond: a block arrived or failed; readers wait on it): the
 *     block states and queues (state, failed, attempts, recheck, waiters,
 *     deadline_ms, from_disk, asked, planned, demand, background), the RAM cache's index
 *     (slot_of, slot_block, slot_ref, slot_busy, hand, slots_reserved), the
 *     mirrors' health and statistics, inflight, disk_jobs, the readahead
 *     streams, the cache fill's state, stop and the statistics.  A function
 *     whose comment says "called with bd->lock held" expects it.
 *   bd->vlock (vcond: the hashers wait on it): the hashers' queue (vq_head,
 *     vq_tail, vstop) and each request's pending and received.
 *   bd->wlock (wcond: the cache writer waits on it): the write queue
 *     (wq_head, wq_tail, wq_bytes), cache_skipped, wstop, fill_error.
 *
 * Without a lock:
 *   - the fetch thread alone touches multi, requests, handles, and a request
 *     in flight (its easy handle, buffers, got, status, checked) until the
 *     transfer ends (ib_bd_request_received() hands it to the hashers);
 *     schedule() and fill_schedule(), which start requests, are its calls;
 *   - a hasher owns the block of a request it checks (good[i], sha[i]), and
 *     a finished request whole;
 *   - a slot's bytes (slot_data) are written by the request that reserved it
 *     and read by the readers that hold it: a busy slot (slot_busy) is never
 *     evicted, and slot_of[b] of a held block cannot change, so neither needs
 *     bd->lock;
 *   - m, o, n_slots, the mirrors' urls and dc (the disk cache has its own
 *     lock) do not change once started; curl_multi_wakeup() is thread-safe.
 */
#ifndef INETBOOT_BLOCKDEV_INTERNAL_H
#define INETBOOT_BLOCKDEV_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "blockdev.h"
#include "diskcache.h"
#include "image.h"

#define MAX_MIRRORS 64
#define MAX_ATTEMPTS_PER_MIRROR 3       /* integrity failures of one block on one mirror before we give up on it */
#define MAX_LIES_IN_ROW 8               /* blocks of a mirror failing verification, none verified between: distrusted */
#define MIRROR_SUSPECTS 8               /* blocks of a mirror that failed verification once, remembered */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define MAX_HASHERS 4                   /* threads verifying blocks and finishing requests (at most one per CPU) */
#define MAX_DISK_JOBS 8                 /* disk-cache reads handed to the hashers at once */

enum { B_ABSENT, B_QUEUED, B_INFLIGHT };

/*
 * Work for the hashers: block @block of a request in flight to verify, or,
 * with JOB_FINISH, a whole request to finish (or a disk-cache read).
 */
#define JOB_FINISH UINT64_MAX
struct job {
        struct request *rq;
        uint64_t block;
        struct job *next;
};

struct mirror;
struct request;

/*
 * A kind of source: how a run of blocks is asked of it, and how its answer
 * is checked and made into blocks.  One file a kind, each defining one of
 * these: source-range.c (the image itself, by HTTP Range) and
 * source-store.c (a block store: one zstd file a block, named by its
 * SHA-256).  The engine knows a source only through them; a new kind is a
 * new file.  The functions touch only their arguments (no lock needed).
 */
struct ib_source_ops {
        const char *name;               /* its kind in the statistics: "image", "store" */
        uint64_t max_blocks;            /* most blocks one request asks for (--max-run bounds them too) */
        /*
         * The HTTP status of an answer whose body is the blocks themselves,
         * in order: a request then receives into RAM-cache slots, and each
         * block is verified (and served) as its last byte arrives.  0: the
         * blocks exist only once the answer is whole (decode()).
         */
        long stream_status;
        bool validators;                /* answers carry the file's ETag/Last-Modified: pinned from the first */
        const char *mismatch;           /* the probe's complaint when the first block does not match */
        /* Bytes the answer to a request for @want bytes of the image may take. */
        size_t (*answer_room)(size_t want);
        /*
         * The URL of request @rq (malloc'd, in *ret_url) and its Range
         * ("" for none, in @range of @range_size); -ENOMEM.
         */
        int (*locate)(const char *base, const struct ib_manifest *m, const struct request *rq, char **ret_url, char *range,
                      size_t range_size);
        /*
         * Check the answer, HTTP status @status, to @rq from @mi: NULL when it
         * is what was asked for, else why not, with *permanent (the mirror is
         * no use) or *missing (it lacks this block) set.  A transfer error is
         * the engine's to report, unless the body overflowed (rq->overflow).
         */
        const char *(*check)(const struct ib_manifest *m, const struct mirror *mi, const struct request *rq, long status,
                             bool *permanent, bool *missing);
        /*
         * Make a transfer's answer into blocks to hash, outside every lock: true
         * when rq->good is ready and the blocks are in rq->plain (or, NULL, where
         * they were received).  Called only for a transfer that ended without an
         * error or overflow.
         */
        bool (*decode)(struct request *rq, long status);
};

extern const struct ib_source_ops ib_source_range, ib_source_store;

/*
 * A mirror's copy of a block that failed verification once: what it sent.
 * The block is fetched once more from the same mirror, past any cache
 * (request.no_cache); the same wrong bytes again mean the mirror holds them,
 * other bytes that they were damaged on the way.
 */
struct suspect {
        uint64_t block;
        uint8_t sha[32];
        bool used;
};

/*
 * A mirror.  Network errors (no answer, a refused connection, an HTTP
 * error, a short body) make it back off and retry; bytes that fail
 * verification do not: they are judged (mirror_lied() in sched.c), and a
 * mirror that serves bytes the publisher did not sign is distrusted for the
 * image (broken, distrusted): not used again, so that with no other mirror
 * a read fails at once rather than after a back-off loop.
 */
struct mirror {
        char *url;
        const struct ib_source_ops *src;        /* what kind of source the URL is */
        bool h2;                        /* answered over HTTP/2: requests share a connection */
        char *etag, *last_modified;     /* pinned from the first good answer */
        char *broken;                   /* permanent fault, e.g. ignores Range; NULL if usable */
        bool distrusted;                /* broken because it serves bytes the publisher did not sign */
        unsigned lies_in_row;           /* its blocks that failed verification since its last verified one */
        struct suspect suspects[MIRROR_SUSPECTS];
        unsigned next_suspect;          /* the entry a new suspect takes (round robin) */
        uint64_t down_until_ms;
        unsigned backoff_ms, inflight, failures_in_row;
        double latency_ms, rate;        /* moving averages; rate in bytes/s; 0 = not measured */
        uint64_t bytes, requests, errors, verify_failures;
};

struct request {
        struct ib_blockdev *bd;
        CURL *easy;
        unsigned mirror;
        uint64_t first, count;
        uint8_t *buf;
        size_t len, got, want;          /* buffer size, bytes received, bytes of image asked for */
        /*
         * A raw mirror's demand and readahead requests receive straight into
         * RAM-cache slots reserved for them (busy, empty), one a block, rather
         * than into buf: a verified block is then published where it lies,
         * with no copy.  NULL: buf is used (the cache fill's, a store's, or
         * no slot was free).
         */
        int32_t *slots;
        uint8_t *slot_data;             /* bd->slot_data */
        bool overflow;
        char content_range[128], etag[256], last_modified[128];
        char curl_error[CURL_ERROR_SIZE];
        struct curl_slist *headers;
        struct request *next;           /* in bd->requests: every request in flight */
        CURLcode result;
        uint8_t *plain;                 /* the blocks a source decoded (a store's, decompressed); NULL: in buf or slots */
        bool *good;                     /* per block: SHA-256 matches (computed outside the lock) */
        uint8_t (*sha)[32];             /* per block: the SHA-256 of the bytes received (NULL: not kept) */
        bool no_cache;                  /* a second fetch of a block that failed verification: past every cache */
        /*
         * A raw mirror's blocks are verified one by one as their last byte
         * arrives: on_body() hands each to a hasher (block_jobs) while its
         * bytes are still in the CPU's cache, and check_block() serves a
         * block received into its slot as soon as it matches.  checked:
         * blocks handed out, in order; pending: those a hasher has not
         * finished; received: the transfer has ended.  The last of the two
         * to end finishes the request (bd->vlock guards pending and received).
         */
        struct job *block_jobs;
        uint64_t checked;
        unsigned pending;
        bool received;
        long status;                    /* the answer's HTTP status, read at its first body bytes */
        uint32_t block_size;
        struct job finish;              /* in the hashers' queue: finish the request */
        bool disk;                      /* not HTTP: read block @first from the disk cache */
        bool fill;                      /* the cache fill's: its blocks go to the disk cache, past the RAM cache */
};

struct wjob {
        uint64_t block;
        struct wjob *next;
        uint8_t data[];
};

#define WRITE_QUEUE_MAX (64u << 20)     /* bytes of blocks waiting for the disk; beyond, a block is not cached */
#define FILL_QUEUE_MAX (8u << 20)       /* the writer's backlog beyond which the cache fill waits for the disk */

/* The cache fill (o.cache_fill): where it is. */
enum fill_state { FILL_OFF, FILL_WAITING, FILL_RUNNING, FILL_DONE, FILL_FULL, FILL_STOPPED };

/*
 * A reader's sequential stream, for readahead: the blocks it has read run
 * from @first to @last; @end is the furthest block read or read ahead for it.
 */
struct ra_stream {
        uint64_t first, last, end;
        uint64_t pos, run;              /* where its last read ended, and the bytes read in order up to there */
        unsigned win;                   /* blocks kept ahead of the reader; 0 until the stream is confirmed */
        uint64_t used;                  /* LRU stamp; 0: a free entry */
};

#define RA_STREAMS 8                    /* readers followed at once */
#define RA_CONFIRM (1u << 20)           /* bytes a stream reads in order before anything is read ahead */

struct queue {
        uint64_t *v;
        size_t head, len, cap;
};

struct ib_blockdev {
        const struct ib_manifest *m;
        struct ib_blockdev_opts o;
        pthread_mutex_t lock;
        pthread_cond_t cond;

        uint8_t *state, *failed, *attempts;
        /*
         * Per block: 1 + the mirror whose copy failed verification once and
         * that is asked for it once more (its next request for the block goes
         * to that mirror, past caches); 0: none.
         */
        uint8_t *recheck;
        uint8_t *asked;                 /* with a profile recorder: a reader has asked for the block */
        int profile_fd;                 /* the recorder, -1 for none */
        uint8_t *from_disk;             /* per block: its copy in RAM came from the disk cache, not a mirror */
        uint16_t *waiters;
        int32_t *slot_of;
        uint64_t *deadline_ms;
        struct queue demand, background;

        uint8_t *slot_data;
        int64_t *slot_block;
        uint8_t *slot_ref;
        uint16_t *slot_busy;            /* a request receiving into the slot, or readers holding it */
        size_t n_slots, hand;

        struct mirror mirrors[MAX_MIRRORS];
        unsigned n_mirrors, inflight;
        size_t slots_reserved;          /* by the requests in flight (reserve_slots()) */

        struct ib_diskcache *dc;
        /* The cache writer: verified blocks queue here and are written by their own thread. */
        pthread_mutex_t wlock;
        pthread_cond_t wcond;
        struct wjob *wq_head, *wq_tail;
        size_t wq_bytes;
        uint64_t cache_skipped;
        pthread_t writer;
        bool writer_started, wstop;
        CURLM *multi;
        CURLSH *share;
        struct request *requests;
        unsigned handles;               /* easy handles in the multi; the fetch thread's alone */
        /* The hashers: blocks as they arrive and finished requests queue here; each is done outside every lock. */
        pthread_mutex_t vlock;
        pthread_cond_t vcond;
        struct job *vq_head, *vq_tail;
        pthread_t hashers[MAX_HASHERS];
        unsigned n_hashers, disk_jobs;  /* disk_jobs: disk-cache reads queued or running (bd->lock) */
        bool vstop;
        pthread_t thread;
        bool started, stop;
        struct ra_stream ra[RA_STREAMS];
        uint64_t ra_clock;
        uint8_t *planned;               /* per block: in the boot profile being prefetched */
        /* The cache fill: the rest of the image into the disk cache while no reader reads (fill_schedule()). */
        enum fill_state fill;
        uint64_t fill_next;             /* the next block the fill looks at */
        uint64_t fill_missing;          /* blocks not in the disk cache at the end of the last pass */
        uint64_t fill_t0_ms, fill_blocks, fill_bytes;
        uint64_t fill_pending;          /* bytes of the fill's requests in flight */
        unsigned fill_inflight;
        int fill_error;                 /* the cache writer's, which stops the fill (bd->wlock) */
        uint64_t last_read_ms;          /* when a reader last asked for something */

        /* statistics */
        uint64_t reads, bytes_read, ram_hits, disk_hits, verify_failures, retries, eio;
        uint64_t latency_us_sum, latency_n, latency_us_max;
};

/*
 * The rooms' functions for each other (internal linkage in the library:
 * not in blockdev.h).
 */

/* blockdev.c */
void ib_bd_log(struct ib_blockdev *bd, const char *fmt, ...) _printf_(2, 3);

/* ramcache.c */
uint8_t *ib_bd_slot_ptr(struct ib_blockdev *bd, size_t s);
ssize_t ib_bd_slot_victim(struct ib_blockdev *bd);
void ib_bd_slot_publish(struct ib_blockdev *bd, size_t s, uint64_t b);
void ib_bd_cache_insert(struct ib_blockdev *bd, uint64_t b, const uint8_t *data);
void ib_bd_reserve_slots(struct ib_blockdev *bd, struct request *rq);
void ib_bd_release_slots(struct ib_blockdev *bd, struct request *rq);
void ib_bd_hold_slots(struct ib_blockdev *bd, uint64_t b0, uint64_t b1);
void ib_bd_unhold_slots(struct ib_blockdev *bd, uint64_t b0, uint64_t b1);
size_t ib_bd_slot_pieces(struct ib_blockdev *bd, size_t len, uint64_t off, uint64_t b0, uint64_t b1, struct iovec *iov);

/* readahead.c */
void ib_bd_record_profile(struct ib_blockdev *bd, uint64_t b0, uint64_t b1);
bool ib_bd_reads_from_network(struct ib_blockdev *bd, uint64_t b0, uint64_t b1);
bool ib_bd_ra_plan(struct ib_blockdev *bd, uint64_t off, uint64_t len, uint64_t *from, uint64_t *to);
void ib_bd_read_ahead(struct ib_blockdev *bd, uint64_t from, uint64_t to, bool network);

/* sched.c */
void ib_bd_want_block(struct ib_blockdev *bd, uint64_t b, bool demand);
void ib_bd_mirror_broken(struct ib_blockdev *bd, unsigned i, const char *why);
int ib_bd_pick_mirror(struct ib_blockdev *bd, uint64_t b, uint64_t now, bool *any_usable);
void ib_bd_finish_request(struct ib_blockdev *bd, struct request *rq, CURLcode cc);
void ib_bd_schedule(struct ib_blockdev *bd);

/* transfer.c */
uint64_t ib_bd_run_bytes(const struct ib_manifest *m, uint64_t first, uint64_t count);
uint8_t *ib_bd_rq_at(const struct request *rq, size_t off);
void ib_bd_request_free(struct request *rq);
int ib_bd_start_request(struct ib_blockdev *bd, unsigned mi, uint64_t first, uint64_t count, bool fill);
const char *ib_bd_check_answer(struct ib_blockdev *bd, struct request *rq, CURLcode cc, bool *permanent, bool *missing);
void ib_bd_pin_validators(struct mirror *mi, const struct request *rq);
void *ib_bd_fetch_thread(void *p);
void ib_bd_wake(struct ib_blockdev *bd);
int ib_bd_transfer_init(struct ib_blockdev *bd, struct ib_err *err);
void ib_bd_transfer_free(struct ib_blockdev *bd);

/* verify.c */
const uint8_t *ib_bd_request_block(struct ib_blockdev *bd, const struct request *rq, uint64_t i);
void ib_bd_verify_request(struct ib_blockdev *bd, struct request *rq);
void ib_bd_push_job(struct ib_blockdev *bd, struct job *job);
void ib_bd_request_received(struct ib_blockdev *bd, struct request *rq);
void *ib_bd_hasher_thread(void *p);

/* diskfill.c */
uint64_t ib_bd_cache_missing(struct ib_blockdev *bd);
void ib_bd_fill_schedule(struct ib_blockdev *bd, uint64_t now, unsigned limit);
void ib_bd_queue_write(struct ib_blockdev *bd, uint64_t b, const uint8_t *data);
void *ib_bd_writer_thread(void *p);
int ib_bd_queue_disk_job(struct ib_blockdev *bd, uint64_t b);
void ib_bd_complete_disk_job(struct ib_blockdev *bd, struct request *rq);

#endif
