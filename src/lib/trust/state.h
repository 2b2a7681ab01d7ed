/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * state.h: what a client remembers of the manifests it accepted, for
 * rollback and freeze protection (docs/signatures.md, "Old and expired
 * manifests").
 *
 * Per publisher key and image name: the highest serial accepted and when.
 * And one time floor: the newest creation time of any manifest accepted, a
 * lower bound for "now" that a dead RTC cannot take back.  Kept as the text
 * file DIR/trust-state where the block cache lives (the IBCACHE disk,
 * --cache DIR), replaced whole and durably (temporary file, fsync, rename).
 *
 *   inetboot-trust-state 1
 *   time-floor 1766500000
 *   serial <key id: 64 hex> <serial> <accepted: seconds> <image name>
 *   keyring <root key id: 64 hex> <version> <accepted: seconds>
 *
 * (keyring lines after the serial lines: the highest keyring version
 * accepted per root key, keyring.h.)
 * The file is read back from a disk anybody with the machine in hand can
 * write; the parser is strict and bounded (fuzz-state), and a damaged file
 * stops the boot rather than silently forgetting the floors.  Deleting it
 * is the owner's way to forget them all (a TPM floor, if any, remains).
 */
#ifndef INETBOOT_STATE_H
#define INETBOOT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "util.h"

#define IB_STATE_FILE      "trust-state"
#define IB_STATE_MAGIC     "inetboot-trust-state 1"
#define IB_STATE_MAX_BYTES (1u << 20)
#define IB_STATE_MAX_RECS  4096u
#define IB_STATE_MAX_KEYRINGS 256u

/* Error classes (struct ib_err.code) of ib_state_judge. */
enum {
        IB_STATE_EEXPIRED = 1100,       /* the manifest's expiry has passed */
        IB_STATE_EROLLBACK,             /* a lower serial than one accepted before */
        IB_STATE_ECORRUPT,              /* the state file is damaged */
};

/* The highest keyring version accepted from a root key. */
struct ib_state_keyring {
        uint8_t root[32];
        uint64_t version;
        uint64_t seen;
};

struct ib_state_rec {
        uint8_t key_id[32];     /* SHA-256 of the publisher's public key (ib_verify's key id) */
        char *name;             /* the manifest's image name */
        uint64_t serial;        /* the highest serial accepted */
        uint64_t seen;          /* when it was accepted (the client's clock) */
};

/*
 * The floors a TPM keeps besides (TPM 2.0 NV, IB_STATE_NV_SIZE bytes), so
 * that wiping the cache does not reset them: the newest records only, each
 * named by a tag, the first 8 bytes of SHA-256(key id || image name).
 *
 *   "IBF1" | time floor (u64 LE) | count (u16 LE, <= 30) | count x (tag[8] | serial u64 LE) | zeros
 */
#define IB_STATE_NV_SIZE 512u
#define IB_STATE_NV_RECS 30u

struct ib_state_nvrec {
        uint8_t tag[8];
        uint64_t serial;
};

struct ib_state {
        uint64_t time_floor;    /* newest 'created' of any manifest accepted */
        struct ib_state_rec *recs;
        size_t n_recs;
        struct ib_state_keyring *keyrings;
        size_t n_keyrings;
        struct ib_state_nvrec nv[IB_STATE_NV_RECS];     /* the TPM's floors, most recent first */
        size_t n_nv;
};

/* Take the TPM's floors (strict: -EBADMSG, IB_STATE_ECORRUPT on any fault); raises the time floor. */
int ib_state_nv_import(struct ib_state *s, const uint8_t *buf, size_t len, struct ib_err *err);

/* The TPM's floors of @s, in their canonical IB_STATE_NV_SIZE bytes. */
void ib_state_nv_export(const struct ib_state *s, uint8_t buf[IB_STATE_NV_SIZE]);

/* Parse the text of a state file (strict; IB_STATE_ECORRUPT with the line on any fault). */
int ib_state_parse(const char *buf, size_t len, struct ib_state **ret, struct ib_err *err);

/* Canonical text of @s (what ib_state_parse reads). */
int ib_state_format(const struct ib_state *s, char **ret, size_t *ret_len);

/* DIR/trust-state; a missing file is an empty state. */
int ib_state_load(const char *dir, struct ib_state **ret, struct ib_err *err);

/* Write DIR/trust-state, durably (the old file stays whole until the rename). */
int ib_state_save(const struct ib_state *s, const char *dir, struct ib_err *err);

enum {
        IB_STATE_ALLOW_ROLLBACK = 1 << 0,       /* the owner accepts a lower serial (and lowers the floor) */
};

/* What ib_state_judge noticed besides its verdict. */
struct ib_state_notes {
        bool clock_behind;      /* the clock is before the time floor or the manifest's creation */
        uint64_t clock;         /* the clock it was given */
        uint64_t now;           /* the time it judged with: max(clock, time floor, created) */
        bool rolled_back;       /* IB_STATE_ALLOW_ROLLBACK took a lower serial */
        uint64_t old_serial;    /* the serial it replaced, when rolled_back */
        bool changed;           /* @s changed: save it */
        bool nv_changed;        /* its TPM floors changed: write them */
        bool floor_from_tpm;    /* a refusal came from the TPM's floor (the cache's state had less) */
        bool keyring_rolled_back;       /* IB_STATE_ALLOW_ROLLBACK took a lower keyring version */
        uint64_t keyring_old_version;   /* the version it replaced, when keyring_rolled_back */
};

/* The time judgements use: @clock, never before @s's time floor nor @signed_time (@s may be NULL). */
uint64_t ib_state_now(const struct ib_state *s, uint64_t clock, uint64_t signed_time);

/*
 * The keyring version floor of the root key @root: @version below the one
 * accepted is refused (-ESTALE, IB_STATE_EROLLBACK; the TPM's floor counts
 * too), unless IB_STATE_ALLOW_ROLLBACK; else the floor becomes @version
 * (accepted at @now) and the time floor at least @created.  Sets
 * notes->changed, nv_changed, floor_from_tpm, keyring_rolled_back; *@ret_seen
 * (may be NULL) is when the refused floor was accepted (0: the TPM's).
 */
int ib_state_keyring_floor(struct ib_state *s, const uint8_t root[32], uint64_t version, uint64_t created, uint64_t now,
                           unsigned flags, struct ib_state_notes *notes, uint64_t *ret_floor, uint64_t *ret_seen);

/*
 * Judge @m, whose signature the caller verified with the key @key_id, at
 * the time @clock (seconds since the epoch, the machine's clock):
 *  - expired: "now" (the clock, but never before the time floor nor the
 *    manifest's own creation) is at or after m->expires: -EKEYEXPIRED,
 *    IB_STATE_EEXPIRED;
 *  - rollback: m->serial is below the serial accepted for (key, name):
 *    -ESTALE, IB_STATE_EROLLBACK, unless IB_STATE_ALLOW_ROLLBACK;
 * else accepts it: raises the record and the time floor in @s (see
 * notes->changed).  @s may be NULL (no state: the expiry alone is judged).
 */
int ib_state_judge(struct ib_state *s, const uint8_t key_id[32], const struct ib_manifest *m, uint64_t clock,
                   unsigned flags, struct ib_state_notes *notes, struct ib_err *err);

/* "2026-12-07 22:41:56 UTC" */
const char *ib_state_time(uint64_t t, char buf[40]);

struct ib_state *ib_state_free(struct ib_state *s);
static inline void ib_state_freep(struct ib_state **s) { ib_state_free(*s); }

#endif
