/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * syslinux.c: the syslinux family (isolinux, syslinux, pxelinux) read line by
 * line: LABEL blocks with KERNEL/LINUX, APPEND, INITRD, the global APPEND,
 * INCLUDE/CONFIG and MENU INCLUDE, mboot.c32's multiboot lines.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "bootcfg.h"
#include "internal.h"

static bool word_is(const char *w, size_t wl, const char *kw) {
        return wl == strlen(kw) && strncasecmp(w, kw, wl) == 0;
}

/* Split @s (length @len) at blanks into a string vector. */
static int split_words(const char *s, size_t len, char ***ret, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0, i = 0;

        while (i < len) {
                size_t start;
                char *w;
                int r;

                while (i < len && bc_is_blank(s[i]))
                        i++;
                if (i >= len)
                        break;
                start = i;
                while (i < len && !bc_is_blank(s[i]))
                        i++;
                w = ib_strndup(s + start, i - start);
                if (!w) {
                        ib_strv_free(v, n);
                        return -ENOMEM;
                }
                r = ib_strv_push(&v, &n, w);
                free(w);
                if (r < 0) {
                        ib_strv_free(v, n);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

struct sl_label {
        bool active;
        char *tag, *menu_label;
        char *kernel;           /* rest of the KERNEL/LINUX/COM32... line */
        bool forced_linux;      /* LINUX keyword */
        bool module;            /* COM32, COMBOOT, BOOT, BSS, PXE, FDIMAGE */
        bool skip;              /* LOCALBOOT */
        char *append, *initrd;
        char *source;
        unsigned line;
};

struct sl_state {
        struct sl_label cur;
        char *global_append;
        char *pxe_label;        /* the label whichsys.c32 runs under PXELINUX only ("-pxe- NAME") */
};

static void sl_label_reset(struct sl_label *l) {
        free(l->tag);
        free(l->menu_label);
        free(l->kernel);
        free(l->append);
        free(l->initrd);
        free(l->source);
        *l = (struct sl_label) {};
}

static bool has_module_ext(const char *name) {
        static const char *const exts[] = { ".c32", ".com", ".cbt", ".0", ".bin", ".bs", ".bss" };
        size_t n = strlen(name);

        for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                size_t e = strlen(exts[i]);

                if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
                        return true;
        }
        return false;
}

static bool is_mboot(const char *name) {
        const char *slash = strrchr(name, '/');

        return strcasecmp(slash ? slash + 1 : name, "mboot.c32") == 0;
}

/* syslinux has no variables: "${x}" only comes from configs shared with GRUB. */
static bool sl_has_var(const char *w) {
        const char *p = strstr(w, "${");

        return p && strchr(p, '}');
}

static int sl_resolve(struct ctx *c, struct sl_label *l, const char *p, size_t len, char **ret) {
        /* PXELINUX's "::/path" names the server root: the image root here. */
        if (len >= 2 && p[0] == ':' && p[1] == ':') {
                p += 2;
                len -= 2;
                if (len == 0 || p[0] != '/')
                        return bc_path_resolve(c, "/", p, len, l->line, l->source, ret);
        }
        return bc_path_resolve(c, c->basedir, p, len, l->line, l->source, ret);
}

/* Multiboot through mboot.c32: "xen ARGS --- kernel ARGS --- module --- module". */
static int sl_mboot(struct ctx *c, struct sl_label *l, char **w, size_t n, struct pending *p) {
        size_t part = 0, first = 0;
        int r;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && !bc_streq(w[i], "---"))
                        continue;
                if (i > first) {
                        char *path = NULL;

                        r = sl_resolve(c, l, w[first], strlen(w[first]), &path);
                        if (r < 0)
                                return r;
                        if (part == 0)
                                p->hyper = path;
                        else if (part == 1)
                                p->kernel = path;
                        else {
                                r = bc_push_initrd(c, p, path, l->line);
                                free(path);
                                if (r < 0)
                                        return r;
                        }
                        for (size_t j = first + 1; part <= 1 && j < i; j++) {
                                if (sl_has_var(w[j]))
                                        continue;
                                r = bc_add_arg(c, part == 0 ? &p->hyper_args : &p->cmdline, w[j], strlen(w[j]), false);
                                if (r < 0)
                                        return r;
                        }
                }
                part++;
                first = i + 1;
        }
        if (!p->hyper) {
                free(p->kernel);
                p->kernel = NULL;
        }
        return 0;
}

static int sl_initrd_list(struct ctx *c, struct sl_label *l, const char *v, struct pending *p) {
        while (*v) {
                size_t n = strcspn(v, ",");

                if (n > 0) {
                        char *path = NULL;
                        int r = sl_resolve(c, l, v, n, &path);

                        if (r < 0)
                                return r;
                        r = bc_push_initrd(c, p, path, l->line);
                        free(path);
                        if (r < 0)
                                return r;
                }
                v += n;
                if (*v == ',')
                        v++;
        }
        return 0;
}

/* Finish the current LABEL: build its entry, or drop it. */
/*
 * whichsys.c32 (archiso: "APPEND -pxe- pxe -sys- sys -iso- sys") runs the
 * label after "-pxe-" under PXELINUX only: remember it in *@pxe, its CONFIG
 * is not the image's.  -ENOMEM or 0.
 */
static int whichsys_pxe(const struct sl_label *l, char **pxe) {
        const char *k = l->kernel + strspn(l->kernel, " \t"), *slash, *a;
        size_t kl = strcspn(k, " \t"), n;

        slash = memrchr(k, '/', kl);
        if (slash)
                kl -= (size_t)(slash + 1 - k), k = slash + 1;
        if (kl != 12 || strncasecmp(k, "whichsys.c32", 12) != 0 || !l->append)
                return 0;
        for (a = l->append; *(a += strspn(a, " \t")); a += strcspn(a, " \t"))
                if (strncmp(a, "-pxe-", 5) == 0 && (a[5] == ' ' || a[5] == '\t')) {
                        a += 5;
                        a += strspn(a, " \t");
                        n = strcspn(a, " \t");
                        if (n == 0 || a[0] == '-')
                                return 0;
                        free(*pxe);
                        *pxe = ib_strndup(a, n);
                        return *pxe ? 0 : -ENOMEM;
                }
        return 0;
}

static int sl_finish(struct ctx *c, struct sl_state *st) {
        struct sl_label *l = &st->cur;
        struct pending p = {};
        struct buf all = {};
        char **w = NULL;
        size_t n = 0, klen;
        const char *append, *kname;
        bool mboot = false;
        int r = 0;

        if (!l->active || !l->kernel || l->skip)
                goto out;
        if (l->module && whichsys_pxe(l, &st->pxe_label) < 0)
                goto oom;
        kname = l->kernel + strspn(l->kernel, " \t");
        klen = strcspn(kname, " \t");
        if (klen == 0)
                goto out;
        /*
         * "::/path" is PXELINUX's: the file from the TFTP server's root, an
         * entry for a network boot that isolinux never reaches (archiso's
         * NBD/NFS/HTTP entries, behind whichsys.c32's "-pxe-"): booted from
         * the image it would look for its server (archiso_nbd_srv=${pxeserver}).
         */
        if (klen >= 2 && kname[0] == ':' && kname[1] == ':')
                goto out;
        {
                _cleanup_(freep) char *k = ib_strndup(kname, klen);

                if (!k)
                        goto oom;
                if (l->module || (!l->forced_linux && has_module_ext(k))) {
                        if (!is_mboot(k))
                                goto out;
                        mboot = true;
                }
        }
        append = l->append ? l->append : st->global_append;
        if (append) {
                size_t skip = strspn(append, " \t");

                if (bc_streq(append + skip, "-"))
                        append = NULL;
        }
        /* The KERNEL line may carry arguments of its own; they come first. */
        if (bc_buf_add(&all, kname + klen, strlen(kname + klen)) < 0 || bc_buf_addc(&all, ' ') < 0 ||
            (append && bc_buf_add(&all, append, strlen(append)) < 0))
                goto oom;
        if (split_words(all.s, all.len, &w, &n) < 0)
                goto oom;
        p.line = l->line;
        p.source = strdup(l->source);
        p.label = strdup(l->menu_label ? l->menu_label : l->tag ? l->tag : "");
        if (!p.source || !p.label)
                goto oom;
        if (mboot) {
                r = sl_mboot(c, l, w, n, &p);
                if (r < 0)
                        goto out;
        } else {
                r = sl_resolve(c, l, kname, klen, &p.kernel);
                if (r < 0)
                        goto out;
                if (l->initrd) {
                        size_t il = strcspn(l->initrd, " \t");
                        _cleanup_(freep) char *iv = ib_strndup(l->initrd, il);

                        if (!iv)
                                goto oom;
                        r = sl_initrd_list(c, l, iv, &p);
                        if (r < 0)
                                goto out;
                }
                for (size_t i = 0; i < n; i++) {
                        if (strncmp(w[i], "initrd=", 7) == 0)
                                r = sl_initrd_list(c, l, w[i] + 7, &p);
                        else if (!sl_has_var(w[i]))
                                r = bc_add_arg(c, &p.cmdline, w[i], strlen(w[i]), false);
                        if (r < 0)
                                goto out;
                }
        }
        /* Labels are display text: "^" only marks the hotkey. */
        for (char *s = p.label, *d = p.label;; s++) {
                if (*s != '^')
                        *d++ = *s;
                if (!*s)
                        break;
        }
        r = bc_commit(c, &p);
        goto out;
oom:
        r = ib_err_set(c->err, -ENOMEM, 0, "out of memory");
out:
        bc_buf_free(&all);
        ib_strv_free(w, n);
        bc_pending_reset(&p);
        sl_label_reset(l);
        return r;
}

static int sl_parse_file(struct ctx *c, struct sl_state *st, const char *path, const char *from, unsigned from_line);

static int sl_include(struct ctx *c, struct sl_state *st, const char *path, unsigned line, const char *arg,
                      size_t len) {
        _cleanup_(freep) char *target = NULL;
        size_t n = strcspn(arg, " \t");
        int r;

        if (n > len)
                n = len;
        if (n == 0)
                return 0;
        r = bc_path_resolve(c, c->basedir, arg, n, line, path, &target);
        if (r < 0)
                return r;
        r = sl_parse_file(c, st, target, path, line);
        return r == -ENOENT ? 0 : r;
}

static int set_str(struct ctx *c, char **dst, const char *s, size_t len) {
        char *v = ib_strndup(s, len);

        if (!v)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        free(*dst);
        *dst = v;
        return 0;
}

static int sl_line(struct ctx *c, struct sl_state *st, const char *path, unsigned line, const char *s, size_t len,
                   bool *in_text) {
        struct sl_label *l = &st->cur;
        const char *kw, *rest;
        size_t kl, rl;

        while (len > 0 && bc_is_blank(*s))
                s++, len--;
        while (len > 0 && bc_is_blank(s[len - 1]))
                len--;
        if (len == 0 || s[0] == '#')
                return 0;
        kw = s;
        kl = 0;
        while (kl < len && !bc_is_blank(kw[kl]))
                kl++;
        rest = kw + kl;
        rl = len - kl;
        while (rl > 0 && bc_is_blank(*rest))
                rest++, rl--;

        if (*in_text) {
                if (word_is(kw, kl, "endtext"))
                        *in_text = false;
                return 0;
        }
        if (word_is(kw, kl, "menu")) {
                const char *sub = rest, *arg;
                size_t sl = 0, al;

                while (sl < rl && !bc_is_blank(sub[sl]))
                        sl++;
                arg = sub + sl;
                al = rl - sl;
                while (al > 0 && bc_is_blank(*arg))
                        arg++, al--;
                if (word_is(sub, sl, "label"))
                        return l->active ? set_str(c, &l->menu_label, arg, al) : 0;
                if (word_is(sub, sl, "include"))
                        return sl_include(c, st, path, line, arg, al);
                if (word_is(sub, sl, "begin") || word_is(sub, sl, "end"))
                        return sl_finish(c, st);
                return 0;
        }
        if (word_is(kw, kl, "text")) {
                if (rl >= 4 && strncasecmp(rest, "help", 4) == 0 && (rl == 4 || bc_is_blank(rest[4])))
                        *in_text = true;
                return 0;
        }
        if (word_is(kw, kl, "label")) {
                int r = sl_finish(c, st);

                if (r < 0)
                        return r;
                l->active = true;
                l->line = line;
                l->source = strdup(path);
                l->tag = ib_strndup(rest, rl);
                if (!l->source || !l->tag)
                        return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
                return 0;
        }
        if (word_is(kw, kl, "config") && l->active && l->tag && st->pxe_label && strcmp(l->tag, st->pxe_label) == 0)
                return 0;
        if (word_is(kw, kl, "include") || word_is(kw, kl, "config"))
                return sl_include(c, st, path, line, rest, rl);
        /*
         * A global APPEND is split again for every label: bound what is
         * stored.  Nothing longer could make a command line that fits.
         */
        if (rl > 2 * MAX_CMDLINE && (word_is(kw, kl, "append") || word_is(kw, kl, "kernel") ||
                                     word_is(kw, kl, "linux") || word_is(kw, kl, "initrd")))
                return ib_err_set(c->err, -E2BIG, line, "%s: %.*s line longer than %u bytes", path, (int)kl, kw,
                                  2 * MAX_CMDLINE);
        if (word_is(kw, kl, "append")) {
                if (l->active)
                        return set_str(c, &l->append, rest, rl);
                return set_str(c, &st->global_append, rest, rl);
        }
        if (!l->active)
                return 0;
        if (word_is(kw, kl, "kernel") || word_is(kw, kl, "linux")) {
                l->forced_linux = word_is(kw, kl, "linux");
                l->module = false;
                return set_str(c, &l->kernel, rest, rl);
        }
        if (word_is(kw, kl, "com32") || word_is(kw, kl, "comboot") || word_is(kw, kl, "boot") ||
            word_is(kw, kl, "bss") || word_is(kw, kl, "pxe") || word_is(kw, kl, "fdimage")) {
                l->forced_linux = false;
                l->module = true;
                return set_str(c, &l->kernel, rest, rl);
        }
        if (word_is(kw, kl, "localboot")) {
                l->skip = true;
                return 0;
        }
        if (word_is(kw, kl, "initrd"))
                return set_str(c, &l->initrd, rest, rl);
        return 0;       /* default, ui, timeout, prompt, say, path, ... */
}

static int sl_parse_file(struct ctx *c, struct sl_state *st, const char *path, const char *from, unsigned from_line) {
        _cleanup_(freep) char *data = NULL;
        size_t len = 0, i = 0;
        unsigned line = 0;
        bool in_text = false;
        int r;

        r = bc_file_enter(c, path, from, from_line, &data, &len);
        if (r <= 0)
                return r;
        while (i < len) {
                size_t e = i;

                while (e < len && data[e] != '\n')
                        e++;
                line++;
                r = sl_line(c, st, path, line, data + i, e - i, &in_text);
                if (r < 0)
                        break;
                i = e + 1;
        }
        c->depth--;
        return r < 0 ? r : 0;
}

int bc_sl_top(struct ctx *c, const char *path) {
        struct sl_state st = {};
        int r;

        free(c->basedir);
        c->basedir = bc_dir_of(path);
        if (!c->basedir)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        r = sl_parse_file(c, &st, path, NULL, 0);
        if (r >= 0)
                r = sl_finish(c, &st);
        sl_label_reset(&st.cur);
        free(st.global_append);
        free(st.pxe_label);
        return r;
}
