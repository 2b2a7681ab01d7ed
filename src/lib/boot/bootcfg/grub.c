/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grub.c: GRUB script lexed into commands, and the few that matter run: set,
 * unset, source/configfile, menuentry and submenu, and inside an entry
 * linux, initrd, multiboot and module (see common.c for what is not
 * evaluated).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bootcfg.h"
#include "internal.h"

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
                a = bc_collapse(w[i].s, SIZE_MAX, NULL);
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
                                bc_vars_truncate(c, c->scope);
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

int bc_g_top(struct ctx *c, const char *path) {
        _cleanup_(freep) char *prefix = bc_dir_of(path);
        int r;

        if (!prefix)
                return ib_err_set(c->err, -ENOMEM, 0, "out of memory");
        /* Every top-level file is a fresh GRUB; $prefix is its directory. */
        bc_vars_truncate(c, 0);
        c->scope = 0;
        r = var_set(c, "prefix", 6, prefix, 0, path);
        if (r < 0)
                return r;
        r = g_file(c, path, NULL, 0);
        bc_vars_truncate(c, 0);
        return r;
}
