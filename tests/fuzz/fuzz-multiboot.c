/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-multiboot: libFuzzer target for ib_multiboot_image() (gzip'd or
 * plain hypervisor files, the Multiboot2 header search).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multiboot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_err err = {};
        void *img = NULL;
        size_t n = 7;
        long off;

        if (ib_multiboot_image(data, size, 1u << 20, &img, &n, &err) == 0) {
                off = ib_multiboot2_header(img, n);
                if (!img || n > (1u << 20) || off < 0 || (size_t)off + 16 > n)
                        abort();        /* a success without its header */
                free(img);
        } else if (img || n != 7 || err.msg[0] == 0 || err.code >= 0)
                abort();        /* outputs written on failure, or no message */
        return 0;
}
