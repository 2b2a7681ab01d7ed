/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdline.c: step 4, the target kernel's command line: the entry's, the words
 * the preboot carries over (console=, ip=), where the family finds its
 * medium, and rdinit= pointing at the hook.  The family's words come from
 * one table (hints[]): what to add, what to drop because it would read the
 * whole image over the network, and whether root= is replaced.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* Whether the preboot's @word goes to the booted kernel: under a hypervisor the consoles are the
 * hypervisor's (Xen: com1; dom0 has hvc0, as its entry says). */
static bool carried(const struct agent *a, const char *word) {
        return !a->c.hypervisor || (strncmp(word, "console=", 8) != 0 && strncmp(word, "earlyprintk=", 12) != 0);
}

/* The length of the word at @p: up to a blank outside double quotes (as the kernel's next_arg()). */
static size_t word_len(const char *p) {
        bool quoted = false;
        size_t n = 0;

        for (; p[n] && (quoted || (p[n] != ' ' && p[n] != '\t')); n++)
                if (p[n] == '"')
                        quoted = !quoted;
        return n;
}

/* Whether a word of the command line @s starts with @prefix. */
static bool has_word_prefix(const char *s, const char *prefix) {
        for (const char *p = s; *(p += strspn(p, " \t")); p += word_len(p))
                if (strncmp(p, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

/* Whether the command line @s has the word @w. */
static bool has_word(const char *s, const char *w) {
        for (const char *p = s; *(p += strspn(p, " \t")); p += word_len(p))
                if (word_len(p) == strlen(w) && strncmp(p, w, strlen(w)) == 0)
                        return true;
        return false;
}

/* A word the agent adds, unless the line has a word starting with its key (up to '=') or with @unless. */
struct hint_word {
        const char *word, *unless;
};

/*
 * Where each family's initrd finds its medium, in its own terms, now that
 * the hook puts the image on /dev/loop0, and which of the entry's words
 * would read the whole image over the network (copy it to RAM, check it):
 * those are dropped (fnmatch(3) patterns of whole words; a word equal to
 * one we add is kept).  @root: every root= of the line replaced by it.
 * The research behind each row: docs/distros.md.
 */
static const struct family_hint {
        const char *family;
        struct hint_word add[2];
        const char *drop[7];
        const char *root;
} hints[] = {
        /*
         * live-boot scans for /live but skips loop devices: live-media= is
         * looked at first.  Without root= or rootfstype= the kernel unpacks
         * the initrd into a tmpfs of half the RAM, and a live initrd with our
         * hook (174 MB) does not fit that in 384 MiB ("Initramfs unpacking
         * failed: write error").  rootfstype= names the rootfs ramfs,
         * unbounded; initramfs-tools and live-boot read it only to mount a
         * disk root (boot=local).  dmsquash-live's root=live: does the same.
         */
        { "debian-live", { { "live-media=/dev/loop0", NULL }, { "rootfstype=ramfs", "root=" } },
          { "toram", "toram=*", "fetch=*" }, NULL },
        /* casper's find_livefs skips loop devices too; casper-md5check reads every file unless fsck.mode=skip. */
        { "casper", { { "live-media=/dev/loop0", NULL }, { "fsck.mode=skip", NULL } },
          { "toram", "todisk=*", "url=*.iso", "fsck.mode=*" }, NULL },
        /* archiso's UUID search lists partitions and CD drives only; copytoram defaults to auto (copies airootfs). */
        { "arch", { { "archisodevice=/dev/loop0", NULL }, { "copytoram=n", NULL } },
          { "copytoram", "copytoram=*", "checksum", "checksum=*", "verify", "verify=*" }, NULL },
        { "miso", { { "misodevice=/dev/loop0", NULL } }, { "copytoram", "copytoram=y" }, NULL },
        /* dmsquash-live mounts root=live:/dev/NAME once udev has seen NAME. */
        { "dracut-live", { }, { "rd.live.check", "rd.live.check=*", "rd.live.ram", "rd.live.ram=*" },
          "root=live:/dev/loop0" },
        /* kiwi-live takes root=live:CDLABEL= only; the loop device's by-label link serves it. */
        { "opensuse", { }, { "mediacheck", "mediacheck=*", "rd.live.check", "rd.live.check=*" }, NULL },
        /*
         * stage-1 mounts root= (the config's init= stays: it names the system
         * to start); its copytoram (the ISO's "(copytoram)" entry) copies
         * nix-store.squashfs into a tmpfs.
         */
        { "nixos", { }, { "copytoram" }, "root=/dev/loop0" },
        /* nlplug-findfs probes every block device, loop ones too, for its boot repository: nothing to say. */
        { "alpine", { }, { }, NULL },
        /*
         * KNOPPIX's minirt (findknoppix) scans CD and disk devices, not loop
         * ones, for KNOPPIX/KNOPPIX; fromhd=DEVICE (its cheat code for a
         * partition tohd= filled) makes it look at DEVICE alone.  toram and
         * tohd= copy the whole medium, testcd checks every file of it.
         */
        { "knoppix", { { "fromhd=/dev/loop0", NULL } }, { "toram", "tohd=*", "testcd", "testdvd" }, NULL },
        /*
         * Slax's find_data_try (livekitlib) walks blkid's devices but loop,
         * ram and zram ones; a from=/dev/DEV/DIR replaces the device of each
         * round, so /dev/loop0 is tried once the walk has any other device
         * with a file system (a disk, the cache).  Its from=http:// reads the
         * ISO unverified (httpfs2), toram copies all of it.
         */
        { "slax", { { "from=/dev/loop0/slax", NULL } }, { "toram", "from=*" }, NULL },
};

/* The hint row of @family, NULL when it has none (generic). */
static const struct family_hint *hint_of(const char *family) {
        for (size_t i = 0; i < ELEMENTSOF(hints); i++)
                if (strcmp(hints[i].family, family) == 0)
                        return &hints[i];
        return NULL;
}

/* Whether @h drops the word @w (NUL-terminated) for reading the whole image. */
static bool dropped(const struct family_hint *h, const char *w) {
        for (size_t i = 0; i < ELEMENTSOF(h->add) && h->add[i].word; i++)
                if (strcmp(w, h->add[i].word) == 0)
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(h->drop) && h->drop[i]; i++)
                if (fnmatch(h->drop[i], w, 0) == 0)
                        return true;
        return false;
}

/*
 * Remove from @s, in place, the words @h drops (said once each, @said
 * remembering them) and, when @h replaces root=, every root= word.  A word
 * goes with the blanks before it (after it, when it starts @s).
 */
static int drop_words(const struct family_hint *h, char *s, char ***said, size_t *n_said) {
        for (char *p = s, *e; *(p += strspn(p, " \t")); p = e) {
                _cleanup_(freep) char *w = NULL;
                bool root, seen = false;

                e = p + word_len(p);
                w = ib_strndup(p, (size_t)(e - p));
                if (!w)
                        return -ENOMEM;
                root = h->root && strncmp(w, "root=", 5) == 0;
                if (!root && !dropped(h, w))
                        continue;
                for (size_t i = 0; i < *n_said; i++)
                        seen = seen || strcmp((*said)[i], w) == 0;
                if (!seen) {
                        if (root)
                                agent_say("%s: '%s' replaced by '%s': the image is on /dev/loop0", h->family, w, h->root);
                        else
                                agent_say("%s: '%s' dropped: it would read the whole image over the network", h->family, w);
                        if (ib_strv_push(said, n_said, w) < 0)
                                return -ENOMEM;
                }
                if (p == s)
                        e += strspn(e, " \t");
                else
                        while (p > s && (p[-1] == ' ' || p[-1] == '\t'))
                                p--;
                memmove(p, e, strlen(e) + 1);
                e = p;
        }
        return 0;
}

/* Whether the line (@head, then @tail) has a word of @w's key (up to and with '=', or all of it). */
static bool has_key(const char *head, const char *tail, const char *w) {
        char key[64];
        const char *eq = strchr(w, '=');
        size_t n = eq ? (size_t)(eq - w) + 1 : strlen(w);

        if (n >= sizeof(key))
                return false;
        memcpy(key, w, n);
        key[n] = 0;
        if (eq)
                return has_word_prefix(head, key) || has_word_prefix(tail, key);
        return has_word(head, key) || has_word(tail, key);
}

/* Append the word @w to @s (room made by the caller), a blank before it unless @s is empty. */
static void append(char *s, const char *w) {
        sprintf(s + strlen(s), "%s%s", *s ? " " : "", w);
}

/*
 * The entry's command line, then what the preboot carries over, where the
 * family finds its medium and the hook; the words we add go before a "---"
 * (installers copy what follows it into the installed system) or "--" (the
 * kernel hands what follows it to init), the entry's words after it stay.
 */
int agent_build_cmdline(struct agent *a) {
        const struct family_hint *h = hint_of(a->c.family);
        size_t len = strlen(a->c.cmdline), cap = len + 256, n = 0, n_said = 0, sep = len;
        _cleanup_(freep) char *tail = NULL;
        char *s, **words = NULL, **said = NULL;
        int r = 0;

        for (const char *p = a->c.cmdline; *(p += strspn(p, " \t")); p += word_len(p))
                if ((word_len(p) == 3 && strncmp(p, "---", 3) == 0) || (word_len(p) == 2 && strncmp(p, "--", 2) == 0)) {
                        sep = (size_t)(p - a->c.cmdline);
                        break;
                }
        for (size_t i = 0; i < a->req.n_carry; i++)
                cap += strlen(a->req.carry[i]) + 1;
        s = malloc(cap);
        tail = strdup(a->c.cmdline + sep);
        if (!s || !tail) {
                free(s);
                return agent_fail("out of memory");
        }
        memcpy(s, a->c.cmdline, sep);
        while (sep > 0 && (s[sep - 1] == ' ' || s[sep - 1] == '\t'))
                sep--;
        s[sep] = 0;
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
                        append(s, a->req.carry[i]);
        ib_strv_free(words, n);
        /* Where the medium is, in the family's own terms: the hook puts the image on /dev/loop0. */
        if (h) {
                r = drop_words(h, s, &said, &n_said);
                if (r >= 0)
                        r = drop_words(h, tail, &said, &n_said);
                ib_strv_free(said, n_said);
                if (r < 0) {
                        free(s);
                        return agent_fail("out of memory");
                }
                for (size_t i = 0; i < ELEMENTSOF(h->add) && h->add[i].word; i++)
                        if (!has_key(s, tail, h->add[i].word) && !(h->add[i].unless && has_key(s, tail, h->add[i].unless)))
                                append(s, h->add[i].word);
                if (h->root)
                        append(s, h->root);
        }
        append(s, "rdinit=/" HOOK_ROOT "/hook");
        if (*tail)
                append(s, tail);
        a->cmdline = s;
        return 0;
}
