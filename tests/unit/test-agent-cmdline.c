/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The agent's target kernel command line (src/agent/cmdline.c): the entry's
 * words, then the preboot's carried words when one is missing, the
 * family's medium (live-media=, rootfstype=, root=live:) and rdinit= last.
 */
#include "agent.h"      /* the agent's internal header (-Isrc/agent) */
#include "unit.h"

#define HOOK " rdinit=/inetboot/hook"

/*
 * agent_build_cmdline() for an entry of @family with command line @entry
 * (@hypervisor: NULL or its path), the preboot carrying @carry; the result,
 * to free, or NULL when it failed.
 */
static char *build(const char *family, const char *entry, const char *hypervisor, char **carry, size_t n_carry) {
        struct agent a = {};

        a.c.family = family;
        a.c.cmdline = entry;
        a.c.hypervisor = hypervisor;
        a.c.hypervisor_args = "";
        a.req.carry = carry;
        a.req.n_carry = n_carry;
        if (agent_build_cmdline(&a) < 0)
                return NULL;
        return a.cmdline;
}

/* Words the preboot carries over (ib_bootreq.carry), NULL-terminated here. */
static char *carry[] = { "console=ttyS0,115200", "ip=dhcp", NULL };
static char *two_consoles[] = { "console=tty0", "console=ttyS0", NULL };
static char *carry_one[] = { "console=ttyS0,115200", NULL };
static char *xen_carry[] = { "console=ttyS0", "earlyprintk=ttyS0", "ip=dhcp", NULL };
static char *consoles[] = { "console=ttyS0", "earlyprintk=serial", NULL };
static char *root_carry[] = { "root=/dev/sda1", NULL };

/* An entry of @family, its command line @entry and @hypervisor, the preboot carrying @carry: @want. */
static const struct {
        const char *name, *family, *entry, *hypervisor;
        char **carry;           /* NULL-terminated, or NULL: none */
        const char *want;
} cases[] = {
        { "rdinit= last, alone on an empty entry", "generic", "", NULL, NULL, "rdinit=/inetboot/hook" },
        { "the entry's words kept in order", "generic", "quiet  splash", NULL, NULL, "quiet  splash" HOOK },
        { "carried words appended after the entry's", "generic", "quiet splash", NULL, carry,
          "quiet splash console=ttyS0,115200 ip=dhcp" HOOK },
        { "carried words on an empty entry, no leading blank", "generic", "", NULL, carry,
          "console=ttyS0,115200 ip=dhcp" HOOK },
        { "nothing repeated when the entry has every carried word", "generic", "ip=dhcp quiet console=ttyS0,115200",
          NULL, carry, "ip=dhcp quiet console=ttyS0,115200" HOOK },
        /* One missing: all go, in the preboot's order, so that its last console= is the booted system's. */
        { "one missing, all carried in the preboot's order", "generic", "console=ttyS0 quiet", NULL, two_consoles,
          "console=ttyS0 quiet console=tty0 console=ttyS0" HOOK },
        { "a carried word is a whole word, not a prefix", "generic", "console=ttyS0,115200n8", NULL, carry_one,
          "console=ttyS0,115200n8 console=ttyS0,115200" HOOK },

        { "under a hypervisor, console= and earlyprintk= stay the hypervisor's", "generic", "console=hvc0",
          "/boot/xen.gz", xen_carry, "console=hvc0 ip=dhcp" HOOK },
        { "under a hypervisor, consoles only: nothing carried", "generic", "", "/boot/xen.gz", consoles,
          "rdinit=/inetboot/hook" },
        { "without a hypervisor the same words are carried", "generic", "console=hvc0", NULL, xen_carry,
          "console=hvc0 console=ttyS0 earlyprintk=ttyS0 ip=dhcp" HOOK },

        { "debian-live gets live-media= and rootfstype=ramfs", "debian-live", "boot=live components", NULL, NULL,
          "boot=live components live-media=/dev/loop0 rootfstype=ramfs" HOOK },
        { "debian-live's own live-media= and root= kept, nothing added", "debian-live",
          "boot=live live-media=/dev/sr0 root=/dev/ram0", NULL, NULL, "boot=live live-media=/dev/sr0 root=/dev/ram0" HOOK },
        { "debian-live's own rootfstype= kept", "debian-live", "boot=live rootfstype=tmpfs", NULL, NULL,
          "boot=live rootfstype=tmpfs live-media=/dev/loop0" HOOK },
        /* root= is looked for in what is built, carried words too. */
        { "debian-live, a carried root= means no rootfstype=", "debian-live", "boot=live", NULL, root_carry,
          "boot=live root=/dev/sda1 live-media=/dev/loop0" HOOK },
        { "debian-live, a word merely containing root= is no root=", "debian-live", "boot=live noroot=1", NULL, NULL,
          "boot=live noroot=1 live-media=/dev/loop0 rootfstype=ramfs" HOOK },
        { "dracut-live, root= first goes, root=live:/dev/loop0 added", "dracut-live",
          "root=live:CDLABEL=Fedora rd.live.image quiet", NULL, NULL, "rd.live.image quiet root=live:/dev/loop0" HOOK },
        { "dracut-live, root= in the middle and last go", "dracut-live",
          "rd.live.image root=live:CDLABEL=A quiet  root=x", NULL, NULL, "rd.live.image quiet root=live:/dev/loop0" HOOK },
        { "dracut-live, rootflags= is not root=", "dracut-live", "rootflags=ro root=live:LABEL=B", NULL, NULL,
          "rootflags=ro root=live:/dev/loop0" HOOK },
        { "dracut-live, an entry without root= gets one", "dracut-live", "rd.live.image", NULL, NULL,
          "rd.live.image root=live:/dev/loop0" HOOK },
        { "casper gets nothing but the hook", "casper", "boot=casper quiet", NULL, NULL, "boot=casper quiet" HOOK },
        { "generic leaves root= alone", "generic", "root=/dev/sda1 ro", NULL, NULL, "root=/dev/sda1 ro" HOOK },
};

/* Each case, one check; what was built instead is printed under a failure. */
int main(void) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n = 0;
                char name[160], *s;

                while (cases[i].carry && cases[i].carry[n])
                        n++;
                s = build(cases[i].family, cases[i].entry, cases[i].hypervisor, cases[i].carry, n);
                snprintf(name, sizeof(name), "cmdline: %s", cases[i].name);
                if (!CHECK(name, s && strcmp(s, cases[i].want) == 0))
                        printf("# got  '%s'\n# want '%s'\n", s ? s : "(failed)", cases[i].want);
                free(s);
        }
        UNIT_EXIT();
}
