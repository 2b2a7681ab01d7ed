/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * eventlog.h: inetboot's measurement log, in the TCG PC Client "crypto
 * agile" format (TCG PC Client Platform Firmware Profile, section 10): the
 * format of the firmware's log in /sys/kernel/security/tpm0, which
 * `tpm2_eventlog` prints and replays.
 *
 * Layout (all integers little-endian):
 *   - one TCG_PCR_EVENT header: PCR 0, EV_NO_ACTION, 20 zero bytes, then a
 *     TCG_EfiSpecIDEvent: "Spec ID Event03\0", platform class 0, spec
 *     version 2.0 errata 2, uintnSize 2, one algorithm (SHA-256 = 0x000b,
 *     32 bytes on TPM 2.0; SHA-1 = 0x0004, 20 bytes for TPM 1.2, which has
 *     no other bank), vendor info "inetboot";
 *   - TCG_PCR_EVENT2 records: PCR index, event type, digest count (1), the
 *     algorithm and its digest, event size, event data.
 * A TPM 1.2 log uses the same layout with the SHA-1 bank, so one reader
 * serves both (docs/measurements.md says which events inetboot writes).
 *
 * The reader is strict and bounded (untrusted input: a log comes with every
 * quote a verifier gets): exactly one algorithm, SHA-1 or SHA-256, every
 * record inside the buffer, at most IB_EVENTLOG_MAX_EVENTS records of at
 * most IB_EVENTLOG_MAX_DATA bytes of data each, nothing after the last one.
 */
#ifndef INETBOOT_EVENTLOG_H
#define INETBOOT_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IB_EV_NO_ACTION 0x00000003u     /* not extended: annotations */
#define IB_EV_IPL 0x0000000du           /* what boot loaders measure (GRUB: strings and files) */

#define IB_ALG_SHA1 0x0004u
#define IB_ALG_SHA256 0x000bu

#define IB_EVENTLOG_MAX_EVENTS 1024u
#define IB_EVENTLOG_MAX_DATA 65536u
#define IB_EVENTLOG_NUM_PCRS 24u

struct ib_event {
        uint32_t pcr;
        uint32_t type;
        uint8_t digest[32];             /* ib_alg_len(log->alg) bytes */
        uint8_t *data;
        size_t data_len;
};

struct ib_eventlog {
        uint16_t alg;                   /* IB_ALG_SHA256 or IB_ALG_SHA1 */
        struct ib_event *ev;
        size_t n, cap;
};

/* The digest length of @alg (20 or 32), 0 for an algorithm we do not know. */
size_t ib_alg_len(uint16_t alg);
const char *ib_alg_name(uint16_t alg);
/* @out = H_alg(@buf) (ib_alg_len bytes). */
void ib_alg_hash(uint16_t alg, const void *buf, size_t len, uint8_t *out);

/* An empty log of @alg.  -EINVAL for another algorithm. */
int ib_eventlog_init(struct ib_eventlog *log, uint16_t alg);
void ib_eventlog_clear(struct ib_eventlog *log);

/*
 * Append an event.  @digest NULL: the digest of @data itself (a measured
 * string).  An EV_NO_ACTION event gets an all-zero digest.
 */
int ib_eventlog_add(struct ib_eventlog *log, uint32_t pcr, uint32_t type,
                    const void *data, size_t data_len, const uint8_t *digest);

/* The log in the TCG format; *ret is malloc'd. */
int ib_eventlog_serialize(const struct ib_eventlog *log, uint8_t **ret, size_t *ret_len);

/* Parse a log; on failure @err says where and *log is untouched. */
int ib_eventlog_parse(const uint8_t *buf, size_t len, struct ib_eventlog *log, struct ib_err *err);

/*
 * Replay: for every PCR the value the log's events produce when each PCR
 * starts at @start (NULL: zero).  Bit n of *ret_mask says PCR n had an
 * extending event.  EV_NO_ACTION events are not extended.
 */
void ib_eventlog_replay(const struct ib_eventlog *log, const uint8_t (*start)[32],
                        uint8_t pcrs[IB_EVENTLOG_NUM_PCRS][32], uint32_t *ret_mask);

/* One line per event for people: "PCR TYPE DIGEST DATA" with the data
 * printed as text when it is printable, else as hex.  *ret malloc'd. */
int ib_eventlog_format(const struct ib_eventlog *log, char **ret);

#endif
