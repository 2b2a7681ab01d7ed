/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * blockdev.c: verified blocks from HTTP mirrors, with RAM and disk caches:
 * the object (new, start, free), a read (wait for its blocks, hold their
 * slots), release, prefetch and the statistics.  The engine's rooms and
 * its lock rules: internal.h.
 */
#include <zstd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

static const char *const fill_names[] = { "off", "waiting", "filling", "done", "full", "stopped" };

static int ib_blockdev_add_source(struct ib_blockdev *bd, const char *url, bool store, struct ib_err *err);

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
        return ib_blockdev_add_source(bd, url, false, err);
}

int ib_blockdev_add_store(struct ib_blockdev *bd, const char *url, struct ib_err *err) {
        return ib_blockdev_add_source(bd, url, true, err);
}

static int ib_blockdev_add_source(struct ib_blockdev *bd, const char *url, bool store, struct ib_err *err) {
        if (bd->started)
                return ib_err_set(err, -EBUSY, 0, "mirrors are added before the start");
        if (!ib_is_url(url))
                return ib_err_set(err, -EINVAL, 0, "mirror '%s' is not an http:// or https:// URL", url);
        for (unsigned i = 0; i < bd->n_mirrors; i++)
                if (strcmp(bd->mirrors[i].url, url) == 0)
                        return 0;
        if (bd->n_mirrors >= MAX_MIRRORS)
                return ib_err_set(err, -E2BIG, 0, "more than %d mirrors", MAX_MIRRORS);
        bd->mirrors[bd->n_mirrors] = (struct mirror) { .url = strdup(url), .store = store, .backoff_ms = BACKOFF_MIN_MS };
        if (!bd->mirrors[bd->n_mirrors].url)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        bd->n_mirrors++;
        return 0;
}

/* Bytes of the image in blocks first..first+count-1 (the last block may be short). */
uint64_t ib_bd_run_bytes(const struct ib_manifest *m, uint64_t first, uint64_t count) {
        uint64_t off = first * m->block_size;

        return (first + count) * m->block_size > m->size ? m->size - off : count * m->block_size;
}

/* Where byte @off of a request's data is stored (in a slot, a block is contiguous). */
uint8_t *ib_bd_rq_at(const struct request *rq, size_t off) {
        if (!rq->slots)
                return rq->buf + off;
        return rq->slot_data + (size_t)rq->slots[off / rq->block_size] * rq->block_size + off % rq->block_size;
}

/*
 * Hand the blocks whose last byte has arrived to the hashers, in order (the
 * fetch thread, from on_body()).  Only a 206 answer's bytes are blocks of
 * the image; any other body is judged by ib_bd_check_answer() alone.
 */
static bool next_block_arrived(struct ib_blockdev *bd, const struct request *rq) {
        return rq->checked < rq->count && rq->got >= ib_bd_run_bytes(bd->m, rq->first, rq->checked + 1);
}

static void hand_out_blocks(struct ib_blockdev *bd, struct request *rq) {
        if (!rq->status)
                curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &rq->status);
        if (rq->status != 206 || !next_block_arrived(bd, rq))
                return;         /* (most calls: the lock is taken only to hand something out) */
        pthread_mutex_lock(&bd->vlock);
        for (; next_block_arrived(bd, rq); rq->checked++) {
                rq->pending++;
                ib_bd_push_job(bd, &rq->block_jobs[rq->checked]);
        }
        pthread_mutex_unlock(&bd->vlock);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
        struct request *rq = ud;
        struct ib_blockdev *bd = rq->bd;
        size_t len = size * n;

        if (len > rq->len - rq->got) {
                rq->overflow = true;
                return 0; /* abort: more bytes than asked for */
        }
        if (!rq->slots)
                memcpy(rq->buf + rq->got, data, len);
        else
                for (size_t done = 0; done < len;) {
                        size_t room = rq->block_size - (rq->got + done) % rq->block_size;
                        size_t k = len - done < room ? len - done : room;

                        memcpy(ib_bd_rq_at(rq, rq->got + done), data + done, k);
                        done += k;
                }
        rq->got += len;
        /* The copy is hashed, not curl's buffer: the bytes verified are the bytes kept. */
        if (rq->block_jobs)
                hand_out_blocks(bd, rq);
        return len;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t out_size) {
        size_t nl = strlen(name);

        if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return;
        line += nl + 1, len -= nl + 1;
        while (len && (*line == ' ' || *line == '\t'))
                line++, len--;
        while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
                len--;
        snprintf(out, out_size, "%.*s", (int)(len < out_size ? len : out_size - 1), line);
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
        struct request *rq = ud;
        size_t len = size * n;

        /* A new status line (after a redirect) starts a new set of headers. */
        if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
                rq->content_range[0] = rq->etag[0] = rq->last_modified[0] = 0;
        header_value(data, len, "Content-Range", rq->content_range, sizeof(rq->content_range));
        header_value(data, len, "ETag", rq->etag, sizeof(rq->etag));
        header_value(data, len, "Last-Modified", rq->last_modified, sizeof(rq->last_modified));
        return len;
}

void ib_bd_request_free(struct request *rq) {
        if (!rq)
                return;
        if (rq->easy)
                curl_easy_cleanup(rq->easy);
        curl_slist_free_all(rq->headers);
        free(rq->buf);
        free(rq->slots);
        free(rq->plain);
        free(rq->good);
        free(rq->block_jobs);
        free(rq);
}

static struct request *request_new(struct ib_blockdev *bd, unsigned mi, uint64_t first, uint64_t count, bool into_slots) {
        struct request *rq = calloc(1, sizeof(*rq));
        uint64_t off = first * bd->m->block_size;
        char range[80];

        if (!rq)
                return NULL;
        rq->bd = bd;
        rq->finish = (struct job){ .rq = rq, .block = JOB_FINISH };
        rq->mirror = mi;
        rq->first = first;
        rq->count = count;
        rq->len = (size_t)ib_bd_run_bytes(bd->m, first, count);
        rq->want = rq->len;
        if (bd->mirrors[mi].store)
                rq->len = ZSTD_compressBound(rq->want); /* room for the compressed file */
        rq->block_size = bd->m->block_size;
        if (into_slots && !bd->mirrors[mi].store)
                ib_bd_reserve_slots(bd, rq);
        if (!rq->slots)
                rq->buf = malloc(rq->len);
        rq->easy = curl_easy_init();
        if (!bd->mirrors[mi].store) {
                /* A raw mirror's blocks are verified as they arrive (hand_out_blocks()). */
                rq->good = calloc(count, sizeof(*rq->good));
                rq->block_jobs = calloc(count, sizeof(*rq->block_jobs));
                for (uint64_t i = 0; rq->block_jobs && i < count; i++)
                        rq->block_jobs[i] = (struct job){ .rq = rq, .block = i };
        }
        snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off, off + rq->len - 1);
        if ((!rq->buf && !rq->slots) || !rq->easy || (!bd->mirrors[mi].store && (!rq->good || !rq->block_jobs))) {
                ib_bd_release_slots(bd, rq);
                ib_bd_request_free(rq);
                return NULL;
        }
        if (bd->mirrors[mi].store) {
                /* STORE/xx/<sha256>.zst; a store is asked one block at a time. */
                const char *base = bd->mirrors[mi].url;
                char hex[65], *url;

                ib_hex(bd->m->blocks[first], 32, hex);
                if (asprintf(&url, "%s%s%.2s/%s.zst", base, base[strlen(base) - 1] == '/' ? "" : "/", hex, hex) < 0) {
                        ib_bd_request_free(rq);
                        return NULL;
                }
                curl_easy_setopt(rq->easy, CURLOPT_URL, url);
                free(url);
        } else {
                curl_easy_setopt(rq->easy, CURLOPT_URL, bd->mirrors[mi].url);
                curl_easy_setopt(rq->easy, CURLOPT_RANGE, range);
        }
        curl_easy_setopt(rq->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(rq->easy, CURLOPT_WRITEDATA, rq);
        curl_easy_setopt(rq->easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(rq->easy, CURLOPT_HEADERDATA, rq);
        curl_easy_setopt(rq->easy, CURLOPT_PRIVATE, rq);
        curl_easy_setopt(rq->easy, CURLOPT_ERRORBUFFER, rq->curl_error);
        curl_easy_setopt(rq->easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(rq->easy, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(rq->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(rq->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(rq->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(rq->easy, CURLOPT_CONNECTTIMEOUT, (long)bd->o.connect_timeout);
        curl_easy_setopt(rq->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(rq->easy, CURLOPT_LOW_SPEED_TIME, (long)bd->o.stall_timeout);
        curl_easy_setopt(rq->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        /*
         * Wait for a connection that may multiplex only where one does: on an
         * HTTP/1.1 mirror PIPEWAIT held new requests until the multi timeout.
         */
        curl_easy_setopt(rq->easy, CURLOPT_PIPEWAIT, bd->mirrors[mi].h2 ? 1L : 0L);
        if (bd->share)
                curl_easy_setopt(rq->easy, CURLOPT_SHARE, bd->share);
        curl_easy_setopt(rq->easy, CURLOPT_USERAGENT, "inetboot-httpfs/1");
        /* No transparent decompression: the bytes hashed are the bytes on the server. */
        curl_easy_setopt(rq->easy, CURLOPT_ACCEPT_ENCODING, NULL);
        if (bd->o.ca_file)
                curl_easy_setopt(rq->easy, CURLOPT_CAINFO, bd->o.ca_file);
        return rq;
}

int ib_bd_start_request(struct ib_blockdev *bd, unsigned mi, uint64_t first, uint64_t count, bool fill) {
        struct request *rq = request_new(bd, mi, first, count, !fill);

        if (!rq)
                return -ENOMEM;
        rq->fill = fill;
        if (curl_multi_add_handle(bd->multi, rq->easy) != CURLM_OK) {
                ib_bd_release_slots(bd, rq);
                ib_bd_request_free(rq);
                return -EIO;
        }
        for (uint64_t b = first; b < first + count; b++)
                bd->state[b] = B_INFLIGHT;
        rq->next = bd->requests;
        bd->requests = rq;
        bd->mirrors[mi].inflight++;
        bd->mirrors[mi].requests++;
        bd->inflight++;
        bd->handles++;
        bd->fill_inflight += fill;
        if (fill)
                bd->fill_pending += rq->want;
        return 0;
}

/* Check the HTTP answer; NULL when it is what was asked for. */
const char *ib_bd_check_answer(struct ib_blockdev *bd, struct request *rq, CURLcode cc, bool *permanent, bool *missing) {
        static __thread char why[512];
        struct mirror *mi = &bd->mirrors[rq->mirror];
        uint64_t off = rq->first * bd->m->block_size, a, b, total;
        long status = 0;
        char tail;

        *permanent = *missing = false;
        curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
        if (rq->overflow && mi->store)
                return "block file larger than any compressed block";
        if (rq->overflow) {
                *permanent = status == 200;
                return status == 200 ? "server ignores Range requests (answered 200 with the whole file)"
                                     : "more bytes than the requested range";
        }
        if (cc != CURLE_OK) {
                snprintf(why, sizeof(why), "%s", rq->curl_error[0] ? rq->curl_error : curl_easy_strerror(cc));
                return why;
        }
        if (mi->store) {
                /* Content-addressed and immutable: a 200 with the compressed block, or nothing. */
                if (status == 404) {
                        *missing = true;
                        return "the block store has no such block";
                }
                if (status != 200) {
                        *permanent = status == 403 || status == 410;
                        snprintf(why, sizeof(why), "HTTP status %ld", status);
                        return why;
                }
                return NULL;
        }
        if (status == 200) {
                *permanent = true;
                return "server ignores Range requests (answered 200 to a Range request)";
        }
        if (status != 206) {
                *permanent = status == 404 || status == 403 || status == 410 || status == 416;
                snprintf(why, sizeof(why), "HTTP status %ld", status);
                return why;
        }
        if (sscanf(rq->content_range, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64 "%c", &a, &b, &total, &tail) != 3)
                return "206 answer without a valid Content-Range";
        if (total != bd->m->size) {
                *permanent = true;
                snprintf(why, sizeof(why), "serves a file of %" PRIu64 " bytes, the manifest says %" PRIu64, total, bd->m->size);
                return why;
        }
        if (a != off || b != off + rq->len - 1) {
                snprintf(why, sizeof(why), "Content-Range %s does not match the requested %" PRIu64 "-%" PRIu64,
                         rq->content_range, off, off + rq->len - 1);
                return why;
        }
        if (rq->got != rq->len)
                return "short body";
        /* The file must stay the one we started with. */
        if ((mi->etag && strcmp(mi->etag, rq->etag) != 0) || (mi->last_modified && strcmp(mi->last_modified, rq->last_modified) != 0)) {
                snprintf(why, sizeof(why), "the file changed on the server (ETag %s -> %s)", mi->etag ?: "-", rq->etag);
                return why;
        }
        return NULL;
}

/* Remember the validators of a mirror's first good answer: later answers must carry the same. */
void ib_bd_pin_validators(struct mirror *mi, const struct request *rq) {
        if (mi->store || mi->etag || mi->last_modified)
                return;
        mi->etag = rq->etag[0] ? strdup(rq->etag) : NULL;
        mi->last_modified = rq->last_modified[0] ? strdup(rq->last_modified) : NULL;
}

int ib_blockdev_probe(struct ib_blockdev *bd, struct ib_err *err) {
        char reasons[sizeof(err->msg)] = "";
        unsigned usable = 0;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return ib_err_set(err, -EIO, 0, "cannot initialise libcurl");
        if (bd->n_mirrors == 0)
                return ib_err_set(err, -ENOENT, 0, "no mirror: the manifest names none and none was given (--mirror URL)");
        /*
         * A warm cache boots without the network: no image byte is fetched
         * before one is needed, and mirrors are checked on their first use
         * (Content-Range, validators and block hashes, as always).
         */
        if (bd->dc && ib_diskcache_has(bd->dc, bd->m->blocks[0])) {
                ib_bd_log(bd, "the cache holds the first block: mirrors are checked when first used");
                return (int)bd->n_mirrors;
        }
        for (unsigned i = 0; i < bd->n_mirrors; i++) {
                struct mirror *mi = &bd->mirrors[i];
                struct request *rq = request_new(bd, i, 0, 1, false);
                const char *why;
                bool permanent, missing;
                size_t l;

                if (!rq)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                /* Checked here by ib_bd_verify_request(), not handed to the hashers. */
                free(rq->block_jobs);
                rq->block_jobs = NULL;
                rq->result = curl_easy_perform(rq->easy);
                why = ib_bd_check_answer(bd, rq, rq->result, &permanent, &missing);
                if (!why) {
                        /* The same decompression and hashing as every fetched block. */
                        ib_bd_verify_request(bd, rq);
                        if (!rq->good || !rq->good[0]) {
                                why = mi->store ? "its first block file is not the manifest's first block"
                                                : "its first block does not match the manifest (another file?)";
                                permanent = true;
                        }
                }
                if (!why) {
                        usable++;
                        ib_bd_pin_validators(mi, rq);
                } else if (permanent || missing) {
                        ib_bd_mirror_broken(bd, i, why);
                } else {
                        usable++;
                        ib_bd_log(bd, "mirror %s: %s; will keep trying it", mi->url, why);
                }
                if (why) {
                        l = strlen(reasons);
                        snprintf(reasons + l, sizeof(reasons) - l, "%s%s: %s", l ? "; " : "", mi->url, why);
                }
                ib_bd_request_free(rq);
        }
        if (usable == 0)
                return ib_err_set(err, -EIO, 0, "no usable mirror: %s", reasons);
        return (int)usable;
}

static void *fetch_thread(void *p) {
        struct ib_blockdev *bd = p;

        pthread_mutex_lock(&bd->lock);
        while (!bd->stop) {
                CURLMsg *msg;
                int running, left;

                ib_bd_schedule(bd);
                pthread_mutex_unlock(&bd->lock);
                curl_multi_perform(bd->multi, &running);
                /*
                 * Sleep only when no transfer ended in that call: one that did has
                 * no socket left to wake the poll, and its readers would wait for
                 * the timeout.
                 */
                if ((unsigned)running >= bd->handles) {
                        curl_multi_poll(bd->multi, NULL, 0, 250, NULL);
                        curl_multi_perform(bd->multi, &running);
                }
                /* The multi handle and the request list are this thread's alone: no lock needed here. */
                while ((msg = curl_multi_info_read(bd->multi, &left))) {
                        struct request *rq = NULL;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
                        rq->result = msg->data.result;
                        curl_multi_remove_handle(bd->multi, msg->easy_handle);
                        bd->handles--;
                        for (struct request **pp = &bd->requests; *pp; pp = &(*pp)->next)
                                if (*pp == rq) {
                                        *pp = rq->next;
                                        break;
                                }
                        ib_bd_request_received(bd, rq);
                }
                pthread_mutex_lock(&bd->lock);
        }
        pthread_mutex_unlock(&bd->lock);
        return NULL;
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud) {
        pthread_mutex_lock(&((pthread_mutex_t *)ud)[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud) {
        pthread_mutex_unlock(&((pthread_mutex_t *)ud)[d]);
}

static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_locks_init(void) {
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_init(&share_locks[i], NULL);
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
        bd->from_disk = calloc(n, 1);
        bd->waiters = calloc(n, sizeof(uint16_t));
        bd->slot_of = malloc(n * sizeof(int32_t));
        bd->deadline_ms = calloc(n, sizeof(uint64_t));
        bd->slot_data = malloc(bd->n_slots * m->block_size);
        bd->slot_block = malloc(bd->n_slots * sizeof(int64_t));
        bd->slot_ref = calloc(bd->n_slots, 1);
        bd->slot_busy = calloc(bd->n_slots, sizeof(uint16_t));
        bd->profile_fd = -1;
        if (!bd->state || !bd->failed || !bd->attempts || !bd->from_disk || !bd->waiters || !bd->slot_of || !bd->deadline_ms ||
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
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        int r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return ib_err_set(err, -EIO, 0, "cannot initialise libcurl");
        bd->multi = curl_multi_init();
        bd->share = curl_share_init();
        if (!bd->multi || !bd->share)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        pthread_once(&once, share_locks_init);
        curl_share_setopt(bd->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(bd->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(bd->share, CURLSHOPT_USERDATA, share_locks);
        curl_share_setopt(bd->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(bd->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(bd->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_multi_setopt(bd->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)bd->o.parallel);
        curl_multi_setopt(bd->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
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
        r = pthread_create(&bd->thread, NULL, fetch_thread, bd);
        if (r != 0)
                return ib_err_set(err, -r, 0, "cannot start the fetch thread: %s", strerror(r));
        bd->started = true;
        return 0;
}

void ib_bd_wake(struct ib_blockdev *bd) {
        if (bd->multi)
                curl_multi_wakeup(bd->multi);
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
                        mi->verify_failures, mi->latency_ms, mi->rate / 1e6, mi->store ? "store" : "image",
                        mi->broken ? "failed" : mi->down_until_ms > ib_now_ms() ? "backing-off" : "ok");
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
        if (bd->multi) {
                while (bd->requests) {
                        struct request *rq = bd->requests;

                        bd->requests = rq->next;
                        curl_multi_remove_handle(bd->multi, rq->easy);
                        ib_bd_request_free(rq);
                }
                curl_multi_cleanup(bd->multi);
        }
        if (bd->share)
                curl_share_cleanup(bd->share);
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
