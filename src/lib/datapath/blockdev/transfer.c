/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * transfer.c: the requests over libcurl (all of the engine's libcurl): building one, receiving its body
 * (into RAM-cache slots where it can), its headers, the answer's checks,
 * the probe of the mirrors, and the fetch thread that drives the multi
 * handle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

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
 * fetch thread, from on_body()).  Only the bytes of an answer with the
 * source's stream_status (a Range request's 206) are blocks of the image;
 * any other body is judged by ib_bd_check_answer() alone.
 */
static bool next_block_arrived(struct ib_blockdev *bd, const struct request *rq) {
        return rq->checked < rq->count && rq->got >= ib_bd_run_bytes(bd->m, rq->first, rq->checked + 1);
}

static void hand_out_blocks(struct ib_blockdev *bd, struct request *rq) {
        if (!rq->status)
                curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &rq->status);
        if (rq->status != bd->mirrors[rq->mirror].src->stream_status || !next_block_arrived(bd, rq))
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
        free(rq->sha);
        free(rq->block_jobs);
        free(rq);
}

static struct request *request_new(struct ib_blockdev *bd, unsigned mi, uint64_t first, uint64_t count, bool into_slots) {
        struct request *rq = calloc(1, sizeof(*rq));
        const struct ib_source_ops *src = bd->mirrors[mi].src;
        char range[80], *url = NULL;

        if (!rq)
                return NULL;
        rq->bd = bd;
        rq->finish = (struct job){ .rq = rq, .block = JOB_FINISH };
        rq->mirror = mi;
        rq->first = first;
        rq->count = count;
        rq->len = (size_t)ib_bd_run_bytes(bd->m, first, count);
        rq->want = rq->len;
        rq->len = src->answer_room(rq->want);
        rq->block_size = bd->m->block_size;
        if (into_slots && src->stream_status)
                ib_bd_reserve_slots(bd, rq);
        if (!rq->slots)
                rq->buf = malloc(rq->len);
        rq->easy = curl_easy_init();
        rq->sha = calloc(count, sizeof(*rq->sha));
        /* A block that failed verification once from this mirror: fetched again past every cache. */
        for (uint64_t b = first; b < first + count; b++)
                rq->no_cache |= bd->recheck[b] == mi + 1;
        if (src->stream_status) {
                /* A raw mirror's blocks are verified as they arrive (hand_out_blocks()). */
                rq->good = calloc(count, sizeof(*rq->good));
                rq->block_jobs = calloc(count, sizeof(*rq->block_jobs));
                for (uint64_t i = 0; rq->block_jobs && i < count; i++)
                        rq->block_jobs[i] = (struct job){ .rq = rq, .block = i };
        }
        if (rq->no_cache) {
                struct curl_slist *h = curl_slist_append(NULL, "Cache-Control: no-cache");

                rq->headers = h ? curl_slist_append(h, "Pragma: no-cache") : NULL;
                if (h && !rq->headers)
                        curl_slist_free_all(h);
        }
        if ((!rq->buf && !rq->slots) || !rq->easy || !rq->sha || (rq->no_cache && !rq->headers) || (src->stream_status && (!rq->good || !rq->block_jobs)) ||
            src->locate(bd->mirrors[mi].url, bd->m, rq, &url, range, sizeof(range)) < 0) {
                ib_bd_release_slots(bd, rq);
                ib_bd_request_free(rq);
                return NULL;
        }
        curl_easy_setopt(rq->easy, CURLOPT_URL, url);
        free(url);
        if (range[0])
                curl_easy_setopt(rq->easy, CURLOPT_RANGE, range);
        if (rq->headers)
                curl_easy_setopt(rq->easy, CURLOPT_HTTPHEADER, rq->headers);
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

/*
 * Check the HTTP answer; NULL when it is what was asked for.  A transfer
 * error is reported here, the rest by the request's source (check()).
 */
const char *ib_bd_check_answer(struct ib_blockdev *bd, struct request *rq, CURLcode cc, bool *permanent, bool *missing) {
        static __thread char why[512];
        struct mirror *mi = &bd->mirrors[rq->mirror];
        long status = 0;

        *permanent = *missing = false;
        curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
        if (!rq->overflow && cc != CURLE_OK) {
                snprintf(why, sizeof(why), "%s", rq->curl_error[0] ? rq->curl_error : curl_easy_strerror(cc));
                return why;
        }
        return mi->src->check(bd->m, mi, rq, status, permanent, missing);
}

/* Remember the validators of a mirror's first good answer: later answers must carry the same. */
void ib_bd_pin_validators(struct mirror *mi, const struct request *rq) {
        if (!mi->src->validators || mi->etag || mi->last_modified)
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
                                why = mi->src->mismatch;
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

void *ib_bd_fetch_thread(void *p) {
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

void ib_bd_wake(struct ib_blockdev *bd) {
        if (bd->multi)
                curl_multi_wakeup(bd->multi);
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

/* The multi handle and the share (DNS, TLS sessions, connections) of ib_blockdev_start(). */
int ib_bd_transfer_init(struct ib_blockdev *bd, struct ib_err *err) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

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
        return 0;
}

/* The requests still in flight, the multi handle and the share; the fetch thread has ended. */
void ib_bd_transfer_free(struct ib_blockdev *bd) {
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
}
