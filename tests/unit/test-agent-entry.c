/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The agent's choice of the boot entry among the manifest's (src/agent/entry.c):
 * the first by default, inetboot.entry= as a 1-based number before a label,
 * bootxen=1 the first with a hypervisor, and what a->c holds afterwards.
 * (Entries scanned from the image's own configs need an image: the host
 * tests, tests/integration/agent.sh, cover those.)
 */
#include "agent.h"      /* the agent's internal header (-Isrc/agent) */
#include "unit.h"

static struct ib_file_ref initrds[2] = {
        { .path = "/live/initrd.img", .size = 1000 },
        { .path = "/live/extra.img", .size = 10 },
};

static struct ib_entry entries[3] = {
        { .label = "Live system", .family = "debian-live", .kernel = { .path = "/live/vmlinuz", .size = 500 },
          .initrds = initrds, .n_initrds = 2, .cmdline = "boot=live components" },
        { .label = "Xen", .family = "generic", .kernel = { .path = "/boot/vmlinuz", .size = 400 },
          .cmdline = "console=hvc0", .has_hypervisor = true, .hypervisor = { .path = "/boot/xen.gz", .size = 300 },
          .hypervisor_args = "dom0_mem=1G" },
        /* A label that reads as a number: the number wins. */
        { .label = "1", .family = "generic", .kernel = { .path = "/boot/other", .size = 1 }, .cmdline = "",
          .has_hypervisor = true, .hypervisor = { .path = "/boot/xen2.gz", .size = 1 } },
};

/*
 * agent_choose_entry() over the manifest entries [0, @n) with
 * inetboot.entry=@entry (NULL: none) and bootxen=@bootxen; the index of the
 * chosen entry (from a->c.kernel_ref), or -1 when it failed.  *a is left
 * for more checks.
 */
static int choose(struct agent *a, struct ib_manifest *m, size_t n, const char *entry, bool bootxen) {
        *m = (struct ib_manifest) { .name = "test.iso", .entries = entries, .n_entries = n };
        *a = (struct agent) { .m = m };
        a->req.entry = (char *)entry;
        a->req.bootxen = bootxen;
        if (agent_choose_entry(a, -1) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (a->c.kernel_ref == &entries[i].kernel)
                        return (int)i;
        return -2;
}

static void test_choice(void) {
        struct ib_manifest m;
        struct agent a;

        CHECK("entry: the first by default", choose(&a, &m, 3, NULL, false) == 0);
        CHECK("entry: by number", choose(&a, &m, 3, "2", false) == 1);
        CHECK("entry: by label", choose(&a, &m, 3, "Xen", false) == 1);
        CHECK("entry: the label of the first", choose(&a, &m, 3, "Live system", false) == 0);
        CHECK("entry: a number before a label that reads the same", choose(&a, &m, 3, "1", false) == 0);
        CHECK("entry: the last number", choose(&a, &m, 3, "3", false) == 2);
        CHECK("entry: 0 is no entry", choose(&a, &m, 3, "0", false) == -1);
        CHECK("entry: past the last is no entry", choose(&a, &m, 3, "4", false) == -1);
        CHECK("entry: an unknown label is no entry", choose(&a, &m, 3, "Live", false) == -1);
        CHECK("entry: labels match whole and exactly", choose(&a, &m, 3, "xen", false) == -1);
        CHECK("entry: bootxen=1, the first with a hypervisor", choose(&a, &m, 3, NULL, true) == 1);
        CHECK("entry: bootxen=1 and no hypervisor anywhere fails", choose(&a, &m, 1, NULL, true) == -1);
        CHECK("entry: inetboot.entry= wins over bootxen=1", choose(&a, &m, 3, "1", true) == 0);
        CHECK("entry: inetboot.entry= wins over bootxen=1 without hypervisors", choose(&a, &m, 1, "1", true) == 0);
}

static void test_fields(void) {
        struct ib_manifest m;
        struct agent a;

        REQUIRE("entry: fields, plain", choose(&a, &m, 3, "Live system", false) == 0);
        CHECK("entry: label, family, cmdline, kernel", strcmp(a.c.label, "Live system") == 0 &&
              strcmp(a.c.family, "debian-live") == 0 && a.c.cmdline == entries[0].cmdline &&
              strcmp(a.c.kernel, "/live/vmlinuz") == 0);
        CHECK("entry: initrd paths, in order", a.c.n_initrds == 2 && a.c.initrds == a.initrd_paths &&
              strcmp(a.c.initrds[0], "/live/initrd.img") == 0 && strcmp(a.c.initrds[1], "/live/extra.img") == 0);
        CHECK("entry: the manifest's refs, to check the files against", a.c.kernel_ref == &entries[0].kernel &&
              a.c.initrd_refs == initrds);
        CHECK("entry: no hypervisor", !a.c.hypervisor && !a.c.hypervisor_ref);

        REQUIRE("entry: fields, hypervisor", choose(&a, &m, 3, "Xen", false) == 1);
        CHECK("entry: the hypervisor, its arguments, its ref", a.c.hypervisor && strcmp(a.c.hypervisor, "/boot/xen.gz") == 0 &&
              strcmp(a.c.hypervisor_args, "dom0_mem=1G") == 0 && a.c.hypervisor_ref == &entries[1].hypervisor);
        CHECK("entry: no initrds", a.c.n_initrds == 0);

        REQUIRE("entry: fields, hypervisor without arguments", choose(&a, &m, 3, "3", false) == 2);
        CHECK("entry: no hypervisor arguments is \"\"", a.c.hypervisor_args && a.c.hypervisor_args[0] == 0);
}

int main(void) {
        test_choice();
        test_fields();
        UNIT_EXIT();
}
