/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-kmod: libFuzzer target for the modules.dep/modules.alias/builtin
 * parsers and the bzImage release reader.  Input: three texts separated by
 * NUL bytes; the names of the first modules.dep lines are then resolved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *part[3] = { "", "", "" };
        size_t len[3] = { 0, 0, 0 }, k = 0, start = 0;
        struct ib_kmods *m = NULL;
        struct ib_err err = {};
        char rel[65];

        (void)ib_kernel_release(data, size, rel, sizeof(rel), &err);
        for (size_t i = 0; i <= size && k < 3; i++)
                if (i == size || data[i] == 0) {
                        part[k] = (const char *)data + start;
                        len[k++] = i - start;
                        start = i + 1;
                }
        if (ib_kmods_new(part[0], len[0], part[1], len[1], part[2], len[2], &m, &err) == 0) {
                char **p = NULL, **names = NULL;
                size_t n = 0, nn = 0;

                (void)ib_kmods_add(m, "virtio_net", &p, &n, &err);
                (void)ib_kmods_add(m, "fuse", &p, &n, &err);
                (void)ib_kmods_match(m, "virtio:d00000001v00001AF4", &names, &nn);
                for (size_t i = 0; i < nn && i < 4; i++)
                        (void)ib_kmods_add(m, names[i], &p, &n, &err);
                ib_strv_free(p, n);
                ib_strv_free(names, nn);
                ib_kmods_free(m);
        } else if (err.msg[0] == 0)
                abort();
        return 0;
}
