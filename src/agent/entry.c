/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * entry.c: step 3: the boot entry, chosen by inetboot.entry= (a label or a
 * 1-based number), bootxen=1 or first, from the manifest's entries or,
 * when it names none, from the image's own isolinux/GRUB configs.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* An ib_bootcfg_read_fn over the image. */
static int image_config_read(void *ud, const char *path, char **ret, size_t *ret_len) {
        return agent_image_read(NULL, *(int *)ud, path, IB_BOOTCFG_MAX_FILE, ret, ret_len, NULL);
}

static void list_entries(const struct agent *a) {
        if (a->m->n_entries)
                for (size_t i = 0; i < a->m->n_entries; i++)
                        fprintf(stderr, "  %zu  %s\n", i + 1, a->m->entries[i].label);
        else
                for (size_t i = 0; i < a->n_scanned; i++)
                        fprintf(stderr, "  %zu  %s\n", i + 1, a->scanned[i].label);
}

int agent_choose_entry(struct agent *a, int fd) {
        size_t n, pick = 0;
        uint64_t num;
        struct ib_err e = {};

        if (a->m->n_entries == 0) {
                agent_say("the manifest names no boot entry; reading the image's own boot configs");
                if (ib_bootcfg_scan(image_config_read, &fd, &a->scanned, &a->n_scanned, &e) < 0)
                        return agent_fail("the image's boot configs: %s", e.msg);
                if (a->n_scanned == 0)
                        return agent_fail("the image has no boot entry in its manifest nor in isolinux/GRUB configs");
        }
        n = a->m->n_entries ? a->m->n_entries : a->n_scanned;
        if (a->req.bootxen && !a->req.entry) {
                pick = n;
                for (size_t i = 0; i < n && pick == n; i++)
                        if (a->m->n_entries ? a->m->entries[i].has_hypervisor : !!a->scanned[i].hypervisor)
                                pick = i;
                if (pick == n) {
                        agent_fail("bootxen=1, but no boot entry of the image has a hypervisor; it has:");
                        list_entries(a);
                        return -1;
                }
        }
        if (a->req.entry) {
                pick = n;
                if (ib_parse_u64(a->req.entry, strlen(a->req.entry), &num) == 0 && num >= 1 && num <= n)
                        pick = (size_t)num - 1;
                else
                        for (size_t i = 0; i < n && pick == n; i++)
                                if (strcmp(a->m->n_entries ? a->m->entries[i].label : a->scanned[i].label, a->req.entry) == 0)
                                        pick = i;
                if (pick == n) {
                        agent_fail("no boot entry '%s'; the image has:", a->req.entry);
                        list_entries(a);
                        return -1;
                }
        }
        if (a->m->n_entries) {
                const struct ib_entry *en = &a->m->entries[pick];

                for (size_t i = 0; i < en->n_initrds; i++)
                        a->initrd_paths[i] = en->initrds[i].path;
                a->c = (struct choice) { .label = en->label, .family = en->family, .cmdline = en->cmdline,
                                         .kernel = en->kernel.path, .initrds = a->initrd_paths, .n_initrds = en->n_initrds,
                                         .kernel_ref = &en->kernel, .initrd_refs = en->initrds };
                if (en->has_hypervisor) {
                        a->c.hypervisor = en->hypervisor.path;
                        a->c.hypervisor_args = en->hypervisor_args ? en->hypervisor_args : "";
                        a->c.hypervisor_ref = &en->hypervisor;
                }
        } else {
                const struct ib_bootcfg_entry *b = &a->scanned[pick];

                a->c = (struct choice) { .label = b->label,
                                         .family = ib_bootcfg_entry_family(b->cmdline, b->kernel, b->initrds, b->n_initrds),
                                         .cmdline = b->cmdline, .kernel = b->kernel,
                                         .initrds = (const char *const *)b->initrds, .n_initrds = b->n_initrds,
                                         .hypervisor = b->hypervisor,
                                         .hypervisor_args = b->hypervisor_args ? b->hypervisor_args : "" };
        }
        /* The seeds' type= names the family: it wins over the manifest's (and the configs' guess). */
        if (a->req.family && strcmp(a->req.family, a->c.family) != 0) {
                agent_say("family %s (type=%s on the command line), not %s", a->req.family, a->req.family, a->c.family);
                a->c.family = a->req.family;
        }
        agent_say("boot entry %zu: %s (%s%s%s)", pick + 1, a->c.label, a->c.family, a->c.hypervisor ? ", hypervisor " : "",
            a->c.hypervisor ? a->c.hypervisor : "");
        return 0;
}
