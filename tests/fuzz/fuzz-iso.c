/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: an ISO image as inetboot-sign reads it.  libarchive's
 * ISO 9660 reader builds the index, our link resolution and the boot config
 * scan run over it, and every file an entry names is hashed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bootcfg.h"
#include "iso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_cb(void *ud, const char *path, char **ret, size_t *ret_len) {
        const char *canon;
        int r = ib_iso_resolve(ud, path, &canon);

        return r < 0 ? r : ib_iso_read(ud, canon, IB_BOOTCFG_MAX_FILE, ret, ret_len, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ib_bootcfg_entry *entries = NULL;
        struct ib_iso *iso = NULL;
        size_t n = 0;
        char path[64];
        int fd = memfd_create("fuzz-iso", MFD_CLOEXEC);

        if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (ib_iso_open(path, &iso, NULL) == 0) {
                if (ib_bootcfg_scan(read_cb, iso, &entries, &n, NULL) == 0) {
                        for (size_t i = 0; i < n; i++) {
                                uint8_t sha[32];
                                uint64_t sz;

                                ib_iso_hash(iso, entries[i].kernel, &sz, sha, NULL);
                                for (size_t j = 0; j < entries[i].n_initrds; j++)
                                        ib_iso_hash(iso, entries[i].initrds[j], &sz, sha, NULL);
                        }
                        ib_bootcfg_entries_free(entries, n);
                }
                ib_iso_free(iso);
        }
        close(fd);
        return 0;
}
