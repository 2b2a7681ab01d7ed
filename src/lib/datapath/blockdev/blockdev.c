/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * blockdev.c: verified blocks from HTTP mirrors, with RAM and disk caches:
 * the object (new, start, free), a read (wait for its blocks, hold their
 * slots), release, prefetch and the statistics.  The engine's rooms and
 * its lock rules: internal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

static const char *const fill_names[] = { "off", "waiting", "filling", "done", "full", "stopped" };

static int ib_blockdev_add_source(struct ib_blockdev *bd, const char *url, const struct ib_source_ops *src, struct ib_err *err);

/* A line for the program's log (o.log), when it gave one: library code does not print. */
void ib_bd_log(struct ib_blockdev *bd, const char *fmt, ...) {
        char buf[768];
        va_list ap;

        if (!bd->o.log)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        bd->o.log(bd->o.log_userdata, buf);
}

int ib_blockdev_add_mirror(struct ib_blockdev *bd, const char *url, struct ib_err *err) {
        return ib_blockdev_add_source(bd, url, &ib_source_range, err);
}

int ib_blockdev_add_store(struct ib_blockdev *bd, const char *url, struct ib_err *err) {
        return ib_blockdev_add_source(bd, url, &ib_source_store, err);
}

static int ib_blockdev_add_source(struct ib_blockdev *bd, const char *url, const struct ib_source_ops *src, struct ib_err *err) {
        if (bd->started)
                return ib_err_set(err, -EBUSY, 0, "mirrors are added before the start");
        if (!ib_is_url(url))
                return ib_err_set(err, -EINVAL, 0, "mirror '%s' is not an http:// or https:// URL", url);
        for (unsigned i = 0; i < bd->n_mirrors; i++)
                if (strcmp(bd->mirrors[i].url, url) == 0)
                        return 0;
        if (bd->n_mirrors >= MAX_MIRRORS)
                return ib_err_set(err, -E2BIG, 0, "more than %d mirrors", MAX_MIRRORS);
        bd->mirrors[bd->n_mirrors] = (struct mirror) { .url = strdup(url), .src = src, .backoff_ms = BACKOFF_MIN_MS };
        if (!bd->mirrors[bd->n_mirrors].url)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        bd->n_mirrors++;
        return 0;
}

int ib_blockdev_new(const struct ib_manifest *m, const struct ib_blockdev_opts *opts, struct ib_blockdev **ret,
                    struct ib_err *err) {
        struct ib_blockdev *bd = calloc(1, sizeof(*bd));
        uint64_t n = m->n_blocks;

        if (!bd)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        bd->m = m;
        if (opts)
                bd->o = *opts;
        if (!bd->o.ram_cache)
                bd->o.ram_cache = 64u << 20;
        if (!bd->o.parallel)
                bd->o.parallel = 4;
        if (!bd->o.max_run)
                bd->o.max_run = 16;
        if (!bd->o.connect_timeout)
                bd->o.connect_timeout = 10;
        if (!bd->o.stall_timeout)
                bd->o.stall_timeout = 15;
        if (!bd->o.deadline)
                bd->o.deadline = 120;
        if (bd->o.no_readahead)
                bd->o.readahead = 0;
        else if (!bd->o.readahead)
                bd->o.readahead = 8;
        /* Enough slots for every request in flight plus the blocks readers wait for. */
        bd->n_slots = bd->o.ram_cache / m->block_size;
        if (bd->n_slots < (size_t)bd->o.parallel * bd->o.max_run * 2 + 64)
                bd->n_slots = (size_t)bd->o.parallel * bd->o.max_run * 2 + 64;
        if (bd->n_slots > n)
                bd->n_slots = (size_t)n;
        bd->state = calloc(n, 1);
        bd->failed = calloc(n, 1);
        bd->attempts = calloc(n, 1);
        bd->recheck = calloc(n, 1);
        bd->from_disk = calloc(n, 1);
        bd->waiters = calloc(n, sizeof(uint16_t));
        bd->slot_of = malloc(n * sizeof(int32_t));
        bd->deadline_ms = calloc(n, sizeof(uint64_t));
        bd->slot_data = malloc(bd->n_slots * m->block_size);
        bd->slot_block = malloc(bd->n_slots * sizeof(int64_t));
        bd->slot_ref = calloc(bd->n_slots, 1);
        bd->slot_busy = calloc(bd->n_slots, sizeof(uint16_t));
        bd->profile_fd = -1;
        if (!bd->state || !bd->failed || !bd->attempts || !bd->recheck || !bd->from_disk || !bd->waiters || !bd->slot_of || !bd->deadline_ms ||
            !bd->slot_data || !bd->slot_block || !bd->slot_ref || !bd->slot_busy) {
                ib_blockdev_free(bd);
                return ib_err_set(err, -ENOMEM, 0, "out of memory for %zu cache slots", bd->n_slots);
        }
        if (bd->o.record_profile) {
                bd->profile_fd = open(bd->o.record_profile, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
                if (bd->profile_fd < 0 || !(bd->asked = calloc(n, 1))) {
                        int r = bd->profile_fd < 0 ? -errno : -ENOMEM;

                        ib_err_set(err, r, 0, "cannot record the boot profile in %s: %s", bd->o.record_profile, strerror(-r));
                        ib_blockdev_free(bd);
                        return r;
                }
        }
        memset(bd->slot_of, 0xff, n * sizeof(int32_t));
        for (size_t i = 0; i < bd->n_slots; i++)
                bd->slot_block[i] = -1;
        pthread_mutex_init(&bd->lock, NULL);
        pthread_cond_init(&bd->cond, NULL);
        pthread_mutex_init(&bd->wlock, NULL);
        pthread_cond_init(&bd->wcond, NULL);
        pthread_mutex_init(&bd->vlock, NULL);
        pthread_cond_init(&bd->vcond, NULL);
        if (bd->o.cache_dir && ib_diskcache_open(bd->o.cache_dir, bd->o.cache_max, &bd->dc, err) < 0) {
                int r = err ? err->code : -EIO;

                ib_blockdev_free(bd);
                return r < 0 ? r : -EIO;
        }
        bd->fill = bd->dc && bd->o.cache_fill ? FILL_WAITING : FILL_OFF;
        bd->fill_missing = UINT64_MAX;
        *ret = bd;
        return 0;
}

int ib_blockdev_start(struct ib_blockdev *bd, struct ib_err *err) {
        int r;

        if ((r = ib_bd_transfer_init(bd, err)) < 0)
                return r;
        if (bd->dc) {
                r = pthread_create(&bd->writer, NULL, ib_bd_writer_thread, bd);
                if (r != 0)
                        return ib_err_set(err, -r, 0, "cannot start the cache writer: %s", strerror(r));
                bd->writer_started = true;
        }
        {
                long cpus = sysconf(_SC_NPROCESSORS_ONLN);
                unsigned want = cpus < 1 ? 1 : cpus > MAX_HASHERS ? MAX_HASHERS : (unsigned)cpus;

                for (; bd->n_hashers < want; bd->n_hashers++)
                        if ((r = pthread_create(&bd->hashers[bd->n_hashers], NULL, ib_bd_hasher_thread, bd)) != 0) {
                                if (bd->n_hashers)
                                        break;
                                return ib_err_set(err, -r, 0, "cannot start a hasher thread: %s", strerror(r));
                        }
        }
        bd->last_read_ms = ib_now_ms();         /* the first idle spell starts now */
        r = pthread_create(&bd->thread, NULL, ib_bd_fetch_thread, bd);
        if (r != 0)
                return ib_err_set(err, -r, 0, "cannot start the fetch thread: %s", strerror(r));
        bd->started = true;
        return 0;
}

/*
 * A read: wait until blocks b0..b1 of off..off+len are all verified in the
 * RAM cache (queueing those missing and reading ahead), then hold their
 * slots.  Returns len, or -EIO; on success the caller unholds.  Called with
 * bd->lock held.
 */
static ssize_t read_wait(struct ib_blockdev *bd, size_t len, uint64_t off, uint64_t b0, uint64_t b1, uint64_t t0) {
        uint64_t ra_from = 0, ra_to = 0;
        bool ahead, network;
        ssize_t ret = 0;

        bd->last_read_ms = t0;
        ahead = ib_bd_ra_plan(bd, off, len, &ra_from, &ra_to);
        network = ahead && ib_bd_reads_from_network(bd, b0, b1);
        bd->reads++;
        for (uint64_t b = b0; b <= b1; b++)
                bd->waiters[b]++;
        if (bd->asked)
                ib_bd_record_profile(bd, b0, b1);
        for (bool first = true;; first = false) {
                bool all = true, queued = false;

                for (uint64_t b = b0; b <= b1; b++) {
                        if (bd->slot_of[b] >= 0)
                                continue;
                        if (bd->failed[b]) {
                                ret = -EIO;
                                break;
                        }
                        if (bd->state[b] != B_INFLIGHT) {
                                ib_bd_want_block(bd, b, true);
                                queued = true;
                        }
                        all = false;
                }
                /* Behind the blocks this read needs, so that they go first. */
                if (first && ahead)
                        ib_bd_read_ahead(bd, ra_from, ra_to, network);
                if (ret < 0)
                        break;
                if (all) {
                        if (first)
                                bd->ram_hits++;
                        ib_bd_hold_slots(bd, b0, b1);
                        ret = (ssize_t)len;
                        break;
                }
                if (queued || first)
                        ib_bd_wake(bd);
                pthread_cond_wait(&bd->cond, &bd->lock);
        }
        for (uint64_t b = b0; b <= b1; b++)
                if (--bd->waiters[b] == 0)
                        bd->failed[b] = 0;
        if (ret > 0) {
                uint64_t us = (ib_now_ms() - t0) * 1000;

                bd->bytes_read += (uint64_t)ret;
                bd->latency_us_sum += us;
                bd->latency_n++;
                if (us > bd->latency_us_max)
                        bd->latency_us_max = us;
        }
        bd->last_read_ms = ib_now_ms();         /* the idle spell starts when the read ends */
        return ret;
}

/* The image's bytes off..off+len, shortened at its end; false when there are none. */
static bool read_range(const struct ib_blockdev *bd, size_t *len, uint64_t off, uint64_t *b0, uint64_t *b1) {
        const struct ib_manifest *m = bd->m;

        if (off >= m->size || *len == 0)
                return false;
        if (*len > m->size - off)
                *len = (size_t)(m->size - off);
        *b0 = off / m->block_size;
        *b1 = (off + *len - 1) / m->block_size;
        return true;
}

size_t ib_blockdev_pieces(const struct ib_blockdev *bd, size_t len, uint64_t off) {
        uint64_t b0, b1;

        return read_range(bd, &len, off, &b0, &b1) ? (size_t)(b1 - b0 + 1) : 0;
}

ssize_t ib_blockdev_pread_held(struct ib_blockdev *bd, size_t len, uint64_t off, struct iovec *iov, size_t *n_iov) {
        uint64_t b0, b1, t0 = ib_now_ms();
        ssize_t ret;

        *n_iov = 0;
        if (!read_range(bd, &len, off, &b0, &b1))
                return 0;
        pthread_mutex_lock(&bd->lock);
        ret = read_wait(bd, len, off, b0, b1, t0);
        pthread_mutex_unlock(&bd->lock);
        if (ret > 0)
                *n_iov = ib_bd_slot_pieces(bd, len, off, b0, b1, iov);
        ib_bd_wake(bd);
        return ret;
}

void ib_blockdev_release(struct ib_blockdev *bd, size_t len, uint64_t off) {
        uint64_t b0, b1;

        if (!read_range(bd, &len, off, &b0, &b1))
                return;
        pthread_mutex_lock(&bd->lock);
        ib_bd_unhold_slots(bd, b0, b1);
        pthread_mutex_unlock(&bd->lock);
}

void ib_blockdev_prefetch(struct ib_blockdev *bd, const uint64_t *blocks, size_t n) {
        pthread_mutex_lock(&bd->lock);
        if (!bd->planned)
                bd->planned = calloc(bd->m->n_blocks, 1);       /* without it, readahead goes on as before */
        for (size_t i = 0; i < n; i++)
                if (blocks[i] < bd->m->n_blocks) {
                        if (bd->planned)
                                bd->planned[blocks[i]] = 1;
                        ib_bd_want_block(bd, blocks[i], false);
                }
        pthread_mutex_unlock(&bd->lock);
        ib_bd_wake(bd);
}

void ib_blockdev_stats(struct ib_blockdev *bd, FILE *f) {
        pthread_mutex_lock(&bd->lock);
        fprintf(f, "image %s\nsize %" PRIu64 "\nblock-size %u\n", bd->m->name, bd->m->size, bd->m->block_size);
        fprintf(f, "reads %" PRIu64 "\nbytes-read %" PRIu64 "\nram-hits %" PRIu64 "\ndisk-hits %" PRIu64 "\n",
                bd->reads, bd->bytes_read, bd->ram_hits, bd->disk_hits);
        fprintf(f, "verify-failures %" PRIu64 "\nretries %" PRIu64 "\neio %" PRIu64 "\n", bd->verify_failures, bd->retries, bd->eio);
        if (bd->dc) {
                ib_diskcache_stats(bd->dc, f);
                pthread_mutex_lock(&bd->wlock);
                fprintf(f, "cache-queued-bytes %zu\ncache-skipped %" PRIu64 "\n", bd->wq_bytes, bd->cache_skipped);
                pthread_mutex_unlock(&bd->wlock);
                fprintf(f, "cache-missing %" PRIu64 "\ncache-fill %s\ncache-fill-blocks %" PRIu64 "\ncache-fill-bytes %" PRIu64 "\n",
                        ib_bd_cache_missing(bd), fill_names[bd->fill], bd->fill_blocks, bd->fill_bytes);
        }
        fprintf(f, "read-latency-avg-ms %.1f\nread-latency-max-ms %.1f\n",
                bd->latency_n ? (double)bd->latency_us_sum / (double)bd->latency_n / 1000 : 0.0, (double)bd->latency_us_max / 1000);
        for (unsigned i = 0; i < bd->n_mirrors; i++) {
                const struct mirror *mi = &bd->mirrors[i];

                fprintf(f, "mirror %s bytes=%" PRIu64 " requests=%" PRIu64 " errors=%" PRIu64 " verify-failures=%" PRIu64
                        " latency-ms=%.1f rate-MBps=%.1f kind=%s state=%s\n", mi->url, mi->bytes, mi->requests, mi->errors,
                        mi->verify_failures, mi->latency_ms, mi->rate / 1e6, mi->src->name,
                        mi->distrusted ? "distrusted" : mi->broken ? "failed" : mi->down_until_ms > ib_now_ms() ? "backing-off" : "ok");
        }
        pthread_mutex_unlock(&bd->lock);
}

struct ib_blockdev *ib_blockdev_free(struct ib_blockdev *bd) {
        if (!bd)
                return NULL;
        if (bd->started) {
                pthread_mutex_lock(&bd->lock);
                bd->stop = true;
                pthread_mutex_unlock(&bd->lock);
                ib_bd_wake(bd);
                pthread_join(bd->thread, NULL);
        }
        if (bd->n_hashers) {
                /* The hashers finish what is queued (it may feed the cache writer), then end. */
                pthread_mutex_lock(&bd->vlock);
                bd->vstop = true;
                pthread_cond_broadcast(&bd->vcond);
                pthread_mutex_unlock(&bd->vlock);
                for (unsigned i = 0; i < bd->n_hashers; i++)
                        pthread_join(bd->hashers[i], NULL);
        }
        if (bd->writer_started) {
                pthread_mutex_lock(&bd->wlock);
                bd->wstop = true;
                pthread_cond_signal(&bd->wcond);
                pthread_mutex_unlock(&bd->wlock);
                pthread_join(bd->writer, NULL);
        }
        ib_bd_transfer_free(bd);
        ib_diskcache_free(bd->dc);
        for (unsigned i = 0; i < bd->n_mirrors; i++) {
                free(bd->mirrors[i].url);
                free(bd->mirrors[i].etag);
                free(bd->mirrors[i].last_modified);
                free(bd->mirrors[i].broken);
        }
        free(bd->demand.v);
        free(bd->background.v);
        free(bd->state);
        free(bd->failed);
        free(bd->attempts);
        free(bd->recheck);
        free(bd->asked);
        free(bd->planned);
        if (bd->profile_fd >= 0)
                close(bd->profile_fd);
        free(bd->from_disk);
        free(bd->waiters);
        free(bd->slot_of);
        free(bd->deadline_ms);
        free(bd->slot_data);
        free(bd->slot_block);
        free(bd->slot_ref);
        free(bd->slot_busy);
        free(bd);
        return NULL;
}
