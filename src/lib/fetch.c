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
        c = curl_easy_init();
        if (!c)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        curl_easy_setopt(c, CURLOPT_URL, what);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
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
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (cc != CURLE_OK || status != 200) {
                if (cc == CURLE_WRITE_ERROR && b.len + 1 > max)
                        r = ib_err_set(err, -EFBIG, 0, "%s: larger than %zu bytes", what, max);
                else if (cc != CURLE_OK)
                        r = ib_err_set(err, -EIO, 0, "%s: %s", what, cerr[0] ? cerr : curl_easy_strerror(cc));
                else
                        r = ib_err_set(err, status == 404 || status == 410 ? -ENOENT : -EIO, 0, "%s: HTTP status %ld", what,
                                       status);
                free(b.data);
                return r;
        }
        if (!b.data && !(b.data = calloc(1, 1)))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        *ret = b.data;
        *ret_len = b.len;
        return 0;
}
