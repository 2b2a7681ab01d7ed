/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h: what the files of the boot config reader share (common.c,
 * syslinux.c, grub.c): the limits, the scan context and the entry being
 * built, and common.c's helpers.  Not part of the library's interface
 * (that is bootcfg.h).
 */
#ifndef INETBOOT_BOOTCFG_INTERNAL_H
#define INETBOOT_BOOTCFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "bootcfg.h"

#define MAX_WORD        (16u << 10)     /* one GRUB word after expansion */
#define MAX_VARS        512u            /* GRUB variables alive at once */
#define MAX_BLOCK_DEPTH 32u             /* nested { } in one GRUB file */
#define MAX_LABEL       256u            /* bytes; longer labels are cut */
#define MAX_CMDLINE     4096u           /* bytes of one command line */
#define MAX_PATH        4096u           /* bytes of one path */
#define MAX_INITRDS     32u             /* initrds of one entry */
#define MAX_VAR_NAME    256u            /* bytes of a "${NAME}" */

struct buf {
        char *s;
        size_t len, cap;
};

struct var {
        char *name;
        char *value;            /* NULL: unset in this scope */
};

struct ctx {
        ib_bootcfg_read_fn read;
        void *userdata;
        struct ib_err *err;
        bool dedupe;
        size_t have;                            /* entries the caller already holds */
        struct ib_bootcfg_entry *entries;
        size_t n_entries;
        unsigned n_files;                       /* config files read or tried */
        const char *stack[IB_BOOTCFG_MAX_DEPTH + 1];    /* include chain */
        unsigned depth;
        char *basedir;                          /* syslinux working directory */
        struct var *vars;                       /* GRUB variables, innermost last */
        size_t n_vars, scope;
};

/* An entry being assembled. */
struct pending {
        char *label;
        char *kernel;
        char **initrds;
        size_t n_initrds;
        struct buf cmdline;
        char *hyper;
        struct buf hyper_args;
        bool multiboot;
        char *source;
        unsigned line;
};

/* common.c: the helpers both interpreters use. */
void bc_buf_free(struct buf *b);
int bc_buf_add(struct buf *b, const char *s, size_t n);
int bc_buf_addc(struct buf *b, char c);
bool bc_is_blank(char c);
bool bc_streq(const char *a, const char *b);
/* Free what a pending entry holds and zero it. */
void bc_pending_reset(struct pending *p);
/* Turn a pending entry into a result entry; entries without a kernel are dropped. */
int bc_commit(struct ctx *c, struct pending *p);
/* Absolute, normalised path of @p (length @len), relative to @base when it does not start with '/'. */
int bc_path_resolve(struct ctx *c, const char *base, const char *p, size_t len, unsigned line,
                    const char *where, char **ret);
/* The directory of @path ("/" for a file at the top); NULL when out of memory. */
char *bc_dir_of(const char *path);
/* Start reading a config file: 0 (an include cycle, skipped), 1 with its text and the file pushed, or -errno. */
int bc_file_enter(struct ctx *c, const char *path, const char *from, unsigned from_line, char **data, size_t *len);
/* Add @path to the pending entry's initrds (at most MAX_INITRDS). */
int bc_push_initrd(struct ctx *c, struct pending *p, const char *path, unsigned line);
/* Append an argument to a command line being built, quoted when @quote. */
int bc_add_arg(struct ctx *c, struct buf *b, const char *s, size_t len, bool quote);

/* syslinux.c: read the syslinux-family config at @path (absolute) into c->entries. */
int bc_sl_top(struct ctx *c, const char *path);

/* common.c: whitespace runs to one space, trimmed, at most @max bytes; *truncated says whether it was cut. */
char *bc_collapse(const char *s, size_t max, bool *truncated);
/* Drop GRUB variables down to @n. */
void bc_vars_truncate(struct ctx *c, size_t n);

/* grub.c: read the GRUB config at @path (absolute) into c->entries, as a fresh GRUB with $prefix set. */
int bc_g_top(struct ctx *c, const char *path);

#endif
