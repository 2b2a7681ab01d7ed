/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-cmdline: libFuzzer target for ib_bootreq_parse() (the kernel command line). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_bootreq r;
        struct ib_err err = {};
        char *s = strndup((const char *)data, size);

        if (!s)
                return 0;
        ib_cmdline_suggest(s, strlen(s));       /* any key, of any length */
        if (ib_bootreq_parse(s, &r, &err) == 0) {
                if (r.n_notes > IB_CMDLINE_MAX_NOTES)
                        abort();
                for (size_t i = 0; i < r.n_urls; i++) {
                        char *m = NULL, *img = NULL;

                        if (ib_url_pair(r.urls[i], &m, &img) == 0) {
                                if (!ib_url_is_manifest(m))
                                        abort();        /* the pair's manifest must be one */
                                free(m);
                                free(img);
                        }
                }
                ib_bootreq_clear(&r);
        } else if (err.msg[0] == 0)
                abort();
        free(s);
        return 0;
}
