/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The agent's target kernel command line (src/agent/cmdline.c): the entry's
 * words, then the preboot's carried words when one is missing, the
 * family's medium (live-media=, rootfstype=, root=live:) and rdinit= last.
 */
#include "agent.h"      /* the agent's internal header (-Isrc/agent) */
#include "unit.h"

#include <unistd.h>

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

        /* casper (Ubuntu 24.04 grub.cfg: "linux /casper/vmlinuz  --- quiet splash"): our words before "---". */
        { "Ubuntu 24.04: live-media= and fsck.mode=skip before ---", "casper", "--- quiet splash", NULL, NULL,
          "live-media=/dev/loop0 fsck.mode=skip rdinit=/inetboot/hook --- quiet splash" },
        { "casper, boot=casper ... ---", "casper", "boot=casper quiet splash ---", NULL, NULL,
          "boot=casper quiet splash live-media=/dev/loop0 fsck.mode=skip rdinit=/inetboot/hook ---" },
        { "casper, toram dropped", "casper", "boot=casper toram quiet splash ---", NULL, NULL,
          "boot=casper quiet splash live-media=/dev/loop0 fsck.mode=skip rdinit=/inetboot/hook ---" },
        { "casper, carried words before --- too", "casper", "--- quiet splash", NULL, carry,
          "console=ttyS0,115200 ip=dhcp live-media=/dev/loop0 fsck.mode=skip rdinit=/inetboot/hook --- quiet splash" },
        { "casper, todisk=, url=*.iso and fsck.mode=force dropped, url= of a seed kept", "casper",
          "boot=casper todisk=/dev/sda1 url=http://x/ubuntu.iso url=http://x/u.seed fsck.mode=force --- toram quiet",
          NULL, NULL, "boot=casper url=http://x/u.seed live-media=/dev/loop0 fsck.mode=skip rdinit=/inetboot/hook --- quiet" },
        { "casper, its own live-media= and fsck.mode=skip kept", "casper", "live-media=/dev/sr0 fsck.mode=skip ---",
          NULL, NULL, "live-media=/dev/sr0 fsck.mode=skip rdinit=/inetboot/hook ---" },
        { "a generic entry's words go before --", "generic", "quiet -- single", NULL, carry_one,
          "quiet console=ttyS0,115200 rdinit=/inetboot/hook -- single" },

        /* archiso (Arch 2024.11 syslinux/grub entries). */
        { "Arch: archisodevice= and copytoram=n", "arch", "archisobasedir=arch archisosearchuuid=2024-11-01-08-03-29-00",
          NULL, NULL, "archisobasedir=arch archisosearchuuid=2024-11-01-08-03-29-00 archisodevice=/dev/loop0 copytoram=n" HOOK },
        { "Arch by label, copytoram dropped", "arch", "archisobasedir=arch archisolabel=ARCH_202411 copytoram", NULL, NULL,
          "archisobasedir=arch archisolabel=ARCH_202411 archisodevice=/dev/loop0 copytoram=n" HOOK },
        { "Arch, copytoram=y, checksum, verify=y dropped", "arch",
          "archisobasedir=arch copytoram=y checksum verify=y checksum=y verify archisolabel=ARCH_202411", NULL, NULL,
          "archisobasedir=arch archisolabel=ARCH_202411 archisodevice=/dev/loop0 copytoram=n" HOOK },
        { "Arch, its own archisodevice= and copytoram=n kept", "arch",
          "archisobasedir=arch archisodevice=/dev/sr0 copytoram=n", NULL, NULL,
          "archisobasedir=arch archisodevice=/dev/sr0 copytoram=n" HOOK },

        /* miso (Manjaro 24.2 grub.cfg). */
        { "Manjaro: misodevice=", "miso", "misobasedir=manjaro misolabel=MANJARO_GNOME_2420 quiet systemd.show_status=1 driver=free",
          NULL, NULL, "misobasedir=manjaro misolabel=MANJARO_GNOME_2420 quiet systemd.show_status=1 driver=free "
          "misodevice=/dev/loop0" HOOK },
        { "Manjaro, copytoram and copytoram=y dropped", "miso", "misobasedir=manjaro copytoram=y misolabel=M copytoram",
          NULL, NULL, "misobasedir=manjaro misolabel=M misodevice=/dev/loop0" HOOK },

        /* dmsquash-live (Fedora 41 Workstation Live grub.cfg). */
        { "Fedora 41: root=live:/dev/loop0", "dracut-live", "root=live:CDLABEL=Fedora-WS-Live-41-1-4 rd.live.image quiet rhgb",
          NULL, NULL, "rd.live.image quiet rhgb root=live:/dev/loop0" HOOK },
        { "Fedora 41 \"Test this media\": rd.live.check dropped", "dracut-live",
          "root=live:CDLABEL=Fedora-WS-Live-41-1-4 rd.live.image rd.live.check quiet", NULL, NULL,
          "rd.live.image quiet root=live:/dev/loop0" HOOK },
        { "dracut-live, rd.live.ram and rd.live.ram=1 dropped", "dracut-live", "rd.live.ram rd.live.image rd.live.ram=1",
          NULL, NULL, "rd.live.image root=live:/dev/loop0" HOOK },

        /* kiwi live (openSUSE Tumbleweed): its CDLABEL stays. */
        { "openSUSE: CDLABEL kept, nothing added", "opensuse",
          "root=live:CDLABEL=openSUSE_Tumbleweed rd.live.image splash=silent quiet", NULL, NULL,
          "root=live:CDLABEL=openSUSE_Tumbleweed rd.live.image splash=silent quiet" HOOK },
        { "openSUSE media check: mediacheck, mediacheck=1 and rd.live.check dropped", "opensuse",
          "root=live:CDLABEL=openSUSE_Tumbleweed rd.live.image mediacheck mediacheck=1 rd.live.check plymouth.enable=0",
          NULL, NULL, "root=live:CDLABEL=openSUSE_Tumbleweed rd.live.image plymouth.enable=0" HOOK },

        /* NixOS 24.11 minimal ISO. */
        { "NixOS: root=/dev/loop0, init= kept", "nixos",
          "init=/nix/store/sv6cm9pbzsnlk3vmpsaqjsaz0xvc5m4b-nixos-system-nixos-24.11/init "
          "root=LABEL=nixos-minimal-24.11-x86_64 boot.shell_on_fail console=ttyS0,115200n8", NULL, NULL,
          "init=/nix/store/sv6cm9pbzsnlk3vmpsaqjsaz0xvc5m4b-nixos-system-nixos-24.11/init "
          "boot.shell_on_fail console=ttyS0,115200n8 root=/dev/loop0" HOOK },
        /* Its "(copytoram)" entry: stage 1 copies nix-store.squashfs into a tmpfs. */
        { "NixOS: copytoram dropped", "nixos",
          "init=/nix/store/sv6cm9pbzsnlk3vmpsaqjsaz0xvc5m4b-nixos-system-nixos-24.11/init "
          "root=LABEL=nixos-minimal-24.11-x86_64 boot.shell_on_fail copytoram", NULL, NULL,
          "init=/nix/store/sv6cm9pbzsnlk3vmpsaqjsaz0xvc5m4b-nixos-system-nixos-24.11/init "
          "boot.shell_on_fail root=/dev/loop0" HOOK },

        /* Alpine: nlplug-findfs probes every block device, /dev/loop0 too. */
        { "Alpine: nothing added", "alpine", "modules=loop,squashfs,sd-mod,usb-storage quiet modloop=/boot/modloop-lts",
          NULL, NULL, "modules=loop,squashfs,sd-mod,usb-storage quiet modloop=/boot/modloop-lts" HOOK },

        /* KNOPPIX 9.1 (boot/isolinux/isolinux.cfg; initrd=minirt.gz is taken off by the parser). */
        { "KNOPPIX: fromhd=/dev/loop0", "knoppix",
          "ramdisk_size=100000 lang=en vt.default_utf8=0 apm=power-off vga=791 nomce libata.force=noncq "
          "hpsa.hpsa_allow_any=1 loglevel=1 tz=localtime", NULL, carry_one,
          "ramdisk_size=100000 lang=en vt.default_utf8=0 apm=power-off vga=791 nomce libata.force=noncq "
          "hpsa.hpsa_allow_any=1 loglevel=1 tz=localtime console=ttyS0,115200 fromhd=/dev/loop0" HOOK },
        { "KNOPPIX: toram, tohd= and testcd dropped", "knoppix", "lang=en toram tohd=/dev/sda1 testcd tz=localtime",
          NULL, NULL, "lang=en tz=localtime fromhd=/dev/loop0" HOOK },
        { "KNOPPIX, its own fromhd= kept", "knoppix", "lang=en fromhd=/dev/sda1", NULL, NULL,
          "lang=en fromhd=/dev/sda1" HOOK },

        /* Slax 12 (Linux Live Kit, slax/boot/isolinux.cfg, initrd= taken off): from= names loop0 and its folder. */
        { "Slax: from=/dev/loop0/slax", "slax",
          "vga=normal load_ramdisk=1 prompt_ramdisk=0 rw printk.time=0 consoleblank=0 automount", NULL, NULL,
          "vga=normal load_ramdisk=1 prompt_ramdisk=0 rw printk.time=0 consoleblank=0 automount from=/dev/loop0/slax" HOOK },
        { "Slax: toram and its own from= dropped", "slax",
          "vga=normal load_ramdisk=1 rw consoleblank=0 toram automount from=http://example.org/slax.iso", NULL, NULL,
          "vga=normal load_ramdisk=1 rw consoleblank=0 automount from=/dev/loop0/slax" HOOK },

        /* live-boot's own whole-image readers (families.md); agent.sh's golden dry runs have none. */
        { "debian-live, toram and fetch= dropped", "debian-live", "boot=live toram fetch=http://x/f.squashfs quiet", NULL,
          NULL, "boot=live quiet live-media=/dev/loop0 rootfstype=ramfs" HOOK },
        { "generic leaves root= alone", "generic", "root=/dev/sda1 ro", NULL, NULL, "root=/dev/sda1 ro" HOOK },
};

/* What agent_build_cmdline() says on stderr for a casper entry of @entry; to free, or NULL. */
static char *said(const char *entry) {
        char *text = NULL, *s;
        size_t len = 0;
        FILE *f = tmpfile();
        int saved;

        if (!f)
                return NULL;
        fflush(stderr);
        saved = dup(2);
        dup2(fileno(f), 2);
        s = build("casper", entry, NULL, NULL, 0);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        free(s);
        text = calloc(1, 4096);
        if (text) {
                rewind(f);
                len = fread(text, 1, 4095, f);
                text[len] = 0;
        }
        fclose(f);
        return text;
}

/* Every word dropped is said once, with the family and why. */
static void test_said(void) {
        char *t = said("toram boot=casper toram url=http://x/u.iso ---");

        CHECK("cmdline: each dropped word said once, with why",
              t && strcmp(t, "inetboot: casper: 'toram' dropped: it would read the whole image over the network\n"
                             "inetboot: casper: 'url=http://x/u.iso' dropped: it would read the whole image over the network\n") == 0);
        if (t)
                printf("# said: %s", t);
        free(t);
}

/* Each case, one check; what was built instead is printed under a failure. */
int main(void) {
        test_said();
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
