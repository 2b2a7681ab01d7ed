/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdline.c: step 4, the target kernel's command line: the entry's, the words
 * the preboot carries over (console=, ip=), where the family finds its
 * medium, and rdinit= pointing at the hook.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* Whether the preboot's @word goes to the booted kernel: under a hypervisor the consoles are the
 * hypervisor's (Xen: com1; dom0 has hvc0, as its entry says). */
static bool carried(const struct agent *a, const char *word) {
        return !a->c.hypervisor || (strncmp(word, "console=", 8) != 0 && strncmp(word, "earlyprintk=", 12) != 0);
}

/* Whether a word of the command line @s starts with @prefix. */
static bool has_word_prefix(const char *s, const char *prefix) {
        for (const char *p = s; *(p += strspn(p, " \t")); p += strcspn(p, " \t"))
                if (strncmp(p, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

/* The entry's command line, then what the preboot carries over, then the hook. */
int agent_build_cmdline(struct agent *a) {
        size_t cap = strlen(a->c.cmdline) + 128, n = 0;
        char *s, **words = NULL;

        for (size_t i = 0; i < a->req.n_carry; i++)
                cap += strlen(a->req.carry[i]) + 1;
        s = malloc(cap);
        if (!s)
                return agent_fail("out of memory");
        strcpy(s, a->c.cmdline);
        if (ib_cmdline_split(a->c.cmdline, &words, &n, NULL) < 0)
                words = NULL, n = 0;    /* then every carried word is appended */
        /*
         * Words the entry has already are not repeated; but when one is
         * missing, all go after the entry's, in the preboot's order: the
         * last console= is the one the booted system talks on, and the
         * kernel takes a repeated console= as that console named again.
         */
        bool missing = false;

        for (size_t i = 0; i < a->req.n_carry && !missing; i++) {
                bool have = false;

                if (!carried(a, a->req.carry[i]))
                        continue;
                for (size_t k = 0; k < n; k++)
                        have = have || strcmp(words[k], a->req.carry[i]) == 0;
                missing = !have;
        }
        for (size_t i = 0; missing && i < a->req.n_carry; i++)
                if (carried(a, a->req.carry[i]))
                        sprintf(s + strlen(s), "%s%s", *s ? " " : "", a->req.carry[i]);
        ib_strv_free(words, n);
        /* Where the medium is, in the family's own terms (docs/distros.md): the hook puts the image on /dev/loop0. */
        if (strcmp(a->c.family, "debian-live") == 0 && !strstr(a->c.cmdline, "live-media="))
                sprintf(s + strlen(s), "%slive-media=/dev/loop0", *s ? " " : "");
        /*
         * Without root= or rootfstype= the kernel unpacks the initrd into a
         * tmpfs of half the RAM, and a live initrd with our hook (174 MB)
         * does not fit that in 384 MiB ("Initramfs unpacking failed: write
         * error").  rootfstype= names the rootfs ramfs, unbounded; initramfs-
         * tools and live-boot read it only to mount a disk root (boot=local).
         * dmsquash-live's root=live: has the same effect already.
         */
        if (strcmp(a->c.family, "debian-live") == 0 && !has_word_prefix(s, "root=") && !has_word_prefix(s, "rootfstype="))
                sprintf(s + strlen(s), "%srootfstype=ramfs", *s ? " " : "");
        if (strcmp(a->c.family, "dracut-live") == 0) {
                /* dmsquash-live mounts root=live:/dev/NAME once udev has seen NAME: the entry's root= (CDLABEL=...) goes. */
                for (char *p = s, *e; *(p += strspn(p, " \t")); p = e) {
                        e = p + strcspn(p, " \t");
                        if (strncmp(p, "root=", 5) == 0) {
                                if (p == s)
                                        e += strspn(e, " \t");
                                else
                                        while (p > s && (p[-1] == ' ' || p[-1] == '\t'))
                                                p--;
                                memmove(p, e, strlen(e) + 1);
                                e = p;
                        }
                }
                sprintf(s + strlen(s), "%sroot=live:/dev/loop0", *s ? " " : "");
        }
        sprintf(s + strlen(s), "%srdinit=/" HOOK_ROOT "/hook", *s ? " " : "");
        a->cmdline = s;
        return 0;
}
