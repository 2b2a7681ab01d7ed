/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-bootcfg: golden scans of fixture trees modelled on real images
 * (tests/fixtures/bootcfg/<name>/ against <name>.expected), then targeted
 * checks over in-memory configs.
 *
 * Usage: test-bootcfg [FIXTURE-ROOT]; the root defaults to
 * $IB_SRCDIR/tests/fixtures/bootcfg, else tests/fixtures/bootcfg.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bootcfg.h"
#include "unit.h"

#define MAX_VARS_TEST 600u     /* more than the parser keeps */

/* ---- reading a fixture tree ------------------------------------------------ */

static int dir_read(void *userdata, const char *path, char **ret, size_t *ret_len) {
        char full[PATH_MAX];

        if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
                return -EINVAL;
        if (snprintf(full, sizeof(full), "%s%s", (const char *)userdata, path) >= (int)sizeof(full))
                return -ENAMETOOLONG;
        /* One byte over the limit, so that the parser sees and reports big files. */
        return ib_read_file(full, IB_BOOTCFG_MAX_FILE + 1, ret, ret_len);
}

/* ---- in-memory images --------------------------------------------------------- */

struct mem_file {
        const char *path;
        const char *data;       /* NULL ends the list */
        size_t len;             /* 0: strlen(data) */
        int error;              /* returned instead, when set */
};

static unsigned mem_reads;

static int mem_read(void *userdata, const char *path, char **ret, size_t *ret_len) {
        const struct mem_file *f = userdata;

        mem_reads++;
        for (; f->path; f++) {
                size_t len;

                if (strcmp(f->path, path) != 0)
                        continue;
                if (f->error)
                        return f->error;
                len = f->len ? f->len : strlen(f->data);
                *ret = malloc(len + 1);
                if (!*ret)
                        return -ENOMEM;
                memcpy(*ret, f->data, len);
                (*ret)[len] = 0;
                *ret_len = len;
                return 0;
        }
        return -ENOENT;
}

/* ---- rendering ------------------------------------------------------------------ */

static const char *errno_name(int code) {
        switch (-code) {
        case ELOOP: return "ELOOP";
        case E2BIG: return "E2BIG";
        case EFBIG: return "EFBIG";
        case EIO: return "EIO";
        case ENOENT: return "ENOENT";
        case ENAMETOOLONG: return "ENAMETOOLONG";
        default: return "other";
        }
}

/* The text form of a scan: one block per entry, or the error. */
static char *render(int r, const struct ib_err *err, const struct ib_bootcfg_entry *e, size_t n) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        if (r < 0)
                fprintf(f, "error %s line %u: %s\n", errno_name(r), err->line, err->msg);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                fprintf(f, "entry %s\n", e[i].label);
                fprintf(f, "  source %s\n", e[i].source);
                fprintf(f, "  kernel %s\n", e[i].kernel);
                for (size_t k = 0; k < e[i].n_initrds; k++)
                        fprintf(f, "  initrd %s\n", e[i].initrds[k]);
                fprintf(f, "  cmdline%s%s\n", *e[i].cmdline ? " " : "", e[i].cmdline);
                if (e[i].hypervisor)
                        fprintf(f, "  hypervisor %s%s%s\n", e[i].hypervisor, *e[i].hypervisor_args ? " " : "",
                                e[i].hypervisor_args);
                fprintf(f, "  family %s\n", ib_bootcfg_family(e[i].cmdline, e[i].kernel));
        }
        fclose(f);
        return out;
}

/* Show both sides as '#' lines so a failing golden test says why. */
static void show_diff(const char *want, const char *got) {
        const char *w = want, *g = got;
        unsigned line = 1;

        while (*w && *g && *w == *g) {
                if (*w == '\n')
                        line++;
                w++, g++;
        }
        printf("# first difference at line %u\n# --- expected\n", line);
        for (const char *p = want; *p;) {
                size_t n = strcspn(p, "\n");

                printf("# %.*s\n", (int)n, p);
                p += n + (p[n] == '\n');
        }
        printf("# --- got\n");
        for (const char *p = got; *p;) {
                size_t n = strcspn(p, "\n");

                printf("# %.*s\n", (int)n, p);
                p += n + (p[n] == '\n');
        }
}

static void golden(const char *root, const char *name) {
        char dir[PATH_MAX], exp_path[PATH_MAX], check[128];
        struct ib_bootcfg_entry *e = (void *)1;
        struct ib_err err = {};
        char *want = NULL, *got;
        size_t n = 99, wl;
        int r;

        snprintf(check, sizeof(check), "golden %s", name);
        if (snprintf(dir, sizeof(dir), "%s/%s", root, name) >= (int)sizeof(dir) ||
            snprintf(exp_path, sizeof(exp_path), "%s/%s.expected", root, name) >= (int)sizeof(exp_path)) {
                CHECK(check, !"fixture path too long");
                return;
        }
        r = ib_bootcfg_scan(dir_read, dir, &e, &n, &err);
        if (r < 0) {
                e = NULL;
                n = 0;
        }
        got = render(r, &err, e, n);
        if (ib_read_file(exp_path, 1 << 20, &want, &wl) < 0) {
                CHECK(check, !"expected file readable");
                printf("# cannot read %s\n", exp_path);
        } else {
                CHECK(check, got && strcmp(want, got) == 0);
                if (got && strcmp(want, got) != 0)
                        show_diff(want, got);
        }
        free(want);
        free(got);
        ib_bootcfg_entries_free(e, n);
}

/* ---- targeted checks ------------------------------------------------------------- */

/* Scan @files; the single entry's field, or NULL. */
static struct ib_bootcfg_entry *scan_mem(const struct mem_file *files, size_t *n, int *r, struct ib_err *err) {
        struct ib_bootcfg_entry *e = NULL;

        *n = 0;
        *r = ib_bootcfg_scan(mem_read, (void *)files, &e, n, err);
        return *r < 0 ? NULL : e;
}

static bool one_grub(const char *cfg, const char *kernel, const char *cmdline) {
        const struct mem_file files[] = { { "/boot/grub/grub.cfg", cfg, 0, 0 }, {} };
        struct ib_err err = {};
        size_t n;
        int r;
        struct ib_bootcfg_entry *e = scan_mem(files, &n, &r, &err);
        bool ok = r == 0 && n == 1 && strcmp(e[0].kernel, kernel) == 0 && strcmp(e[0].cmdline, cmdline) == 0;

        if (!ok) {
                printf("# grub config: %s\n", cfg);
                if (r < 0)
                        printf("# error %d: %s\n", r, err.msg);
                for (size_t i = 0; i < n; i++)
                        printf("# got kernel '%s' cmdline '%s'\n", e[i].kernel, e[i].cmdline);
        }
        ib_bootcfg_entries_free(e, n);
        return ok;
}

static bool one_label(const char *cfg, const char *label) {
        const struct mem_file files[] = { { "/boot/grub/grub.cfg", cfg, 0, 0 }, {} };
        struct ib_err err = {};
        size_t n;
        int r;
        struct ib_bootcfg_entry *e = scan_mem(files, &n, &r, &err);
        bool ok = r == 0 && n == 1 && strcmp(e[0].label, label) == 0;

        if (!ok)
                for (size_t i = 0; i < n; i++)
                        printf("# got label '%s'\n", e[i].label);
        ib_bootcfg_entries_free(e, n);
        return ok;
}

static int scan_error(const struct mem_file *files, struct ib_err *err) {
        struct ib_bootcfg_entry *e = NULL;
        size_t n = 0;
        int r;

        *err = (struct ib_err) {};
        r = ib_bootcfg_scan(mem_read, (void *)files, &e, &n, err);
        ib_bootcfg_entries_free(e, n);
        return r;
}

static void test_grub_lexing(void) {
        CHECK("grub single quotes", one_grub("menuentry x { linux /v 'a  $b' ; }", "/v", "\"a $b\""));
        CHECK("grub double quotes", one_grub("set b=2\nmenuentry x { linux /v \"a=$b\" \"q\\\"q\" }", "/v",
                                             "a=2 q\"q"));
        CHECK("grub backslash", one_grub("menuentry x {\nlinux /v a\\ b c\\\nd\n}", "/v", "\"a b\" cd"));
        CHECK("grub semicolons", one_grub("menuentry x { insmod gzio; linux /v q; initrd /i; }", "/v", "q"));
        CHECK("grub comments", one_grub("# linux /bad\nmenuentry x { # {\nlinux /v a#b # c\n}", "/v", "a#b"));
        CHECK("grub vars", one_grub("set a=1\nb=\"2 3\"\nmenuentry x { set c=4; linux /v a=$a b=${b} c=$c }", "/v",
                                    "a=1 \"b=2 3\" c=4"));
        CHECK("grub entry scope", one_grub("menuentry x { set c=4 }\nmenuentry y { linux /v c=$c }", "/v", ""));
        CHECK("grub unset", one_grub("set a=1\nunset a\nmenuentry x { linux /v a=$a }", "/v", ""));
        CHECK("grub empty is defined", one_grub("set a=\nmenuentry x { linux /v a=$a }", "/v", "a="));
        CHECK("grub undefined dropped",
              one_grub("menuentry x { linux /v boot=live findiso=${iso_path} $nothing quiet }", "/v", "boot=live quiet"));
        CHECK("grub device prefix", one_grub("menuentry x { linux ($root)/casper/vmlinuz }", "/casper/vmlinuz", ""));
        CHECK("grub device prefix 2", one_grub("menuentry x { linux (hd0,gpt2)/a/../b//vmlinuz }", "/b/vmlinuz", ""));
        CHECK("grub command from variable", one_grub("set l=linuxefi\nmenuentry x { $l /v q }", "/v", "q"));
        CHECK("grub control words", one_grub("if [ x = y ]; then\nmenuentry x {\nif true; then linux /a; else linux /v q; fi\n}\nfi\n"
                                             "for i in 1 2; do echo $i; done\nwhile false; do true; done",
                                             "/v", "q"));
        CHECK("grub function body", one_grub("function f { set q=1 }\nf\nmenuentry x { linux /v q=$q }", "/v", "q=1"));
        CHECK("grub relative path", one_grub("menuentry x { linux vmlinuz }", "/vmlinuz", ""));
        CHECK("grub label options", one_label("menuentry --class a --id=b --hotkey c 'My  Entry' extra { linux /v }",
                                              "My Entry"));
        CHECK("grub label vars", one_label("set n=Debian\nmenuentry \"$n live\" --unrestricted { linux /v }", "Debian live"));
        CHECK("grub submenu keeps labels", one_label("submenu 'Sub' { menuentry 'Inner' { linux /v } }", "Inner"));
        CHECK("grub nested menuentry ignored", one_label("menuentry a { linux /v; menuentry b { linux /w } }", "a"));
        CHECK("grub unterminated entry dropped", one_label("menuentry a { linux /v }\nmenuentry b { linux /w", "a"));
        CHECK("grub stray brace", one_label("}\n}\nmenuentry a { linux /v }", "a"));
        CHECK("grub multiboot",
              one_grub("menuentry x { multiboot /xen.gz dom0_mem=1G\nmodule /vmlinuz ro x=1\nmodule /initrd.img\nmodule /ucode.img }",
                       "/vmlinuz", "ro x=1"));
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg",
                        "menuentry x { multiboot2 /xen.gz a=1\nmodule2 /vmlinuz k=2\nmodule2 --nounzip /initrd.img\n}", 0, 0 }, {} };
                struct ib_err err;
                size_t n;
                int r;
                struct ib_bootcfg_entry *e = scan_mem(files, &n, &r, &err);

                CHECK("grub multiboot2 entry", r == 0 && n == 1);
                CHECK("grub multiboot2 hypervisor", n == 1 && strcmp(e[0].hypervisor, "/xen.gz") == 0 &&
                      strcmp(e[0].hypervisor_args, "a=1") == 0);
                CHECK("grub multiboot2 initrd", n == 1 && e[0].n_initrds == 1 && strcmp(e[0].initrds[0], "/initrd.img") == 0);
                ib_bootcfg_entries_free(e, n);
        }
        CHECK("grub module without multiboot", one_grub("menuentry x { module /m\nlinux /v }", "/v", ""));
        CHECK("grub linux resets multiboot",
              one_grub("menuentry x { multiboot /xen.gz\nmodule /k\nlinux /v a }", "/v", "a"));
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", "menuentry x { chainloader +1 }\nmenuentry y { linux }", 0, 0 }, {} };
                struct ib_err err;
                size_t n;
                int r;
                struct ib_bootcfg_entry *e = scan_mem(files, &n, &r, &err);

                CHECK("grub entries without kernel dropped", r == 0 && n == 0);
                ib_bootcfg_entries_free(e, n);
        }
}

static void test_syslinux(void) {
        const struct mem_file files[] = {
                { "/isolinux/isolinux.cfg",
                  "DEFAULT vesamenu.c32\nAPPEND g=1\n"
                  "LABEL one\n  KERNEL vmlinuz\n"                                       /* global append */
                  "label two\n  linux ../k/vmlinuz a\n  append -\n"                      /* no append at all */
                  "label three\n  kernel /v\n  initrd /i1,i2\n  append x initrd=/i3 y\n" /* both initrd forms */
                  "label four\n  kernel memtest.bin\n"                                   /* boot sector: skipped */
                  "label five\n  linux memtest.bin\n"                                    /* LINUX forces linux */
                  "label six\n  com32 menu.c32\n"
                  "label seven\n  localboot 0x80\n"
                  "label eight\n  menu label E^ig^ht\n  kernel /v8 kopt\n  append aopt\n"
                  "menu include sub.cfg\n", 0, 0 },
                { "/isolinux/sub.cfg", "label nine\n  kernel /v9\n", 0, 0 },
                {},
        };
        struct ib_bootcfg_entry *e = NULL;
        struct ib_err err = {};
        size_t n = 0;
        int r = ib_bootcfg_parse_syslinux(mem_read, (void *)files, "/isolinux/isolinux.cfg", &e, &n, &err);

        REQUIRE("syslinux parse", r == 0 && n == 6);
        CHECK("syslinux global append", strcmp(e[0].label, "one") == 0 && strcmp(e[0].kernel, "/isolinux/vmlinuz") == 0 &&
              strcmp(e[0].cmdline, "g=1") == 0);
        CHECK("syslinux append -", strcmp(e[1].kernel, "/k/vmlinuz") == 0 && strcmp(e[1].cmdline, "a") == 0);
        CHECK("syslinux initrds", e[2].n_initrds == 3 && strcmp(e[2].initrds[0], "/i1") == 0 &&
              strcmp(e[2].initrds[1], "/isolinux/i2") == 0 && strcmp(e[2].initrds[2], "/i3") == 0 &&
              strcmp(e[2].cmdline, "x y") == 0);
        CHECK("syslinux LINUX .bin", strcmp(e[3].kernel, "/isolinux/memtest.bin") == 0);
        CHECK("syslinux hotkeys removed", strcmp(e[4].label, "Eight") == 0 && strcmp(e[4].cmdline, "kopt aopt") == 0);
        CHECK("syslinux menu include", strcmp(e[5].kernel, "/v9") == 0 && strcmp(e[5].source, "/isolinux/sub.cfg") == 0);

        /* Appending to what the caller has; failure leaves it alone. */
        {
                const struct mem_file bad[] = { { "/isolinux/isolinux.cfg", "label a\nkernel /a\ninclude x\n", 0, 0 },
                                                { "/isolinux/x", NULL, 0, -EIO }, {} };
                struct ib_bootcfg_entry *keep = e;

                r = ib_bootcfg_parse_syslinux(mem_read, (void *)files, "/isolinux/sub.cfg", &e, &n, &err);
                CHECK("parse appends", r == 0 && n == 7 && strcmp(e[6].kernel, "/v9") == 0);
                keep = e;
                r = ib_bootcfg_parse_syslinux(mem_read, (void *)bad, "/isolinux/isolinux.cfg", &e, &n, &err);
                CHECK("read error is an error", r == -EIO && err.code == -EIO && strstr(err.msg, "/isolinux/x"));
                CHECK("failure leaves output alone", e == keep && n == 7);
                r = ib_bootcfg_parse_grub(mem_read, (void *)bad, "/nope.cfg", &e, &n, &err);
                CHECK("missing top-level file", r == -ENOENT && n == 7);
        }
        ib_bootcfg_entries_free(e, n);

        /*
         * PXELINUX's entries are not the image's: those whichsys.c32 reaches
         * under PXE only ("-pxe- NAME": NAME's CONFIG is not followed), and
         * files from the TFTP server's root ("::/path").
         */
        {
                const struct mem_file pxe[] = {
                        { "/boot/syslinux/syslinux.cfg",
                          "DEFAULT select\nLABEL select\nCOM32 whichsys.c32\nAPPEND -pxe- net -sys- sys -iso- sys\n"
                          "LABEL net\nCONFIG net.cfg\nLABEL sys\nCONFIG sys.cfg\n", 0, 0 },
                        { "/boot/syslinux/net.cfg", "LABEL nbd\nLINUX /vmlinuz\nAPPEND nbd_srv=${pxeserver}\n", 0, 0 },
                        { "/boot/syslinux/sys.cfg",
                          "LABEL tftp\nLINUX ::/vmlinuz\nAPPEND t\nLABEL iso\nLINUX /vmlinuz\nINITRD /a,/b\nAPPEND i\n", 0, 0 },
                        {},
                };

                e = NULL;
                n = 0;
                r = ib_bootcfg_parse_syslinux(mem_read, (void *)pxe, "/boot/syslinux/syslinux.cfg", &e, &n, &err);
                CHECK("whichsys: the -pxe- label's CONFIG and ::/ entries left out", r == 0 && n == 1 &&
                      strcmp(e[0].cmdline, "i") == 0 && e[0].n_initrds == 2);
                ib_bootcfg_entries_free(e, n);
        }

        {
                const struct mem_file mb[] = {
                        { "/syslinux.cfg",
                          "label x\nkernel mboot.c32\nappend xen.gz a=1 --- /vmlinuz k=1 initrd=/notme --- /i1 ignored --- /i2\n"
                          "label y\nkernel /boot/MBOOT.C32\nappend /xen.gz\n", 0, 0 },
                        {},
                };

                e = NULL;
                n = 0;
                r = ib_bootcfg_scan(mem_read, (void *)mb, &e, &n, &err);
                CHECK("mboot.c32", r == 0 && n == 1 && strcmp(e[0].hypervisor, "/xen.gz") == 0 &&
                      strcmp(e[0].hypervisor_args, "a=1") == 0 && strcmp(e[0].kernel, "/vmlinuz") == 0 &&
                      strcmp(e[0].cmdline, "k=1 initrd=/notme") == 0 && e[0].n_initrds == 2 &&
                      strcmp(e[0].initrds[1], "/i2") == 0);
                ib_bootcfg_entries_free(e, n);
        }
}

static void test_scan(void) {
        struct ib_bootcfg_entry *e = NULL;
        struct ib_err err = {};
        size_t n = 0;
        int r;

        {
                /* The same entry from isolinux and GRUB: the first label wins. */
                const struct mem_file files[] = {
                        { "/isolinux/isolinux.cfg", "label a\nmenu label From isolinux\nkernel /v\ninitrd /i\nappend q  x\n", 0, 0 },
                        { "/boot/grub/grub.cfg", "menuentry 'From grub' { linux /v q x; initrd /i }\n"
                                                 "menuentry 'Other' { linux /v q x; initrd /i /j }", 0, 0 },
                        { "/boot/grub/loopback.cfg", "menuentry 'Loop' { linux /loop }", 0, 0 },
                        {},
                };

                r = ib_bootcfg_scan(mem_read, (void *)files, &e, &n, &err);
                CHECK("dedupe", r == 0 && n == 2 && strcmp(e[0].label, "From isolinux") == 0 &&
                      strcmp(e[0].source, "/isolinux/isolinux.cfg") == 0 && strcmp(e[1].label, "Other") == 0);
                ib_bootcfg_entries_free(e, n);
        }
        {
                const struct mem_file files[] = {
                        { "/boot/grub/grub.cfg", "menuentry 'Nothing' { chainloader +1 }", 0, 0 },
                        { "/boot/grub/loopback.cfg", "menuentry 'Loop' { linux /casper/vmlinuz iso-scan/filename=${iso_path} --- quiet }", 0, 0 },
                        {},
                };

                e = NULL;
                r = ib_bootcfg_scan(mem_read, (void *)files, &e, &n, &err);
                CHECK("loopback fallback", r == 0 && n == 1 && strcmp(e[0].label, "Loop") == 0 &&
                      strcmp(e[0].cmdline, "--- quiet") == 0);
                ib_bootcfg_entries_free(e, n);
        }
        {
                const struct mem_file files[] = { {} };

                e = (void *)1;
                n = 5;
                r = ib_bootcfg_scan(mem_read, (void *)files, &e, &n, &err);
                CHECK("empty image", r == 0 && n == 0 && e == NULL);
        }
        {
                const struct mem_file files[] = { { "/isolinux/isolinux.cfg", NULL, 0, -EIO }, {} };

                CHECK("read error", scan_error(files, &err) == -EIO && strstr(err.msg, "/isolinux/isolinux.cfg"));
        }
}

static void test_limits(void) {
        struct ib_err err;
        char *big;
        size_t len = 0, cap = 1 << 16;
        int r;

        /* Too many distinct entries. */
        big = malloc(cap);
        REQUIRE("alloc", big);
        for (unsigned i = 0; i <= IB_BOOTCFG_MAX_ENTRIES; i++)
                len += (size_t)snprintf(big + len, cap - len, "label l%u\nkernel /v%u\n", i, i);
        {
                const struct mem_file files[] = { { "/isolinux/isolinux.cfg", big, 0, 0 }, {} };

                r = scan_error(files, &err);
                CHECK("entry limit", r == -E2BIG && strstr(err.msg, "boot entries"));
        }
        /* Exactly the limit is fine. */
        len = 0;
        for (unsigned i = 0; i < IB_BOOTCFG_MAX_ENTRIES; i++)
                len += (size_t)snprintf(big + len, cap - len, "menuentry l%u { linux /v%u }\n", i, i);
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("entry limit exact", scan_error(files, &err) == 0);
        }
        /* Too many files: one file includes many others. */
        len = 0;
        for (unsigned i = 0; i < IB_BOOTCFG_MAX_FILES + 4; i++)
                len += (size_t)snprintf(big + len, cap - len, "include f%u.cfg\n", i);
        {
                const struct mem_file files[] = { { "/isolinux/isolinux.cfg", big, 0, 0 }, {} };

                mem_reads = 0;
                r = scan_error(files, &err);
                CHECK("file limit", r == -E2BIG && strstr(err.msg, "config files"));
                CHECK("file limit stops reading", mem_reads <= IB_BOOTCFG_MAX_FILES + 1);
        }
        /* Sourcing itself forever, GRUB style, through two names. */
        {
                const struct mem_file files[] = {
                        { "/boot/grub/grub.cfg", "source /boot/grub/a.cfg\nmenuentry g { linux /g }", 0, 0 },
                        { "/boot/grub/a.cfg", "configfile /boot/grub/grub.cfg\nsource (memdisk)/boot/grub/a.cfg", 0, 0 },
                        {},
                };

                CHECK("source loop", scan_error(files, &err) == 0);
        }
        /* Deep GRUB nesting, deep blocks, big file, long words, long lines. */
        {
                char names[12][32], texts[12][64];
                struct mem_file files[13] = {};

                for (unsigned i = 0; i < 12; i++) {
                        snprintf(names[i], sizeof(names[i]), i ? "/boot/grub/%u.cfg" : "/boot/grub/grub.cfg", i);
                        snprintf(texts[i], sizeof(texts[i]), "source /boot/grub/%u.cfg\n", i + 1);
                        files[i] = (struct mem_file) { names[i], texts[i], 0, 0 };
                }
                r = scan_error(files, &err);
                CHECK("source depth limit", r == -ELOOP && strstr(err.msg, "nested deeper"));
        }
        len = 0;
        for (unsigned i = 0; i < 100; i++)
                len += (size_t)snprintf(big + len, cap - len, "if x; then {\n");
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("block depth limit", scan_error(files, &err) == -ELOOP);
        }
        free(big);
        big = malloc(IB_BOOTCFG_MAX_FILE + 2);
        REQUIRE("alloc", big);
        memset(big, '#', IB_BOOTCFG_MAX_FILE + 1);
        big[IB_BOOTCFG_MAX_FILE + 1] = 0;
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                r = scan_error(files, &err);
                CHECK("file size limit", r == -EFBIG && strstr(err.msg, "larger than"));
        }
        memcpy(big, "set a=", 6);
        memset(big + 6, 'x', 20000);
        big[20006] = 0;
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("word limit", scan_error(files, &err) == -E2BIG && strstr(err.msg, "word longer"));
        }
        /* Doubling a variable until it is too long. */
        len = (size_t)snprintf(big, 64, "set a=xxxxxxxxxxxxxxxx\n");
        for (unsigned i = 0; i < 20; i++)
                len += (size_t)snprintf(big + len, 64, "set a=$a$a\n");
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("variable growth limit", scan_error(files, &err) == -E2BIG);
        }
        len = (size_t)snprintf(big, 64, "menuentry x { linux /v ");
        for (unsigned i = 0; i < 600; i++)
                len += (size_t)snprintf(big + len, 64, "arg%u=1234567 ", i);
        snprintf(big + len, 64, "}\n");
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("command line limit", scan_error(files, &err) == -E2BIG && strstr(err.msg, "command line"));
        }
        len = (size_t)snprintf(big, 64, "label x\nkernel /");
        memset(big + len, 'p', 5000);
        big[len + 5000] = 0;
        {
                const struct mem_file files[] = { { "/syslinux.cfg", big, 0, 0 }, {} };

                CHECK("path limit", scan_error(files, &err) == -ENAMETOOLONG);
        }
        len = (size_t)snprintf(big, 64, "append ");
        memset(big + len, 'a', 9000);
        big[len + 9000] = 0;
        {
                const struct mem_file files[] = { { "/syslinux.cfg", big, 0, 0 }, {} };

                CHECK("append line limit", scan_error(files, &err) == -E2BIG && strstr(err.msg, "append line"));
        }
        /* "${" without "}" many times over: must stay linear (and literal). */
        len = (size_t)snprintf(big, 64, "menuentry x { linux /v ");
        for (unsigned i = 0; i < 150000; i++)
                memcpy(big + len + 5 * i, "\"${\" ", 5);
        len += 750000;
        memcpy(big + len, " }", 3);
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("unclosed ${ is linear", scan_error(files, &err) == -E2BIG && strstr(err.msg, "command line"));
        }
        len = 0;
        for (unsigned i = 0; i < MAX_VARS_TEST; i++)
                len += (size_t)snprintf(big + len, 64, "set v%u=1\n", i);
        {
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", big, 0, 0 }, {} };

                CHECK("variable count limit", scan_error(files, &err) == -E2BIG && strstr(err.msg, "variables"));
        }
        /* NUL bytes end the text. */
        {
                static const char nul[] = "menuentry a { linux /a }\0menuentry b { linux /b }";
                const struct mem_file files[] = { { "/boot/grub/grub.cfg", nul, sizeof(nul) - 1, 0 }, {} };
                struct ib_bootcfg_entry *e = NULL;
                size_t n = 0;

                r = ib_bootcfg_scan(mem_read, (void *)files, &e, &n, &err);
                CHECK("NUL ends text", r == 0 && n == 1);
                ib_bootcfg_entries_free(e, n);
        }
        free(big);
}

static void test_family(void) {
        CHECK("family debian", strcmp(ib_bootcfg_family("boot=live components quiet", NULL), "debian-live") == 0);
        CHECK("family casper", strcmp(ib_bootcfg_family("file=/cdrom/preseed/ubuntu.seed boot=casper quiet", NULL), "casper") == 0);
        CHECK("family dracut root", strcmp(ib_bootcfg_family("root=live:CDLABEL=Fedora-WS-Live-39-1-5 quiet", NULL), "dracut-live") == 0);
        CHECK("family dracut image", strcmp(ib_bootcfg_family("rd.live.image", NULL), "dracut-live") == 0);
        CHECK("family arch", strcmp(ib_bootcfg_family("archisobasedir=arch archisosearchuuid=x", NULL), "arch") == 0);
        CHECK("family arch label", strcmp(ib_bootcfg_family("archisolabel=ARCH_202311", NULL), "arch") == 0);
        CHECK("family opensuse install", strcmp(ib_bootcfg_family("splash=silent install=hd:/?device=sr0", NULL), "opensuse") == 0);
        CHECK("family opensuse kiwi", strcmp(ib_bootcfg_family("rd.kiwi.install.pxe rd.kiwi.install.image=x", NULL), "opensuse") == 0);
        /* kiwi-live takes root=live:CDLABEL= only: a kiwi entry must not get dracut-live's root=live:/dev/loop0. */
        CHECK("family kiwi live is opensuse",
              strcmp(ib_bootcfg_family("root=live:CDLABEL=openSUSE rd.live.image rd.kiwi.debug", NULL), "opensuse") == 0);
        CHECK("family kiwi live by layout (Tumbleweed)",
              strcmp(ib_bootcfg_family("splash=silent root=live:CDLABEL=openSUSE_Tumbleweed_KDE_Live rd.live.image quiet",
                                       "/boot/x86_64/loader/linux"), "opensuse") == 0);
        CHECK("family kiwi layout is /boot/ARCH/loader/FILE",
              strcmp(ib_bootcfg_family("root=live:CDLABEL=F", "/boot/loader/linux"), "dracut-live") == 0 &&
              strcmp(ib_bootcfg_family("root=live:CDLABEL=F", "/boot/x86_64/loader/"), "dracut-live") == 0 &&
              strcmp(ib_bootcfg_family("root=live:CDLABEL=F", "/boot/x86_64/loader/a/linux"), "dracut-live") == 0 &&
              strcmp(ib_bootcfg_family("root=live:CDLABEL=F", "/images/pxeboot/vmlinuz"), "dracut-live") == 0);
        CHECK("family miso", strcmp(ib_bootcfg_family("misobasedir=manjaro misolabel=MANJARO_GNOME_2420 quiet driver=free",
                                                      "/boot/vmlinuz-x86_64"), "miso") == 0);
        CHECK("family miso label", strcmp(ib_bootcfg_family("misolabel=MANJARO", NULL), "miso") == 0);
        CHECK("family nixos", strcmp(ib_bootcfg_family("init=/nix/store/sv6cm9pbzsnlk3vmpsaqjsaz0xvc5m4b-nixos-system-nixos-24.11/init "
                                                       "root=LABEL=nixos-minimal-24.11-x86_64 boot.shell_on_fail", "/boot/bzImage"),
                                     "nixos") == 0);
        CHECK("family nixos needs the store", strcmp(ib_bootcfg_family("init=/sbin/init root=LABEL=x", NULL), "generic") == 0);
        CHECK("family alpine modloop", strcmp(ib_bootcfg_family("modules=loop,squashfs,sd-mod,usb-storage quiet modloop=/boot/modloop-lts",
                                                                "/boot/vmlinuz-lts"), "alpine") == 0);
        CHECK("family alpine ISO (its modules=)", strcmp(ib_bootcfg_family("modules=loop,squashfs,sd-mod,usb-storage quiet",
                                                                           "/boot/vmlinuz-lts"), "alpine") == 0);
        CHECK("family alpine alpine_dev", strcmp(ib_bootcfg_family("alpine_dev=usbdisk:vfat quiet", NULL), "alpine") == 0);
        CHECK("family new ones by whole args", strcmp(ib_bootcfg_family("xmisolabel=x init=/nix/storex nomodloop=1", NULL), "generic") == 0);
        CHECK("family generic", strcmp(ib_bootcfg_family("quiet splash ---", NULL), "generic") == 0);
        CHECK("family empty", strcmp(ib_bootcfg_family("", NULL), "generic") == 0 && strcmp(ib_bootcfg_family(NULL, NULL), "generic") == 0);
        CHECK("family whole args", strcmp(ib_bootcfg_family("noboot=live boot=livex xroot=live:x rd.live.imagex", NULL), "generic") == 0);
        CHECK("family substring", strcmp(ib_bootcfg_family("myarchisobasedir=x reinstall=1 rd.kiwix", NULL), "generic") == 0);
        CHECK("family casper by layout (Ubuntu >= 20.04)", strcmp(ib_bootcfg_family("--- quiet splash", "/casper/vmlinuz"), "casper") == 0);
        CHECK("family by layout yields to boot=live", strcmp(ib_bootcfg_family("boot=live", "/casper/vmlinuz"), "debian-live") == 0);
        CHECK("family tabs", strcmp(ib_bootcfg_family("\tboot=live\t", NULL), "debian-live") == 0);
        CHECK("family knoppix by knoppix_dir=", strcmp(ib_bootcfg_family("lang=en knoppix_dir=KNOPPIX", NULL), "knoppix") == 0);
        CHECK("family knoppix by knoppix_name=", strcmp(ib_bootcfg_family("knoppix_name=KNOPPIX1 quiet", NULL), "knoppix") == 0);
        CHECK("family knoppix words are whole", strcmp(ib_bootcfg_family("myknoppix_dir=x knoppix", NULL), "generic") == 0);
}

/* ib_bootcfg_entry_family(): a generic entry whose initrd is KNOPPIX's minirt is knoppix. */
static void test_entry_family(void) {
        char *minirt[] = { "/boot/isolinux/minirt.gz" };
        char *dsl[] = { "/boot/isolinux/minirt24.gz" };
        char *two[] = { "/boot/ucode.img", "/boot/isolinux/minirt.gz" };
        char *other[] = { "/boot/isolinux/initrd.gz" };
        char *dir[] = { "/minirt/initrd.gz" };
        const char *knoppix = "ramdisk_size=100000 lang=en vt.default_utf8=0 apm=power-off vga=791 nomce tz=localtime";

        CHECK("entry family: KNOPPIX's minirt.gz",
              strcmp(ib_bootcfg_entry_family(knoppix, "/boot/isolinux/linux64", minirt, 1), "knoppix") == 0);
        CHECK("entry family: DSL's minirt24.gz", strcmp(ib_bootcfg_entry_family("lang=us", "/boot/isolinux/linux24", dsl, 1),
                                                         "knoppix") == 0);
        CHECK("entry family: minirt as a later initrd", strcmp(ib_bootcfg_entry_family("", "/boot/linux", two, 2), "knoppix") == 0);
        CHECK("entry family: another initrd is generic",
              strcmp(ib_bootcfg_entry_family(knoppix, "/boot/isolinux/linux", other, 1), "generic") == 0);
        CHECK("entry family: a minirt directory is not the name",
              strcmp(ib_bootcfg_entry_family("", "/boot/linux", dir, 1), "generic") == 0);
        CHECK("entry family: the command line's family first",
              strcmp(ib_bootcfg_entry_family("boot=live", "/live/vmlinuz", minirt, 1), "debian-live") == 0);
        {
                char *initrfs[] = { "/slax/boot/initrfs.img" }, *mylinux[] = { "/mylinux/boot/initrfs.img" };

                CHECK("entry family: Slax by its kernel's folder",
                      strcmp(ib_bootcfg_entry_family("load_ramdisk=1 automount", "/slax/boot/vmlinuz", initrfs, 1), "slax") == 0 &&
                      strcmp(ib_bootcfg_family(NULL, "/slax/boot/vmlinuz"), "slax") == 0);
                CHECK("entry family: Linux Live Kit's initrfs.img elsewhere",
                      strcmp(ib_bootcfg_entry_family("automount", "/mylinux/boot/vmlinuz", mylinux, 1), "slax") == 0);
        }
        CHECK("entry family: no initrd", strcmp(ib_bootcfg_entry_family(knoppix, "/boot/isolinux/linux", NULL, 0), "generic") == 0 &&
              strcmp(ib_bootcfg_entry_family(NULL, NULL, NULL, 0), "generic") == 0);
        {
                /* KNOPPIX 9.1's layout: names relative to /boot/isolinux/, the minirt in APPEND's initrd=. */
                const struct mem_file files[] = {
                        { "/boot/isolinux/isolinux.cfg",
                          "DEFAULT linux\nTIMEOUT 300\n"
                          "LABEL linux\nKERNEL linux\nAPPEND ramdisk_size=100000 lang=en vga=791 initrd=minirt.gz nomce loglevel=1\n"
                          "LABEL linux64\nKERNEL linux64\nAPPEND ramdisk_size=100000 lang=en initrd=minirt.gz nomce toram\n", 0, 0 },
                        {},
                };
                struct ib_bootcfg_entry *e = NULL;
                struct ib_err err = {};
                size_t n = 0;
                int r = ib_bootcfg_scan(mem_read, (void *)files, &e, &n, &err);

                CHECK("KNOPPIX isolinux.cfg: two entries, /boot/isolinux/linux + minirt.gz",
                      r == 0 && n == 2 && strcmp(e[0].kernel, "/boot/isolinux/linux") == 0 && e[0].n_initrds == 1 &&
                      strcmp(e[0].initrds[0], "/boot/isolinux/minirt.gz") == 0 &&
                      strcmp(e[0].cmdline, "ramdisk_size=100000 lang=en vga=791 nomce loglevel=1") == 0);
                CHECK("KNOPPIX isolinux.cfg: both entries knoppix",
                      r == 0 && n == 2 && strcmp(ib_bootcfg_entry_family(e[0].cmdline, e[0].kernel, e[0].initrds, e[0].n_initrds),
                                                 "knoppix") == 0 &&
                      strcmp(ib_bootcfg_entry_family(e[1].cmdline, e[1].kernel, e[1].initrds, e[1].n_initrds), "knoppix") == 0);
                ib_bootcfg_entries_free(e, n);
        }
}

int main(int argc, char **argv) {
        static const char *const trees[] = {
                "debian", "ubuntu", "fedora", "arch", "opensuse", "xen",
                "hostile-loop", "hostile-deep", "hostile-label",
        };
        char root[PATH_MAX];
        const char *src = getenv("IB_SRCDIR");

        int k;

        if (argc > 1)
                k = snprintf(root, sizeof(root), "%s", argv[1]);
        else if (src && *src)
                k = snprintf(root, sizeof(root), "%s/tests/fixtures/bootcfg", src);
        else
                k = snprintf(root, sizeof(root), "tests/fixtures/bootcfg");
        REQUIRE("fixture root fits", k > 0 && k < (int)sizeof(root));

        for (size_t i = 0; i < ELEMENTSOF(trees); i++)
                golden(root, trees[i]);
        test_grub_lexing();
        test_syslinux();
        test_scan();
        test_limits();
        test_family();
        test_entry_family();
        UNIT_EXIT();
}
