/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-cpio: libFuzzer target for ib_initrd_walk() and the newc writer.
 *
 * Input: an initrd image, walked with a 64 MiB cap on decompressed bytes.
 * Every entry's name and data are read in full (so ASan sees any bad
 * bounds) and copied into a writer where the writer accepts it; the
 * writer's archive must then walk cleanly and give back every entry that
 * was added, byte for byte.  A failed walk must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpio.h"

#define MAX_UNPACKED (64u << 20)

/* FNV-1a over what the writer must give back: name, mode, data. */
static uint64_t entry_hash(const char *name, uint32_t mode, const void *data, size_t size) {
        uint64_t h = 0xcbf29ce484222325u;
        const uint8_t *d = data;

        for (const char *p = name; *p; p++)
                h = (h ^ (uint8_t)*p) * 0x100000001b3u;
        for (unsigned i = 0; i < 4; i++)
                h = (h ^ ((mode >> (8 * i)) & 0xff)) * 0x100000001b3u;
        for (size_t i = 0; i < size; i++)
                h = (h ^ d[i]) * 0x100000001b3u;
        return h;
}

struct hashes {
        uint64_t *v;
        size_t n;
};

static void push(struct hashes *h, uint64_t x) {
        uint64_t *nv = realloc(h->v, (h->n + 1) * sizeof(*nv));

        if (!nv)
                abort();
        h->v = nv;
        h->v[h->n++] = x;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

struct state {
        struct ib_cpio *writer;
        struct hashes added;    /* entries the writer took (parents it added not counted) */
};

static int take(const struct ib_cpio_entry *e, void *ctx) {
        struct state *s = ctx;
        size_t name_len = strlen(e->name);
        uint32_t mode = e->mode;
        int r = -1;

        if (name_len == 0 || name_len > 4095)
                abort();
        if (S_ISREG(e->mode))
                r = ib_cpio_add_file(s->writer, e->name, e->mode & 07777, e->data, e->size, NULL);
        else if (S_ISDIR(e->mode)) {
                if (e->size != 0)
                        abort();
                r = ib_cpio_add_dir(s->writer, e->name, e->mode & 07777, NULL);
        } else if (S_ISLNK(e->mode)) {
                char *target = strndup(e->data, e->size);

                if (!target)
                        return 0;
                if (strlen(target) != e->size)
                        abort();        /* the reader lets no NUL through */
                r = ib_cpio_add_symlink(s->writer, e->name, target, NULL);
                free(target);
                mode = S_IFLNK | 0777;
        } else if (e->size != 0)
                abort();
        if (r == 0)
                push(&s->added, entry_hash(e->name[0] == '/' ? e->name + 1 : e->name, mode, e->data, e->size));
        return 0;
}

static int collect(const struct ib_cpio_entry *e, void *ctx) {
        push(ctx, entry_hash(e->name, e->mode, e->data, e->size));
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct state s = {};
        struct hashes back = {};
        struct ib_err err = {};
        void *out = NULL;
        size_t out_len = 0;
        int r;

        if (ib_cpio_new(&s.writer) < 0)
                return 0;
        r = ib_initrd_walk(data, size, MAX_UNPACKED, take, &s, &err);
        if (r != 0 && (r > 0 || err.code != r || err.msg[0] == 0))
                abort();        /* an error without its report */
        if (ib_cpio_finish(s.writer, &out, &out_len, NULL) == 0) {
                err = (struct ib_err) {};
                if (out_len % 512 != 0 || ib_initrd_walk(out, out_len, 0, collect, &back, &err) != 0)
                        abort();        /* the writer made something the reader refuses */
                if (back.n > 0)
                        qsort(back.v, back.n, sizeof(*back.v), cmp_u64);
                for (size_t i = 0; i < s.added.n; i++)
                        if (back.n == 0 || !bsearch(&s.added.v[i], back.v, back.n, sizeof(*back.v), cmp_u64))
                                abort();        /* an entry lost or changed on the way */
                free(out);
        }
        free(back.v);
        free(s.added.v);
        ib_cpio_free(s.writer);
        return 0;
}
