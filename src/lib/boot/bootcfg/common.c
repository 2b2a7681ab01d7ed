/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bootcfg/common.c: boot entries from isolinux/syslinux and GRUB configs:
 * the library's entry points, the scan context and the helpers both
 * interpreters use.
 *
 * Two small interpreters share one context: one reads the syslinux family
 * line by line (syslinux.c), the other lexes GRUB script into commands and
 * runs the few that matter (set, source, menuentry, linux, initrd,
 * multiboot, module: grub.c).
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
char *bc_collapse(const char *s, size_t max, bool *truncated) {
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

void bc_vars_truncate(struct ctx *c, size_t n) {
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
        bc_vars_truncate(c, 0);
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
        e.label = bc_collapse(p->label ? p->label : "", MAX_LABEL, NULL);
        e.cmdline = bc_collapse(p->cmdline.s ? p->cmdline.s : "", MAX_CMDLINE, &cut);
        if (!e.label || !e.cmdline)
                goto fail;
        if (cut) {
                r = ib_err_set(c->err, -E2BIG, p->line, "%s: kernel command line longer than %u bytes",
                               p->source, MAX_CMDLINE);
                goto fail;
        }
        if (p->hyper) {
                e.hypervisor_args = bc_collapse(p->hyper_args.s ? p->hyper_args.s : "", MAX_CMDLINE, &cut);
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
        r = grub ? bc_g_top(&c, p) : bc_sl_top(&c, p);
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
        "/slax/boot/isolinux.cfg",      /* Slax (Linux Live Kit) */
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
                r = bc_g_top(&c, grub_paths[i]);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0 && c.n_entries == 0) {
                r = bc_g_top(&c, "/boot/grub/loopback.cfg");
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

/* Whether @kernel (may be NULL) is where kiwi puts it: /boot/<arch>/loader/<file>. */
static bool kiwi_layout(const char *kernel) {
        const char *arch, *slash;

        if (!kernel || strncmp(kernel, "/boot/", 6) != 0)
                return false;
        arch = kernel + 6;
        slash = strchr(arch, '/');
        return slash && slash > arch && strncmp(slash, "/loader/", 8) == 0 && slash[8] && !strchr(slash + 8, '/');
}

/*
 * The live-boot flavour the command line was written for, from whole
 * arguments; "generic" when nothing is recognised.
 */
const char *ib_bootcfg_family(const char *cmdline, const char *kernel) {
        if (!cmdline && kernel && strncmp(kernel, "/slax/boot/", 11) == 0)
                return "slax";
        /* Ubuntu since 20.04 has no boot=casper on its command line: its layout tells. */
        if (kernel && strncmp(kernel, "/casper/", 8) == 0 && !(cmdline && has_arg(cmdline, "boot=live", false)))
                return "casper";
        if (!cmdline)
                return "generic";
        if (has_arg(cmdline, "boot=live", false))
                return "debian-live";
        if (has_arg(cmdline, "boot=casper", false))
                return "casper";
        /*
         * kiwi (openSUSE) before dmsquash-live: its root=live:CDLABEL= looks
         * the same, but its kiwi-live module takes no /dev path there.  Its
         * layout tells: /boot/<arch>/loader/linux.
         */
        if (has_arg(cmdline, "rd.kiwi", false) || has_arg(cmdline, "rd.kiwi.", true) ||
            has_arg(cmdline, "rd.kiwi=", true) || has_arg(cmdline, "install=", true) || kiwi_layout(kernel))
                return "opensuse";
        if (has_arg(cmdline, "root=live:", true) || has_arg(cmdline, "rd.live.image", false))
                return "dracut-live";
        if (has_arg(cmdline, "archisobasedir=", true) || has_arg(cmdline, "archisolabel=", true))
                return "arch";
        if (has_arg(cmdline, "misobasedir=", true) || has_arg(cmdline, "misolabel=", true))
                return "miso";
        /* NixOS' stage 1 execs the system its config's init= names, in the store. */
        if (has_arg(cmdline, "init=/nix/store/", true))
                return "nixos";
        /* Alpine's mkinitfs init: its ISO's entries name the modules it loads (loop, squashfs first). */
        if (has_arg(cmdline, "modloop=", true) || has_arg(cmdline, "alpine_dev=", true) ||
            has_arg(cmdline, "modules=loop,squashfs", true))
                return "alpine";
        /* Slax (Linux Live Kit): its kernel in /slax/boot/, no word of its own. */
        if (kernel && strncmp(kernel, "/slax/boot/", 11) == 0)
                return "slax";
        /* KNOPPIX's own words for its cloop file, which multi-boot tools add to its entries. */
        if (has_arg(cmdline, "knoppix_dir=", true) || has_arg(cmdline, "knoppix_name=", true))
                return "knoppix";
        return "generic";
}

/* Whether the file at @path is named as KNOPPIX names its initrd: minirt.gz (DSL: minirt24.gz). */
static bool knoppix_minirt(const char *path) {
        const char *base = path ? strrchr(path, '/') : NULL;

        base = base ? base + 1 : path;
        return base && strncmp(base, "minirt", 6) == 0;
}

const char *ib_bootcfg_entry_family(const char *cmdline, const char *kernel, char *const *initrds, size_t n_initrds) {
        const char *family = ib_bootcfg_family(cmdline, kernel);

        if (strcmp(family, "generic") != 0)
                return family;
        /* KNOPPIX's entries have no word of their own (ramdisk_size=, lang=): its minirt tells. */
        for (size_t i = 0; i < n_initrds; i++)
                if (knoppix_minirt(initrds[i]))
                        return "knoppix";
        /* Linux Live Kit's initrd (Slax and what others build with it): initrfs.img. */
        for (size_t i = 0; i < n_initrds; i++)
                if (initrds[i] && strcmp(strrchr(initrds[i], '/') ? strrchr(initrds[i], '/') + 1 : initrds[i], "initrfs.img") == 0)
                        return "slax";
        return family;
}
