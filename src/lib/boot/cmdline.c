/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmdline.h"

static bool blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int ib_cmdline_split(const char *s, char ***ret, size_t *ret_n, struct ib_err *err) {
        char **v = NULL, *word = NULL;
        size_t n = 0, len = strnlen(s, IB_CMDLINE_MAX + 1);
        int r;

        if (len > IB_CMDLINE_MAX)
                return ib_err_set(err, -E2BIG, 0, "the command line is longer than %u bytes", IB_CMDLINE_MAX);
        word = malloc(len + 1);
        if (!word)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        for (size_t i = 0; i < len;) {
                bool quoted = false;
                size_t w = 0;

                while (i < len && blank(s[i]))
                        i++;
                if (i >= len)
                        break;
                for (; i < len && (quoted || !blank(s[i])); i++) {
                        if (s[i] == '"')
                                quoted = !quoted;
                        else
                                word[w++] = s[i];
                }
                word[w] = 0;
                if (strcmp(word, "--") == 0)
                        break;  /* the rest belongs to init */
                if (w == 0)
                        continue;       /* "" */
                r = ib_strv_push(&v, &n, word);
                if (r < 0) {
                        ib_strv_free(v, n);
                        free(word);
                        return ib_err_set(err, r, 0, "out of memory");
                }
        }
        free(word);
        if (!v) {
                v = calloc(1, sizeof(*v));
                if (!v)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int check_url(const char *word, const char *url, struct ib_err *err) {
        if (!ib_is_url(url))
                return ib_err_set(err, -EINVAL, 0, "'%s': the URL must start with http:// or https://", word);
        if (strlen(url) <= (url[4] == 's' ? 8u : 7u))
                return ib_err_set(err, -EINVAL, 0, "'%s': the URL has no host", word);
        for (const char *p = url; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return ib_err_set(err, -EINVAL, 0, "'%s': the URL contains a blank or a control character", word);
        return 0;
}

/*
 * Every word inetboot reads.  The preboot's init (a shell script) reads
 * inetboot.cache=, .shell, .menu= and .kexec= itself; the agent reads the
 * whole command line too, so that it knows them, reports what no one reads
 * and passes on only the kernel's words (carried): the booted system's hook
 * gets the rest from the agent (hook.conf, site.conf), not as words.
 */
#define CHOICES(...) ((const char *const[]) { __VA_ARGS__, NULL })
const struct ib_cmdline_word ib_cmdline_words[] = {
        { "inetboot.url", IB_W_URL, "URL", NULL, IB_WORD_AGENT, false, false,
          "A manifest URL (ending in .manifest) or an image URL (its manifest is URL.manifest); repeat it for mirrors." },
        { "inetboot.entry", IB_W_ENTRY, "LABEL", NULL, IB_WORD_AGENT, false, false,
          "The boot entry, by label or 1-based number (default: the first)." },
        { "inetboot.cache", IB_W_CACHE, "SPEC", NULL, IB_WORD_AGENT | IB_WORD_PREBOOT, false, false,
          "A persistent block cache: LABEL=, UUID=, a /dev path (the preboot mounts it) or a directory; "
          "off: none, not even a disk labelled IBCACHE." },
        { "inetboot.cachefill", IB_W_CACHEFILL, "SECONDS", NULL, IB_WORD_AGENT, false, false,
          "After SECONDS without a read (default 30) the booted system fetches the rest of the image into the cache; "
          "off: it caches what it reads only." },
        { "inetboot.profile", IB_W_PROFILE, "MODE", CHOICES("prefetch", "off", "record"), IB_WORD_AGENT, false, false,
          "The booted system's use of the manifest's boot profile: prefetch it (the default), not, or record the "
          "blocks it reads in /dev/.inetboot/profile." },
        { "inetboot.insecure", IB_W_INSECURE, NULL, CHOICES("1"), IB_WORD_AGENT, false, false,
          "Boot an image without a trusted signature, only when the boot media allow it (--allow-insecure)." },
        { "inetboot.allow-rollback", IB_W_ALLOW_ROLLBACK, NULL, CHOICES("1"), IB_WORD_AGENT, false, false,
          "The machine's owner boots a manifest whose serial is below the one the cache's trust state holds "
          "(docs/signatures.md); the floor goes down." },
        { "inetboot.tpm", IB_W_TPM, "POLICY", CHOICES("auto", "required", "off"), IB_WORD_AGENT, false, true,
          "Measured boot: auto (the default: measure when there is a TPM), required (no TPM, no boot), off." },
        { "inetboot.shell", IB_W_SHELL, NULL, NULL, IB_WORD_PREBOOT, false, false,
          "A shell on the console before anything else (the boot media's rescue entry); exit goes on with the boot." },
        { "inetboot.menu", IB_W_MENU, "url", CHOICES("url"), IB_WORD_PREBOOT, false, false,
          "Ask on the console for a manifest's URL once the network is up." },
        { "inetboot.kexec", IB_W_KEXEC, "load", CHOICES("load"), IB_WORD_PREBOOT, false, false,
          "Load the kernel with kexec-tools (kexec_load), not with kexec_file_load." },
        { "netdir", IB_W_NETDIR, "URL", NULL, IB_WORD_AGENT, false, false,
          "The seeds' form of inetboot.url=." },
        { "httpfuse", IB_W_HTTPFUSE, "URL", NULL, IB_WORD_AGENT, false, false,
          "The seeds' form of inetboot.url=." },
        { "iscript", IB_W_ISCRIPT, "URL", NULL, IB_WORD_AGENT, false, false,
          "A preboot script, run before the boot, only if URL.sig is a good signature by a trusted key." },
        { "bootxen", IB_W_BOOTXEN, "FLAG", CHOICES("1", "0"), IB_WORD_AGENT, false, false,
          "The seeds' form: 1 boots the first entry with a hypervisor (Xen) when inetboot.entry= names none." },
        { "type", IB_W_TYPE, "FAMILY",
          CHOICES("iso", "debian-live", "casper", "dracut-live", "arch", "miso", "opensuse", "nixos", "alpine", "knoppix",
                  "slax", "generic"),
          IB_WORD_AGENT, false, false,
          "The seeds' form: iso (theirs, an ISO image: nothing changes) or the image's family (docs/distros.md), how its "
          "initrd is told where its medium is, which wins over the family the manifest names." },
        { "console", IB_W_CONSOLE, "TTY", NULL, IB_WORD_AGENT, true, false,
          "The kernel's console; not passed on under a hypervisor (its entry names the console)." },
        { "ip", IB_W_IP, "CONFIG", NULL, IB_WORD_AGENT | IB_WORD_PREBOOT | IB_WORD_HOOK, true, false,
          "A static address for the preboot and the hook (the kernel's nfsroot form); without it, DHCP." },
        { "earlyprintk", IB_W_EARLYPRINTK, "SPEC", NULL, IB_WORD_AGENT, true, false,
          "The kernel's; not passed on under a hypervisor." },
        { "loglevel", IB_W_LOGLEVEL, "N", NULL, IB_WORD_AGENT, true, false,
          "The kernel's." },
};
const size_t ib_cmdline_n_words = ELEMENTSOF(ib_cmdline_words);

#define OURS "inetboot."
#define OURS_LEN (sizeof(OURS) - 1)

const struct ib_cmdline_word *ib_cmdline_word_find(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(ib_cmdline_words); i++)
                if (strlen(ib_cmdline_words[i].name) == len && memcmp(ib_cmdline_words[i].name, name, len) == 0)
                        return &ib_cmdline_words[i];
        return NULL;
}

/* Names are short: a longer key is more than 2 edits from every one. */
#define NAME_MAX_LEN 32u

/* Edits (insert, delete, substitute, swap two neighbours) from @a to @b, case aside (optimal string alignment). */
static unsigned edit_distance(const char *a, size_t n, const char *b, size_t m) {
        unsigned d[NAME_MAX_LEN + 1][NAME_MAX_LEN + 1];

        for (size_t i = 0; i <= n; i++)
                d[i][0] = (unsigned)i;
        for (size_t j = 0; j <= m; j++)
                d[0][j] = (unsigned)j;
        for (size_t i = 1; i <= n; i++)
                for (size_t j = 1; j <= m; j++) {
                        unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
                        unsigned v = d[i - 1][j] + 1;

                        if (d[i][j - 1] + 1 < v)
                                v = d[i][j - 1] + 1;
                        if (d[i - 1][j - 1] + cost < v)
                                v = d[i - 1][j - 1] + cost;
                        if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                            tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) && d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1;
                        d[i][j] = v;
                }
        return d[n][m];
}

const struct ib_cmdline_word *ib_cmdline_suggest(const char *name, size_t len) {
        const struct ib_cmdline_word *best = NULL;
        unsigned best_score = UINT_MAX;
        bool ours = len > OURS_LEN && strncasecmp(name, OURS, OURS_LEN) == 0;

        if (len > NAME_MAX_LEN)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(ib_cmdline_words); i++) {
                const struct ib_cmdline_word *w = &ib_cmdline_words[i];
                size_t wl = strlen(w->name);
                unsigned bound, d, score;

                if (strncmp(w->name, OURS, OURS_LEN) != 0)
                        continue;
                bound = wl - OURS_LEN <= 4 ? 1 : 2;
                d = len > wl + bound || wl > len + bound ? UINT_MAX : edit_distance(name, len, w->name, wl);
                if (d <= bound)
                        score = d;
                else if (ours && ((len > wl && strncasecmp(name, w->name, wl) == 0) ||
                                  (len >= OURS_LEN + 3 && len < wl && strncasecmp(name, w->name, len) == 0)))
                        score = 3;      /* after every near name */
                else
                        continue;
                if (score < best_score || (score == best_score && wl > strlen(best->name))) {
                        best = w;
                        best_score = score;
                }
        }
        return best;
}

/* Join @choices as "a, b or c" into @buf. */
static const char *choices_text(const char *const *choices, char *buf, size_t size) {
        size_t k = 0;

        buf[0] = 0;
        for (size_t i = 0; choices[i] && k < size; i++)
                k += (size_t)snprintf(buf + k, size - k, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
        return buf;
}

/* Index of @value among @choices, or -1. */
static int choice_index(const char *const *choices, const char *value) {
        for (int i = 0; choices[i]; i++)
                if (strcmp(choices[i], value) == 0)
                        return i;
        return -1;
}

/* Add a note (once: a note already there is not repeated; at most IB_CMDLINE_MAX_NOTES). */
_printf_(2, 3) static int note(struct ib_bootreq *req, const char *fmt, ...) {
        _cleanup_(freep) char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        for (size_t i = 0; i < req->n_notes; i++)
                if (strcmp(req->notes[i], s) == 0)
                        return 0;
        if (req->n_notes >= IB_CMDLINE_MAX_NOTES)
                return 0;
        return ib_strv_push(&req->notes, &req->n_notes, s);
}

/*
 * A word no entry of the table names: a note when it is ours or looks like
 * a misspelling of ours, an error when that is a strict word's.  0 or -errno.
 */
static int unknown_word(struct ib_bootreq *req, const char *w, size_t klen, struct ib_err *err) {
        const struct ib_cmdline_word *s = ib_cmdline_suggest(w, klen);
        bool ours = strncasecmp(w, OURS, OURS_LEN) == 0;

        if (!ours && !s)
                return 0;       /* the kernel's or the booted system's */
        if (s && s->strict)
                return ib_err_set(err, -EINVAL, 0, "unknown option %.*s; did you mean %s? A misspelt %s stops the boot: "
                                  "the boot asked for would not be the boot done", (int)klen, w, s->name, s->name);
        if (s)
                return note(req, "unknown option %.*s; did you mean %s?", (int)klen, w, s->name);
        return note(req, "unknown option %.*s (inetboot-agent --help lists the known ones)", (int)klen, w);
}

/*
 * What is wrong with the form of @w, the known word @k (@eq: its '=' or
 * NULL), into @msg: 0 nothing; 1 a form it does not take; 2 a value not among
 * its choices.
 */
static int form_problem(const struct ib_cmdline_word *k, const char *w, const char *eq, char *msg, size_t size) {
        char choices[128];

        if (!k->value) {
                if (!eq || (k->choices && choice_index(k->choices, eq + 1) >= 0))
                        return 0;
                if (k->choices)
                        snprintf(msg, size, "'%s': %s takes no value (or =%s)", w, k->name,
                                 choices_text(k->choices, choices, sizeof(choices)));
                else
                        snprintf(msg, size, "'%s': %s takes no value", w, k->name);
                return 1;
        }
        if (!eq) {
                snprintf(msg, size, "'%s' takes a value: %s=%s", w, k->name, k->value);
                return 1;
        }
        if (!k->choices || choice_index(k->choices, eq + 1) >= 0)
                return 0;
        snprintf(msg, size, "'%s': %s= takes %s", w, k->name, choices_text(k->choices, choices, sizeof(choices)));
        return 2;
}

/*
 * Whether the known word @w (@k) has a form it takes: 1 it has; 0 it has
 * not and was noted (the word is ignored, by us as by the preboot); -errno
 * for a value the agent would have to guess at, or any wrong form of a
 * strict word.
 */
static int check_form(struct ib_bootreq *req, const struct ib_cmdline_word *k, const char *w, struct ib_err *err) {
        const char *eq = strchr(w, '=');
        char msg[sizeof(((struct ib_err *)0)->msg)];
        int p;

        if (k->carried)
                return eq ? 1 : 0;      /* "console" alone is no console= */
        p = form_problem(k, w, eq, msg, sizeof(msg));
        if (p == 0)
                return 1;
        if (k->strict || (p == 2 && (k->readers & IB_WORD_AGENT)))
                return ib_err_set(err, -EINVAL, 0, "%s", msg);
        return note(req, "%s; ignored", msg);
}

static int set_once(char **field, const char *word, const char *value, struct ib_err *err) {
        char *s;

        if (!*value)
                return ib_err_set(err, -EINVAL, 0, "'%s': empty value", word);
        s = strdup(value);
        if (!s)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        free(*field);   /* the last one wins, as for kernel parameters */
        *field = s;
        return 0;
}

static int add_url(struct ib_bootreq *req, const char *w, const char *url, struct ib_err *err) {
        int r = check_url(w, url, err);

        if (r < 0)
                return r;
        if (req->n_urls >= IB_CMDLINE_MAX_URLS)
                return ib_err_set(err, -E2BIG, 0, "more than %u image URLs on the command line", IB_CMDLINE_MAX_URLS);
        return ib_strv_push(&req->urls, &req->n_urls, url);
}

/* One known word @k, @w in a form it takes, its value @v (NULL for a flag) into @req. */
static int take_word(struct ib_bootreq *req, const struct ib_cmdline_word *k, const char *w, const char *v,
                     struct ib_err *err) {
        long secs;

        switch (k->id) {
        case IB_W_NETDIR:
        case IB_W_HTTPFUSE:
                req->seed_form = true;
                return add_url(req, w, v, err);
        case IB_W_URL:
                return add_url(req, w, v, err);
        case IB_W_ENTRY:
                return set_once(&req->entry, w, v, err);
        case IB_W_CACHE:
                if (strcmp(v, "off") == 0) {
                        free(req->cache);       /* no cache, not even the disk the preboot found */
                        req->cache = NULL;
                        return 0;
                }
                return set_once(&req->cache, w, v, err);
        case IB_W_CACHEFILL:
                if (ib_parse_fill(v, &secs) < 0)
                        return ib_err_set(err, -EINVAL, 0, "'%s': inetboot.cachefill= takes seconds (at most %d) or off",
                                          w, IB_FILL_MAX_SECS);
                return set_once(&req->cache_fill, w, v, err);
        case IB_W_ISCRIPT: {
                int r = check_url(w, v, err);

                return r < 0 ? r : set_once(&req->iscript, w, v, err);
        }
        case IB_W_INSECURE:
                req->insecure = true;
                return 0;
        case IB_W_ALLOW_ROLLBACK:
                req->allow_rollback = true;
                return 0;
        case IB_W_BOOTXEN:
                req->bootxen = choice_index(k->choices, v) == 0;
                return 0;
        case IB_W_TYPE:
                req->family = choice_index(k->choices, v) > 0 ? k->choices[choice_index(k->choices, v)] : NULL;
                return 0;
        case IB_W_PROFILE:
                req->profile = (enum ib_profile_mode)choice_index(k->choices, v);
                return 0;
        case IB_W_TPM:
                req->tpm = (enum ib_tpm_policy)choice_index(k->choices, v);
                return 0;
        case IB_W_CONSOLE:
        case IB_W_IP:
        case IB_W_EARLYPRINTK:
        case IB_W_LOGLEVEL:
                return ib_strv_push(&req->carry, &req->n_carry, w);
        case IB_W_SHELL:
        case IB_W_MENU:
        case IB_W_KEXEC:
                return 0;       /* the preboot's init reads them */
        }
        return 0;
}

int ib_bootreq_parse(const char *cmdline, struct ib_bootreq *req, struct ib_err *err) {
        char **words = NULL;
        size_t n = 0;
        int r;

        *req = (struct ib_bootreq) {};
        r = ib_cmdline_split(cmdline, &words, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *w = words[i], *eq = strchr(w, '=');
                size_t klen = eq ? (size_t)(eq - w) : strlen(w);
                const struct ib_cmdline_word *k = ib_cmdline_word_find(w, klen);

                if (!k)
                        r = unknown_word(req, w, klen, err);
                else if ((r = check_form(req, k, w, err)) > 0)
                        r = take_word(req, k, w, eq ? eq + 1 : NULL, err);
                if (r < 0) {
                        if (r == -ENOMEM)
                                ib_err_set(err, r, 0, "out of memory");
                        goto fail;
                }
        }
        ib_strv_free(words, n);
        return 0;
fail:
        ib_strv_free(words, n);
        ib_bootreq_clear(req);
        return r;
}

void ib_bootreq_clear(struct ib_bootreq *req) {
        ib_strv_free(req->urls, req->n_urls);
        ib_strv_free(req->carry, req->n_carry);
        ib_strv_free(req->notes, req->n_notes);
        free(req->entry);
        free(req->cache);
        free(req->cache_fill);
        free(req->iscript);
        *req = (struct ib_bootreq) {};
}

/* Length of the URL's path part: up to '?' or '#'. */
static size_t path_len(const char *url) {
        return strcspn(url, "?#");
}

bool ib_url_is_manifest(const char *url) {
        size_t n = path_len(url);

        return n >= 9 && strncmp(url + n - 9, ".manifest", 9) == 0;
}

int ib_url_pair(const char *url, char **ret_manifest, char **ret_image) {
        size_t n = path_len(url);
        char *m = NULL, *img = NULL;

        if (ib_url_is_manifest(url)) {
                m = strdup(url);
                if (asprintf(&img, "%.*s%s", (int)(n - 9), url, url + n) < 0)
                        img = NULL;
        } else {
                if (asprintf(&m, "%.*s.manifest%s", (int)n, url, url + n) < 0)
                        m = NULL;
                img = strdup(url);
        }
        if (!m || !img) {
                free(m);
                free(img);
                return -ENOMEM;
        }
        if (ret_manifest)
                *ret_manifest = m;
        else
                free(m);
        if (ret_image)
                *ret_image = img;
        else
                free(img);
        return 0;
}
