/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: a keyring (inetboot.keyring, fetched from a mirror
 * before its signature is known good to mean anything).  Whatever parses
 * renders back to the same bytes, and can be judged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_keyring *kr = NULL, *kr2 = NULL;
        struct ib_manifest m = { .name = "debian-live.iso", .serial = 5, .created = 1000 };
        struct ib_state *s = calloc(1, sizeof(*s));
        struct ib_state_notes n = { .now = 1500 };
        struct ib_err e = {};
        uint8_t id[32] = { 0 };
        char *text;
        size_t len;

        if (!s)
                return 0;
        if (ib_keyring_parse((const char *)data, size, &kr, &e) < 0) {
                if (!e.msg[0])
                        abort(); /* every failure says why */
                free(s);
                return 0;
        }
        if (ib_keyring_format(kr, &text, &len) < 0)
                abort();
        if (len != size || memcmp(text, data, size) != 0)
                abort(); /* not canonical */
        if (ib_keyring_parse(text, len, &kr2, &e) < 0)
                abort();
        free(text);
        if (kr->n_keys)
                memcpy(id, kr->keys[0].fp, 32);
        if (ib_keyring_judge(s, kr, id, kr->n_keys > 0, &m, 0, &n, &e) < 0 && !e.msg[0])
                abort();
        if (ib_keyring_judge(s, kr, id, kr->n_keys > 0, &m, 0, &n, &e) < 0 && !e.msg[0])
                abort();
        ib_keyring_free(kr);
        ib_keyring_free(kr2);
        ib_state_free(s);
        return 0;
}
