/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "cpio.h"
#include "kmod.h"

struct kmod {
        char name[64];
        char *path;
        char **deps;            /* paths */
        size_t n_deps;
};

struct kalias {
        char *pattern;
        char name[64];
};

struct ib_kmods {
        struct kmod *mods;
        size_t n_mods, cap_mods;
        struct kalias *aliases;
        size_t n_aliases, cap_aliases;
        char **builtin;         /* names */
        size_t n_builtin;
};

int ib_kmod_name(const char *path, char *out, size_t size) {
        const char *base = strrchr(path, '/');
        size_t n;

        base = base ? base + 1 : path;
        n = strcspn(base, ".");
        if (n == 0 || n >= size)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                out[i] = base[i] == '-' ? '_' : base[i];
        out[n] = 0;
        return 0;
}

/* The compressions kernels use for modules (CONFIG_MODULE_COMPRESS_*), by file name. */
static const char *const kmod_suffixes[] = { ".ko.xz", ".ko.zst", ".ko.gz" };

bool ib_kmod_compressed(const char *path) {
        size_t n = strlen(path);

        for (size_t i = 0; i < ELEMENTSOF(kmod_suffixes); i++) {
                size_t k = strlen(kmod_suffixes[i]);

                if (n > k && strcmp(path + n - k, kmod_suffixes[i]) == 0)
                        return true;
        }
        return false;
}

int ib_kmod_plain(const void *data, size_t len, const char *path, size_t max, uint8_t **ret, size_t *ret_len,
                  struct ib_err *err) {
        static const uint8_t elf[4] = { 0x7f, 'E', 'L', 'F' };
        _cleanup_(freep) uint8_t *out = NULL;
        size_t n;
        int r;

        if (ib_kmod_compressed(path)) {
                r = ib_decompress(data, len, max, path, &out, &n, err);
                if (r < 0)
                        return r;
        } else {
                if (len > max)
                        return ib_err_set(err, -E2BIG, 0, "%s: %zu bytes, more than %zu", path, len, max);
                out = malloc(len ? len : 1);
                if (!out)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                memcpy(out, data, len);
                n = len;
        }
        if (n < sizeof(elf) || memcmp(out, elf, sizeof(elf)) != 0)
                return ib_err_set(err, -EINVAL, 0, "%s: not an ELF module%s", path,
                                  ib_kmod_compressed(path) ? " once decompressed" : "");
        *ret = out;
        out = NULL;
        *ret_len = n;
        return 0;
}

static void normalize(const char *in, char *out, size_t size) {
        size_t i;

        for (i = 0; in[i] && i + 1 < size; i++)
                out[i] = in[i] == '-' ? '_' : in[i];
        out[i] = 0;
}

/* Make room for one more element of @size bytes in *v (n used, *cap allocated): capacity doubles. */
static int grow(void **v, size_t n, size_t *cap, size_t size) {
        void *nv;
        size_t nc;

        if (n < *cap)
                return 0;
        nc = *cap ? 2 * *cap : 256;
        nv = realloc(*v, nc * size);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        *cap = nc;
        return 0;
}

/* Iterate the lines of a text: *line and *len, false at the end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len) {
        const char *nl;

        if (*p >= end)
                return false;
        nl = memchr(*p, '\n', (size_t)(end - *p));
        *line = *p;
        *len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
        *p = nl ? nl + 1 : end;
        return true;
}

static int parse_dep(struct ib_kmods *k, const char *text, size_t len, struct ib_err *err) {
        const char *p = text, *end = text + len, *line;
        size_t n, lineno = 0;

        while (next_line(&p, end, &line, &n)) {
                const char *colon = memchr(line, ':', n), *q;
                struct kmod *m;

                lineno++;
                if (n == 0 || line[0] == '#')
                        continue;
                if (!colon || colon == line)
                        return ib_err_set(err, -EINVAL, (unsigned)lineno, "modules.dep line %zu: no 'path:'", lineno);
                if (grow((void **)&k->mods, k->n_mods, &k->cap_mods, sizeof(*k->mods)) < 0)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                m = &k->mods[k->n_mods];
                *m = (struct kmod) {};
                m->path = ib_strndup(line, (size_t)(colon - line));
                if (!m->path)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                k->n_mods++;
                if (ib_kmod_name(m->path, m->name, sizeof(m->name)) < 0)
                        return ib_err_set(err, -EINVAL, (unsigned)lineno, "modules.dep line %zu: bad module path", lineno);
                for (q = colon + 1; q < line + n;) {
                        size_t w;
                        char *d;
                        int r;

                        while (q < line + n && (*q == ' ' || *q == '\t'))
                                q++;
                        for (w = 0; q + w < line + n && q[w] != ' ' && q[w] != '\t'; w++)
                                ;
                        if (w == 0)
                                break;
                        d = ib_strndup(q, w);
                        if (!d)
                                return ib_err_set(err, -ENOMEM, 0, "out of memory");
                        r = ib_strv_push(&m->deps, &m->n_deps, d);
                        free(d);
                        if (r < 0)
                                return ib_err_set(err, r, 0, "out of memory");
                        q += w;
                }
        }
        return 0;
}

static int parse_alias(struct ib_kmods *k, const char *text, size_t len, struct ib_err *err) {
        const char *p = text, *end = text + len, *line;
        size_t n;

        while (next_line(&p, end, &line, &n)) {
                const char *a, *b;
                struct kalias *na;

                if (n < 6 || strncmp(line, "alias ", 6) != 0)
                        continue;
                a = line + 6;
                b = memchr(a, ' ', (size_t)(line + n - a));
                if (!b || b == a || (size_t)(line + n - b - 1) >= sizeof(na->name) || b + 1 >= line + n)
                        continue;
                if (grow((void **)&k->aliases, k->n_aliases, &k->cap_aliases, sizeof(*k->aliases)) < 0)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                na = &k->aliases[k->n_aliases];
                na->pattern = ib_strndup(a, (size_t)(b - a));
                if (!na->pattern)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                {
                        char tmp[64];

                        memcpy(tmp, b + 1, (size_t)(line + n - b - 1));
                        tmp[line + n - b - 1] = 0;
                        normalize(tmp, na->name, sizeof(na->name));
                }
                k->n_aliases++;
        }
        return 0;
}

static int parse_builtin(struct ib_kmods *k, const char *text, size_t len, struct ib_err *err) {
        const char *p = text, *end = text + len, *line;
        size_t n;

        while (next_line(&p, end, &line, &n)) {
                char name[64], *path;
                int r;

                if (n == 0)
                        continue;
                path = ib_strndup(line, n);
                if (!path)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
                r = ib_kmod_name(path, name, sizeof(name));
                free(path);
                if (r < 0)
                        continue;
                if (ib_strv_push(&k->builtin, &k->n_builtin, name) < 0)
                        return ib_err_set(err, -ENOMEM, 0, "out of memory");
        }
        return 0;
}

int ib_kmods_new(const char *dep, size_t dep_len, const char *alias, size_t alias_len, const char *builtin,
                 size_t builtin_len, struct ib_kmods **ret, struct ib_err *err) {
        struct ib_kmods *k = calloc(1, sizeof(*k));
        int r;

        if (!k)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        r = parse_dep(k, dep, dep_len, err);
        if (r >= 0 && alias)
                r = parse_alias(k, alias, alias_len, err);
        if (r >= 0 && builtin)
                r = parse_builtin(k, builtin, builtin_len, err);
        if (r < 0) {
                ib_kmods_free(k);
                return r;
        }
        *ret = k;
        return 0;
}

struct ib_kmods *ib_kmods_free(struct ib_kmods *k) {
        if (!k)
                return NULL;
        for (size_t i = 0; i < k->n_mods; i++) {
                free(k->mods[i].path);
                ib_strv_free(k->mods[i].deps, k->mods[i].n_deps);
        }
        for (size_t i = 0; i < k->n_aliases; i++)
                free(k->aliases[i].pattern);
        ib_strv_free(k->builtin, k->n_builtin);
        free(k->mods);
        free(k->aliases);
        free(k);
        return NULL;
}

static struct kmod *by_name(struct ib_kmods *k, const char *name) {
        for (size_t i = 0; i < k->n_mods; i++)
                if (strcmp(k->mods[i].name, name) == 0)
                        return &k->mods[i];
        return NULL;
}

static struct kmod *by_path(struct ib_kmods *k, const char *path) {
        for (size_t i = 0; i < k->n_mods; i++)
                if (strcmp(k->mods[i].path, path) == 0)
                        return &k->mods[i];
        return NULL;
}

static int add(struct ib_kmods *k, struct kmod *m, unsigned depth, char ***paths, size_t *n, struct ib_err *err) {
        if (ib_strv_has(*paths, *n, m->path))
                return 0;
        if (depth > IB_KMOD_MAX_DEPTH)
                return ib_err_set(err, -ELOOP, 0, "modules.dep: dependencies of %s nest deeper than %u (a loop?)", m->name,
                                  IB_KMOD_MAX_DEPTH);
        /* depmod lists the deepest dependency last: load from the end. */
        for (size_t i = m->n_deps; i-- > 0;) {
                struct kmod *d = by_path(k, m->deps[i]);
                int r;

                if (!d)
                        return ib_err_set(err, -ENOENT, 0, "modules.dep: %s needs %s, which has no line of its own", m->name,
                                          m->deps[i]);
                r = add(k, d, depth + 1, paths, n, err);
                if (r < 0)
                        return r;
        }
        if (ib_strv_push(paths, n, m->path) < 0)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        return 0;
}

int ib_kmods_add(struct ib_kmods *k, const char *name, char ***paths, size_t *n, struct ib_err *err) {
        char norm[64];
        struct kmod *m;

        normalize(name, norm, sizeof(norm));
        m = by_name(k, norm);
        if (!m) {
                if (ib_strv_has(k->builtin, k->n_builtin, norm))
                        return 0;
                return ib_err_set(err, -ENOENT, 0, "no kernel module '%s' in this kernel's modules.dep", name);
        }
        return add(k, m, 0, paths, n, err);
}

int ib_kmods_match(struct ib_kmods *k, const char *modalias, char ***names, size_t *n) {
        int found = 0;

        for (size_t i = 0; i < k->n_aliases; i++) {
                if (fnmatch(k->aliases[i].pattern, modalias, 0) != 0)
                        continue;
                found++;
                if (!ib_strv_has(*names, *n, k->aliases[i].name) && ib_strv_push(names, n, k->aliases[i].name) < 0)
                        return -ENOMEM;
        }
        return found;
}

int ib_kernel_release(const void *img, size_t len, char *out, size_t size, struct ib_err *err) {
        const uint8_t *p = img;
        size_t off, n;

        /* Documentation/arch/x86/boot.rst: "HdrS" at 0x202, kernel_version at 0x20e (protocol >= 2.00). */
        if (len < 0x210 || memcmp(p + 0x202, "HdrS", 4) != 0)
                return ib_err_set(err, -EINVAL, 0, "not a Linux bzImage (no 'HdrS' setup header)");
        if ((p[0x206] | p[0x207] << 8) < 0x200)
                return ib_err_set(err, -EINVAL, 0, "bzImage boot protocol older than 2.00");
        off = (size_t)(p[0x20e] | p[0x20f] << 8) + 0x200;
        if (off == 0x200 || off >= len)
                return ib_err_set(err, -EINVAL, 0, "bzImage has no kernel version string");
        if (memchr(p + off, 0, len - off) == NULL)
                return ib_err_set(err, -EINVAL, 0, "bzImage kernel version string is not terminated");
        n = strcspn((const char *)p + off, " ");
        if (n == 0 || n >= size)
                return ib_err_set(err, -EINVAL, 0, "bzImage kernel version string is malformed");
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)p[off + i] <= ' ' || p[off + i] == '/' || (unsigned char)p[off + i] >= 0x7f)
                        return ib_err_set(err, -EINVAL, 0, "bzImage kernel release has an odd character");
        memcpy(out, p + off, n);
        out[n] = 0;
        return 0;
}
