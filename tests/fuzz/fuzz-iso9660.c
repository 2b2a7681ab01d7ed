/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-iso9660: libFuzzer target for the ISO 9660 extent locator.
 *
 * Input: an image.  Its label is read and a few fixed paths (those of the
 * seed images in tests/fuzz/corpus/iso9660/) are located, through a read
 * function over the input and through a memfd, which also knows the size.
 * Every failure must come with a negative code and a message and leave the
 * outputs alone; a memfd answer must lie inside the input and agree with
 * the read function's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iso9660.h"

static const char *const paths[] = {
        "/live/filesystem.squashfs",
        "/LiveOS/squashfs.img",
        "/live/vmlinuz",
        "/a/b/c/d/e/f/g/h/i/j/deep.txt",
        "/long-names-directory-with-a-name-well-beyond-the-iso-9660-limits/x",
        "/live/link",
};

struct input {
        const uint8_t *data;
        size_t size;
};

static ssize_t input_read(void *ctx, void *buf, size_t len, uint64_t off) {
        const struct input *in = ctx;

        if (off >= in->size)
                return 0;
        if (len > in->size - off)
                len = in->size - off;
        memcpy(buf, in->data + off, len);
        return (ssize_t)len;
}

static void check_error(int r, const struct ib_err *err) {
        if (r > 0 || (r < 0 && (err->code != r || err->msg[0] == 0 || !memchr(err->msg, 0, sizeof(err->msg)))))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct input in = { .data = data, .size = size };
        struct ib_err err = {};
        char label[33] = "unset";
        int fd, r;

        r = ib_iso9660_label(input_read, &in, label, &err);
        check_error(r, &err);
        if (r == 0 ? strlen(label) > 32 : strcmp(label, "unset") != 0)
                abort();
        fd = memfd_create("fuzz-iso9660", MFD_CLOEXEC);
        if (fd >= 0 && write(fd, data, size) != (ssize_t)size) {
                close(fd);
                fd = -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                uint64_t off = UINT64_MAX, len = UINT64_MAX, fd_off = UINT64_MAX, fd_len = UINT64_MAX;
                int fd_r;

                err = (struct ib_err) {};
                r = ib_iso9660_locate(input_read, &in, paths[i], &off, &len, &err);
                check_error(r, &err);
                if (r < 0 && (off != UINT64_MAX || len != UINT64_MAX))
                        abort();
                if (fd < 0)
                        continue;
                err = (struct ib_err) {};
                fd_r = ib_iso9660_locate_fd(fd, paths[i], &fd_off, &fd_len, &err);
                check_error(fd_r, &err);
                if (fd_r == 0 && (fd_off > size || fd_len > size - fd_off || r != 0 || fd_off != off || fd_len != len))
                        abort();
        }
        if (fd >= 0)
                close(fd);
        return 0;
}
