/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "iso.h"

struct iso_file {
        char *path;             /* "/dir/name" */
        char *link;             /* symlink target (as stored) or hard link path, else NULL */
        bool hardlink, regular;
        uint64_t size;
};

struct ib_iso {
        char *image;
        struct iso_file *files;
        size_t n_files;
};

static void archive_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

/* "./a/b", "a/b", "/a/b/" -> "/a/b" */
static char *canonical(const char *p) {
        char *s;
        size_t n;

        while (p[0] == '.' && p[1] == '/')
                p += 2;
        while (*p == '/')
                p++;
        if (asprintf(&s, "/%s", p) < 0)
                return NULL;
        n = strlen(s);
        while (n > 1 && s[n - 1] == '/')
                s[--n] = 0;
        return s;
}

static int open_archive(const char *image, struct archive **ret, struct ib_err *err) {
        struct archive *a = archive_read_new();

        if (!a)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        archive_read_support_format_iso9660(a);
        if (archive_read_open_filename(a, image, 64 * 1024) != ARCHIVE_OK) {
                ib_err_set(err, -EINVAL, 0, "%s: cannot read as ISO 9660: %s", image, archive_error_string(a) ?: "unknown error");
                archive_read_free(a);
                return -EINVAL;
        }
        *ret = a;
        return 0;
}

int ib_iso_open(const char *path, struct ib_iso **ret, struct ib_err *err) {
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_(ib_iso_freep) struct ib_iso *iso = calloc(1, sizeof(*iso));
        struct archive_entry *e;
        int r;

        if (!iso || !(iso->image = strdup(path)))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        r = open_archive(path, &a, err);
        if (r < 0)
                return r;
        for (;;) {
                struct iso_file *f, *nf;
                const char *name, *link;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return ib_err_set(err, -EINVAL, 0, "%s: cannot read as ISO 9660: %s", path,
                                          archive_error_string(a) ?: "unknown error");
                if (iso->n_files >= IB_ISO_MAX_FILES)
                        return ib_err_set(err, -E2BIG, 0, "%s: more than %u files", path, IB_ISO_MAX_FILES);
                name = archive_entry_pathname(e);
                if (!name)
                        continue;
                nf = realloc(iso->files, (iso->n_files + 1) * sizeof(*nf));
                if (!nf)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                iso->files = nf;
                f = &nf[iso->n_files];
                *f = (struct iso_file) {};
                link = archive_entry_hardlink(e);
                f->hardlink = link != NULL;
                if (!link)
                        link = archive_entry_symlink(e);
                f->path = canonical(name);
                f->link = link ? (f->hardlink ? canonical(link) : strdup(link)) : NULL;
                if (!f->path || (link && !f->link)) {
                        free(f->path);
                        free(f->link);
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                }
                f->regular = archive_entry_filetype(e) == AE_IFREG;
                f->size = (uint64_t)archive_entry_size(e);
                iso->n_files++;
        }
        *ret = iso;
        iso = NULL;
        return 0;
}

struct ib_iso *ib_iso_free(struct ib_iso *iso) {
        if (!iso)
                return NULL;
        for (size_t i = 0; i < iso->n_files; i++) {
                free(iso->files[i].path);
                free(iso->files[i].link);
        }
        free(iso->files);
        free(iso->image);
        free(iso);
        return NULL;
}

static struct iso_file *lookup(struct ib_iso *iso, const char *path) {
        for (size_t i = 0; i < iso->n_files; i++)
                if (strcmp(iso->files[i].path, path) == 0)
                        return &iso->files[i];
        for (size_t i = 0; i < iso->n_files; i++)
                if (strcasecmp(iso->files[i].path, path) == 0)
                        return &iso->files[i];
        return NULL;
}

int ib_iso_resolve(struct ib_iso *iso, const char *path, const char **ret) {
        _cleanup_(freep) char *cur = canonical(path);

        if (!cur)
                return -ENOMEM;
        for (unsigned hops = 0; hops < 16; hops++) {
                struct iso_file *f = lookup(iso, cur);
                char *next;

                if (!f)
                        return -ENOENT;
                if (!f->link) {
                        if (!f->regular)
                                return -EISDIR;
                        *ret = f->path;
                        return 0;
                }
                if (f->hardlink || f->link[0] == '/')
                        next = canonical(f->link);
                else {
                        /* Relative symlink: against the link's directory. */
                        const char *slash = strrchr(f->path, '/');
                        char *joined;

                        if (asprintf(&joined, "%.*s/%s", (int)(slash - f->path), f->path, f->link) < 0)
                                return -ENOMEM;
                        next = canonical(joined);
                        free(joined);
                }
                if (!next)
                        return -ENOMEM;
                /* Fold "a/../b" from relative links. */
                for (char *dd; (dd = strstr(next, "/../"));) {
                        char *prev = dd;

                        while (prev > next && *--prev != '/')
                                ;
                        memmove(prev, dd + 3, strlen(dd + 3) + 1);
                }
                free(cur);
                cur = next;
        }
        return -ELOOP;
}

/* Open the archive positioned at the data of regular file @canon. */
static int seek_to(struct ib_iso *iso, const char *canon, struct archive **ret, struct ib_err *err) {
        _cleanup_(archive_freep) struct archive *a = NULL;
        struct archive_entry *e;
        int r;

        r = open_archive(iso->image, &a, err);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_(freep) char *name = NULL;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        return ib_err_set(err, -ENOENT, 0, "%s: %s vanished from the image", iso->image, canon);
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return ib_err_set(err, -EIO, 0, "%s: %s", iso->image, archive_error_string(a) ?: "read error");
                name = canonical(archive_entry_pathname(e) ?: "");
                if (!name)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                if (strcmp(name, canon) == 0 && !archive_entry_hardlink(e))
                        break;
        }
        *ret = a;
        a = NULL;
        return 0;
}

/* Stream the file's data to @cb. */
static int read_data(struct ib_iso *iso, const char *path, int (*cb)(void *ud, const void *buf, size_t len), void *ud,
                     struct ib_err *err) {
        _cleanup_(archive_freep) struct archive *a = NULL;
        const char *canon;
        int r;

        r = ib_iso_resolve(iso, path, &canon);
        if (r < 0)
                return ib_err_set(err, r, 0, "%s: %s: %s", iso->image, path, r == -ENOENT ? "no such file in the image" :
                                  r == -ELOOP ? "too many levels of links" : r == -EISDIR ? "not a regular file" : strerror(-r));
        r = seek_to(iso, canon, &a, err);
        if (r < 0)
                return r;
        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;

                r = archive_read_data_block(a, &buf, &len, &off);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return ib_err_set(err, -EIO, 0, "%s: reading %s: %s", iso->image, canon,
                                          archive_error_string(a) ?: "read error");
                r = cb(ud, buf, len);
                if (r < 0)
                        return ib_err_set(err, r, 0, "%s: %s: %s", iso->image, canon,
                                          r == -EFBIG ? "file too large" : strerror(-r));
        }
}

struct membuf {
        char *buf;
        size_t len, max;
};

static int append_cb(void *ud, const void *buf, size_t len) {
        struct membuf *m = ud;
        char *nb;

        if (len > m->max - m->len)
                return -EFBIG;
        nb = realloc(m->buf, m->len + len + 1);
        if (!nb)
                return -ENOMEM;
        memcpy(nb + m->len, buf, len);
        m->buf = nb;
        m->len += len;
        m->buf[m->len] = 0;
        return 0;
}

int ib_iso_read(struct ib_iso *iso, const char *path, size_t max, char **ret, size_t *ret_len, struct ib_err *err) {
        struct membuf m = { .max = max };
        int r = read_data(iso, path, append_cb, &m, err);

        if (r < 0) {
                free(m.buf);
                return r;
        }
        if (!m.buf && !(m.buf = calloc(1, 1)))
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        *ret = m.buf;
        *ret_len = m.len;
        return 0;
}

int ib_iso_read_cb(void *iso, const char *path, char **ret, size_t *ret_len) {
        const char *canon;
        int r = ib_iso_resolve(iso, path, &canon);

        if (r < 0)
                return r;
        return ib_iso_read(iso, canon, IB_ISO_MAX_CONFIG, ret, ret_len, NULL);
}

struct hasher {
        EVP_MD_CTX *ctx;
        uint64_t size;
};

static int hash_cb(void *ud, const void *buf, size_t len) {
        struct hasher *h = ud;

        h->size += len;
        return EVP_DigestUpdate(h->ctx, buf, len) == 1 ? 0 : -EIO;
}

int ib_iso_hash(struct ib_iso *iso, const char *path, uint64_t *ret_size, uint8_t ret_sha256[32], struct ib_err *err) {
        struct hasher h = { .ctx = EVP_MD_CTX_new() };
        int r;

        if (!h.ctx)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) != 1)
                r = ib_err_set(err, -EIO, 0, "cannot set up SHA-256");
        else
                r = read_data(iso, path, hash_cb, &h, err);
        if (r >= 0 && EVP_DigestFinal_ex(h.ctx, ret_sha256, NULL) != 1)
                r = ib_err_set(err, -EIO, 0, "cannot finish SHA-256");
        EVP_MD_CTX_free(h.ctx);
        if (r >= 0)
                *ret_size = h.size;
        return r;
}
