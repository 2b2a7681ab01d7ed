/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#include "fetch.h"

struct membuf {
        char *data;
        size_t len, max;
};

static size_t mem_write(char *p, size_t size, size_t n, void *ud) {
        struct membuf *b = ud;
        size_t len = size * n;
        char *nd;

        if (len > b->max - b->len)
                return 0;
        nd = realloc(b->data, b->len + len + 1);
        if (!nd)
                return 0;
        memcpy(nd + b->len, p, len);
        b->data = nd;
        b->len += len;
        b->data[b->len] = 0;
        return len;
}

/* An easy handle for @url writing into @b, with the limits every fetch of ours has. */
static CURL *easy_open(const char *url, const char *ca_file, struct membuf *b, char *cerr) {
        CURL *c = curl_easy_init();

        if (!c)
                return NULL;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "inetboot/1");
        if (ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
        return c;
}

/* A transfer that did not complete: too large, or curl's reason. */
static int transfer_error(const char *url, CURLcode cc, const struct membuf *b, const char *cerr, struct ib_err *err) {
        if (cc == CURLE_WRITE_ERROR && b->len + 1 > b->max)
                return ib_err_set(err, -EFBIG, 0, "%s: larger than %zu bytes", url, b->max);
        return ib_err_set(err, -EIO, 0, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
}

/* The body as the caller's NUL-terminated buffer (an empty one when there was none). */
static int take_body(struct membuf *b, char **ret, size_t *ret_len, struct ib_err *err) {
        if (!b->data && !(b->data = calloc(1, 1)))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        *ret = b->data;
        *ret_len = b->len;
        return 0;
}

int ib_fetch(const char *what, const char *ca_file, size_t max, char **ret, size_t *ret_len, struct ib_err *err) {
        struct membuf b = { .max = max };
        char cerr[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURLcode cc;
        CURL *c;
        int r;

        if (!ib_is_url(what)) {
                r = ib_read_file(what, max, ret, ret_len);
                if (r < 0)
                        return ib_err_set(err, r, 0, "%s: %s", what, r == -EFBIG ? "too large" : strerror(-r));
                return 0;
        }
        c = easy_open(what, ca_file, &b, cerr);
        if (!c)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (cc != CURLE_OK || status != 200) {
                if (cc != CURLE_OK)
                        r = transfer_error(what, cc, &b, cerr, err);
                else
                        r = ib_err_set(err, status == 404 || status == 410 ? -ENOENT : -EIO, 0, "%s: HTTP status %ld", what,
                                       status);
                free(b.data);
                return r;
        }
        return take_body(&b, ret, ret_len, err);
}

int ib_http_post(const char *url, const char *ca_file, const void *body, size_t body_len, size_t max, char **ret,
                 size_t *ret_len, long *ret_status, struct ib_err *err) {
        struct membuf b = { .max = max };
        char cerr[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURLcode cc;
        CURL *c = easy_open(url, ca_file, &b, cerr);

        if (!c)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (cc != CURLE_OK) {
                int r = transfer_error(url, cc, &b, cerr, err);

                free(b.data);
                return r;
        }
        *ret_status = status;
        return take_body(&b, ret, ret_len, err);
}
