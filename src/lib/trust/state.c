/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * state.c: the client's memory of accepted manifests: rollback floors per
 * publisher key and image, and a time floor (state.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "state.h"

#define MAX_LINE 512u

const char *ib_state_time(uint64_t t, char buf[40]) {
        time_t tt = (time_t)t;
        struct tm tm;

        if (t > (uint64_t)INT64_MAX || !gmtime_r(&tt, &tm) || !strftime(buf, 40, "%Y-%m-%d %H:%M:%S UTC", &tm))
                snprintf(buf, 40, "%" PRIu64, t);
        return buf;
}

struct ib_state *ib_state_free(struct ib_state *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_recs; i++)
                free(s->recs[i].name);
        free(s->recs);
        free(s->keyrings);
        free(s);
        return NULL;
}

/* ---- parsing ------------------------------------------------------------ */

static int corrupt(struct ib_err *err, unsigned line, const char *what) {
        ib_err_set(err, IB_STATE_ECORRUPT, line, "damaged trust state, line %u: %s", line, what);
        return -EBADMSG;
}

/* The next space-separated field of [*p, end): digits only, canonical. */
static int field_u64(const char **p, const char *end, uint64_t *ret) {
        const char *s = *p, *e = memchr(s, ' ', (size_t)(end - s));

        if (!e)
                e = end;
        if (ib_parse_u64(s, (size_t)(e - s), ret) < 0)
                return -EINVAL;
        *p = e < end ? e + 1 : e;
        return 0;
}

static bool valid_name(const char *s, size_t len) {
        if (len == 0 || len > IB_MANIFEST_MAX_NAME || memchr(s, '/', len) || s[0] == ' ' || s[len - 1] == ' ')
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

static int parse_rec(struct ib_state *s, const char *l, size_t len, unsigned line, struct ib_err *err) {
        const char *p = l + strlen("serial "), *end = l + len;
        struct ib_state_rec r = {};

        if (s->n_recs >= IB_STATE_MAX_RECS)
                return corrupt(err, line, "too many records");
        if ((size_t)(end - p) < 65 || p[64] != ' ' || ib_unhex(p, 64, r.key_id, 32) < 0)
                return corrupt(err, line, "malformed key id");
        for (size_t i = 0; i < 64; i++)
                if (p[i] >= 'A' && p[i] <= 'F')
                        return corrupt(err, line, "malformed key id");
        p += 65;
        if (field_u64(&p, end, &r.serial) < 0 || field_u64(&p, end, &r.seen) < 0)
                return corrupt(err, line, "malformed number");
        if (!valid_name(p, (size_t)(end - p)))
                return corrupt(err, line, "malformed image name");
        for (size_t i = 0; i < s->n_recs; i++)
                if (memcmp(s->recs[i].key_id, r.key_id, 32) == 0 && strlen(s->recs[i].name) == (size_t)(end - p) &&
                    memcmp(s->recs[i].name, p, (size_t)(end - p)) == 0)
                        return corrupt(err, line, "a key and image given twice");
        if (!(r.name = strndup(p, (size_t)(end - p))))
                return ib_err_set(err, -ENOMEM, line, "out of memory");
        if (s->n_recs % 64 == 0) {
                struct ib_state_rec *n = realloc(s->recs, (s->n_recs + 64) * sizeof(*n));

                if (!n) {
                        free(r.name);
                        return ib_err_set(err, -ENOMEM, line, "out of memory");
                }
                s->recs = n;
        }
        s->recs[s->n_recs++] = r;
        return 0;
}

/* "keyring <root: 64 hex> <version> <seen>" */
static int parse_keyring(struct ib_state *s, const char *l, size_t len, unsigned line, struct ib_err *err) {
        const char *p = l + strlen("keyring "), *end = l + len;
        struct ib_state_keyring k = {};

        if (s->n_keyrings >= IB_STATE_MAX_KEYRINGS)
                return corrupt(err, line, "too many keyring records");
        if ((size_t)(end - p) < 65 || p[64] != ' ' || ib_unhex(p, 64, k.root, 32) < 0)
                return corrupt(err, line, "malformed root key id");
        for (size_t i = 0; i < 64; i++)
                if (p[i] >= 'A' && p[i] <= 'F')
                        return corrupt(err, line, "malformed root key id");
        p += 65;
        if (field_u64(&p, end, &k.version) < 0 || p == end || field_u64(&p, end, &k.seen) < 0 || p != end ||
            end[-1] == ' ')
                return corrupt(err, line, "malformed number");
        for (size_t i = 0; i < s->n_keyrings; i++)
                if (memcmp(s->keyrings[i].root, k.root, 32) == 0)
                        return corrupt(err, line, "a root key given twice");
        if (s->n_keyrings % 16 == 0) {
                struct ib_state_keyring *n = realloc(s->keyrings, (s->n_keyrings + 16) * sizeof(*n));

                if (!n)
                        return ib_err_set(err, -ENOMEM, line, "out of memory");
                s->keyrings = n;
        }
        s->keyrings[s->n_keyrings++] = k;
        return 0;
}

int ib_state_parse(const char *buf, size_t len, struct ib_state **ret, struct ib_err *err) {
        _cleanup_(ib_state_freep) struct ib_state *s = NULL;
        const char *p = buf, *end = buf + len;
        unsigned line = 0;
        bool floor_seen = false;
        int r;

        if (len > IB_STATE_MAX_BYTES)
                return corrupt(err, 0, "larger than 1 MiB");
        if (!(s = calloc(1, sizeof(*s))))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t l;

                line++;
                if (!nl)
                        return corrupt(err, line, "no final newline");
                l = (size_t)(nl - p);
                if (l > MAX_LINE || memchr(p, '\0', l))
                        return corrupt(err, line, "malformed line");
                if (line == 1) {
                        if (l != strlen(IB_STATE_MAGIC) || memcmp(p, IB_STATE_MAGIC, l) != 0)
                                return corrupt(err, line, "not '" IB_STATE_MAGIC "'");
                } else if (line == 2) {
                        size_t k = strlen("time-floor ");

                        if (l <= k || memcmp(p, "time-floor ", k) != 0 || ib_parse_u64(p + k, l - k, &s->time_floor) < 0)
                                return corrupt(err, line, "not 'time-floor SECONDS'");
                        floor_seen = true;
                } else if (l > strlen("serial ") && memcmp(p, "serial ", strlen("serial ")) == 0) {
                        if (s->n_keyrings)
                                return corrupt(err, line, "a serial record after the keyring records");
                        if ((r = parse_rec(s, p, l, line, err)) < 0)
                                return r;
                } else if (l > strlen("keyring ") && memcmp(p, "keyring ", strlen("keyring ")) == 0) {
                        if ((r = parse_keyring(s, p, l, line, err)) < 0)
                                return r;
                } else
                        return corrupt(err, line, "unknown line");
                p = nl + 1;
        }
        if (!floor_seen)
                return corrupt(err, line, "truncated (no time-floor line)");
        *ret = s;
        s = NULL;
        return 0;
}

int ib_state_format(const struct ib_state *s, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        char hex[65];

        if (!f)
                return -ENOMEM;
        fprintf(f, "%s\ntime-floor %" PRIu64 "\n", IB_STATE_MAGIC, s->time_floor);
        for (size_t i = 0; i < s->n_recs; i++) {
                ib_hex(s->recs[i].key_id, 32, hex);
                fprintf(f, "serial %s %" PRIu64 " %" PRIu64 " %s\n", hex, s->recs[i].serial, s->recs[i].seen, s->recs[i].name);
        }
        for (size_t i = 0; i < s->n_keyrings; i++) {
                ib_hex(s->keyrings[i].root, 32, hex);
                fprintf(f, "keyring %s %" PRIu64 " %" PRIu64 "\n", hex, s->keyrings[i].version, s->keyrings[i].seen);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* ---- the file ----------------------------------------------------------- */

int ib_state_load(const char *dir, struct ib_state **ret, struct ib_err *err) {
        _cleanup_(freep) char *path = NULL, *buf = NULL;
        size_t len;
        int r;

        if (asprintf(&path, "%s/%s", dir, IB_STATE_FILE) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        r = ib_read_file(path, IB_STATE_MAX_BYTES, &buf, &len);
        if (r == -ENOENT) {
                if (!(*ret = calloc(1, sizeof(**ret))))
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                return 0;
        }
        if (r < 0)
                return ib_err_set(err, r, 0, "%s: %s", path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
        r = ib_state_parse(buf, len, ret, err);
        if (r < 0) {
                _cleanup_(freep) char *msg = strdup(err->msg);

                ib_err_set(err, err->code, err->line, "%s: %s", path, msg ?: "damaged");
        }
        return r;
}

int ib_state_save(const struct ib_state *s, const char *dir, struct ib_err *err) {
        _cleanup_(freep) char *path = NULL, *buf = NULL;
        size_t len;
        int r;

        if (asprintf(&path, "%s/%s", dir, IB_STATE_FILE) < 0 || ib_state_format(s, &buf, &len) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)    /* a cache not used before, as the block cache creates it */
                return ib_err_set(err, -errno, 0, "cannot create %s: %m", dir);
        r = ib_write_file_replace(path, buf, len, 0644, true);
        if (r < 0)
                return ib_err_set(err, r, 0, "cannot write %s: %s", path, strerror(-r));
        return 0;
}

/* ---- the TPM's floors ------------------------------------------------------ */

#define NV_MAGIC "IBF1"
#define NV_HEADER 14u
#define NV_REC 16u

static uint64_t get_le64(const uint8_t *p) {
        uint64_t v = 0;

        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static void put_le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++, v >>= 8)
                p[i] = (uint8_t)v;
}

int ib_state_nv_import(struct ib_state *s, const uint8_t *buf, size_t len, struct ib_err *err) {
        uint64_t floor;
        size_t n, end;

        if (len != IB_STATE_NV_SIZE || memcmp(buf, NV_MAGIC, 4) != 0)
                return ib_err_set(err, IB_STATE_ECORRUPT, 0, "the TPM's floors are not inetboot's (no '" NV_MAGIC "')"), -EBADMSG;
        floor = get_le64(buf + 4);
        n = (size_t)buf[12] | (size_t)buf[13] << 8;
        if (n > IB_STATE_NV_RECS)
                return ib_err_set(err, IB_STATE_ECORRUPT, 0, "the TPM's floors: %zu records, more than %u", n, IB_STATE_NV_RECS),
                       -EBADMSG;
        end = NV_HEADER + n * NV_REC;
        for (size_t i = end; i < len; i++)
                if (buf[i])
                        return ib_err_set(err, IB_STATE_ECORRUPT, 0, "the TPM's floors: bytes after the last record"), -EBADMSG;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (memcmp(buf + NV_HEADER + i * NV_REC, buf + NV_HEADER + j * NV_REC, 8) == 0)
                                return ib_err_set(err, IB_STATE_ECORRUPT, 0, "the TPM's floors: a record given twice"), -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                memcpy(s->nv[i].tag, buf + NV_HEADER + i * NV_REC, 8);
                s->nv[i].serial = get_le64(buf + NV_HEADER + i * NV_REC + 8);
        }
        s->n_nv = n;
        if (floor > s->time_floor)
                s->time_floor = floor;
        return 0;
}

void ib_state_nv_export(const struct ib_state *s, uint8_t buf[IB_STATE_NV_SIZE]) {
        memset(buf, 0, IB_STATE_NV_SIZE);
        memcpy(buf, NV_MAGIC, 4);
        put_le64(buf + 4, s->time_floor);
        buf[12] = (uint8_t)s->n_nv;
        buf[13] = (uint8_t)(s->n_nv >> 8);
        for (size_t i = 0; i < s->n_nv; i++) {
                memcpy(buf + NV_HEADER + i * NV_REC, s->nv[i].tag, 8);
                put_le64(buf + NV_HEADER + i * NV_REC + 8, s->nv[i].serial);
        }
}

/* SHA-256(key id || name), its first 8 bytes. */
static void nv_tag(const uint8_t key_id[32], const char *name, uint8_t tag[8]) {
        uint8_t h[32] = {};
        EVP_MD_CTX *c = EVP_MD_CTX_new();

        if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, key_id, 32) ||
            !EVP_DigestUpdate(c, name, strlen(name)) || !EVP_DigestFinal_ex(c, h, NULL))
                memset(h, 0xff, sizeof(h));     /* cannot happen with OpenSSL's SHA-256; a tag nobody else has */
        EVP_MD_CTX_free(c);
        memcpy(tag, h, 8);
}

static struct ib_state_nvrec *find_nv(struct ib_state *s, const uint8_t tag[8]) {
        for (size_t i = 0; i < s->n_nv; i++)
                if (memcmp(s->nv[i].tag, tag, 8) == 0)
                        return &s->nv[i];
        return NULL;
}

/* @tag's floor becomes @serial, the most recent record; the oldest gives way at the bound. */
static void set_nv(struct ib_state *s, const uint8_t tag[8], uint64_t serial) {
        struct ib_state_nvrec *r = find_nv(s, tag);
        size_t at = r ? (size_t)(r - s->nv) : s->n_nv < IB_STATE_NV_RECS ? s->n_nv++ : IB_STATE_NV_RECS - 1;

        memmove(&s->nv[1], &s->nv[0], at * sizeof(s->nv[0]));
        memcpy(s->nv[0].tag, tag, 8);
        s->nv[0].serial = serial;
}

/* ---- the judgement -------------------------------------------------------- */

static struct ib_state_rec *find_rec(struct ib_state *s, const uint8_t key_id[32], const char *name) {
        for (size_t i = 0; i < s->n_recs; i++)
                if (memcmp(s->recs[i].key_id, key_id, 32) == 0 && strcmp(s->recs[i].name, name) == 0)
                        return &s->recs[i];
        return NULL;
}

/* A new record; at the bound, the one accepted longest ago gives way. */
static struct ib_state_rec *add_rec(struct ib_state *s, const uint8_t key_id[32], const char *name) {
        struct ib_state_rec *r;
        char *n = strdup(name);

        if (!n)
                return NULL;
        if (s->n_recs >= IB_STATE_MAX_RECS) {
                size_t old = 0;

                for (size_t i = 1; i < s->n_recs; i++)
                        if (s->recs[i].seen < s->recs[old].seen)
                                old = i;
                free(s->recs[old].name);
                r = &s->recs[old];
        } else {
                if (s->n_recs % 64 == 0) {
                        struct ib_state_rec *nr = realloc(s->recs, (s->n_recs + 64) * sizeof(*nr));

                        if (!nr) {
                                free(n);
                                return NULL;
                        }
                        s->recs = nr;
                }
                r = &s->recs[s->n_recs++];
        }
        memcpy(r->key_id, key_id, 32);
        r->name = n;
        r->serial = 0;
        r->seen = 0;
        return r;
}

int ib_state_judge(struct ib_state *s, const uint8_t key_id[32], const struct ib_manifest *m, uint64_t clock,
                   unsigned flags, struct ib_state_notes *notes, struct ib_err *err) {
        struct ib_state_notes dummy;
        struct ib_state_rec *rec;
        struct ib_state_nvrec *nvrec;
        uint8_t tag[8];
        uint64_t floor;
        char t1[40], t2[40];
        uint64_t now = clock;

        if (!notes)
                notes = &dummy;
        *notes = (struct ib_state_notes){ .clock = clock };
        /* The clock may be wrong; it is never believed before what was already seen signed. */
        if (s && s->time_floor > now)
                now = s->time_floor;
        if (m->created > now)
                now = m->created;
        notes->now = now;
        notes->clock_behind = now != clock;
        if (m->expires && now >= m->expires) {
                ib_err_set(err, IB_STATE_EEXPIRED, 0, "manifest of %s expired on %s (the time now is %s%s)", m->name,
                           ib_state_time(m->expires, t1), ib_state_time(now, t2),
                           now != clock ? ", by the newest manifest seen; the clock is behind" : ", by the clock");
                return -EKEYEXPIRED;
        }
        if (!s)
                return 0;
        rec = find_rec(s, key_id, m->name);
        nv_tag(key_id, m->name, tag);
        nvrec = find_nv(s, tag);
        floor = rec ? rec->serial : 0;
        if (nvrec && nvrec->serial > floor) {
                floor = nvrec->serial;
                notes->floor_from_tpm = true;
        }
        if (m->serial < floor) {
                if (!(flags & IB_STATE_ALLOW_ROLLBACK)) {
                        if (notes->floor_from_tpm)
                                ib_err_set(err, IB_STATE_EROLLBACK, 0,
                                           "manifest of %s has serial %" PRIu64 ", older than serial %" PRIu64 " the TPM keeps "
                                           "as accepted before: refusing a rollback", m->name, m->serial, floor);
                        else
                                ib_err_set(err, IB_STATE_EROLLBACK, 0,
                                           "manifest of %s has serial %" PRIu64 ", older than serial %" PRIu64 " accepted on %s: "
                                           "refusing a rollback", m->name, m->serial, floor, ib_state_time(rec->seen, t1));
                        return -ESTALE;
                }
                notes->rolled_back = true;
                notes->old_serial = floor;
        }
        /* TPM NV wears: written when a floor changes, not on every boot. */
        if (!nvrec || nvrec->serial != m->serial) {
                set_nv(s, tag, m->serial);
                notes->nv_changed = true;
        }
        if (!rec && !(rec = add_rec(s, key_id, m->name)))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (rec->serial != m->serial || notes->rolled_back) {
                rec->serial = m->serial;
                rec->seen = now;
                notes->changed = true;
        }
        if (m->created > s->time_floor) {
                s->time_floor = m->created;
                notes->changed = notes->nv_changed = true;
        }
        return 0;
}

/* ---- keyring versions ------------------------------------------------------- */

uint64_t ib_state_now(const struct ib_state *s, uint64_t clock, uint64_t signed_time) {
        uint64_t now = clock;

        if (s && s->time_floor > now)
                now = s->time_floor;
        return signed_time > now ? signed_time : now;
}

/* Image names have no '/': this one is no image's, so its TPM tag is the keyring's own. */
#define NV_KEYRING_NAME "/keyring"

int ib_state_keyring_floor(struct ib_state *s, const uint8_t root[32], uint64_t version, uint64_t created, uint64_t now,
                           unsigned flags, struct ib_state_notes *notes, uint64_t *ret_floor, uint64_t *ret_seen) {
        struct ib_state_keyring *k = NULL;
        struct ib_state_nvrec *nvrec;
        uint64_t floor, seen;
        uint8_t tag[8];

        for (size_t i = 0; i < s->n_keyrings; i++)
                if (memcmp(s->keyrings[i].root, root, 32) == 0)
                        k = &s->keyrings[i];
        nv_tag(root, NV_KEYRING_NAME, tag);
        nvrec = find_nv(s, tag);
        floor = k ? k->version : 0;
        seen = k ? k->seen : 0;
        if (nvrec && nvrec->serial > floor) {
                floor = nvrec->serial;
                seen = 0;
                notes->floor_from_tpm = true;
        }
        if (version < floor) {
                if (!(flags & IB_STATE_ALLOW_ROLLBACK)) {
                        if (ret_floor)
                                *ret_floor = floor;
                        if (ret_seen)
                                *ret_seen = seen;
                        return -ESTALE;
                }
                notes->keyring_rolled_back = true;
                notes->keyring_old_version = floor;
        }
        if (!nvrec || nvrec->serial != version) {
                set_nv(s, tag, version);
                notes->nv_changed = true;
        }
        if (!k) {
                if (s->n_keyrings >= IB_STATE_MAX_KEYRINGS) {
                        /* the one accepted longest ago gives way */
                        k = &s->keyrings[0];
                        for (size_t i = 1; i < s->n_keyrings; i++)
                                if (s->keyrings[i].seen < k->seen)
                                        k = &s->keyrings[i];
                } else {
                        if (s->n_keyrings % 16 == 0) {
                                struct ib_state_keyring *n = realloc(s->keyrings, (s->n_keyrings + 16) * sizeof(*n));

                                if (!n)
                                        return -ENOMEM;
                                s->keyrings = n;
                        }
                        k = &s->keyrings[s->n_keyrings++];
                }
                *k = (struct ib_state_keyring){};
                memcpy(k->root, root, 32);
                k->version = version + 1;       /* differs: recorded below */
        }
        if (k->version != version || notes->keyring_rolled_back) {
                k->version = version;
                k->seen = now;
                notes->changed = true;
        }
        if (created > s->time_floor) {
                s->time_floor = created;
                notes->changed = notes->nv_changed = true;
        }
        return 0;
}
