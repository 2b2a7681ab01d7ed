/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inetboot-attestd: the attestation service.  A booted machine asks for a
 * nonce, quotes its PCRs over it and posts the quote with its event log
 * (`inetboot-attest attest --server URL`); the service answers with the
 * verdict of ib_attest_verify() and keeps a record of every attestation.
 *
 *   GET  /nonce    20 random bytes, hex; each is good once, for 5 minutes
 *   POST /attest   a quote file (src/lib/trust/attest.h) -> 200 "TRUSTED: ..." or
 *                  403 "UNTRUSTED: ...", 400 for what is not a quote file
 *
 * Attestation keys are trusted when enrolled: DIR/<fingerprint>.pem in
 * --aks DIR.  With --enroll an unknown key is enrolled on its first quote
 * (trust on first use, recorded as such).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "attest.h"
#include "eventlog.h"
#include "util.h"

#define MAX_NONCES 1024
#define NONCE_LEN 20
#define NONCE_TTL 300
#define MAX_EXPECT 64

static const char *prog = "inetboot-attestd";

struct nonce {
        uint8_t v[NONCE_LEN];
        time_t issued;
        bool used;
};

struct service {
        const char *aks, *record, *keep;
        bool enroll;
        struct ib_eventlog expect[MAX_EXPECT];
        size_t n_expect;
        struct nonce nonces[MAX_NONCES];
        size_t next_nonce;
        unsigned long n_trusted, n_untrusted, n_kept;
};

/* Per-request state: the body of a POST, gathered. */
struct upload {
        char *buf;
        size_t len;
        bool too_big;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        stop = sig;
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s --listen ADDR:PORT --aks DIR --expect FILE... [OPTIONS]\n"
                "\n"
                "The attestation service: machines booted by inetboot get a nonce (GET /nonce),\n"
                "post a quote (POST /attest, from `inetboot-attest attest --server URL`) and get\n"
                "the verdict; every attestation is recorded.\n"
                "\n"
                "  -l, --listen ADDR:PORT  where to listen (e.g. 127.0.0.1:8420)\n"
                "  -a, --aks DIR           enrolled attestation keys, DIR/<fingerprint>.pem\n"
                "      --enroll            enroll an unknown key on its first quote (trust on\n"
                "                          first use; the record says so)\n"
                "  -x, --expect FILE       a prediction (inetboot-attest predict -o); repeat for\n"
                "                          several images and entries\n"
                "  -r, --record FILE       append one line per attestation (default: stderr only)\n"
                "  -k, --keep DIR          keep every quote file posted, as DIR/N-AK.quote\n"
                "  -h, --help              this text\n",
                prog);
}

static void say(struct service *s, const char *peer, const char *fp, const char *line)
{
        char when[32];
        time_t now = time(NULL);
        FILE *f;

        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        fprintf(stderr, "%s %s ak=%.16s %s\n", when, peer, fp[0] ? fp : "-", line);
        if (s->record && (f = fopen(s->record, "ae"))) {
                fprintf(f, "%s %s ak=%s %s\n", when, peer, fp[0] ? fp : "-", line);
                fflush(f);
                fsync(fileno(f));
                fclose(f);
        }
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result issue_nonce(struct service *s, struct MHD_Connection *c)
{
        struct nonce *n = &s->nonces[s->next_nonce++ % MAX_NONCES];
        char hex[2 * NONCE_LEN + 2];

        if (getrandom(n->v, sizeof(n->v), 0) != (ssize_t) sizeof(n->v))
                return answer(c, 500, "no randomness\n");
        n->issued = time(NULL);
        n->used = false;
        ib_hex(n->v, sizeof(n->v), hex);
        strcat(hex, "\n");
        return answer(c, 200, hex);
}

/* Take a nonce we issued, unused and fresh: once only. */
static bool take_nonce(struct service *s, const uint8_t *v, size_t len)
{
        time_t now = time(NULL);

        if (len != NONCE_LEN)
                return false;
        for (size_t i = 0; i < MAX_NONCES; i++) {
                struct nonce *n = &s->nonces[i];

                if (n->issued && !n->used && now - n->issued <= NONCE_TTL && memcmp(n->v, v, len) == 0) {
                        n->used = true;
                        return true;
                }
        }
        return false;
}

/* The enrolled AK of this fingerprint (PEM, malloc'd), or NULL; enrolls @pem when --enroll. */
static char *enrolled_ak(struct service *s, const char *fp, const char *pem, bool *ret_new)
{
        _cleanup_(freep) char *path = NULL;
        char *text = NULL;
        size_t len;

        *ret_new = false;
        if (asprintf(&path, "%s/%s.pem", s->aks, fp) < 0)
                return NULL;
        if (ib_read_file(path, 64 * 1024, &text, &len) == 0)
                return text;
        if (!s->enroll || ib_write_file_atomic(path, pem, strlen(pem), 0644) < 0)
                return NULL;
        *ret_new = true;
        return strdup(pem);
}

static enum MHD_Result attest(struct service *s, struct MHD_Connection *c, const char *peer, const struct upload *u)
{
        struct ib_quotefile qf = { 0 };
        struct ib_verdict v;
        struct ib_err e = { 0 };
        _cleanup_(freep) char *ak = NULL, *out = NULL;
        char fp[65] = "";
        bool fresh = false;
        enum MHD_Result ret;

        if (u->too_big)
                return answer(c, 413, "UNTRUSTED: the quote file is too large\n");
        if (ib_quotefile_parse(u->buf ? u->buf : "", u->len, &qf, &e) < 0) {
                say(s, peer, "", e.msg);
                if (asprintf(&out, "UNTRUSTED: %s\n", e.msg) < 0)
                        return MHD_NO;
                return answer(c, 400, out);
        }
        if (ib_ak_fingerprint(qf.q.ak_pem, fp) < 0) {
                ret = answer(c, 400, "UNTRUSTED: the attestation key is not a PEM public key\n");
                goto out;
        }
        if (!take_nonce(s, qf.q.nonce, qf.q.nonce_len)) {
                snprintf(v.line, sizeof(v.line), "UNTRUSTED: the nonce is not one this service issued, or was used or "
                         "expired (a replayed quote?)");
                v.trusted = false;
        } else if (!(ak = enrolled_ak(s, fp, qf.q.ak_pem, &fresh))) {
                snprintf(v.line, sizeof(v.line), "UNTRUSTED: attestation key %.16s is not enrolled (--aks %s)", fp,
                         s->aks);
                v.trusted = false;
        } else if (ib_attest_verify(&qf, ak, qf.q.nonce, qf.q.nonce_len, s->expect, s->n_expect, &v) < 0) {
                ret = answer(c, 500, "out of memory\n");
                goto out;
        }
        if (v.trusted)
                s->n_trusted++;
        else
                s->n_untrusted++;
        say(s, peer, fp, v.line);
        if (s->keep) {
                _cleanup_(freep) char *path = NULL;

                if (asprintf(&path, "%s/%06lu-%.16s.quote", s->keep, ++s->n_kept, fp) < 0 ||
                    ib_write_file_atomic(path, u->buf, u->len, 0644) < 0)
                        fprintf(stderr, "%s: cannot keep the quote in %s: %m\n", prog, s->keep);
        }
        if (asprintf(&out, "%s%s\n", v.line, fresh ? " [attestation key enrolled on first use]" : "") < 0) {
                ret = MHD_NO;
                goto out;
        }
        ret = answer(c, v.trusted ? 200 : 403, out);
out:
        ib_quotefile_clear(&qf);
        return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *data_size, void **state)
{
        struct service *s = cls;
        struct upload *u = *state;
        const union MHD_ConnectionInfo *ci;
        char peer[INET6_ADDRSTRLEN] = "?";

        if (strcmp(method, "GET") == 0 && strcmp(url, "/nonce") == 0)
                return issue_nonce(s, c);
        if (strcmp(method, "POST") != 0 || strcmp(url, "/attest") != 0)
                return answer(c, 404, "GET /nonce, then POST /attest with a quote file\n");
        if (!u) {               /* the first call: headers only */
                u = calloc(1, sizeof(*u));
                if (!u)
                        return MHD_NO;
                *state = u;
                return MHD_YES;
        }
        if (*data_size) {       /* a piece of the body */
                if (u->len + *data_size > IB_QUOTEFILE_MAX)
                        u->too_big = true;
                else {
                        char *nb = realloc(u->buf, u->len + *data_size + 1);

                        if (!nb)
                                return MHD_NO;
                        u->buf = nb;
                        memcpy(u->buf + u->len, data, *data_size);
                        u->len += *data_size;
                        u->buf[u->len] = 0;
                }
                *data_size = 0;
                return MHD_YES;
        }
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) ci->client_addr)->sin_addr, peer, sizeof(peer));
        return attest(s, c, peer, u);
}

static void done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
        struct upload *u = *state;

        if (u) {
                free(u->buf);
                free(u);
                *state = NULL;
        }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "listen", required_argument, NULL, 'l' }, { "aks", required_argument, NULL, 'a' },
                { "enroll", no_argument, NULL, 'E' }, { "expect", required_argument, NULL, 'x' },
                { "record", required_argument, NULL, 'r' }, { "keep", required_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' }, {}
        };
        static struct service s;
        struct sockaddr_in sin = { .sin_family = AF_INET };
        struct MHD_Daemon *d;
        const char *listen = NULL;
        struct ib_err e = { 0 };
        int c, ret = 1;

        while ((c = getopt_long(argc, argv, "l:a:x:r:k:h", opts, NULL)) != -1)
                switch (c) {
                case 'l': listen = optarg; break;
                case 'a': s.aks = optarg; break;
                case 'E': s.enroll = true; break;
                case 'r': s.record = optarg; break;
                case 'k': s.keep = optarg; break;
                case 'x': {
                        _cleanup_(freep) char *buf = NULL;
                        size_t len;
                        int r;

                        if (s.n_expect == MAX_EXPECT)
                                return fprintf(stderr, "%s: at most %d --expect\n", prog, MAX_EXPECT), 2;
                        r = ib_read_file(optarg, 16u << 20, &buf, &len);
                        if (r < 0)
                                return fprintf(stderr, "%s: cannot read %s: %s\n", prog, optarg, strerror(-r)), 1;
                        if (ib_eventlog_parse((uint8_t *) buf, len, &s.expect[s.n_expect], &e) < 0)
                                return fprintf(stderr, "%s: %s: %s\n", prog, optarg, e.msg), 1;
                        s.n_expect++;
                        break;
                }
                case 'h': usage(stdout); return 0;
                default: fprintf(stderr, "Try '%s --help'.\n", prog); return 2;
                }
        if (optind != argc || !listen || !s.aks || !s.n_expect) {
                fprintf(stderr, "%s: --listen, --aks and --expect are needed\nTry '%s --help'.\n", prog, prog);
                return 2;
        }
        {
                const char *colon = strrchr(listen, ':');
                _cleanup_(freep) char *host = colon ? ib_strndup(listen, (size_t) (colon - listen)) : NULL;
                uint64_t port;

                if (!colon || !host || inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
                    ib_parse_u64(colon + 1, strlen(colon + 1), &port) < 0 || port == 0 || port > 65535) {
                        fprintf(stderr, "%s: --listen takes IPV4-ADDRESS:PORT, e.g. 127.0.0.1:8420\n", prog);
                        return 2;
                }
                sin.sin_port = htons((uint16_t) port);
        }
        for (size_t i = 0; i < 2; i++) {
                const char *dir = i ? s.keep : s.aks;

                if (dir && mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        fprintf(stderr, "%s: cannot create %s: %m\n", prog, dir);
                        return 1;
                }
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGPIPE, SIG_IGN);
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, &s,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sin, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30, MHD_OPTION_CONNECTION_LIMIT, (unsigned) 64,
                             MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "%s: cannot listen on %s: %m\n", prog, listen);
                goto out;
        }
        fprintf(stderr, "%s: listening on %s, %zu predictions, keys in %s%s\n", prog, listen, s.n_expect, s.aks,
                s.enroll ? " (enrolling new keys)" : "");
        while (!stop)
                pause();
        MHD_stop_daemon(d);
        fprintf(stderr, "%s: stopped: %lu trusted, %lu untrusted\n", prog, s.n_trusted, s.n_untrusted);
        ret = 0;
out:
        for (size_t i = 0; i < s.n_expect; i++)
                ib_eventlog_clear(&s.expect[i]);
        return ret;
}
