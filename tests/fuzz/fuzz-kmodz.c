/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-kmodz: libFuzzer target for compressed kernel modules as the agent
 * carries them (ib_kmod_plain, over ib_decompress: xz, zstd, gzip and the
 * initrd codecs by magic).  Input: one byte choosing the file name's suffix
 * (.ko.xz, .ko.zst, .ko.gz, .ko), then the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const names[] = { "m.ko.xz", "m.ko.zst", "m.ko.gz", "m.ko" };
        uint8_t *out = NULL;
        size_t n = 0;
        struct ib_err err = {};
        int r;

        if (size < 1)
                return 0;
        r = ib_kmod_plain(data + 1, size - 1, names[data[0] % 4], 4u << 20, &out, &n, &err);
        if (r == 0) {
                if (!out || n < 4 || n > (4u << 20) || memcmp(out, "\177ELF", 4) != 0)
                        abort();
                free(out);
        } else if (out || err.msg[0] == 0)
                abort();
        return 0;
}
