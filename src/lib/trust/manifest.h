/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manifest.h: the inetboot manifest, format versions 1 and 2 (docs/manifest.md).
 *
 * A manifest describes one image (an ISO): its size and SHA-256, the
 * SHA-256 of every block, the boot entries inside it, where to fetch it,
 * and a serial number for rollback protection.  It is plain text in a fixed
 * order so that the signed bytes are canonical and people can read them.
 */
#ifndef INETBOOT_MANIFEST_H
#define INETBOOT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IB_MANIFEST_MAGIC "inetboot-manifest"
#define IB_MANIFEST_VERSION 1          /* without an expiry */
#define IB_MANIFEST_VERSION_EXPIRES 2  /* version 1 and an 'expires' line */

/* Limits the parser enforces; documented in docs/manifest.md. */
#define IB_MANIFEST_MAX_BYTES      (256u << 20)         /* whole file */
#define IB_MANIFEST_MAX_LINE       8192u                /* one line, without LF */
#define IB_MANIFEST_MAX_IMAGE_SIZE (UINT64_C(1) << 44)  /* 16 TiB */
#define IB_MANIFEST_MIN_BLOCK_SIZE 4096u
#define IB_MANIFEST_MAX_BLOCK_SIZE (16u << 20)
#define IB_MANIFEST_DEFAULT_BLOCK_SIZE (256u << 10)
#define IB_MANIFEST_MAX_BLOCKS     (UINT64_C(1) << 22)  /* 4 Mi blocks */
#define IB_MANIFEST_MAX_NAME       255u
#define IB_MANIFEST_MAX_URLS       64u
#define IB_MANIFEST_MAX_ENTRIES    64u
#define IB_MANIFEST_MAX_INITRDS    16u
#define IB_MANIFEST_MAX_PROFILE    IB_MANIFEST_MAX_BLOCKS

/* Parser error codes (struct ib_err.code); each names one class of fault. */
enum {
        IB_MANIFEST_ETOOBIG = 1000, /* file or line beyond the limits */
        IB_MANIFEST_EMAGIC,         /* not a manifest at all */
        IB_MANIFEST_EVERSION,       /* a manifest of an unknown version */
        IB_MANIFEST_ESYNTAX,        /* line not "key SP value LF", control bytes, CR, no final LF */
        IB_MANIFEST_EUNKNOWN,       /* unknown field */
        IB_MANIFEST_EDUPLICATE,     /* a field given twice */
        IB_MANIFEST_EMISSING,       /* a required field absent */
        IB_MANIFEST_EORDER,         /* a known field out of its place */
        IB_MANIFEST_ENUMBER,        /* malformed number or overflow */
        IB_MANIFEST_ERANGE,         /* a value outside its allowed range */
        IB_MANIFEST_EHASH,          /* malformed SHA-256 */
        IB_MANIFEST_EVALUE,         /* malformed string value (name, path, URL) */
        IB_MANIFEST_ECOUNT,         /* block count does not match size / block size */
        IB_MANIFEST_ETRAILING,      /* bytes after the last block hash */
};

struct ib_file_ref {
        char *path;             /* absolute path inside the image */
        uint64_t size;
        uint8_t sha256[32];
};

struct ib_entry {
        char *label;
        char *family;           /* debian-live, casper, dracut-live, arch, miso, opensuse, nixos, alpine, knoppix, slax, generic */
        struct ib_file_ref kernel;
        struct ib_file_ref *initrds;
        size_t n_initrds;
        char *cmdline;          /* may be empty, never NULL after parsing */
        bool has_hypervisor;
        struct ib_file_ref hypervisor;
        char *hypervisor_args;  /* NULL when none */
};

struct ib_manifest {
        char *name;
        uint64_t size;
        uint8_t sha256[32];
        uint32_t block_size;
        uint64_t serial;
        uint64_t created;       /* seconds since the epoch, UTC */
        uint64_t expires;       /* seconds since the epoch; 0: never (version 1), else > created (version 2) */
        char **urls;            /* raw image mirrors */
        size_t n_urls;
        char **stores;          /* block-store base URLs */
        size_t n_stores;
        struct ib_entry *entries;
        size_t n_entries;
        uint64_t *profile;      /* block indices to prefetch, in order */
        size_t n_profile;
        uint64_t n_blocks;
        uint8_t (*blocks)[32];
};

/* Number of blocks of an image of @size bytes in blocks of @block_size. */
static inline uint64_t ib_manifest_block_count(uint64_t size, uint32_t block_size) {
        return size / block_size + (size % block_size != 0);
}

/* Bytes in block @b: block_size, except for the last block, which holds the rest. */
static inline size_t ib_manifest_block_len(const struct ib_manifest *m, uint64_t b) {
        uint64_t off = b * m->block_size;

        return m->size - off < m->block_size ? (size_t)(m->size - off) : m->block_size;
}

/*
 * Parse @len bytes of manifest text.  Strict: anything not exactly of the
 * documented form fails with -EINVAL (or -E2BIG/-ENOMEM) and @err tells
 * the class (IB_MANIFEST_E*), the line and what was wrong.
 */
int ib_manifest_parse(const char *buf, size_t len, struct ib_manifest **ret, struct ib_err *err);

/* Read and parse a manifest file. */
int ib_manifest_load(const char *path, struct ib_manifest **ret, struct ib_err *err);

/*
 * Render @m in canonical form (what ib_manifest_parse accepts and what is
 * signed).  Checks @m against the same rules as the parser first.
 */
int ib_manifest_format(const struct ib_manifest *m, char **ret, size_t *ret_len, struct ib_err *err);

/* Validate an in-memory manifest against the format's rules. */
int ib_manifest_validate(const struct ib_manifest *m, struct ib_err *err);

/*
 * The profile syntax ("0-15 200 230-231"), shared with inetboot-sign --profile:
 * appends to *profile.  @canonical demands the signed form (maximal runs).
 * *ret_tokens (may be NULL) is the number of tokens read.
 */
int ib_profile_parse(const char *s, size_t len, uint64_t n_blocks, bool canonical, uint64_t **profile, size_t *n_profile,
                     size_t *ret_tokens, struct ib_err *err);

void ib_entry_clear(struct ib_entry *e);
struct ib_manifest *ib_manifest_free(struct ib_manifest *m);
static inline void ib_manifest_freep(struct ib_manifest **m) { ib_manifest_free(*m); }

#endif
