/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * measure.h: what inetboot measures before kexec, into which PCRs, with
 * which event records (docs/measurements.md is the reference).  The agent
 * uses it to extend the TPM and write the log; `inetboot-attest predict`
 * uses the same code on the same inputs, so a prediction is the log a boot
 * must produce; `verify` compares the two.
 *
 * PCRs follow GRUB's convention: 8 for strings (the command line), 9 for
 * files (the manifest, the kernel, the initrd, the hypervisor).  Events, in
 * this order, all EV_IPL (as GRUB's), data as shown, digest in the bank's
 * hash (SHA-256 on TPM 2.0, SHA-1 on 1.2):
 *   PCR 8, 9  EV_NO_ACTION  "inetboot-start: HEX"   the PCR's value before,
 *                                  when not zero (a boot loader measured)
 *   PCR 9  "inetboot-manifest: NAME"   H(the signed manifest's bytes)
 *   PCR 9  "inetboot-kernel: PATH"     H(the kernel image)
 *   PCR 9  "inetboot-initrd: DESC"     H(the whole initrd handed to kexec,
 *                                        but the event-log archive appended
 *                                        after measuring)
 *   PCR 9  "inetboot-hypervisor: PATH" H(the hypervisor), when there is one
 *   PCR 8  "kernel_cmdline: CMDLINE\0" H(CMDLINE), as GRUB measures it
 *   PCR 8  "hypervisor_cmdline: LINE\0" H(LINE), the hypervisor's own
 *                                        command line, when there is a
 *                                        hypervisor (CMDLINE is then its
 *                                        dom0 kernel's)
 */
#ifndef INETBOOT_MEASURE_H
#define INETBOOT_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "eventlog.h"
#include "tpm.h"
#include "util.h"

#define IB_PCR_STRINGS 8u
#define IB_PCR_FILES 9u
#define IB_PCR_MASK ((1u << IB_PCR_STRINGS) | (1u << IB_PCR_FILES))

/* The bank a TPM family measures in: SHA-256 on 2.0, SHA-1 on 1.2 (it has nothing else). */
static inline uint16_t ib_measure_alg(enum ib_tpm_family f) {
        return f == IB_TPM_20 ? IB_ALG_SHA256 : IB_ALG_SHA1;
}

struct ib_measure_input {
        const char *image_name;                 /* the manifest's image name */
        const void *manifest;
        size_t manifest_len;
        const char *kernel_path;
        const void *kernel;
        size_t kernel_len;
        const char *initrd_desc;                /* e.g. "/live/initrd.img + inetboot" */
        const void *initrd;
        size_t initrd_len;
        const char *hypervisor_path;            /* NULL: none */
        const void *hypervisor;                 /* the file as published (e.g. xen.gz) */
        size_t hypervisor_len;
        const char *hypervisor_cmdline;         /* with a hypervisor: its command line, may be "" */
        const char *cmdline;                    /* the Linux kernel's (with a hypervisor: dom0's) */
};

/*
 * The events of one boot into *ret (initialised here), in bank @alg.
 * @start: the values of PCRs 8 and 9 before inetboot extends them (indexed
 * by PCR number, NULL: zero), recorded as EV_NO_ACTION annotations.
 */
int ib_measure_events(uint16_t alg, const struct ib_measure_input *in, const uint8_t (*start)[32],
                      struct ib_eventlog *ret);

/*
 * The start values a log records (zero for PCRs it says nothing of).
 * -EBADMSG with @err for an annotation that is not well-formed.
 */
int ib_measure_start(const struct ib_eventlog *log, uint8_t start[IB_EVENTLOG_NUM_PCRS][32], struct ib_err *err);

/*
 * Does the booted log match the expected one?  Same bank, and the same
 * extending events in PCRs 8 and 9, in order: PCR, type and digest (the
 * data of a file event is a description and is not compared, the command
 * line's is).  On a difference: -EBADMSG, and @err says which measurement
 * differs in people's terms ("the kernel differs: ...").
 */
int ib_measure_compare(const struct ib_eventlog *booted, const struct ib_eventlog *expected, struct ib_err *err);

#endif
