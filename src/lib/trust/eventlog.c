/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * eventlog.c: the TCG crypto-agile event log, written and read (see
 * eventlog.h for the layout and the limits).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "eventlog.h"

#define SPEC_ID_SIGNATURE "Spec ID Event03"     /* 16 bytes with its NUL */
#define VENDOR_INFO "inetboot"

size_t ib_alg_len(uint16_t alg)
{
        return alg == IB_ALG_SHA256 ? 32 : alg == IB_ALG_SHA1 ? 20 : 0;
}

const char *ib_alg_name(uint16_t alg)
{
        return alg == IB_ALG_SHA256 ? "sha256" : alg == IB_ALG_SHA1 ? "sha1" : "unknown";
}

void ib_alg_hash(uint16_t alg, const void *buf, size_t len, uint8_t *out)
{
        unsigned n;

        EVP_Digest(buf, len, out, &n, alg == IB_ALG_SHA1 ? EVP_sha1() : EVP_sha256(), NULL);
}

int ib_eventlog_init(struct ib_eventlog *log, uint16_t alg)
{
        if (!ib_alg_len(alg))
                return -EINVAL;
        *log = (struct ib_eventlog) { .alg = alg };
        return 0;
}

void ib_eventlog_clear(struct ib_eventlog *log)
{
        if (!log)
                return;
        for (size_t i = 0; i < log->n; i++)
                free(log->ev[i].data);
        free(log->ev);
        log->ev = NULL;
        log->n = log->cap = 0;
}

int ib_eventlog_add(struct ib_eventlog *log, uint32_t pcr, uint32_t type,
                    const void *data, size_t data_len, const uint8_t *digest)
{
        struct ib_event *e;

        if (pcr >= IB_EVENTLOG_NUM_PCRS || data_len > IB_EVENTLOG_MAX_DATA || log->n >= IB_EVENTLOG_MAX_EVENTS)
                return -EINVAL;
        if (log->n == log->cap) {
                size_t cap = log->cap ? 2 * log->cap : 8;
                struct ib_event *ev = reallocarray(log->ev, cap, sizeof(*ev));

                if (!ev)
                        return -ENOMEM;
                log->ev = ev;
                log->cap = cap;
        }
        e = &log->ev[log->n];
        *e = (struct ib_event) { .pcr = pcr, .type = type, .data_len = data_len };
        e->data = malloc(data_len ? data_len : 1);
        if (!e->data)
                return -ENOMEM;
        if (data_len)
                memcpy(e->data, data, data_len);
        if (type == IB_EV_NO_ACTION)
                ;       /* stays zero */
        else if (digest)
                memcpy(e->digest, digest, ib_alg_len(log->alg));
        else
                ib_alg_hash(log->alg, data, data_len, e->digest);
        log->n++;
        return 0;
}

/* ---- writing ------------------------------------------------------------------- */

struct wbuf {
        uint8_t *p;
        size_t len, cap;
        bool oom;
};

static void put(struct wbuf *b, const void *src, size_t n)
{
        if (b->oom)
                return;
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 1024;
                uint8_t *p;

                while (cap < b->len + n)
                        cap *= 2;
                p = realloc(b->p, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, src, n);
        b->len += n;
}

static void put_u8(struct wbuf *b, uint8_t v)
{
        put(b, &v, 1);
}

static void put_u16(struct wbuf *b, uint16_t v)
{
        uint8_t le[2] = { (uint8_t) v, (uint8_t) (v >> 8) };

        put(b, le, 2);
}

static void put_u32(struct wbuf *b, uint32_t v)
{
        uint8_t le[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };

        put(b, le, 4);
}

int ib_eventlog_serialize(const struct ib_eventlog *log, uint8_t **ret, size_t *ret_len)
{
        struct wbuf b = { 0 };
        static const uint8_t zero20[20];
        size_t dl = ib_alg_len(log->alg);

        /* The header: a TCG_PCR_EVENT (SHA-1 layout) carrying TCG_EfiSpecIDEvent. */
        put_u32(&b, 0);
        put_u32(&b, IB_EV_NO_ACTION);
        put(&b, zero20, sizeof(zero20));
        put_u32(&b, 16 + 4 + 4 + 4 + 2 + 2 + 1 + (uint32_t) strlen(VENDOR_INFO));
        put(&b, SPEC_ID_SIGNATURE, sizeof(SPEC_ID_SIGNATURE));
        put_u32(&b, 0);                 /* platformClass: client */
        put_u8(&b, 0);                  /* specVersionMinor */
        put_u8(&b, 2);                  /* specVersionMajor */
        put_u8(&b, 2);                  /* specErrata */
        put_u8(&b, 2);                  /* uintnSize: 64-bit */
        put_u32(&b, 1);                 /* numberOfAlgorithms */
        put_u16(&b, log->alg);
        put_u16(&b, (uint16_t) dl);
        put_u8(&b, (uint8_t) strlen(VENDOR_INFO));
        put(&b, VENDOR_INFO, strlen(VENDOR_INFO));

        for (size_t i = 0; i < log->n; i++) {
                const struct ib_event *e = &log->ev[i];

                put_u32(&b, e->pcr);
                put_u32(&b, e->type);
                put_u32(&b, 1);
                put_u16(&b, log->alg);
                put(&b, e->digest, dl);
                put_u32(&b, (uint32_t) e->data_len);
                put(&b, e->data, e->data_len);
        }
        if (b.oom) {
                free(b.p);
                return -ENOMEM;
        }
        *ret = b.p;
        *ret_len = b.len;
        return 0;
}

/* ---- reading ------------------------------------------------------------------- */

struct rbuf {
        const uint8_t *p;
        size_t len, off;
};

static bool get(struct rbuf *r, void *dst, size_t n)
{
        if (n > r->len - r->off)
                return false;
        if (dst)
                memcpy(dst, r->p + r->off, n);
        r->off += n;
        return true;
}

static bool get_u8(struct rbuf *r, uint8_t *v)
{
        return get(r, v, 1);
}

static bool get_u16(struct rbuf *r, uint16_t *v)
{
        uint8_t le[2];

        if (!get(r, le, 2))
                return false;
        *v = (uint16_t) (le[0] | le[1] << 8);
        return true;
}

static bool get_u32(struct rbuf *r, uint32_t *v)
{
        uint8_t le[4];

        if (!get(r, le, 4))
                return false;
        *v = (uint32_t) le[0] | (uint32_t) le[1] << 8 | (uint32_t) le[2] << 16 | (uint32_t) le[3] << 24;
        return true;
}

static int parse_header(struct rbuf *r, uint16_t *ret_alg, struct ib_err *err)
{
        uint32_t pcr, type, size, nalg, platform;
        uint8_t sig[16], minor, major, errata, uintn, vlen;
        uint16_t alg, alen;
        size_t end;

        if (!get_u32(r, &pcr) || !get_u32(r, &type) || !get(r, NULL, 20) || !get_u32(r, &size))
                return ib_err_set(err, -EBADMSG, 0, "event log: shorter than its header");
        if (pcr != 0 || type != IB_EV_NO_ACTION)
                return ib_err_set(err, -EBADMSG, 0, "event log: the first event is not the Spec ID event "
                                  "(PCR %u, type 0x%x)", pcr, type);
        if (size > r->len - r->off)
                return ib_err_set(err, -EBADMSG, 0, "event log: the Spec ID event runs past the end");
        end = r->off + size;
        if (!get(r, sig, sizeof(sig)) || memcmp(sig, SPEC_ID_SIGNATURE, sizeof(sig)) != 0)
                return ib_err_set(err, -EBADMSG, 0, "event log: no \"Spec ID Event03\" signature "
                                  "(not a crypto-agile log)");
        if (!get_u32(r, &platform) || !get_u8(r, &minor) || !get_u8(r, &major) || !get_u8(r, &errata) ||
            !get_u8(r, &uintn) || !get_u32(r, &nalg))
                return ib_err_set(err, -EBADMSG, 0, "event log: the Spec ID event is truncated");
        if (major != 2)
                return ib_err_set(err, -EBADMSG, 0, "event log: spec version %u.%u, expected 2.x", major, minor);
        if (nalg != 1)
                return ib_err_set(err, -EBADMSG, 0, "event log: %u algorithms; inetboot logs have exactly one", nalg);
        if (!get_u16(r, &alg) || !get_u16(r, &alen) || !get_u8(r, &vlen) || !get(r, NULL, vlen))
                return ib_err_set(err, -EBADMSG, 0, "event log: the Spec ID event is truncated");
        if (!ib_alg_len(alg) || alen != ib_alg_len(alg))
                return ib_err_set(err, -EBADMSG, 0, "event log: algorithm 0x%04x of %u bytes; expected "
                                  "SHA-256 or SHA-1", alg, alen);
        if (r->off != end)
                return ib_err_set(err, -EBADMSG, 0, "event log: the Spec ID event's size (%u) does not match "
                                  "its contents", size);
        *ret_alg = alg;
        return 0;
}

int ib_eventlog_parse(const uint8_t *buf, size_t len, struct ib_eventlog *log, struct ib_err *err)
{
        struct rbuf r = { .p = buf, .len = len };
        struct ib_eventlog l;
        uint16_t alg = 0;
        int rc;

        rc = parse_header(&r, &alg, err);
        if (rc < 0)
                return rc;
        ib_eventlog_init(&l, alg);
        while (r.off < r.len) {
                uint32_t pcr, type, count, dlen;
                uint16_t a;
                uint8_t digest[32];
                size_t n = l.n;

                if (!get_u32(&r, &pcr) || !get_u32(&r, &type) || !get_u32(&r, &count) ||
                    !get_u16(&r, &a)) {
                        rc = ib_err_set(err, -EBADMSG, 0, "event log: event %zu is truncated", n + 1);
                        goto fail;
                }
                if (pcr >= IB_EVENTLOG_NUM_PCRS) {
                        rc = ib_err_set(err, -EBADMSG, 0, "event log: event %zu names PCR %u", n + 1, pcr);
                        goto fail;
                }
                if (count != 1 || a != alg) {
                        rc = ib_err_set(err, -EBADMSG, 0, "event log: event %zu has %u digests of algorithm "
                                        "0x%04x; the header says one of 0x%04x", n + 1, count, a, alg);
                        goto fail;
                }
                if (!get(&r, digest, ib_alg_len(alg)) || !get_u32(&r, &dlen)) {
                        rc = ib_err_set(err, -EBADMSG, 0, "event log: event %zu is truncated", n + 1);
                        goto fail;
                }
                if (dlen > IB_EVENTLOG_MAX_DATA || dlen > r.len - r.off) {
                        rc = ib_err_set(err, -EBADMSG, 0, "event log: event %zu claims %u bytes of data (%s)",
                                        n + 1, dlen, dlen > IB_EVENTLOG_MAX_DATA ? "over the limit" : "past the end");
                        goto fail;
                }
                if (n >= IB_EVENTLOG_MAX_EVENTS) {
                        rc = ib_err_set(err, -E2BIG, 0, "event log: more than %u events", IB_EVENTLOG_MAX_EVENTS);
                        goto fail;
                }
                rc = ib_eventlog_add(&l, pcr, type, r.p + r.off, dlen, digest);
                if (rc < 0) {
                        rc = ib_err_set(err, rc, 0, "event log: out of memory");
                        goto fail;
                }
                /* _add zeroes an EV_NO_ACTION digest; keep what the log says, replay ignores it. */
                memcpy(l.ev[n].digest, digest, ib_alg_len(alg));
                r.off += dlen;
        }
        *log = l;
        return 0;
fail:
        ib_eventlog_clear(&l);
        return rc;
}

void ib_eventlog_replay(const struct ib_eventlog *log, const uint8_t (*start)[32],
                        uint8_t pcrs[IB_EVENTLOG_NUM_PCRS][32], uint32_t *ret_mask)
{
        size_t dl = ib_alg_len(log->alg);
        uint32_t mask = 0;

        for (unsigned i = 0; i < IB_EVENTLOG_NUM_PCRS; i++) {
                memset(pcrs[i], 0, 32);
                if (start)
                        memcpy(pcrs[i], start[i], dl);
        }
        for (size_t i = 0; i < log->n; i++) {
                const struct ib_event *e = &log->ev[i];
                uint8_t cat[64];

                if (e->type == IB_EV_NO_ACTION)
                        continue;
                memcpy(cat, pcrs[e->pcr], dl);
                memcpy(cat + dl, e->digest, dl);
                ib_alg_hash(log->alg, cat, 2 * dl, pcrs[e->pcr]);
                mask |= 1u << e->pcr;
        }
        if (ret_mask)
                *ret_mask = mask;
}

static bool printable(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] < 0x20 || p[i] > 0x7e)
                        return false;
        return true;
}

int ib_eventlog_format(const struct ib_eventlog *log, char **ret)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        size_t dl = ib_alg_len(log->alg);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < log->n; i++) {
                const struct ib_event *e = &log->ev[i];
                char hex[65];

                ib_hex(e->digest, dl, hex);
                fprintf(f, "%2u %-12s %s ", e->pcr,
                        e->type == IB_EV_IPL ? "EV_IPL" : e->type == IB_EV_NO_ACTION ? "EV_NO_ACTION" : "other",
                        hex);
                if (e->type != IB_EV_IPL && e->type != IB_EV_NO_ACTION)
                        fprintf(f, "(type 0x%08x) ", e->type);
                /* A string with its NUL (GRUB's strings) prints as the string. */
                size_t n = e->data_len && !e->data[e->data_len - 1] ? e->data_len - 1 : e->data_len;

                if (printable(e->data, n))
                        fprintf(f, "%.*s\n", (int) n, (const char *) e->data);
                else {
                        fputs("hex:", f);
                        for (size_t k = 0; k < e->data_len; k++)
                                fprintf(f, "%02x", e->data[k]);
                        fputc('\n', f);
                }
        }
        if (fclose(f) != 0) {
                free(out);
                return -ENOMEM;
        }
        *ret = out;
        return 0;
}
