/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-bootcfg: libFuzzer target for ib_bootcfg_scan().
 *
 * Input format: up to ELEMENTSOF(paths) virtual files separated by NUL
 * bytes; the k-th piece is served at paths[k] (well-known config
 * locations first, then names that configs can include or source), and
 * every other path is missing.  A piece that is exactly "\x01" makes its
 * path fail with -EIO, to exercise the read-error path.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"

static const char *const paths[] = {
        "/isolinux/isolinux.cfg",
        "/boot/grub/grub.cfg",
        "/isolinux/menu.cfg",
        "/isolinux/live.cfg",
        "/boot/grub/config.cfg",
        "/boot/grub/loopback.cfg",
        "/boot/syslinux/syslinux.cfg",
        "/EFI/BOOT/grub.cfg",
        "/boot/x86_64/loader/isolinux.cfg",
        "/boot/grub2/grub.cfg",
        "/a.cfg",
        "/b.cfg",
};

struct image {
        const uint8_t *data[ELEMENTSOF(paths)];
        size_t len[ELEMENTSOF(paths)];
        size_t n;
};

static int image_read(void *userdata, const char *path, char **ret, size_t *ret_len) {
        const struct image *img = userdata;

        for (size_t i = 0; i < img->n; i++) {
                char *buf;

                if (strcmp(paths[i], path) != 0)
                        continue;
                if (img->len[i] == 1 && img->data[i][0] == 1)
                        return -EIO;
                buf = malloc(img->len[i] + 1);
                if (!buf)
                        return -ENOMEM;
                memcpy(buf, img->data[i], img->len[i]);
                buf[img->len[i]] = 0;
                *ret = buf;
                *ret_len = img->len[i];
                return 0;
        }
        return -ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct image img = {};
        struct ib_bootcfg_entry *e = NULL;
        struct ib_err err = {};
        size_t n = 0, start = 0;

        for (size_t i = 0; i <= size && img.n < ELEMENTSOF(paths); i++) {
                if (i < size && data[i] != 0)
                        continue;
                img.data[img.n] = data + start;
                img.len[img.n] = i - start;
                img.n++;
                start = i + 1;
        }
        if (ib_bootcfg_scan(image_read, &img, &e, &n, &err) == 0) {
                for (size_t i = 0; i < n; i++)
                        (void)ib_bootcfg_entry_family(e[i].cmdline, e[i].kernel, e[i].initrds, e[i].n_initrds);
                ib_bootcfg_entries_free(e, n);
        } else if (e || n || err.msg[0] == 0 || err.code >= 0)
                abort();        /* outputs written on failure, or no message */
        return 0;
}
