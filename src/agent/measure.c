/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * measure.c: step 5: the manifest, kernel, initrd, command line (and hypervisor)
 * measured into the TPM the policy asks for (PCRs 9 and 8,
 * docs/measurements.md); the event log and site.conf appended to the
 * initrd in an archive of their own.
 */
#include <errno.h>
#include <stdio.h>

#include "cpio.h"
#include "eventlog.h"
#include "measure.h"
#include "tpm.h"

#include "agent.h"

/* "/live/initrd.img + inetboot": what the initrd event's data says it is. */
static char *initrd_desc(const struct agent *a) {
        char *d = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&d, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < a->c.n_initrds; i++)
                fprintf(f, "%s%s", i ? " " : "", a->c.initrds[i]);
        fputs(" + inetboot", f);
        if (fclose(f) != 0) {
                free(d);
                return NULL;
        }
        return d;
}

/*
 * site.conf: the mirrors and the cache, "KEY VALUE" lines the hook reads as
 * data (never sources).  Not measured, by design: blocks are verified
 * against the manifest wherever they come from, and a publisher's predicted
 * PCRs must not depend on the mirror a machine used or the disk it caches on.
 */
static int site_conf(const struct agent *a, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        fputs("IB_MIRRORS", f);
        for (size_t i = 0; i < a->n_mirrors; i++)
                fprintf(f, " %s", a->mirrors[i]);
        fprintf(f, "\nIB_CACHE %s\n", a->req.cache ? a->req.cache : "");
        fprintf(f, "IB_CACHEFILL %s\n", a->req.cache_fill ? a->req.cache_fill : "");
        fprintf(f, "IB_PROFILE %s\n", a->req.profile == IB_PROFILE_RECORD ? "record" : a->req.profile == IB_PROFILE_OFF ? "off" : "prefetch");
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/*
 * Open the TPM the policy asks for.  Returns 1 with *ret set, 0 when the
 * boot goes on unmeasured (said why), -1 when it must stop.
 */
static int open_tpm(struct agent *a, struct ib_tpm **ret) {
        struct ib_err e = {};
        int r;

        *ret = NULL;
        if (a->req.tpm == IB_TPM_OFF) {
                agent_say("measured boot: off (inetboot.tpm=off); this boot is not measured");
                return 0;
        }
        if (a->dry_run && !a->tpm_spec)
                return 0;       /* a dry run computes the log; --tpm makes it extend too */
        r = ib_tpm_open(a->tpm_spec, ret, &e);
        if (r >= 0)
                return 1;
        if (a->req.tpm == IB_TPM_REQUIRED)
                return agent_fail("measured boot is required (inetboot.tpm=required) but %s", e.msg);
        agent_say("warning: this boot is NOT measured: %s (inetboot.tpm=required forbids that)", e.msg);
        return 0;
}

int agent_measure(struct agent *a) {
        _cleanup_(ib_tpm_closep) struct ib_tpm *tpm = NULL;
        _cleanup_(freep) char *desc = initrd_desc(a), *site = NULL;
        struct ib_eventlog log = {};
        struct ib_measure_input in = {
                .image_name = a->m->name, .manifest = a->manifest, .manifest_len = a->manifest_len,
                .kernel_path = a->c.kernel, .kernel = a->kernel, .kernel_len = a->kernel_len,
                .initrd_desc = desc, .initrd = a->initrd, .initrd_len = a->initrd_len, .cmdline = a->cmdline,
                .hypervisor_path = a->c.hypervisor, .hypervisor = a->hyp, .hypervisor_len = a->hyp_len,
                .hypervisor_cmdline = a->c.hypervisor_args,
        };
        uint8_t start[IB_EVENTLOG_NUM_PCRS][32] = {};
        uint16_t alg = a->bank;
        struct ib_cpio *cpio = NULL;
        struct ib_err e = {};
        void *arch = NULL;
        size_t arch_len = 0, site_len = 0, n = 0;
        int have, r = -1;

        if (!desc)
                return agent_fail("out of memory");
        have = open_tpm(a, &tpm);
        if (have < 0)
                return -1;
        if (tpm) {
                alg = ib_measure_alg(ib_tpm_family(tpm));
                if (ib_tpm_pcr_read(tpm, IB_PCR_STRINGS, start[IB_PCR_STRINGS]) < 0 ||
                    ib_tpm_pcr_read(tpm, IB_PCR_FILES, start[IB_PCR_FILES]) < 0) {
                        agent_fail("cannot read PCRs %u and %u: %s", IB_PCR_STRINGS, IB_PCR_FILES, ib_tpm_error(tpm));
                        goto out;
                }
        }
        if (ib_measure_events(alg, &in, start, &log) < 0) {
                agent_fail("out of memory");
                goto out;
        }
        for (size_t i = 0; tpm && i < log.n; i++) {
                if (log.ev[i].type == IB_EV_NO_ACTION)
                        continue;
                if (ib_tpm_extend(tpm, log.ev[i].pcr, log.ev[i].digest) < 0) {
                        /* PCRs half extended cannot be attested; with policy auto the boot goes on, and says so. */
                        if (a->req.tpm == IB_TPM_REQUIRED) {
                                agent_fail("cannot extend PCR %u: %s", log.ev[i].pcr, ib_tpm_error(tpm));
                                goto out;
                        }
                        agent_say("warning: cannot extend PCR %u: %s; this boot will not attest", log.ev[i].pcr,
                            ib_tpm_error(tpm));
                        break;
                }
                n++;
        }
        if (tpm)
                agent_say("measured boot: %zu events into PCRs %u and %u of the TPM %s (%s bank): the manifest, the kernel, "
                    "the initrd, the command line%s", n, IB_PCR_FILES, IB_PCR_STRINGS,
                    ib_tpm_family(tpm) == IB_TPM_20 ? "2.0" : "1.2", ib_alg_name(alg),
                    a->c.hypervisor ? ", the hypervisor and its command line" : "");
        else if (a->dry_run)
                agent_say("dry run: the event log of this boot (%s bank) is in %s/eventlog", ib_alg_name(alg), a->out);
        /* After what was measured, in an archive of its own: the log (the hook puts it in /dev/.inetboot) and site.conf. */
        if (ib_eventlog_serialize(&log, &a->eventlog, &a->eventlog_len) < 0 || site_conf(a, &site, &site_len) < 0 ||
            ib_cpio_new(&cpio) < 0) {
                agent_fail("out of memory");
                goto out;
        }
        if (ib_cpio_add_file(cpio, HOOK_ROOT "/eventlog", 0644, a->eventlog, a->eventlog_len, &e) < 0 ||
            ib_cpio_add_file(cpio, HOOK_ROOT "/etc/site.conf", 0644, site, site_len, &e) < 0 ||
            ib_cpio_finish(cpio, &arch, &arch_len, &e) < 0) {
                agent_fail("%s", e.msg);
                goto out;
        }
        r = agent_initrd_append(a, arch, arch_len);
out:
        free(arch);
        ib_cpio_free(cpio);
        ib_eventlog_clear(&log);
        return r;
}
