/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bootcfg.c: boot entries from isolinux/syslinux and GRUB configs.
 *
 * Two small interpreters share one context: one reads the syslinux family
 * line by line, the other lexes GRUB script into commands and runs the few
 * that matter (set, source, menuentry, linux, initrd, multiboot, module).
 * GRUB control flow (if/elif/else, for, while, function) is not evaluated:
 * the bodies are read linearly, and menuentry bodies are evaluated where
 * they are defined, with the variables set so far.  Input is untrusted:
 * besides the limits in bootcfg.h, the sizes in internal.h bound every word,
 * variable, label, path and command line, and the block nesting.
 *
 * Choices worth knowing:
 *  - A file that is already being read (an include/source cycle) is skipped
 *    quietly; nesting deeper than IB_BOOTCFG_MAX_DEPTH is an error.
 *  - Every config file read, and every include that turns out missing,
 *    counts against IB_BOOTCFG_MAX_FILES (missing well-known paths do not).
 *  - Labels longer than MAX_LABEL are cut (display only); anything that
 *    changes what boots (paths, command lines, initrd lists) is an error.
 *  - Kernel arguments naming an unset GRUB variable are dropped.  syslinux
 *    has no variables, so a "${...}" argument there comes from a config
 *    shared with GRUB (Debian's findiso=${iso_path}) and is dropped too.
 *  - syslinux CONFIG is read like INCLUDE, also inside a LABEL.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bootcfg.h"
#include "internal.h"

/* ---- small helpers -------------------------------------------------------- */

void bc_buf_free(struct buf *b) {
        free(b->s);
        b->s = NULL;
        b->len = b->cap = 0;
}

int bc_buf_add(struct buf *b, const char *s, size_t n) {
        if (n > SIZE_MAX / 4 || b->len > SIZE_MAX / 4)
                return -ENOMEM;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                char *p;

                while (cap < b->len + n + 1)
                        cap *= 2;
                p = realloc(b->s, cap);
                if (!p)
                        return -ENOMEM;
                b->s = p;
                b->cap = cap;
        }
        if (n > 0)
                memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = 0;
        return 0;
}

int bc_buf_addc(struct buf *b, char c) {
        return bc_buf_add(b, &c, 1);
}

bool bc_is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool bc_streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static bool streq_null(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/*
 * Whitespace runs to one space, trimmed.  At most @max bytes are kept,
 * cut at a UTF-8 character boundary; *truncated says whether it was cut.
 */
static char *collapse(const char *s, size_t max, bool *truncated) {
        size_t n = 0, len = strlen(s);
        char *out = malloc(len + 1);
        bool space = false;

        if (!out)
                return NULL;
        if (truncated)
                *truncated = false;
        for (size_t i = 0; i < len; i++) {
                if (bc_is_blank(s[i])) {
                        space = n > 0;
                        continue;
                }
                if (space)
                        out[n++] = ' ';
                space = false;
                out[n++] = s[i];
        }
        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
                        n--;
                while (n > 0 && out[n - 1] == ' ')
                        n--;
                if (truncated)
                        *truncated = true;
        }
        out[n] = 0;
        return out;
}

/* ---- scan context ----------------------------------------------------------- */

void bc_pending_reset(struct pending *p) {
        free(p->label);
        free(p->kernel);
        ib_strv_free(p->initrds, p->n_initrds);
        bc_buf_free(&p->cmdline);
        free(p->hyper);
        bc_buf_free(&p->hyper_args);
        free(p->source);
        *p = (struct pending) {};
}

/* Forget what a previous linux/multiboot command loaded (GRUB does the same). */
static void pending_unload(struct pending *p) {
        free(p->kernel);
        p->kernel = NULL;
        ib_strv_free(p->initrds, p->n_initrds);
        p->initrds = NULL;
        p->n_initrds = 0;
        bc_buf_free(&p->cmdline);
        free(p->hyper);
        p->hyper = NULL;
        bc_buf_free(&p->hyper_args);
        p->multiboot = false;
}

static void entry_done(struct ib_bootcfg_entry *e) {
        free(e->label);
        free(e->kernel);
        ib_strv_free(e->initrds, e->n_initrds);
        free(e->cmdline);
        free(e->hypervisor);
        free(e->hypervisor_args);
        free(e->source);
}

/* Free @n entries and the array itself; NULL is fine. */
void ib_bootcfg_entries_free(struct ib_bootcfg_entry *e, size_t n) {
        if (!e)
                return;
        for (size_t i = 0; i < n; i++)
                entry_done(&e[i]);
        free(e);
}

static void vars_truncate(struct ctx *c, size_t n) {
        while (c->n_vars > n) {
                c->n_vars--;
                free(c->vars[c->n_vars].name);
                free(c->vars[c->n_vars].value);
        }
}

static void ctx_done(struct ctx *c) {
        ib_bootcfg_entries_free(c->entries, c->n_entries);
        c->entries = NULL;
        c->n_entries = 0;
        vars_truncate(c, 0);
        free(c->vars);
        c->vars = NULL;
        free(c->basedir);
        c->basedir = NULL;
}

static bool entry_same(const struct ib_bootcfg_entry *a, const struct ib_bootcfg_entry *b) {
        if (!bc_streq(a->kernel, b->kernel) || !bc_streq(a->cmdline, b->cmdline) ||
            !streq_null(a->hypervisor, b->hypervisor) ||
            !streq_null(a->hypervisor_args, b->hypervisor_args) || a->n_initrds != b->n_initrds)
                return false;
        for (size_t i = 0; i < a->n_initrds; i++)
                if (!bc_streq(a->initrds[i], b->initrds[i]))
                        return false;
        return true;
}

/* Turn a pending entry into a result entry; entries without a kernel are dropped. */
int bc_commit(struct ctx *c, struct pending *p) {
        struct ib_bootcfg_entry e = {}, *ne;
        bool cut;
        int r = -ENOMEM;

        if (!p->kernel) {
                bc_pending_reset(p);
                return 0;
        }
        e.label = collapse(p->label ? p->label : "", MAX_LABEL, NULL);
        e.cmdline = collapse(p->cmdline.s ? p->cmdline.s : "", MAX_CMDLINE, &cut);
        if (!e.label || !e.cmdline)
                goto fail;
        if (cut) {
                r = ib_err_set(c->err, -E2BIG, p->line, "%s: kernel command line longer than %u bytes",
                               p->source, MAX_CMDLINE);
                goto fail;
        }
        if (p->hyper) {
                e.hypervisor_args = collapse(p->hyper_args.s ? p->hyper_args.s : "", MAX_CMDLINE, &cut);
                if (!e.hypervisor_args)
                        goto fail;
                if (cut) {
                        r = ib_err_set(c->err, -E2BIG, p->line,
                                       "%s: hypervisor command line longer than %u bytes", p->source, MAX_CMDLINE);
                        goto fail;
                }
                e.hypervisor = p->hyper;
                p->hyper = NULL;
        }
        e.kernel = p->kernel;
        p->kernel = NULL;
        e.initrds = p->initrds;
        e.n_initrds = p->n_initrds;
        p->initrds = NULL;
        p->n_initrds = 0;
        e.source = p->source;
        p->source = NULL;

        if (c->dedupe)
                for (size_t i = 0; i < c->n_entries; i++)
                        if (entry_same(&c->entries[i], &e)) {
                                entry_done(&e);
                                bc_pending_reset(p);
                                return 0;
                        }
        if (c->have + c->n_entries >= IB_BOOTCFG_MAX_ENTRIES) {
                r = ib_err_set(c->err, -E2BIG, p->line, "%s: more than %u boot entries", e.source,
                               IB_BOOTCFG_MAX_ENTRIES);
                goto fail;
        }
        ne = realloc(c->entries, (c->n_entries + 1) * sizeof(*ne));
        if (!ne)
                goto fail;
        c->entries = ne;
        c->entries[c->n_entries++] = e;
        bc_pending_reset(p);
        return 0;
fail:
        entry_done(&e);
        bc_pending_reset(p);
        if (r == -ENOMEM)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        return r;
}

/*
 * Absolute, normalised path: @p (length @len) taken relative to @base when
 * it does not start with '/'; "." and ".." resolved, never above "/".
 */
int bc_path_resolve(struct ctx *c, const char *base, const char *p, size_t len, unsigned line,
                        const char *where, char **ret) {
        struct buf in = {}, out = {};
        size_t i = 0;
        int r = 0;

        if ((len == 0 || p[0] != '/') && base)
                r = bc_buf_add(&in, base, strlen(base));
        if (r >= 0)
                r = bc_buf_addc(&in, '/');
        if (r >= 0)
                r = bc_buf_add(&in, p, len);
        if (r < 0)
                goto oom;
        if (in.len > MAX_PATH) {
                bc_buf_free(&in);
                return ib_err_set(c->err, -ENAMETOOLONG, line, "%s: path longer than %u bytes", where, MAX_PATH);
        }
        while (i < in.len) {
                size_t start;

                while (i < in.len && in.s[i] == '/')
                        i++;
                start = i;
                while (i < in.len && in.s[i] != '/')
                        i++;
                if (i == start || (i - start == 1 && in.s[start] == '.'))
                        continue;
                if (i - start == 2 && in.s[start] == '.' && in.s[start + 1] == '.') {
                        while (out.len > 0 && out.s[out.len - 1] != '/')
                                out.len--;
                        if (out.len > 0)
                                out.len--;
                        if (out.s)
                                out.s[out.len] = 0;
                        continue;
                }
                r = bc_buf_addc(&out, '/');
                if (r >= 0)
                        r = bc_buf_add(&out, in.s + start, i - start);
                if (r < 0)
                        goto oom;
        }
        if (out.len == 0 && bc_buf_addc(&out, '/') < 0)
                goto oom;
        bc_buf_free(&in);
        *ret = out.s;
        return 0;
oom:
        bc_buf_free(&in);
        bc_buf_free(&out);
        return ib_err_set(c->err, -ENOMEM, line, "out of memory");
}

char *bc_dir_of(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash || slash == path)
                return strdup("/");
        return ib_strndup(path, (size_t)(slash - path));
}

/*
 * Read one config file.  Missing files return -ENOENT without a message;
 * they count against IB_BOOTCFG_MAX_FILES only when @count_missing.
 */
static int ctx_read(struct ctx *c, const char *path, bool count_missing, const char *from, unsigned line,
                    char **ret, size_t *ret_len) {
        char *data = NULL;
        size_t len = 0;
        int r;

        if (c->n_files >= IB_BOOTCFG_MAX_FILES)
                return ib_err_set(c->err, -E2BIG, line, "%s: more than %u config files to read (at %s)",
                                  from ? from : path, IB_BOOTCFG_MAX_FILES, path);
        r = c->read(c->userdata, path, &data, &len);
        if (r == -ENOENT) {
                free(data);
                if (count_missing)
                        c->n_files++;
                return -ENOENT;
        }
        if (r < 0) {
                free(data);
                return ib_err_set(c->err, r, line, "%s: cannot read: %s", path, strerror(-r));
        }
        c->n_files++;
        if (!data) {
                if (len != 0)
                        return ib_err_set(c->err, -EIO, line, "%s: read callback returned no data", path);
                data = strdup("");
                if (!data)
                        return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        }
        if (len > IB_BOOTCFG_MAX_FILE) {
                free(data);
                return ib_err_set(c->err, -EFBIG, line, "%s: config file larger than %u bytes", path,
                                  IB_BOOTCFG_MAX_FILE);
        }
        *ret = data;
        *ret_len = strnlen(data, len);  /* text stops at a NUL byte */
        return 0;
}

/* Whether @path is already being read (an include cycle). */
static bool on_stack(const struct ctx *c, const char *path) {
        for (unsigned i = 0; i < c->depth; i++)
                if (bc_streq(c->stack[i], path))
                        return true;
        return false;
}

static int check_depth(struct ctx *c, const char *from, unsigned line, const char *path) {
        if (c->depth > IB_BOOTCFG_MAX_DEPTH)
                return ib_err_set(c->err, -ELOOP, line, "%s: includes nested deeper than %u (at %s)",
                                  from ? from : path, IB_BOOTCFG_MAX_DEPTH, path);
        return 0;
}

/*
 * Start reading a config file (top level or included): 0 when it is already
 * being read (an include cycle: skipped quietly), 1 with its text and the
 * file pushed on the include stack, or a negative error.
 */
int bc_file_enter(struct ctx *c, const char *path, const char *from, unsigned from_line, char **data, size_t *len) {
        int r;

        if (on_stack(c, path))
                return 0;
        r = check_depth(c, from, from_line, path);
        if (r < 0)
                return r;
        r = ctx_read(c, path, from != NULL, from, from_line, data, len);
        if (r < 0)
                return r;
        c->stack[c->depth++] = path;
        return 1;
}

int bc_push_initrd(struct ctx *c, struct pending *p, const char *path, unsigned line) {
        if (p->n_initrds >= MAX_INITRDS)
                return ib_err_set(c->err, -E2BIG, line, "%s: more than %u initrds in one entry", p->source,
                                  MAX_INITRDS);
        if (ib_strv_push(&p->initrds, &p->n_initrds, path) < 0)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        return 0;
}

int bc_add_arg(struct ctx *c, struct buf *b, const char *s, size_t len, bool quote) {
        int r = 0;

        if (len == 0)
                return 0;
        if (b->len > 0)
                r = bc_buf_addc(b, ' ');
        if (quote) {
                if (r >= 0)
                        r = bc_buf_addc(b, '"');
                for (size_t i = 0; r >= 0 && i < len; i++) {
                        if (s[i] == '"' || s[i] == '\\')
                                r = bc_buf_addc(b, '\\');
                        if (r >= 0)
                                r = bc_buf_addc(b, s[i]);
                }
                if (r >= 0)
                        r = bc_buf_addc(b, '"');
        } else if (r >= 0)
                r = bc_buf_add(b, s, len);
        if (r < 0)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        /* Stop growing long before anything silly; bc_commit() reports the error. */
        if (b->len > MAX_CMDLINE * 2)
                b->len = MAX_CMDLINE * 2, b->s[b->len] = 0;
        return 0;
}

/* ---- GRUB --------------------------------------------------------------------- */

static bool var_name_ok(const char *s, size_t n) {
        if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

static struct var *var_find(struct ctx *c, const char *name, size_t n, size_t from) {
        for (size_t i = c->n_vars; i > from; i--) {
                struct var *v = &c->vars[i - 1];

                if (strlen(v->name) == n && memcmp(v->name, name, n) == 0)
                        return v;
        }
        return NULL;
}

static const char *var_get(struct ctx *c, const char *name, size_t n) {
        struct var *v = var_find(c, name, n, 0);

        return v ? v->value : NULL;
}

/* Set (value) or unset (NULL) a variable in the innermost scope. */
static int var_set(struct ctx *c, const char *name, size_t n, const char *value, unsigned line, const char *where) {
        struct var *v = var_find(c, name, n, c->scope);
        char *nv = NULL;

        if (value && !(nv = strdup(value)))
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        if (!v) {
                struct var *a;

                if (c->n_vars >= MAX_VARS) {
                        free(nv);
                        return ib_err_set(c->err, -E2BIG, line, "%s: more than %u variables", where, MAX_VARS);
                }
                a = realloc(c->vars, (c->n_vars + 1) * sizeof(*a));
                if (!a) {
                        free(nv);
                        return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
                }
                c->vars = a;
                v = &c->vars[c->n_vars];
                v->name = ib_strndup(name, n);
                v->value = NULL;
                if (!v->name) {
                        free(nv);
                        return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
                }
                c->n_vars++;
        }
        free(v->value);
        v->value = nv;
        return 0;
}

enum { T_EOF, T_SEP, T_LBRACE, T_RBRACE, T_WORD };

struct gword {
        char *s;
        bool undef;     /* referenced a variable that is not set */
        bool plain;     /* no quotes, escapes or variables: may be a keyword */
};

struct gcmd {
        struct gword *w;
        size_t n, cap;
};

struct lexer {
        const char *p, *end;
        const char *path;
        unsigned line;          /* where the lexer is */
        unsigned cmd_line;      /* where the current command started */
};

static void gcmd_clear(struct gcmd *cmd) {
        for (size_t i = 0; i < cmd->n; i++)
                free(cmd->w[i].s);
        cmd->n = 0;
}

static void gcmd_free(struct gcmd *cmd) {
        gcmd_clear(cmd);
        free(cmd->w);
        cmd->w = NULL;
        cmd->cap = 0;
}

static int lex_var(struct ctx *c, struct lexer *lx, struct buf *b, struct gword *w) {
        const char *name = lx->p + 1, *v;
        size_t n = 0;

        /* lx->p points at '$' */
        if (name < lx->end && *name == '{') {
                /* "${NAME}", "${DIGITS}" or "${?}"; anything else is a literal '$'. */
                const char *q = name + 1;

                if (q < lx->end && *q && strchr("?#@*", *q))
                        q++;
                else
                        while (q < lx->end && (size_t)(q - name) <= MAX_VAR_NAME &&
                               (var_name_ok(q, 1) || (*q >= '0' && *q <= '9')))
                                q++;
                if (q == name + 1 || q >= lx->end || *q != '}')
                        goto literal;
                n = (size_t)(q - name - 1);
                name++;
                lx->p = q + 1;
        } else if (name < lx->end && var_name_ok(name, 1)) {
                while (name + n < lx->end && (var_name_ok(name + n, 1) || (name[n] >= '0' && name[n] <= '9')))
                        n++;
                lx->p = name + n;
        } else if (name < lx->end && *name >= '0' && *name <= '9') {
                while (name + n < lx->end && name[n] >= '0' && name[n] <= '9')
                        n++;
                lx->p = name + n;
        } else if (name < lx->end && *name && strchr("?#@*", *name)) {
                n = 1;
                lx->p = name + 1;
        } else
                goto literal;
        w->plain = false;
        v = var_get(c, name, n);
        if (!v) {
                w->undef = true;
                return 0;
        }
        return bc_buf_add(b, v, strlen(v));
literal:
        lx->p++;
        return bc_buf_addc(b, '$');
}

static bool word_end(char ch) {
        return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ';' || ch == '{' || ch == '}';
}

/* One GRUB word: quotes, backslash escapes and variables, expanded now. */
static int lex_word(struct ctx *c, struct lexer *lx, struct gword *w) {
        struct buf b = {};
        int r = 0;

        *w = (struct gword) { .plain = true };
        while (r >= 0 && lx->p < lx->end && !word_end(*lx->p)) {
                char ch = *lx->p;

                if (b.len > MAX_WORD)
                        break;
                if (ch == '\\') {
                        w->plain = false;
                        if (lx->p + 1 >= lx->end) {
                                lx->p++;
                                r = bc_buf_addc(&b, '\\');
                        } else if (lx->p[1] == '\n') {
                                lx->line++;
                                lx->p += 2;
                        } else {
                                r = bc_buf_addc(&b, lx->p[1]);
                                lx->p += 2;
                        }
                } else if (ch == '\'') {
                        const char *q = lx->p + 1;

                        w->plain = false;
                        while (q < lx->end && *q != '\'') {
                                if (*q == '\n')
                                        lx->line++;
                                q++;
                        }
                        r = bc_buf_add(&b, lx->p + 1, (size_t)(q - lx->p - 1));
                        lx->p = q < lx->end ? q + 1 : q;
                } else if (ch == '"') {
                        w->plain = false;
                        lx->p++;
                        while (r >= 0 && lx->p < lx->end && *lx->p != '"' && b.len <= MAX_WORD) {
                                if (*lx->p == '\\' && lx->p + 1 < lx->end && strchr("$\"\\\n", lx->p[1])) {
                                        if (lx->p[1] == '\n')
                                                lx->line++;
                                        else
                                                r = bc_buf_addc(&b, lx->p[1]);
                                        lx->p += 2;
                                } else if (*lx->p == '$')
                                        r = lex_var(c, lx, &b, w);
                                else {
                                        if (*lx->p == '\n')
                                                lx->line++;
                                        r = bc_buf_addc(&b, *lx->p++);
                                }
                        }
                        if (lx->p < lx->end && *lx->p == '"')
                                lx->p++;
                } else if (ch == '$')
                        r = lex_var(c, lx, &b, w);
                else {
                        r = bc_buf_addc(&b, ch);
                        lx->p++;
                }
        }
        if (r < 0) {
                bc_buf_free(&b);
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        }
        if (b.len > MAX_WORD) {
                bc_buf_free(&b);
                return ib_err_set(c->err, -E2BIG, lx->line, "%s: word longer than %u bytes", lx->path, MAX_WORD);
        }
        if (!b.s && bc_buf_add(&b, "", 0) < 0)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        w->s = b.s;
        return 0;
}

/* Words up to the next ';', newline, '{', '}' or the end; returns the terminator. */
static int lex_command(struct ctx *c, struct lexer *lx, struct gcmd *cmd, int *term) {
        gcmd_clear(cmd);
        for (;;) {
                struct gword w;
                int r;

                while (lx->p < lx->end) {
                        if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r')
                                lx->p++;
                        else if (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] == '\n') {
                                lx->p += 2;
                                lx->line++;
                        } else
                                break;
                }
                if (lx->p >= lx->end) {
                        *term = T_EOF;
                        return 0;
                }
                switch (*lx->p) {
                case '#':
                        while (lx->p < lx->end && *lx->p != '\n')
                                lx->p++;
                        continue;
                case '\n':
                        lx->line++;
                        __attribute__((fallthrough));
                case ';':
                        lx->p++;
                        *term = T_SEP;
                        return 0;
                case '{':
                        lx->p++;
                        *term = T_LBRACE;
                        return 0;
                case '}':
                        lx->p++;
                        *term = T_RBRACE;
                        return 0;
                default:
                        break;
                }
                if (cmd->n == 0)
                        lx->cmd_line = lx->line;
                r = lex_word(c, lx, &w);
                if (r < 0)
                        return r;
                if (cmd->n == cmd->cap) {
                        size_t cap = cmd->cap ? cmd->cap * 2 : 8;
                        struct gword *nw = realloc(cmd->w, cap * sizeof(*nw));

                        if (!nw) {
                                free(w.s);
                                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
                        }
                        cmd->w = nw;
                        cmd->cap = cap;
                }
                cmd->w[cmd->n++] = w;
        }
}

static bool is_reserved(const struct gword *w) {
        static const char *const words[] = { "if", "then", "elif", "else", "fi", "while", "until", "do", "done", "!" };

        if (!w->plain)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (bc_streq(w->s, words[i]))
                        return true;
        return false;
}

/* "(hd0,1)/boot/x" -> "/boot/x"; "" when nothing is left. */
static const char *strip_device(const char *s) {
        if (s[0] == '(') {
                const char *close = strchr(s, ')');

                if (close)
                        return close + 1;
        }
        return s;
}

static int g_path(struct ctx *c, const char *word, struct lexer *lx, char **ret) {
        const char *p = strip_device(word);

        if (!*p) {
                *ret = NULL;
                return 0;
        }
        return bc_path_resolve(c, "/", p, strlen(p), lx->cmd_line, lx->path, ret);
}

/* Kernel arguments: words naming an unset variable are dropped, like GRUB's empty expansion would be useless. */
static int g_args(struct ctx *c, struct buf *b, const struct gword *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(freep) char *a = NULL;
                int r;

                if (w[i].undef)
                        continue;
                a = collapse(w[i].s, SIZE_MAX, NULL);
                if (!a)
                        return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
                /* GRUB quotes arguments that contain blanks when it builds the command line. */
                r = bc_add_arg(c, b, a, strlen(a), strchr(a, ' ') != NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static size_t skip_options(const struct gword *w, size_t i, size_t n) {
        while (i < n && strncmp(w[i].s, "--", 2) == 0)
                i++;
        return i;
}

/* A command inside a menuentry body. */
static int g_entry_cmd(struct ctx *c, struct lexer *lx, struct pending *e, const struct gword *w, size_t n) {
        const char *name = w[0].s;
        int r;

        if (bc_streq(name, "linux") || bc_streq(name, "linuxefi") || bc_streq(name, "linux16")) {
                if (n < 2)
                        return 0;
                pending_unload(e);
                e->line = lx->cmd_line;
                r = g_path(c, w[1].s, lx, &e->kernel);
                if (r < 0)
                        return r;
                return g_args(c, &e->cmdline, w + 2, n - 2);
        }
        if (bc_streq(name, "initrd") || bc_streq(name, "initrdefi") || bc_streq(name, "initrd16")) {
                ib_strv_free(e->initrds, e->n_initrds);
                e->initrds = NULL;
                e->n_initrds = 0;
                for (size_t i = skip_options(w, 1, n); i < n; i++) {
                        _cleanup_(freep) char *p = NULL;

                        r = g_path(c, w[i].s, lx, &p);
                        if (r < 0)
                                return r;
                        if (p && (r = bc_push_initrd(c, e, p, lx->cmd_line)) < 0)
                                return r;
                }
                return 0;
        }
        if (bc_streq(name, "multiboot") || bc_streq(name, "multiboot2")) {
                size_t i = skip_options(w, 1, n);

                pending_unload(e);
                if (i >= n)
                        return 0;
                e->line = lx->cmd_line;
                r = g_path(c, w[i].s, lx, &e->hyper);
                if (r < 0 || !e->hyper)
                        return r;
                e->multiboot = true;
                return g_args(c, &e->hyper_args, w + i + 1, n - i - 1);
        }
        if (bc_streq(name, "module") || bc_streq(name, "module2")) {
                _cleanup_(freep) char *p = NULL;
                size_t i = skip_options(w, 1, n);

                if (!e->multiboot || i >= n)
                        return 0;
                r = g_path(c, w[i].s, lx, &p);
                if (r < 0 || !p)
                        return r;
                if (!e->kernel) {
                        e->kernel = p;
                        p = NULL;
                        return g_args(c, &e->cmdline, w + i + 1, n - i - 1);
                }
                return bc_push_initrd(c, e, p, lx->cmd_line);
        }
        return 0;
}

static int g_file(struct ctx *c, const char *path, const char *from, unsigned from_line);

/* A command anywhere: assignments and sourcing; entry commands when inside an entry. */
static int g_cmd(struct ctx *c, struct lexer *lx, struct pending *e, const struct gword *w, size_t n) {
        const char *name = w[0].s, *eq;

        if (bc_streq(name, "set") || bc_streq(name, "unset")) {
                for (size_t i = 1; i < n; i++) {
                        const char *s = w[i].s;
                        size_t nl = name[0] == 's' ? strcspn(s, "=") : strlen(s);
                        int r;

                        if (name[0] == 's' && !s[nl])
                                continue;       /* "set x" prints it */
                        if (!var_name_ok(s, nl))
                                continue;
                        r = var_set(c, s, nl, name[0] == 's' ? s + nl + 1 : NULL, lx->cmd_line, lx->path);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        eq = strchr(name, '=');
        if (n == 1 && eq && var_name_ok(name, (size_t)(eq - name)))
                return var_set(c, name, (size_t)(eq - name), eq + 1, lx->cmd_line, lx->path);
        if (e)
                return g_entry_cmd(c, lx, e, w, n);
        if ((bc_streq(name, "source") || bc_streq(name, "configfile") || bc_streq(name, ".")) && n >= 2) {
                _cleanup_(freep) char *p = NULL;
                int r = g_path(c, w[1].s, lx, &p);

                if (r < 0 || !p)
                        return r;
                r = g_file(c, p, lx->path, lx->cmd_line);
                return r == -ENOENT ? 0 : r;
        }
        return 0;
}

static const char *menuentry_title(const struct gword *w, size_t n) {
        for (size_t i = 1; i < n; i++) {
                const char *s = w[i].s;

                if (strncmp(s, "--", 2) != 0)
                        return s;
                if (!strchr(s, '=') && (bc_streq(s, "--class") || bc_streq(s, "--users") || bc_streq(s, "--hotkey") ||
                                        bc_streq(s, "--id") || bc_streq(s, "--source")))
                        i++;
        }
        return "";
}

enum { M_TOP, M_ENTRY, M_SKIP };

/*
 * Run commands until the '}' that closes this block (returns 1) or the end
 * of the file (returns 0).  @e is the entry being built in M_ENTRY.
 */
static int g_block(struct ctx *c, struct lexer *lx, unsigned level, int mode, struct pending *e) {
        struct gcmd cmd = {};
        int r = 0;

        for (;;) {
                int term = T_EOF;
                size_t i = 0;

                r = lex_command(c, lx, &cmd, &term);
                if (r < 0)
                        break;
                while (i < cmd.n && is_reserved(&cmd.w[i]))
                        i++;
                if (i < cmd.n && cmd.w[i].plain && bc_streq(cmd.w[i].s, "for"))
                        i = cmd.n;      /* the loop header; its body is read linearly */

                if (term == T_LBRACE) {
                        bool menuentry = i < cmd.n && bc_streq(cmd.w[i].s, "menuentry");
                        bool submenu = i < cmd.n && bc_streq(cmd.w[i].s, "submenu");

                        if (level + 1 >= MAX_BLOCK_DEPTH) {
                                r = ib_err_set(c->err, -ELOOP, lx->cmd_line, "%s: blocks nested deeper than %u",
                                               lx->path, MAX_BLOCK_DEPTH);
                                break;
                        }
                        if (mode == M_TOP && menuentry) {
                                struct pending ne = {};
                                size_t saved = c->scope;

                                ne.label = strdup(menuentry_title(cmd.w + i, cmd.n - i));
                                ne.source = strdup(lx->path);
                                ne.line = lx->cmd_line;
                                if (!ne.label || !ne.source) {
                                        bc_pending_reset(&ne);
                                        r = ib_err_set(c->err, -ENOMEM, 0, "out of memory");
                                        break;
                                }
                                c->scope = c->n_vars;
                                r = g_block(c, lx, level + 1, M_ENTRY, &ne);
                                vars_truncate(c, c->scope);
                                c->scope = saved;
                                /* An entry cut off by the end of the file is not defined. */
                                if (r == 1) {
                                        int k = bc_commit(c, &ne);

                                        if (k < 0)
                                                r = k;
                                }
                                bc_pending_reset(&ne);
                        } else if (mode == M_TOP && submenu)
                                r = g_block(c, lx, level + 1, M_TOP, NULL);
                        else if (menuentry || submenu || mode == M_SKIP)
                                r = g_block(c, lx, level + 1, M_SKIP, NULL);
                        else {
                                /* "function f {" and friends: read the body in place. */
                                if (mode != M_SKIP && i < cmd.n)
                                        r = g_cmd(c, lx, e, cmd.w + i, cmd.n - i);
                                if (r >= 0)
                                        r = g_block(c, lx, level + 1, mode, e);
                        }
                        if (r <= 0) /* an error, or the end of the file inside the block */
                                break;
                        continue;
                }
                if (mode != M_SKIP && i < cmd.n) {
                        r = g_cmd(c, lx, e, cmd.w + i, cmd.n - i);
                        if (r < 0)
                                break;
                }
                if (term == T_RBRACE && level > 0) {
                        r = 1;
                        break;
                }
                if (term == T_EOF) {
                        r = 0;
                        break;
                }
        }
        gcmd_free(&cmd);
        return r;
}

static int g_file(struct ctx *c, const char *path, const char *from, unsigned from_line) {
        _cleanup_(freep) char *data = NULL;
        struct lexer lx;
        size_t len = 0;
        int r;

        r = bc_file_enter(c, path, from, from_line, &data, &len);
        if (r <= 0)
                return r;
        lx = (struct lexer) { .p = data, .end = data + len, .path = path, .line = 1 };
        r = g_block(c, &lx, 0, M_TOP, NULL);
        c->depth--;
        return r < 0 ? r : 0;
}

static int g_top(struct ctx *c, const char *path) {
        _cleanup_(freep) char *prefix = bc_dir_of(path);
        int r;

        if (!prefix)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        /* Every top-level file is a fresh GRUB; $prefix is its directory. */
        vars_truncate(c, 0);
        c->scope = 0;
        r = var_set(c, "prefix", 6, prefix, 0, path);
        if (r < 0)
                return r;
        r = g_file(c, path, NULL, 0);
        vars_truncate(c, 0);
        return r;
}

/* ---- public ------------------------------------------------------------------- */

/* Move the context's new entries to the end of the caller's array. */
static int hand_over(struct ctx *c, struct ib_bootcfg_entry **entries, size_t *n) {
        struct ib_bootcfg_entry *all;

        if (c->n_entries == 0)
                return 0;
        all = realloc(*entries, (*n + c->n_entries) * sizeof(*all));
        if (!all)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        memcpy(all + *n, c->entries, c->n_entries * sizeof(*all));
        *entries = all;
        *n += c->n_entries;
        free(c->entries);
        c->entries = NULL;
        c->n_entries = 0;
        return 0;
}

static int parse_one(ib_bootcfg_read_fn read, void *userdata, const char *path, struct ib_bootcfg_entry **entries,
                     size_t *n, struct ib_err *err, bool grub) {
        struct ctx c = { .read = read, .userdata = userdata, .err = err };
        _cleanup_(freep) char *p = NULL;
        int r;

        if (!read || !path || !entries || !n)
                return ib_err_set(err, -EINVAL, 0, "invalid arguments");
        c.have = *n;
        r = bc_path_resolve(&c, "/", path, strlen(path), 0, path, &p);
        if (r < 0)
                return r;
        r = grub ? g_top(&c, p) : bc_sl_top(&c, p);
        if (r == -ENOENT)
                r = ib_err_set(err, -ENOENT, 0, "%s: no such file", p);
        if (r >= 0)
                r = hand_over(&c, entries, n);
        ctx_done(&c);
        return r < 0 ? r : 0;
}

/*
 * Parse the syslinux-family config at @path and what it includes, relative
 * paths taken from its directory.  New entries are appended to *entries
 * (*n of them already there); on failure both are left as they were.
 */
int ib_bootcfg_parse_syslinux(ib_bootcfg_read_fn read, void *userdata, const char *path,
                              struct ib_bootcfg_entry **entries, size_t *n, struct ib_err *err) {
        return parse_one(read, userdata, path, entries, n, err, false);
}

/*
 * Parse the GRUB config at @path and the files it sources, with no
 * variables set but $prefix (its directory).  Appends like
 * ib_bootcfg_parse_syslinux().
 */
int ib_bootcfg_parse_grub(ib_bootcfg_read_fn read, void *userdata, const char *path,
                          struct ib_bootcfg_entry **entries, size_t *n, struct ib_err *err) {
        return parse_one(read, userdata, path, entries, n, err, true);
}

static const char *const syslinux_paths[] = {
        "/isolinux/isolinux.cfg",
        "/boot/isolinux/isolinux.cfg",
        "/isolinux.cfg",
        "/syslinux/syslinux.cfg",
        "/boot/syslinux/syslinux.cfg",
        "/syslinux.cfg",
        "/boot/x86_64/loader/isolinux.cfg",
};

static const char *const grub_paths[] = {
        "/boot/grub/grub.cfg",
        "/boot/grub2/grub.cfg",
        "/EFI/BOOT/grub.cfg",
        "/boot/grub/x86_64-efi/grub.cfg",
};

/*
 * Scan the well-known locations in order; the files share one budget of
 * IB_BOOTCFG_MAX_FILES reads and one de-duplicated list of entries.
 */
int ib_bootcfg_scan(ib_bootcfg_read_fn read, void *userdata,
                    struct ib_bootcfg_entry **ret, size_t *ret_n, struct ib_err *err) {
        struct ctx c = { .read = read, .userdata = userdata, .err = err, .dedupe = true };
        int r = 0;

        if (!read || !ret || !ret_n)
                return ib_err_set(err, -EINVAL, 0, "invalid arguments");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(syslinux_paths); i++) {
                r = bc_sl_top(&c, syslinux_paths[i]);
                if (r == -ENOENT)
                        r = 0;
        }
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(grub_paths); i++) {
                r = g_top(&c, grub_paths[i]);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0 && c.n_entries == 0) {
                r = g_top(&c, "/boot/grub/loopback.cfg");
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0) {
                ctx_done(&c);
                return r;
        }
        *ret = c.entries;
        *ret_n = c.n_entries;
        c.entries = NULL;
        c.n_entries = 0;
        ctx_done(&c);
        return 0;
}

static bool has_arg(const char *cmdline, const char *arg, bool prefix) {
        size_t al = strlen(arg);

        for (const char *p = cmdline; *p;) {
                size_t n;

                while (*p && bc_is_blank(*p))
                        p++;
                n = 0;
                while (p[n] && !bc_is_blank(p[n]))
                        n++;
                if (n > 0 && (prefix ? n >= al : n == al) && strncmp(p, arg, al) == 0)
                        return true;
                p += n;
        }
        return false;
}

/*
 * The live-boot flavour the command line was written for, from whole
 * arguments; "generic" when nothing is recognised.
 */
const char *ib_bootcfg_family(const char *cmdline, const char *kernel) {
        /* Ubuntu since 20.04 has no boot=casper on its command line: its layout tells. */
        if (kernel && strncmp(kernel, "/casper/", 8) == 0 && !(cmdline && has_arg(cmdline, "boot=live", false)))
                return "casper";
        if (!cmdline)
                return "generic";
        if (has_arg(cmdline, "boot=live", false))
                return "debian-live";
        if (has_arg(cmdline, "boot=casper", false))
                return "casper";
        if (has_arg(cmdline, "root=live:", true) || has_arg(cmdline, "rd.live.image", false))
                return "dracut-live";
        if (has_arg(cmdline, "archisobasedir=", true) || has_arg(cmdline, "archisolabel=", true))
                return "arch";
        if (has_arg(cmdline, "rd.kiwi", false) || has_arg(cmdline, "rd.kiwi.", true) ||
            has_arg(cmdline, "rd.kiwi=", true) || has_arg(cmdline, "install=", true))
                return "opensuse";
        return "generic";
}
