/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the manifest parser.  Whatever parses must render back
 * to exactly the same bytes (the format is canonical) and parse again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_manifest *m = NULL, *m2 = NULL;
        struct ib_err e = {};
        char *text;
        size_t len;

        if (ib_manifest_parse((const char *)data, size, &m, &e) < 0) {
                if (!e.msg[0])
                        abort(); /* every failure must say why */
                return 0;
        }
        if (ib_manifest_format(m, &text, &len, &e) < 0)
                abort(); /* parsed but not renderable: the validator and parser disagree */
        if (len != size || memcmp(text, data, size) != 0)
                abort(); /* not canonical */
        if (ib_manifest_parse(text, len, &m2, &e) < 0)
                abort();
        free(text);
        ib_manifest_free(m2);
        ib_manifest_free(m);
        return 0;
}
