/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpio.c: the newc ("070701") writer: inetboot's own archive, built in
 * memory byte for byte reproducibly.  The reader of distribution initrds is
 * initrd.c (kept apart so that programs that only write do not link the
 * decompressors).  See cpio.h for the formats and the rules.
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cpio.h"

#define HDR_LEN IB_CPIO_HDR_LEN
#define TRAILER IB_CPIO_TRAILER
#define TRAILER_LEN (sizeof(IB_CPIO_TRAILER) - 1)
#define NAME_SIZE_MAX IB_CPIO_NAME_SIZE_MAX
#define align4 ib_cpio_align4

/* ---- writer ----------------------------------------------------------------- */

/* One path added so far, kept in a tsearch() tree ordered by name. */
struct node {
        uint32_t mode;
        char name[];
};

struct ib_cpio {
        uint8_t *buf;
        size_t len, cap;
        uint64_t next_ino;      /* wider than the field, so that running out is seen */
        void *tree;
};

static int node_cmp(const void *a, const void *b) {
        return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

static struct node *node_new(const char *name, size_t len, uint32_t mode) {
        struct node *n = malloc(sizeof(*n) + len + 1);

        if (!n)
                return NULL;
        n->mode = mode;
        memcpy(n->name, name, len);
        n->name[len] = 0;
        return n;
}

static struct node *node_find(struct ib_cpio *c, const struct node *key) {
        struct node **n = tfind(key, &c->tree, node_cmp);

        return n ? *n : NULL;
}

int ib_cpio_new(struct ib_cpio **ret) {
        struct ib_cpio *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->next_ino = 1;
        *ret = c;
        return 0;
}

static void reset(struct ib_cpio *c) {
        tdestroy(c->tree, free);
        free(c->buf);
        *c = (struct ib_cpio) { .next_ino = 1 };
}

struct ib_cpio *ib_cpio_free(struct ib_cpio *c) {
        if (!c)
                return NULL;
        reset(c);
        free(c);
        return NULL;
}

/* Bytes one entry takes, or 0 on overflow. */
static size_t entry_bytes(size_t name_len, size_t data_len) {
        size_t head = align4(HDR_LEN + name_len + 1), total;

        if (__builtin_add_overflow(head, align4(data_len), &total))
                return 0;
        return total;
}

static int reserve(struct ib_cpio *c, size_t more) {
        size_t need, cap;
        uint8_t *nb;

        if (__builtin_add_overflow(c->len, more, &need))
                return -ENOMEM;
        if (need <= c->cap)
                return 0;
        cap = c->cap < 4096 ? 4096 : c->cap;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        nb = realloc(c->buf, cap);
        if (!nb)
                return -ENOMEM;
        c->buf = nb;
        c->cap = cap;
        return 0;
}

/* Append one entry; the space is reserved. */
static void emit(struct ib_cpio *c, uint32_t ino, uint32_t mode, uint32_t nlink, const char *name, size_t name_len,
                 const void *data, size_t data_len) {
        char hdr[HDR_LEN + 1];
        size_t pad;

        /* GNU cpio and the kernel's gen_init_cpio write upper-case hex. */
        snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                 ino, mode, 0u, 0u, nlink, 0u, (unsigned)data_len, 0u, 0u, 0u, 0u, (unsigned)(name_len + 1), 0u);
        memcpy(c->buf + c->len, hdr, HDR_LEN);
        c->len += HDR_LEN;
        memcpy(c->buf + c->len, name, name_len);
        c->len += name_len;
        pad = align4(HDR_LEN + name_len + 1) - HDR_LEN - name_len;
        memset(c->buf + c->len, 0, pad);
        c->len += pad;
        if (data_len > 0)
                memcpy(c->buf + c->len, data, data_len);
        c->len += data_len;
        pad = align4(data_len) - data_len;
        memset(c->buf + c->len, 0, pad);
        c->len += pad;
}

/* The stored form of @path (one leading "/" dropped), or an error. */
static int check_name(const char *path, const char **ret, size_t *ret_len, struct ib_err *err) {
        const char *name = path[0] == '/' ? path + 1 : path;
        size_t len = strlen(name);

        if (len == 0)
                return ib_err_set(err, -EINVAL, 0, "cpio: empty path \"%s\"", path);
        if (len > IB_CPIO_NAME_MAX)
                return ib_err_set(err, -ENAMETOOLONG, 0, "cpio: path of %zu bytes, more than %u", len, IB_CPIO_NAME_MAX);
        for (const char *p = name;;) {
                size_t n = strcspn(p, "/");

                if (n == 0)
                        return ib_err_set(err, -EINVAL, 0, "cpio: empty component (\"//\" or a trailing \"/\") in \"%s\"", path);
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return ib_err_set(err, -EINVAL, 0, "cpio: \".\" or \"..\" component in \"%s\"", path);
                if (!p[n])
                        break;
                p += n + 1;
        }
        /* The kernel ends the archive at an entry with this name. */
        if (strncmp(name, TRAILER, TRAILER_LEN) == 0 && (name[TRAILER_LEN] == 0 || name[TRAILER_LEN] == '/'))
                return ib_err_set(err, -EINVAL, 0, "cpio: \"%s\" is the archive trailer's name", path);
        *ret = name;
        *ret_len = len;
        return 0;
}

/*
 * Add @path with @mode: its missing parents first, then the entry, all or
 * nothing.
 */
static int add_entry(struct ib_cpio *c, const char *path, uint32_t mode, const void *data, size_t data_len,
                     struct ib_err *err) {
        _cleanup_(freep) struct node **pending = NULL;
        size_t n_pending = 0, n_slash = 0, bytes, name_len = 0, inserted = 0;
        const char *name = NULL;
        struct node *self, *old;
        int r;

        r = check_name(path, &name, &name_len, err);
        if (r < 0)
                return r;
        if (data_len > IB_CPIO_DATA_MAX)
                return ib_err_set(err, -EFBIG, 0, "cpio: %s: %zu bytes, more than a newc entry holds", name, data_len);
        for (const char *p = name; (p = strchr(p, '/')); p++)
                n_slash++;
        pending = calloc(n_slash + 1, sizeof(*pending));
        if (!pending)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");

        /* Which parents are missing? */
        bytes = 0;
        for (const char *p = name; (p = strchr(p, '/')); p++) {
                struct node *parent = node_new(name, (size_t)(p - name), S_IFDIR | 0755);

                if (!parent) {
                        r = ib_err_set(err, -ENOMEM, 0, "out of memory");
                        goto fail;
                }
                old = node_find(c, parent);
                if (old) {
                        free(parent);
                        if (!S_ISDIR(old->mode)) {
                                r = ib_err_set(err, -ENOTDIR, 0, "cpio: %s: parent %s was added as a non-directory", name,
                                               old->name);
                                goto fail;
                        }
                        continue;
                }
                pending[n_pending++] = parent;
                bytes += entry_bytes((size_t)(p - name), 0);
        }
        self = node_new(name, name_len, mode);
        if (!self) {
                r = ib_err_set(err, -ENOMEM, 0, "out of memory");
                goto fail;
        }
        pending[n_pending++] = self;
        old = node_find(c, self);
        if (old) {
                /* Parents of an existing path exist, so nothing else is pending. */
                r = old->mode == mode && S_ISDIR(mode) ? 0 :
                    ib_err_set(err, -EEXIST, 0, "cpio: %s was added already%s", name,
                               S_ISDIR(mode) && S_ISDIR(old->mode) ? " with another mode" : "");
                goto fail;
        }
        if (__builtin_add_overflow(bytes, entry_bytes(name_len, data_len), &bytes)) {
                r = ib_err_set(err, -ENOMEM, 0, "cpio: archive too large");
                goto fail;
        }
        if (c->next_ino + n_pending - 1 > UINT32_MAX) {
                r = ib_err_set(err, -EOVERFLOW, 0, "cpio: out of inode numbers");
                goto fail;
        }
        if (reserve(c, bytes) < 0) {
                r = ib_err_set(err, -ENOMEM, 0, "out of memory");
                goto fail;
        }
        for (; inserted < n_pending; inserted++)
                if (!tsearch(pending[inserted], &c->tree, node_cmp)) {
                        r = ib_err_set(err, -ENOMEM, 0, "out of memory");
                        while (inserted > 0)
                                tdelete(pending[--inserted], &c->tree, node_cmp);
                        goto fail;
                }

        /* Nothing can fail from here on. */
        for (size_t i = 0; i < n_pending; i++) {
                struct node *e = pending[i];
                bool last = i + 1 == n_pending;

                emit(c, (uint32_t)c->next_ino++, e->mode, S_ISDIR(e->mode) ? 2 : 1, e->name, strlen(e->name),
                     last ? data : NULL, last ? data_len : 0);
        }
        return 0;

fail:
        for (size_t i = 0; i < n_pending; i++)
                free(pending[i]);
        return r;
}

static int check_perm(const char *path, mode_t perm, struct ib_err *err) {
        if (perm & ~(mode_t)07777)
                return ib_err_set(err, -EINVAL, 0, "cpio: %s: mode %#o is more than permission bits", path, (unsigned)perm);
        return 0;
}

int ib_cpio_add_dir(struct ib_cpio *c, const char *path, mode_t perm, struct ib_err *err) {
        int r = check_perm(path, perm, err);

        return r < 0 ? r : add_entry(c, path, S_IFDIR | (uint32_t)perm, NULL, 0, err);
}

int ib_cpio_add_file(struct ib_cpio *c, const char *path, mode_t perm, const void *data, size_t len, struct ib_err *err) {
        int r = check_perm(path, perm, err);

        return r < 0 ? r : add_entry(c, path, S_IFREG | (uint32_t)perm, data, len, err);
}

int ib_cpio_add_file_from(struct ib_cpio *c, const char *path, mode_t perm, const char *src, struct ib_err *err) {
        _cleanup_(freep) char *data = NULL;
        size_t len;
        int r;

        r = check_perm(path, perm, err);
        if (r < 0)
                return r;
        r = ib_read_file(src, IB_CPIO_DATA_MAX, &data, &len);
        if (r < 0)
                return ib_err_set(err, r, 0, "cpio: %s: %s", src, r == -EFBIG ? "more than 4 GiB - 1 bytes" :
                                  r == -EINVAL ? "not a regular file" : strerror(-r));
        return add_entry(c, path, S_IFREG | (uint32_t)perm, data, len, err);
}

int ib_cpio_add_symlink(struct ib_cpio *c, const char *path, const char *target, struct ib_err *err) {
        size_t len = strlen(target);

        if (len == 0 || len > IB_CPIO_NAME_MAX)
                return ib_err_set(err, -EINVAL, 0, "cpio: %s: symlink target of %zu bytes (1 to %u allowed)", path, len,
                                  IB_CPIO_NAME_MAX);
        return add_entry(c, path, S_IFLNK | 0777, target, len, err);
}

int ib_cpio_finish(struct ib_cpio *c, void **ret, size_t *ret_len, struct ib_err *err) {
        size_t end = c->len + entry_bytes(TRAILER_LEN, 0), total = (end + 511) & ~(size_t)511;

        if (total < c->len || reserve(c, total - c->len) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        /* As GNU cpio and gen_init_cpio: inode 0, mode 0, one link. */
        emit(c, 0, 0, 1, TRAILER, TRAILER_LEN, NULL, 0);
        memset(c->buf + c->len, 0, total - c->len);
        *ret = c->buf;
        *ret_len = total;
        c->buf = NULL;
        reset(c);
        return 0;
}

