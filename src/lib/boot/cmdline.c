/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
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

/* KEY=VALUE where VALUE is one of @names (the word's first @klen bytes are "KEY="): its index, or -EINVAL. */
static int choice(const char *w, size_t klen, const char *const *names, size_t n, const char *takes, struct ib_err *err) {
        for (size_t k = 0; k < n; k++)
                if (strcmp(w + klen, names[k]) == 0)
                        return (int)k;
        return ib_err_set(err, -EINVAL, 0, "'%s': %.*s takes %s", w, (int)klen, w, takes);
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

int ib_bootreq_parse(const char *cmdline, struct ib_bootreq *req, struct ib_err *err) {
        static const char *const carried[] = { "console=", "ip=", "earlyprintk=", "loglevel=" };
        char **words = NULL;
        size_t n = 0;
        int r;

        *req = (struct ib_bootreq) {};
        r = ib_cmdline_split(cmdline, &words, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *w = words[i], *url = NULL;

                if (strncmp(w, "inetboot.url=", 13) == 0)
                        url = w + 13;
                else if (strncmp(w, "netdir=", 7) == 0)
                        url = w + 7, req->seed_form = true;
                else if (strncmp(w, "httpfuse=", 9) == 0)
                        url = w + 9, req->seed_form = true;
                if (url) {
                        r = check_url(w, url, err);
                        if (r < 0)
                                goto fail;
                        if (req->n_urls >= IB_CMDLINE_MAX_URLS) {
                                r = ib_err_set(err, -E2BIG, 0, "more than %u image URLs on the command line", IB_CMDLINE_MAX_URLS);
                                goto fail;
                        }
                        r = ib_strv_push(&req->urls, &req->n_urls, url);
                } else if (strncmp(w, "inetboot.entry=", 15) == 0)
                        r = set_once(&req->entry, w, w + 15, err);
                else if (strcmp(w, "inetboot.cache=off") == 0)
                        free(req->cache), req->cache = NULL;   /* no cache, not even the disk the preboot found */
                else if (strncmp(w, "inetboot.cache=", 15) == 0)
                        r = set_once(&req->cache, w, w + 15, err);
                else if (strncmp(w, "inetboot.cachefill=", 19) == 0) {
                        long secs;

                        if (ib_parse_fill(w + 19, &secs) < 0)
                                r = ib_err_set(err, -EINVAL, 0, "'%s': inetboot.cachefill= takes seconds (at most %d) or off", w, IB_FILL_MAX_SECS);
                        else
                                r = set_once(&req->cache_fill, w, w + 19, err);
                } else if (strncmp(w, "iscript=", 8) == 0) {
                        r = check_url(w, w + 8, err);
                        if (r >= 0)
                                r = set_once(&req->iscript, w, w + 8, err);
                } else if (strcmp(w, "inetboot.insecure") == 0 || strcmp(w, "inetboot.insecure=1") == 0)
                        req->insecure = true;
                else if (strcmp(w, "inetboot.allow-rollback") == 0 || strcmp(w, "inetboot.allow-rollback=1") == 0)
                        req->allow_rollback = true;
                else if (strncmp(w, "bootxen=", 8) == 0) {
                        if (strcmp(w + 8, "1") != 0 && strcmp(w + 8, "0") != 0)
                                r = ib_err_set(err, -EINVAL, 0, "'%s': bootxen= takes 1 or 0", w);
                        else
                                req->bootxen = w[8] == '1';
                } else if (strncmp(w, "inetboot.profile=", 17) == 0) {
                        static const char *const modes[] = { "prefetch", "off", "record" };

                        if ((r = choice(w, 17, modes, ELEMENTSOF(modes), "prefetch, off or record", err)) >= 0)
                                req->profile = (enum ib_profile_mode) r;
                } else if (strncmp(w, "inetboot.tpm=", 13) == 0) {
                        static const char *const policies[] = { "auto", "required", "off" };

                        if ((r = choice(w, 13, policies, ELEMENTSOF(policies), "auto, required or off", err)) >= 0)
                                req->tpm = (enum ib_tpm_policy) r;
                }
                else {
                        for (size_t k = 0; k < ELEMENTSOF(carried); k++)
                                if (strncmp(w, carried[k], strlen(carried[k])) == 0) {
                                        r = ib_strv_push(&req->carry, &req->n_carry, w);
                                        break;
                                }
                }
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
