/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manifest.c: parse, validate and render manifest format v1.
 *
 * The grammar (docs/manifest.md) is a fixed sequence of "key SP value LF"
 * lines.  The parser walks a table of slots in order; a key is accepted only
 * at its slot, so a duplicate, a missing field and a field out of place are
 * told apart and reported with their line number.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"

enum slot {
        S_MAGIC, S_NAME, S_SIZE, S_SHA256, S_BLOCK_SIZE, S_SERIAL, S_CREATED, S_EXPIRES,
        S_URL, S_STORE,
        S_ENTRY, S_FAMILY, S_KERNEL, S_INITRD, S_CMDLINE, S_HYPERVISOR, S_HYPERVISOR_ARGS,
        S_PROFILE, S_BLOCKS,
        _S_MAX,
};

static const struct {
        const char *key;
        unsigned min, max;      /* occurrences per manifest, or per entry for entry slots */
} slots[_S_MAX] = {
        [S_MAGIC]           = { IB_MANIFEST_MAGIC, 1, 1 },
        [S_NAME]            = { "name", 1, 1 },
        [S_SIZE]            = { "size", 1, 1 },
        [S_SHA256]          = { "sha256", 1, 1 },
        [S_BLOCK_SIZE]      = { "block-size", 1, 1 },
        [S_SERIAL]          = { "serial", 1, 1 },
        [S_CREATED]         = { "created", 1, 1 },
        [S_EXPIRES]         = { "expires", 0, 1 },     /* exactly 1 in version 2, none in version 1 */
        [S_URL]             = { "url", 0, IB_MANIFEST_MAX_URLS },
        [S_STORE]           = { "store", 0, IB_MANIFEST_MAX_URLS },
        [S_ENTRY]           = { "entry", 0, IB_MANIFEST_MAX_ENTRIES },
        [S_FAMILY]          = { "family", 1, 1 },
        [S_KERNEL]          = { "kernel", 1, 1 },
        [S_INITRD]          = { "initrd", 0, IB_MANIFEST_MAX_INITRDS },
        [S_CMDLINE]         = { "cmdline", 1, 1 },
        [S_HYPERVISOR]      = { "hypervisor", 0, 1 },
        [S_HYPERVISOR_ARGS] = { "hypervisor-args", 0, 1 },
        [S_PROFILE]         = { "profile", 0, UINT32_MAX },
        [S_BLOCKS]          = { "blocks", 1, 1 },
};

static bool slot_in_entry(enum slot s) {
        return s >= S_FAMILY && s <= S_HYPERVISOR_ARGS;
}

#define MAX_URL 4096u
#define MAX_PATH 1024u
#define MAX_LABEL 256u
#define MAX_FAMILY 32u
#define MAX_CMDLINE 4096u
#define PROFILE_TOKENS_PER_LINE 512

/* ---- value checks, shared by the parser and the validator ---------------- */

static bool valid_text(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static int check_name(const char *s, struct ib_err *err, unsigned line) {
        size_t len = strlen(s);

        if (len == 0 || len > IB_MANIFEST_MAX_NAME)
                return ib_err_set(err, -EINVAL, line, "image name must be 1 to %u bytes", IB_MANIFEST_MAX_NAME);
        if (!valid_text(s, len) || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return ib_err_set(err, -EINVAL, line, "image name '%s' is not a plain file name", s);
        return 0;
}

static int check_url(const char *s, struct ib_err *err, unsigned line) {
        size_t len = strlen(s);

        if (len > MAX_URL)
                return ib_err_set(err, -EINVAL, line, "URL longer than %u bytes", MAX_URL);
        if (!ib_is_url(s))
                return ib_err_set(err, -EINVAL, line, "URL '%.64s' is not http:// or https://", s);
        if (strcspn(s, " \t") != len || !valid_text(s, len) || len <= (s[4] == 's' ? 8u : 7u))
                return ib_err_set(err, -EINVAL, line, "malformed URL '%.64s'", s);
        return 0;
}

static int check_path(const char *s, struct ib_err *err, unsigned line) {
        size_t len = strlen(s);

        if (len < 2 || len > MAX_PATH || s[0] != '/' || !valid_text(s, len))
                return ib_err_set(err, -EINVAL, line, "path '%.64s' is not an absolute path of at most %u bytes", s, MAX_PATH);
        for (const char *p = s; *p; ) {
                size_t n;

                p++;
                n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return ib_err_set(err, -EINVAL, line, "path '%.64s' has an empty, '.' or '..' component", s);
                p += n;
        }
        return 0;
}

static int check_family(const char *s, struct ib_err *err, unsigned line) {
        size_t len = strlen(s);

        if (len == 0 || len > MAX_FAMILY || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
                return ib_err_set(err, -EINVAL, line, "family '%.40s' is not 1 to %u of [a-z0-9-]", s, MAX_FAMILY);
        return 0;
}

static int check_file_ref(const struct ib_file_ref *f, uint64_t image_size, const char *what,
                          struct ib_err *err, unsigned line) {
        int r = check_path(f->path, err, line);

        if (r < 0)
                return r;
        if (f->size > image_size)
                return ib_err_set(err, IB_MANIFEST_ERANGE, line, "%s '%s' is larger (%" PRIu64 ") than the image (%" PRIu64 ")",
                                  what, f->path, f->size, image_size);
        return 0;
}

/* ---- parser ------------------------------------------------------------- */

struct parser {
        const char *buf, *end, *pos;
        unsigned line;
        struct ib_err *err;
        struct ib_manifest *m;
        enum slot slot;
        unsigned version;               /* of the magic line */
        unsigned count[_S_MAX];         /* for entry slots: within the current entry */
        size_t profile_tokens;          /* tokens on the previous profile line */
};

static int fail(struct parser *p, int cls, const char *fmt, ...) _printf_(3, 4);
static int fail(struct parser *p, int cls, const char *fmt, ...) {
        char msg[sizeof(p->err->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ib_err_set(p->err, cls, p->line, "%s", msg);
        return cls == IB_MANIFEST_ETOOBIG ? -E2BIG : -EINVAL;
}

/* The next line, without its LF.  0 at the end of input. */
static int next_line(struct parser *p, const char **ret, size_t *ret_len) {
        const char *nl;

        if (p->pos >= p->end)
                return 0;
        p->line++;
        nl = memchr(p->pos, '\n', (size_t)(p->end - p->pos));
        if (!nl)
                return fail(p, IB_MANIFEST_ESYNTAX, "last line does not end with a newline");
        if ((size_t)(nl - p->pos) > IB_MANIFEST_MAX_LINE)
                return fail(p, IB_MANIFEST_ETOOBIG, "line longer than %u bytes", IB_MANIFEST_MAX_LINE);
        *ret = p->pos;
        *ret_len = (size_t)(nl - p->pos);
        p->pos = nl + 1;
        return 1;
}

/* Split "key SP value": value may be absent (NULL) but not empty after a space. */
static int split_line(struct parser *p, const char *l, size_t len,
                      const char **key, size_t *key_len, const char **val, size_t *val_len) {
        const char *sp;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)l[i];

                if (c == '\r')
                        return fail(p, IB_MANIFEST_ESYNTAX, "carriage return in line (lines end with LF only)");
                if (c < 0x20 || c == 0x7f)
                        return fail(p, IB_MANIFEST_ESYNTAX, "control byte 0x%02x in line", c);
        }
        if (len == 0)
                return fail(p, IB_MANIFEST_ESYNTAX, "empty line");
        sp = memchr(l, ' ', len);
        *key = l;
        *key_len = sp ? (size_t)(sp - l) : len;
        if (*key_len == 0)
                return fail(p, IB_MANIFEST_ESYNTAX, "line starts with a space");
        if (strspn(l, "abcdefghijklmnopqrstuvwxyz0123456789-") < *key_len)
                return fail(p, IB_MANIFEST_ESYNTAX, "malformed field name '%.*s'", (int)(*key_len > 40 ? 40 : *key_len), l);
        if (!sp) {
                *val = NULL;
                *val_len = 0;
                return 0;
        }
        *val = sp + 1;
        *val_len = len - *key_len - 1;
        if (*val_len == 0)
                return fail(p, IB_MANIFEST_ESYNTAX, "'%.*s' followed by a space and no value", (int)*key_len, l);
        if ((*val)[0] == ' ' || (*val)[*val_len - 1] == ' ')
                return fail(p, IB_MANIFEST_ESYNTAX, "extra space around the value of '%.*s'", (int)*key_len, l);
        return 0;
}

static int parse_number(struct parser *p, const char *key, const char *v, size_t len, uint64_t *ret) {
        int r = ib_parse_u64(v, len, ret);

        if (r == -ERANGE)
                return fail(p, IB_MANIFEST_ENUMBER, "%s: number does not fit in 64 bits", key);
        if (r < 0)
                return fail(p, IB_MANIFEST_ENUMBER, "%s: '%.*s' is not a decimal number", key, (int)(len > 40 ? 40 : len), v);
        return 0;
}

static int parse_hash(struct parser *p, const char *key, const char *v, size_t len, uint8_t out[32]) {
        if (ib_unhex(v, len, out, 32) < 0)
                return fail(p, IB_MANIFEST_EHASH, "%s: not a SHA-256 in 64 lower-case hex digits", key);
        return 0;
}

static int parse_string(struct parser *p, const char *v, size_t len, char **ret) {
        char *s = ib_strndup(v, len);

        if (!s)
                return ib_err_set(p->err, -ENOMEM, p->line, "out of memory");
        *ret = s;
        return 0;
}

/* Run a value check; its message gets the parser's class for string values. */
static int check_value(struct parser *p, int r) {
        if (r < 0 && p->err && p->err->code == -EINVAL)
                p->err->code = IB_MANIFEST_EVALUE;
        return r;
}

/* "SIZE SHA256 PATH" for kernel, initrd, hypervisor. */
static int parse_file_ref(struct parser *p, const char *key, const char *v, size_t len, struct ib_file_ref *f) {
        const char *sp1 = v ? memchr(v, ' ', len) : NULL, *sp2;
        int r;

        if (!sp1 || !(sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - v))))
                return fail(p, IB_MANIFEST_ESYNTAX, "%s: expected 'SIZE SHA256 PATH'", key);
        r = parse_number(p, key, v, (size_t)(sp1 - v), &f->size);
        if (r < 0)
                return r;
        r = parse_hash(p, key, sp1 + 1, (size_t)(sp2 - sp1 - 1), f->sha256);
        if (r < 0)
                return r;
        r = parse_string(p, sp2 + 1, len - (size_t)(sp2 + 1 - v), &f->path);
        if (r < 0)
                return r;
        return check_value(p, check_file_ref(f, p->m->size, key, p->err, p->line));
}

/* Required slots between @from (inclusive) and @to (exclusive) are satisfied? */
static int check_required(struct parser *p, enum slot from, enum slot to, const char *before, bool in_entry) {
        for (enum slot s = from; s < to; s++)
                if ((in_entry || !slot_in_entry(s)) && p->count[s] < slots[s].min) {
                        if (slot_in_entry(s))
                                return fail(p, IB_MANIFEST_EMISSING, "entry '%s' has no '%s' line (before '%s')",
                                            p->m->entries[p->m->n_entries - 1].label, slots[s].key, before);
                        return fail(p, IB_MANIFEST_EMISSING, "missing field '%s' (before '%s')", slots[s].key, before);
                }
        return 0;
}

static int finish_entry(struct parser *p, const char *before) {
        int r;

        if (p->m->n_entries == 0)
                return 0;
        r = check_required(p, S_FAMILY, S_PROFILE, before, true);
        if (r < 0)
                return r;
        for (enum slot s = S_FAMILY; s <= S_HYPERVISOR_ARGS; s++)
                p->count[s] = 0;
        return 0;
}

int ib_profile_parse(const char *s, size_t len, uint64_t n_blocks, bool canonical, uint64_t **profile, size_t *n_profile,
                     size_t *ret_tokens, struct ib_err *err) {
        const char *end = s + len;
        size_t tokens = 0;

        while (s < end) {
                const char *tok = s, *dash;
                size_t tlen;
                uint64_t a, b;
                uint64_t *np;

                tlen = (size_t)((const char *)(memchr(s, ' ', (size_t)(end - s)) ?: end) - s);
                s += tlen;
                if (s < end) {
                        s++;
                        if (s == end || *s == ' ')
                                return ib_err_set(err, IB_MANIFEST_ESYNTAX, 0, "profile: stray space");
                }
                dash = memchr(tok, '-', tlen);
                if (ib_parse_u64(tok, dash ? (size_t)(dash - tok) : tlen, &a) < 0 ||
                    (dash && ib_parse_u64(dash + 1, tlen - (size_t)(dash + 1 - tok), &b) < 0))
                        return ib_err_set(err, IB_MANIFEST_ENUMBER, 0, "profile: '%.*s' is not N or N-M",
                                          (int)(tlen > 40 ? 40 : tlen), tok);
                if (!dash)
                        b = a;
                /* The signed form has one way to write a list: maximal runs, "N" rather than "N-N". */
                if (canonical && ((dash && a >= b) || (*n_profile && a == (*profile)[*n_profile - 1] + 1)))
                        return ib_err_set(err, IB_MANIFEST_ESYNTAX, 0, "profile: '%.*s' is not in canonical form (maximal N-M runs)",
                                          (int)(tlen > 40 ? 40 : tlen), tok);
                tokens++;
                if (a > b || b >= n_blocks)
                        return ib_err_set(err, IB_MANIFEST_ERANGE, 0, "profile: range %" PRIu64 "-%" PRIu64
                                          " outside blocks 0-%" PRIu64, a, b, n_blocks - 1);
                if (b - a + 1 > IB_MANIFEST_MAX_PROFILE - *n_profile)
                        return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "profile: more than %" PRIu64 " blocks",
                                          (uint64_t)IB_MANIFEST_MAX_PROFILE);
                np = realloc(*profile, (*n_profile + (size_t)(b - a + 1)) * sizeof(uint64_t));
                if (!np)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                *profile = np;
                for (uint64_t i = a; i <= b; i++)
                        np[(*n_profile)++] = i;
        }
        if (ret_tokens)
                *ret_tokens = tokens;
        return 0;
}

static int parse_field(struct parser *p, enum slot s, const char *v, size_t len) {
        struct ib_manifest *m = p->m;
        struct ib_entry *e = m->n_entries ? &m->entries[m->n_entries - 1] : NULL;
        const char *key = slots[s].key;
        uint64_t u;
        int r;

        if (!v && s != S_CMDLINE)
                return fail(p, IB_MANIFEST_ESYNTAX, "'%s' has no value", key);
        switch (s) {
        case S_MAGIC:
                break;  /* handled by the caller */
        case S_NAME:
                r = parse_string(p, v, len, &m->name);
                return r < 0 ? r : check_value(p, check_name(m->name, p->err, p->line));
        case S_SIZE:
                r = parse_number(p, key, v, len, &m->size);
                if (r < 0)
                        return r;
                if (m->size == 0 || m->size > IB_MANIFEST_MAX_IMAGE_SIZE)
                        return fail(p, IB_MANIFEST_ERANGE, "size %" PRIu64 " outside 1 to %" PRIu64, m->size,
                                    (uint64_t)IB_MANIFEST_MAX_IMAGE_SIZE);
                return 0;
        case S_SHA256:
                return parse_hash(p, key, v, len, m->sha256);
        case S_BLOCK_SIZE:
                r = parse_number(p, key, v, len, &u);
                if (r < 0)
                        return r;
                if (u < IB_MANIFEST_MIN_BLOCK_SIZE || u > IB_MANIFEST_MAX_BLOCK_SIZE || (u & (u - 1)))
                        return fail(p, IB_MANIFEST_ERANGE, "block-size %" PRIu64 " is not a power of two from %u to %u",
                                    u, IB_MANIFEST_MIN_BLOCK_SIZE, IB_MANIFEST_MAX_BLOCK_SIZE);
                m->block_size = (uint32_t)u;
                m->n_blocks = ib_manifest_block_count(m->size, m->block_size);
                if (m->n_blocks > IB_MANIFEST_MAX_BLOCKS)
                        return fail(p, IB_MANIFEST_ERANGE, "%" PRIu64 " blocks exceed the limit of %" PRIu64 " (use a larger block-size)",
                                    m->n_blocks, (uint64_t)IB_MANIFEST_MAX_BLOCKS);
                return 0;
        case S_SERIAL:
                return parse_number(p, key, v, len, &m->serial);
        case S_CREATED:
                return parse_number(p, key, v, len, &m->created);
        case S_EXPIRES:
                if (p->version != IB_MANIFEST_VERSION_EXPIRES)
                        return fail(p, IB_MANIFEST_EUNKNOWN, "field 'expires' belongs to manifest version %d, not %u",
                                    IB_MANIFEST_VERSION_EXPIRES, p->version);
                r = parse_number(p, key, v, len, &m->expires);
                if (r < 0)
                        return r;
                if (m->expires <= m->created)
                        return fail(p, IB_MANIFEST_ERANGE, "expires %" PRIu64 " is not after created %" PRIu64,
                                    m->expires, m->created);
                return 0;
        case S_URL:
        case S_STORE: {
                char ***list = s == S_URL ? &m->urls : &m->stores;
                size_t *n = s == S_URL ? &m->n_urls : &m->n_stores;
                _cleanup_(freep) char *url = NULL;

                r = parse_string(p, v, len, &url);
                if (r < 0)
                        return r;
                r = check_value(p, check_url(url, p->err, p->line));
                if (r < 0)
                        return r;
                for (size_t i = 0; i < *n; i++)
                        if (strcmp((*list)[i], url) == 0)
                                return fail(p, IB_MANIFEST_EDUPLICATE, "%s '%.64s' given twice", key, url);
                if (ib_strv_push(list, n, url) < 0)
                        return ib_err_set(p->err, -ENOMEM, p->line, "out of memory");
                return 0;
        }
        case S_ENTRY: {
                struct ib_entry *ne;

                if (len > MAX_LABEL)
                        return fail(p, IB_MANIFEST_EVALUE, "entry label longer than %u bytes", MAX_LABEL);
                for (size_t i = 0; i < m->n_entries; i++)
                        if (strlen(m->entries[i].label) == len && memcmp(m->entries[i].label, v, len) == 0)
                                return fail(p, IB_MANIFEST_EDUPLICATE, "entry label '%.*s' given twice", (int)len, v);
                ne = realloc(m->entries, (m->n_entries + 1) * sizeof(*ne));
                if (!ne)
                        return ib_err_set(p->err, -ENOMEM, p->line, "out of memory");
                m->entries = ne;
                e = &ne[m->n_entries++];
                *e = (struct ib_entry) {};
                return parse_string(p, v, len, &e->label);
        }
        case S_FAMILY:
                r = parse_string(p, v, len, &e->family);
                return r < 0 ? r : check_value(p, check_family(e->family, p->err, p->line));
        case S_KERNEL:
                return parse_file_ref(p, key, v, len, &e->kernel);
        case S_INITRD: {
                struct ib_file_ref *ni = realloc(e->initrds, (e->n_initrds + 1) * sizeof(*ni));

                if (!ni)
                        return ib_err_set(p->err, -ENOMEM, p->line, "out of memory");
                e->initrds = ni;
                ni[e->n_initrds] = (struct ib_file_ref) {};
                return parse_file_ref(p, key, v, len, &ni[e->n_initrds++]);
        }
        case S_CMDLINE:
                if (len > MAX_CMDLINE)
                        return fail(p, IB_MANIFEST_EVALUE, "cmdline longer than %u bytes", MAX_CMDLINE);
                return parse_string(p, v ?: "", len, &e->cmdline);
        case S_HYPERVISOR:
                e->has_hypervisor = true;
                return parse_file_ref(p, key, v, len, &e->hypervisor);
        case S_HYPERVISOR_ARGS:
                if (!e->has_hypervisor)
                        return fail(p, IB_MANIFEST_EMISSING, "hypervisor-args without a hypervisor line");
                if (len > MAX_CMDLINE)
                        return fail(p, IB_MANIFEST_EVALUE, "hypervisor-args longer than %u bytes", MAX_CMDLINE);
                return parse_string(p, v, len, &e->hypervisor_args);
        case S_PROFILE: {
                size_t tokens;

                /* Canonical lines hold 512 tokens each, the last one fewer. */
                if (p->profile_tokens && p->profile_tokens != PROFILE_TOKENS_PER_LINE)
                        return fail(p, IB_MANIFEST_ESYNTAX, "profile: a line before the last holds %zu tokens, not %d",
                                    p->profile_tokens, PROFILE_TOKENS_PER_LINE);
                r = ib_profile_parse(v, len, m->n_blocks, true, &m->profile, &m->n_profile, &tokens, p->err);
                if (r < 0 && p->err)
                        p->err->line = p->line;
                if (r >= 0 && tokens > PROFILE_TOKENS_PER_LINE)
                        return fail(p, IB_MANIFEST_ESYNTAX, "profile: more than %d tokens on a line", PROFILE_TOKENS_PER_LINE);
                p->profile_tokens = tokens;
                return r;
        }
        case S_BLOCKS:
        case _S_MAX:
                break;
        }
        return 0;
}

static int parse_blocks(struct parser *p, const char *v, size_t len) {
        struct ib_manifest *m = p->m;
        uint64_t n;
        int r;

        r = parse_number(p, "blocks", v, len, &n);
        if (r < 0)
                return r;
        if (n != m->n_blocks)
                return fail(p, IB_MANIFEST_ECOUNT, "blocks %" PRIu64 " does not match size %" PRIu64 " / block-size %u = %" PRIu64,
                            n, m->size, m->block_size, m->n_blocks);
        /* Each hash line is 65 bytes: refuse early rather than allocate for lines that are not there. */
        if ((uint64_t)(p->end - p->pos) < n * 65)
                return fail(p, IB_MANIFEST_EMISSING, "expected %" PRIu64 " block hashes, the file holds at most %" PRIu64,
                            n, (uint64_t)(p->end - p->pos) / 65);
        m->blocks = malloc(n * 32);
        if (!m->blocks)
                return ib_err_set(p->err, -ENOMEM, p->line, "out of memory");
        for (uint64_t i = 0; i < n; i++) {
                const char *l = p->pos;

                p->line++;
                if (l[64] != '\n' || ib_unhex(l, 64, m->blocks[i], 32) < 0)
                        return fail(p, IB_MANIFEST_EHASH, "block %" PRIu64 ": not a SHA-256 in 64 lower-case hex digits and LF", i);
                p->pos += 65;
        }
        if (p->pos != p->end) {
                p->line++;
                return fail(p, IB_MANIFEST_ETRAILING, "%zu bytes of trailing data after the last block hash",
                            (size_t)(p->end - p->pos));
        }
        return 0;
}

static int parse_magic(struct parser *p, const char *k, size_t klen, const char *v, size_t vlen) {
        uint64_t version;

        if (klen != strlen(IB_MANIFEST_MAGIC) || memcmp(k, IB_MANIFEST_MAGIC, klen) != 0)
                return fail(p, IB_MANIFEST_EMAGIC, "not an inetboot manifest (first line is not '%s %d')",
                            IB_MANIFEST_MAGIC, IB_MANIFEST_VERSION);
        if (!v || ib_parse_u64(v, vlen, &version) < 0)
                return fail(p, IB_MANIFEST_EVERSION, "malformed manifest version");
        if (version != IB_MANIFEST_VERSION && version != IB_MANIFEST_VERSION_EXPIRES)
                return fail(p, IB_MANIFEST_EVERSION, "manifest version %" PRIu64 " is not supported (this inetboot reads versions %d and %d)",
                            version, IB_MANIFEST_VERSION, IB_MANIFEST_VERSION_EXPIRES);
        p->version = (unsigned)version;
        p->count[S_MAGIC] = 1;
        p->slot = S_MAGIC;
        return 0;
}

static int parse_all(struct parser *p) {
        const char *l, *k, *v;
        size_t len, klen, vlen;
        int r;

        r = next_line(p, &l, &len);
        if (r <= 0)
                return r < 0 ? r : fail(p, IB_MANIFEST_EMAGIC, "empty file, not an inetboot manifest");
        /* The magic line is judged before its syntax: a binary file is "not a manifest". */
        if (len < strlen(IB_MANIFEST_MAGIC) || memcmp(l, IB_MANIFEST_MAGIC, strlen(IB_MANIFEST_MAGIC)) != 0)
                return fail(p, IB_MANIFEST_EMAGIC, "not an inetboot manifest (first line is not '%s %d')",
                            IB_MANIFEST_MAGIC, IB_MANIFEST_VERSION);
        r = split_line(p, l, len, &k, &klen, &v, &vlen);
        if (r < 0)
                return r;
        r = parse_magic(p, k, klen, v, vlen);
        if (r < 0)
                return r;

        for (;;) {
                enum slot s;

                r = next_line(p, &l, &len);
                if (r < 0)
                        return r;
                if (r == 0)
                        return fail(p, IB_MANIFEST_EMISSING, "missing field 'blocks' (end of file)");
                r = split_line(p, l, len, &k, &klen, &v, &vlen);
                if (r < 0)
                        return r;
                for (s = 0; s < _S_MAX; s++)
                        if (strlen(slots[s].key) == klen && memcmp(slots[s].key, k, klen) == 0)
                                break;
                if (s == _S_MAX)
                        return fail(p, IB_MANIFEST_EUNKNOWN, "unknown field '%.*s'", (int)(klen > 40 ? 40 : klen), k);

                bool in_entry = p->count[S_ENTRY] > 0 && p->slot >= S_ENTRY && p->slot <= S_HYPERVISOR_ARGS;

                if (s == S_ENTRY && in_entry) {
                        /* The next entry: the previous one must be complete. */
                        r = finish_entry(p, "entry");
                        if (r < 0)
                                return r;
                        if (p->count[S_ENTRY] >= slots[S_ENTRY].max)
                                return fail(p, IB_MANIFEST_ETOOBIG, "more than %u entries", slots[S_ENTRY].max);
                } else if (s < p->slot || (s == p->slot && p->count[s] >= slots[s].max)) {
                        if (p->count[s] >= slots[s].max)
                                return fail(p, slots[s].max == 1 ? IB_MANIFEST_EDUPLICATE : IB_MANIFEST_ETOOBIG,
                                            slots[s].max == 1 ? "field '%s' given twice" : "too many '%s' lines", slots[s].key);
                        return fail(p, IB_MANIFEST_EORDER, "field '%s' out of place (after '%s')",
                                    slots[s].key, slots[p->slot].key);
                } else if (s > p->slot) {
                        if (s > S_EXPIRES && p->slot <= S_EXPIRES && p->count[S_CREATED] &&
                            p->version == IB_MANIFEST_VERSION_EXPIRES && !p->count[S_EXPIRES])
                                return fail(p, IB_MANIFEST_EMISSING, "missing field 'expires' of a version %d manifest (before '%s')",
                                            IB_MANIFEST_VERSION_EXPIRES, slots[s].key);
                        if (slot_in_entry(s) && !in_entry)
                                return fail(p, IB_MANIFEST_EORDER, "field '%s' outside an entry", slots[s].key);
                        if (in_entry && !slot_in_entry(s)) {
                                r = finish_entry(p, slots[s].key);
                                if (r >= 0)
                                        r = check_required(p, S_HYPERVISOR_ARGS + 1, s, slots[s].key, false);
                        } else
                                r = check_required(p, p->slot + 1, s, slots[s].key, in_entry);
                        if (r < 0)
                                return r;
                }
                p->slot = s;
                p->count[s]++;
                if (s == S_BLOCKS)
                        return v ? parse_blocks(p, v, vlen) : fail(p, IB_MANIFEST_ESYNTAX, "'blocks' has no value");
                r = parse_field(p, s, v, vlen);
                if (r < 0)
                        return r;
        }
}

int ib_manifest_parse(const char *buf, size_t len, struct ib_manifest **ret, struct ib_err *err) {
        _cleanup_(ib_manifest_freep) struct ib_manifest *m = NULL;
        struct parser p = { .buf = buf, .end = buf + len, .pos = buf, .err = err };
        int r;

        if (len > IB_MANIFEST_MAX_BYTES)
                return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "manifest larger than %u bytes", IB_MANIFEST_MAX_BYTES) ,
                       -E2BIG;
        m = calloc(1, sizeof(*m));
        if (!m)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        p.m = m;
        r = parse_all(&p);
        if (r < 0)
                return r;
        *ret = m;
        m = NULL;
        return 0;
}

int ib_manifest_load(const char *path, struct ib_manifest **ret, struct ib_err *err) {
        _cleanup_(freep) char *buf = NULL;
        size_t len;
        int r;

        r = ib_read_file(path, IB_MANIFEST_MAX_BYTES, &buf, &len);
        if (r == -EFBIG)
                return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "%s: larger than %u bytes", path, IB_MANIFEST_MAX_BYTES), -E2BIG;
        if (r < 0)
                return ib_err_set(err, r, 0, "%s: %s", path, strerror(-r));
        return ib_manifest_parse(buf, len, ret, err);
}

/* ---- rendering ------------------------------------------------------------ */

struct out {
        char *buf;
        size_t len, cap;
        bool oom;
};

static void out_printf(struct out *o, const char *fmt, ...) _printf_(2, 3);
static void out_printf(struct out *o, const char *fmt, ...) {
        va_list ap;
        int n;

        if (o->oom)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        o->oom = true;
                        return;
                }
                if (o->buf && o->len + (size_t)n < o->cap) {
                        o->len += (size_t)n;
                        return;
                }
                size_t ncap = (o->cap ? o->cap * 2 : 4096) + (size_t)n;
                char *nb = realloc(o->buf, ncap);

                if (!nb) {
                        o->oom = true;
                        return;
                }
                o->buf = nb;
                o->cap = ncap;
        }
}

static void out_file_ref(struct out *o, const char *key, const struct ib_file_ref *f) {
        char hex[65];

        ib_hex(f->sha256, 32, hex);
        out_printf(o, "%s %" PRIu64 " %s %s\n", key, f->size, hex, f->path);
}

static int check_line_text(const char *what, const char *s, size_t max, struct ib_err *err) {
        size_t len = strlen(s);

        if (len > max || !valid_text(s, len) || (len && (s[0] == ' ' || s[len - 1] == ' ')))
                return ib_err_set(err, IB_MANIFEST_EVALUE, 0, "%s '%.64s' is empty, too long, has control bytes or outer spaces", what, s);
        return 0;
}

int ib_manifest_validate(const struct ib_manifest *m, struct ib_err *err) {
        uint32_t bs = m->block_size;
        int r;

        if ((r = check_name(m->name ?: "", err, 0)) < 0)
                return r;
        if (m->size == 0 || m->size > IB_MANIFEST_MAX_IMAGE_SIZE)
                return ib_err_set(err, IB_MANIFEST_ERANGE, 0, "image size %" PRIu64 " outside 1 to %" PRIu64, m->size,
                                  (uint64_t)IB_MANIFEST_MAX_IMAGE_SIZE);
        if (bs < IB_MANIFEST_MIN_BLOCK_SIZE || bs > IB_MANIFEST_MAX_BLOCK_SIZE || (bs & (bs - 1)))
                return ib_err_set(err, IB_MANIFEST_ERANGE, 0, "block size %u is not a power of two from %u to %u", bs,
                                  IB_MANIFEST_MIN_BLOCK_SIZE, IB_MANIFEST_MAX_BLOCK_SIZE);
        if (m->expires && m->expires <= m->created)
                return ib_err_set(err, IB_MANIFEST_ERANGE, 0, "expires %" PRIu64 " is not after created %" PRIu64, m->expires,
                                  m->created);
        if (m->n_blocks != ib_manifest_block_count(m->size, bs) || !m->blocks)
                return ib_err_set(err, IB_MANIFEST_ECOUNT, 0, "block list does not match the image size");
        if (m->n_blocks > IB_MANIFEST_MAX_BLOCKS)
                return ib_err_set(err, IB_MANIFEST_ERANGE, 0, "%" PRIu64 " blocks exceed the limit of %" PRIu64 " (use a larger block size)",
                                  m->n_blocks, (uint64_t)IB_MANIFEST_MAX_BLOCKS);
        if (m->n_urls > IB_MANIFEST_MAX_URLS || m->n_stores > IB_MANIFEST_MAX_URLS)
                return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "more than %u URLs", IB_MANIFEST_MAX_URLS);
        for (size_t i = 0; i < m->n_urls + m->n_stores; i++) {
                const char *u = i < m->n_urls ? m->urls[i] : m->stores[i - m->n_urls];

                if ((r = check_url(u, err, 0)) < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if ((j < m->n_urls) == (i < m->n_urls) &&
                            strcmp(u, j < m->n_urls ? m->urls[j] : m->stores[j - m->n_urls]) == 0)
                                return ib_err_set(err, IB_MANIFEST_EDUPLICATE, 0, "URL '%.64s' given twice", u);
        }
        if (m->n_entries > IB_MANIFEST_MAX_ENTRIES)
                return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "more than %u entries", IB_MANIFEST_MAX_ENTRIES);
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct ib_entry *e = &m->entries[i];

                if (!e->label || !e->label[0] || (r = check_line_text("label", e->label, MAX_LABEL, err)) < 0)
                        return e->label && e->label[0] ? r : ib_err_set(err, IB_MANIFEST_EVALUE, 0, "entry without a label");
                for (size_t j = 0; j < i; j++)
                        if (strcmp(m->entries[j].label, e->label) == 0)
                                return ib_err_set(err, IB_MANIFEST_EDUPLICATE, 0, "entry label '%s' given twice", e->label);
                if ((r = check_family(e->family ?: "", err, 0)) < 0)
                        return r;
                if (!e->kernel.path || (r = check_file_ref(&e->kernel, m->size, "kernel", err, 0)) < 0)
                        return e->kernel.path ? r : ib_err_set(err, IB_MANIFEST_EMISSING, 0, "entry '%s' has no kernel", e->label);
                if (e->n_initrds > IB_MANIFEST_MAX_INITRDS)
                        return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "entry '%s' has more than %u initrds", e->label,
                                          IB_MANIFEST_MAX_INITRDS);
                for (size_t j = 0; j < e->n_initrds; j++)
                        if (!e->initrds[j].path || (r = check_file_ref(&e->initrds[j], m->size, "initrd", err, 0)) < 0)
                                return e->initrds[j].path ? r : ib_err_set(err, IB_MANIFEST_EVALUE, 0, "initrd without a path");
                if (e->cmdline && e->cmdline[0] && (r = check_line_text("cmdline", e->cmdline, MAX_CMDLINE, err)) < 0)
                        return r;
                if (e->has_hypervisor && (!e->hypervisor.path || (r = check_file_ref(&e->hypervisor, m->size, "hypervisor", err, 0)) < 0))
                        return e->hypervisor.path ? r : ib_err_set(err, IB_MANIFEST_EVALUE, 0, "hypervisor without a path");
                if (e->hypervisor_args && (!e->has_hypervisor || !e->hypervisor_args[0] ||
                                           (r = check_line_text("hypervisor-args", e->hypervisor_args, MAX_CMDLINE, err)) < 0))
                        return ib_err_set(err, IB_MANIFEST_EVALUE, 0, "hypervisor-args need a hypervisor and a value");
        }
        if (m->n_profile > IB_MANIFEST_MAX_PROFILE)
                return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "profile longer than %" PRIu64, (uint64_t)IB_MANIFEST_MAX_PROFILE);
        for (size_t i = 0; i < m->n_profile; i++)
                if (m->profile[i] >= m->n_blocks)
                        return ib_err_set(err, IB_MANIFEST_ERANGE, 0, "profile names block %" PRIu64 " of %" PRIu64,
                                          m->profile[i], m->n_blocks);
        return 0;
}

int ib_manifest_format(const struct ib_manifest *m, char **ret, size_t *ret_len, struct ib_err *err) {
        struct out o = {};
        char hex[65];
        int r;

        r = ib_manifest_validate(m, err);
        if (r < 0)
                return r;
        ib_hex(m->sha256, 32, hex);
        out_printf(&o, "%s %d\nname %s\nsize %" PRIu64 "\nsha256 %s\nblock-size %u\nserial %" PRIu64 "\ncreated %" PRIu64 "\n",
                   IB_MANIFEST_MAGIC, m->expires ? IB_MANIFEST_VERSION_EXPIRES : IB_MANIFEST_VERSION, m->name, m->size, hex,
                   m->block_size, m->serial, m->created);
        if (m->expires)
                out_printf(&o, "expires %" PRIu64 "\n", m->expires);
        for (size_t i = 0; i < m->n_urls; i++)
                out_printf(&o, "url %s\n", m->urls[i]);
        for (size_t i = 0; i < m->n_stores; i++)
                out_printf(&o, "store %s\n", m->stores[i]);
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct ib_entry *e = &m->entries[i];

                out_printf(&o, "entry %s\nfamily %s\n", e->label, e->family);
                out_file_ref(&o, "kernel", &e->kernel);
                for (size_t j = 0; j < e->n_initrds; j++)
                        out_file_ref(&o, "initrd", &e->initrds[j]);
                out_printf(&o, e->cmdline && e->cmdline[0] ? "cmdline %s\n" : "cmdline\n", e->cmdline);
                if (e->has_hypervisor) {
                        out_file_ref(&o, "hypervisor", &e->hypervisor);
                        if (e->hypervisor_args)
                                out_printf(&o, "hypervisor-args %s\n", e->hypervisor_args);
                }
        }
        /* Profile: runs as N-M, at most 512 tokens a line. */
        for (size_t i = 0, tokens = 0; i < m->n_profile; tokens++) {
                size_t j = i;

                while (j + 1 < m->n_profile && m->profile[j + 1] == m->profile[j] + 1)
                        j++;
                out_printf(&o, "%s", tokens % PROFILE_TOKENS_PER_LINE == 0 ? "profile " : " ");
                if (j > i)
                        out_printf(&o, "%" PRIu64 "-%" PRIu64, m->profile[i], m->profile[j]);
                else
                        out_printf(&o, "%" PRIu64, m->profile[i]);
                i = j + 1;
                if (tokens % PROFILE_TOKENS_PER_LINE == PROFILE_TOKENS_PER_LINE - 1 || i == m->n_profile)
                        out_printf(&o, "\n");
        }
        out_printf(&o, "blocks %" PRIu64 "\n", m->n_blocks);
        for (uint64_t i = 0; i < m->n_blocks; i++) {
                ib_hex(m->blocks[i], 32, hex);
                out_printf(&o, "%s\n", hex);
        }
        if (o.oom) {
                free(o.buf);
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        }
        if (o.len > IB_MANIFEST_MAX_BYTES) {
                free(o.buf);
                return ib_err_set(err, IB_MANIFEST_ETOOBIG, 0, "manifest would be larger than %u bytes", IB_MANIFEST_MAX_BYTES),
                       -E2BIG;
        }
        *ret = o.buf;
        *ret_len = o.len;
        return 0;
}

static void file_ref_clear(struct ib_file_ref *f) {
        free(f->path);
        f->path = NULL;
}

void ib_entry_clear(struct ib_entry *e) {
        free(e->label);
        free(e->family);
        file_ref_clear(&e->kernel);
        for (size_t i = 0; i < e->n_initrds; i++)
                file_ref_clear(&e->initrds[i]);
        free(e->initrds);
        free(e->cmdline);
        file_ref_clear(&e->hypervisor);
        free(e->hypervisor_args);
        *e = (struct ib_entry) {};
}

struct ib_manifest *ib_manifest_free(struct ib_manifest *m) {
        if (!m)
                return NULL;
        free(m->name);
        ib_strv_free(m->urls, m->n_urls);
        ib_strv_free(m->stores, m->n_stores);
        for (size_t i = 0; i < m->n_entries; i++)
                ib_entry_clear(&m->entries[i]);
        free(m->entries);
        free(m->profile);
        free(m->blocks);
        free(m);
        return NULL;
}
