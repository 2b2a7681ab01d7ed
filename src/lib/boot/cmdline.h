/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdline.h: what the kernel command line asks inetboot to boot.
 *
 * The words are split as the kernel splits them (lib/cmdline.c next_arg():
 * blanks separate, double quotes group and are removed, "--" ends the
 * kernel's part).  Every word inetboot reads, ours (inetboot.*), the seeds'
 * (netdir=, httpfuse=, iscript=, bootxen=) and the kernel's it carries over
 * (console=, ip=, ...), is in one table, ib_cmdline_words[] (cmdline.c):
 * the parser, inetboot-agent --help and docs/cmdline.md (checked by
 * tests/unit/test-cmdline.c) all come from it.
 *
 * Nothing here fetches anything; it only reads words.
 */
#ifndef INETBOOT_CMDLINE_H
#define INETBOOT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define IB_CMDLINE_MAX      4096u   /* COMMAND_LINE_SIZE on x86 is 2048; a margin for tests */
#define IB_CMDLINE_MAX_URLS 16u

enum ib_tpm_policy {
        IB_TPM_AUTO = 0,
        IB_TPM_REQUIRED,
        IB_TPM_OFF,
};

enum ib_profile_mode {
        IB_PROFILE_PREFETCH = 0,
        IB_PROFILE_OFF,
        IB_PROFILE_RECORD,
};

/* Who reads a word (ib_cmdline_word.readers). */
enum {
        IB_WORD_AGENT   = 1u << 0,      /* inetboot-agent: ib_bootreq_parse() */
        IB_WORD_PREBOOT = 1u << 1,      /* the preboot's init (initramfs/init, lib.sh) */
        IB_WORD_HOOK    = 1u << 2,      /* the hook in the booted initrd (initramfs/hook, lib.sh) */
};

/* What a word is to ib_bootreq_parse(). */
enum ib_word_id {
        IB_W_URL, IB_W_ENTRY, IB_W_CACHE, IB_W_CACHEFILL, IB_W_PROFILE, IB_W_INSECURE, IB_W_ALLOW_ROLLBACK, IB_W_TPM,
        IB_W_SHELL, IB_W_MENU, IB_W_KEXEC,
        IB_W_NETDIR, IB_W_HTTPFUSE, IB_W_ISCRIPT, IB_W_BOOTXEN, IB_W_TYPE,
        IB_W_CONSOLE, IB_W_IP, IB_W_EARLYPRINTK, IB_W_LOGLEVEL,
};

/*
 * A word of the kernel command line that inetboot knows.  @value NULL: a
 * flag (the word alone; @choices, if any, the values it also takes, as
 * "=1"); else the value's name ("URL"), and @choices, if not NULL, the only
 * values it takes (NULL-terminated, in the order of the enum they select).
 */
struct ib_cmdline_word {
        const char *name;               /* "inetboot.url", "netdir", "console" */
        enum ib_word_id id;
        const char *value;
        const char *const *choices;
        unsigned readers;               /* IB_WORD_* */
        bool carried;                   /* passed on to the booted kernel as it is */
        bool strict;                    /* a misspelling of it stops the boot (a security setting) */
        const char *what;               /* what it does, one sentence */
};

extern const struct ib_cmdline_word ib_cmdline_words[];
extern const size_t ib_cmdline_n_words;

/* The word named by the first @len bytes of @name (its key, up to '='), or NULL. */
const struct ib_cmdline_word *ib_cmdline_word_find(const char *name, size_t len);

/*
 * The inetboot.* word that the unknown key @name (@len bytes, no '=')
 * most likely misspells, or NULL: case aside, at most 2 edits away (1
 * for a name of 4 letters or fewer after "inetboot."; a transposition is
 * one edit), else, after "inetboot.", a prefix of a known name (3 letters
 * at least) or a known name followed by more.  The nearest wins, then the
 * longer name, then the table's order.
 */
const struct ib_cmdline_word *ib_cmdline_suggest(const char *name, size_t len);

#define IB_CMDLINE_MAX_NOTES 16u

struct ib_bootreq {
        char **urls;            /* as given, in order: the mirrors to try */
        size_t n_urls;
        char *entry;            /* NULL: the first entry */
        char *cache;            /* NULL: no persistent cache */
        char *cache_fill;       /* NULL: inetboot-httpfs' default; "off" or seconds (checked) */
        char *iscript;          /* NULL: none */
        bool insecure;
        bool allow_rollback;    /* inetboot.allow-rollback */
        enum ib_tpm_policy tpm;
        enum ib_profile_mode profile;
        bool seed_form;         /* the URL came from netdir= or httpfuse= */
        bool bootxen;           /* bootxen=1: prefer an entry with a hypervisor */
        const char *family;     /* type=FAMILY (static: one of the word's choices); NULL: the entry's */
        char **carry;           /* console=, ip=, … to pass on to the booted kernel */
        size_t n_carry;
        char **notes;           /* what the words got wrong but that does not stop the boot: */
        size_t n_notes;         /* "unknown option inetboot.entrry; did you mean inetboot.entry?", each once */
};

/*
 * Split @s (at most IB_CMDLINE_MAX bytes) into words, as the kernel does.
 * Returns the number of words in *ret (a NULL-terminated vector).
 */
int ib_cmdline_split(const char *s, char ***ret, size_t *ret_n, struct ib_err *err);

/*
 * Read the words of a kernel command line into @req.  Words that are not
 * ours belong to the kernel or to the booted system and are ignored, but
 * an unknown inetboot.* word (or a word a misspelling of one: "inetbot.url")
 * and a known word in a form it does not take ("inetboot.shell=1") are
 * ignored with a note in @req->notes, one a word, at most
 * IB_CMDLINE_MAX_NOTES.  Fails, with a message that names the word, on
 * malformed values of what the agent reads (an empty URL, a URL that is not
 * http(s), too many URLs, a value not among the choices) and on a
 * misspelling of a strict word ("inetboot.tmp=required": the boot asked for
 * would not be the boot done).
 */
int ib_bootreq_parse(const char *cmdline, struct ib_bootreq *req, struct ib_err *err);
void ib_bootreq_clear(struct ib_bootreq *req);

/* A URL names a manifest when its path ends in ".manifest" (query and fragment aside). */
bool ib_url_is_manifest(const char *url);

/*
 * The manifest's URL and the image's URL for one inetboot.url: a manifest
 * URL stands for itself and, minus ".manifest", for the image next to it;
 * an image URL has its manifest at URL.manifest.  Either out may be NULL.
 */
int ib_url_pair(const char *url, char **ret_manifest, char **ret_image);

#endif
