/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <regex.h>

#include "cmdline.h"
#include "unit.h"

static void test_split(void) {
        char **v = NULL;
        size_t n = 0;
        struct ib_err e = {};

        REQUIRE("split: plain", ib_cmdline_split("  a b\tc=d  ", &v, &n, &e) == 0);
        CHECK("split: three words", n == 3 && strcmp(v[0], "a") == 0 && strcmp(v[2], "c=d") == 0 && v[3] == NULL);
        ib_strv_free(v, n);
        REQUIRE("split: quotes", ib_cmdline_split("x=\"a b\" \"y=c d\" z", &v, &n, &e) == 0);
        CHECK("split: quoted value kept whole", n == 3 && strcmp(v[0], "x=a b") == 0 && strcmp(v[1], "y=c d") == 0);
        ib_strv_free(v, n);
        REQUIRE("split: -- ends", ib_cmdline_split("a -- b c", &v, &n, &e) == 0);
        CHECK("split: words after -- are init's", n == 1 && strcmp(v[0], "a") == 0);
        ib_strv_free(v, n);
        REQUIRE("split: empty", ib_cmdline_split("", &v, &n, &e) == 0);
        CHECK("split: empty gives none", n == 0 && v && v[0] == NULL);
        ib_strv_free(v, n);
        REQUIRE("split: unterminated quote", ib_cmdline_split("a=\"b c", &v, &n, &e) == 0);
        CHECK("split: unterminated quote runs to the end", n == 1 && strcmp(v[0], "a=b c") == 0);
        ib_strv_free(v, n);

        char big[IB_CMDLINE_MAX + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        CHECK("split: too long refused", ib_cmdline_split(big, &v, &n, &e) == -E2BIG && strstr(e.msg, "longer"));
}

static void test_bootreq(void) {
        struct ib_bootreq r;
        struct ib_err e = {};

        REQUIRE("bootreq: ours", ib_bootreq_parse("quiet inetboot.url=http://a/x.iso.manifest inetboot.url=https://b/x.iso "
                                                  "inetboot.entry=2 inetboot.cache=LABEL=C console=ttyS0,115200 ip=dhcp "
                                                  "inetboot.insecure root=/dev/sda", &r, &e) == 0);
        CHECK("bootreq: two URLs in order", r.n_urls == 2 && strcmp(r.urls[0], "http://a/x.iso.manifest") == 0 &&
              strcmp(r.urls[1], "https://b/x.iso") == 0);
        CHECK("bootreq: entry", r.entry && strcmp(r.entry, "2") == 0);
        CHECK("bootreq: cache keeps '='", r.cache && strcmp(r.cache, "LABEL=C") == 0);
        CHECK("bootreq: insecure", r.insecure && !r.seed_form);
        CHECK("bootreq: TPM policy auto by default", r.tpm == IB_TPM_AUTO);
        CHECK("bootreq: console and ip carried", r.n_carry == 2 && strcmp(r.carry[0], "console=ttyS0,115200") == 0 &&
              strcmp(r.carry[1], "ip=dhcp") == 0);
        ib_bootreq_clear(&r);

        REQUIRE("bootreq: seeds' netdir", ib_bootreq_parse("netdir=http://10.0.2.2/knoppix.iso type=iso", &r, &e) == 0);
        CHECK("bootreq: netdir is a URL, seed form", r.n_urls == 1 && r.seed_form && !r.insecure);
        CHECK("bootreq: the seeds' type=iso names no family", r.family == NULL);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: type=casper", ib_bootreq_parse("netdir=http://h/u.iso type=casper", &r, &e) == 0);
        CHECK("bootreq: type= names the family", r.family && strcmp(r.family, "casper") == 0);
        ib_bootreq_clear(&r);
        CHECK("bootreq: type= with a family we do not know is an error naming the families",
              ib_bootreq_parse("netdir=http://h/u.iso type=ubuntu", &r, &e) < 0 && strstr(e.msg, "type=") &&
              strstr(e.msg, "knoppix"));
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: seeds' httpfuse", ib_bootreq_parse("httpfuse=http://h/i.iso", &r, &e) == 0);
        CHECK("bootreq: httpfuse is a URL", r.n_urls == 1 && r.seed_form);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: nothing of ours", ib_bootreq_parse("root=/dev/sda1 ro", &r, &e) == 0);
        CHECK("bootreq: no URL", r.n_urls == 0 && !r.entry && !r.cache && !r.iscript);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: inetboot.cache=off after a cache", ib_bootreq_parse("inetboot.cache=LABEL=IBCACHE inetboot.cache=off", &r, &e) == 0);
        CHECK("bootreq: inetboot.cache=off: no cache", !r.cache);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: a cache after inetboot.cache=off", ib_bootreq_parse("inetboot.cache=off inetboot.cache=/c", &r, &e) == 0);
        CHECK("bootreq: the last one wins", r.cache && strcmp(r.cache, "/c") == 0);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: inetboot.tpm=required", ib_bootreq_parse("inetboot.tpm=required", &r, &e) == 0);
        CHECK("bootreq: TPM required", r.tpm == IB_TPM_REQUIRED);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: inetboot.tpm=off", ib_bootreq_parse("inetboot.tpm=off", &r, &e) == 0);
        CHECK("bootreq: TPM off", r.tpm == IB_TPM_OFF);
        ib_bootreq_clear(&r);
        CHECK("bootreq: inetboot.tpm=maybe refused", ib_bootreq_parse("inetboot.tpm=maybe", &r, &e) == -EINVAL &&
              strstr(e.msg, "auto, required or off"));
        CHECK("bootreq: the boot profile is prefetched by default", r.profile == IB_PROFILE_PREFETCH);
        REQUIRE("bootreq: inetboot.profile=record", ib_bootreq_parse("inetboot.profile=record", &r, &e) == 0);
        CHECK("bootreq: profile recorded", r.profile == IB_PROFILE_RECORD && r.n_carry == 0);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: inetboot.profile=off", ib_bootreq_parse("inetboot.profile=record inetboot.profile=off", &r, &e) == 0);
        CHECK("bootreq: profile off, the last one wins", r.profile == IB_PROFILE_OFF);
        ib_bootreq_clear(&r);
        CHECK("bootreq: inetboot.profile=yes refused", ib_bootreq_parse("inetboot.profile=yes", &r, &e) == -EINVAL &&
              strstr(e.msg, "prefetch, off or record"));
        REQUIRE("bootreq: no inetboot.cachefill=", ib_bootreq_parse("inetboot.cache=LABEL=IBCACHE", &r, &e) == 0);
        CHECK("bootreq: the cache fill is inetboot-httpfs' default", r.cache_fill == NULL);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: inetboot.cachefill=5", ib_bootreq_parse("inetboot.cachefill=off inetboot.cachefill=5", &r, &e) == 0);
        CHECK("bootreq: cache fill after 5 s, the last one wins, not carried", r.cache_fill && strcmp(r.cache_fill, "5") == 0 && r.n_carry == 0);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: inetboot.cachefill=off", ib_bootreq_parse("inetboot.cachefill=off", &r, &e) == 0);
        CHECK("bootreq: cache fill off", r.cache_fill && strcmp(r.cache_fill, "off") == 0);
        ib_bootreq_clear(&r);
        CHECK("bootreq: inetboot.cachefill=soon refused", ib_bootreq_parse("inetboot.cachefill=soon", &r, &e) == -EINVAL &&
              strstr(e.msg, "seconds (at most 86400) or off"));
        CHECK("bootreq: inetboot.cachefill=86401 refused", ib_bootreq_parse("inetboot.cachefill=86401", &r, &e) == -EINVAL);
        CHECK("bootreq: inetboot.cachefill= (a shell's word for it) refused", ib_bootreq_parse("inetboot.cachefill=1;reboot", &r, &e) == -EINVAL);
        REQUIRE("bootreq: seeds' bootxen=1", ib_bootreq_parse("netdir=http://h/x.iso bootxen=1", &r, &e) == 0);
        CHECK("bootreq: bootxen=1 prefers a hypervisor entry, not carried", r.bootxen && r.n_carry == 0);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: bootxen=0", ib_bootreq_parse("bootxen=1 bootxen=0", &r, &e) == 0);
        CHECK("bootreq: bootxen=0, the last one wins", !r.bootxen);
        ib_bootreq_clear(&r);
        REQUIRE("bootreq: no bootxen=", ib_bootreq_parse("root=/dev/sda1", &r, &e) == 0);
        CHECK("bootreq: no hypervisor preference by default", !r.bootxen);
        ib_bootreq_clear(&r);
        CHECK("bootreq: bootxen=yes refused", ib_bootreq_parse("bootxen=yes", &r, &e) == -EINVAL && strstr(e.msg, "1 or 0"));
        REQUIRE("bootreq: iscript", ib_bootreq_parse("iscript=http://h/s.sh", &r, &e) == 0);
        CHECK("bootreq: iscript kept", r.iscript && strcmp(r.iscript, "http://h/s.sh") == 0);
        ib_bootreq_clear(&r);

        CHECK("bootreq: ftp refused", ib_bootreq_parse("inetboot.url=ftp://h/x", &r, &e) == -EINVAL && strstr(e.msg, "http://"));
        CHECK("bootreq: empty URL refused", ib_bootreq_parse("inetboot.url=", &r, &e) == -EINVAL);
        CHECK("bootreq: host-less URL refused", ib_bootreq_parse("inetboot.url=http://", &r, &e) == -EINVAL && strstr(e.msg, "no host"));
        CHECK("bootreq: URL with a blank refused", ib_bootreq_parse("\"inetboot.url=http://h/a b\"", &r, &e) == -EINVAL &&
              strstr(e.msg, "blank"));
        CHECK("bootreq: empty entry refused", ib_bootreq_parse("inetboot.entry=", &r, &e) == -EINVAL && strstr(e.msg, "empty"));
        CHECK("bootreq: iscript must be http", ib_bootreq_parse("iscript=/x", &r, &e) == -EINVAL);

        char many[2048] = "";
        for (unsigned i = 0; i <= IB_CMDLINE_MAX_URLS; i++)
                strcat(many, "inetboot.url=http://h/x ");
        CHECK("bootreq: too many URLs refused", ib_bootreq_parse(many, &r, &e) == -E2BIG);
}

static void test_url_pair(void) {
        char *m = NULL, *i = NULL;

        CHECK("url: manifest", ib_url_is_manifest("http://h/a.iso.manifest"));
        CHECK("url: manifest with a query", ib_url_is_manifest("http://h/a.iso.manifest?x=1"));
        CHECK("url: image", !ib_url_is_manifest("http://h/a.iso"));
        CHECK("url: '.manifest' in the query only is no manifest", !ib_url_is_manifest("http://h/a.iso?f=.manifest"));
        REQUIRE("url: pair of a manifest URL", ib_url_pair("http://h/a.iso.manifest?t=1", &m, &i) == 0);
        CHECK("url: manifest stays", strcmp(m, "http://h/a.iso.manifest?t=1") == 0);
        CHECK("url: image beside it keeps the query", strcmp(i, "http://h/a.iso?t=1") == 0);
        free(m);
        free(i);
        REQUIRE("url: pair of an image URL", ib_url_pair("http://h/a.iso", &m, &i) == 0);
        CHECK("url: manifest is URL.manifest", strcmp(m, "http://h/a.iso.manifest") == 0 && strcmp(i, "http://h/a.iso") == 0);
        free(m);
        free(i);
}

/* The suggestion for @key, or "" when there is none. */
static const char *suggest(const char *key) {
        const struct ib_cmdline_word *w = ib_cmdline_suggest(key, strlen(key));

        return w ? w->name : "";
}

static void test_table(void) {
        bool unique = true, described = true, ids = true, read = true, strict_ours = true, choices = true;

        for (size_t i = 0; i < ib_cmdline_n_words; i++) {
                const struct ib_cmdline_word *w = &ib_cmdline_words[i];

                for (size_t k = i + 1; k < ib_cmdline_n_words; k++)
                        unique = unique && strcmp(w->name, ib_cmdline_words[k].name) != 0 && w->id != ib_cmdline_words[k].id;
                described = described && w->what && strlen(w->what) > 10 && w->what[strlen(w->what) - 1] == '.';
                ids = ids && ib_cmdline_word_find(w->name, strlen(w->name)) == w;
                read = read && w->readers != 0;
                strict_ours = strict_ours && (!w->strict || strncmp(w->name, "inetboot.", 9) == 0);
                choices = choices && (!w->choices || w->choices[0]);
        }
        CHECK("words: each name and id once", unique);
        CHECK("words: each has a sentence", described);
        CHECK("words: each is found by its name", ids);
        CHECK("words: each has a reader", read);
        CHECK("words: the strict ones are ours", strict_ours);
        CHECK("words: no empty choice list", choices);
        CHECK("words: found by the key alone", ib_cmdline_word_find("inetboot.entry=3", 14) &&
              ib_cmdline_word_find("inetboot.entry=3", 14)->id == IB_W_ENTRY);
        CHECK("words: a prefix is not a word", !ib_cmdline_word_find("inetboot.ent", 12));
        CHECK("words: the preboot's are known", ib_cmdline_word_find("inetboot.shell", 14) &&
              ib_cmdline_word_find("inetboot.menu", 13) && ib_cmdline_word_find("inetboot.kexec", 14));
        CHECK("words: the hook's ip= is known", ib_cmdline_word_find("ip", 2) &&
              (ib_cmdline_word_find("ip", 2)->readers & IB_WORD_HOOK));
        CHECK("words: the TPM policy is strict", ib_cmdline_word_find("inetboot.tpm", 12)->strict);
}

static void test_suggest(void) {
        CHECK("suggest: entrry -> entry", strcmp(suggest("inetboot.entrry"), "inetboot.entry") == 0);
        CHECK("suggest: a swap is one edit (tmp -> tpm)", strcmp(suggest("inetboot.tmp"), "inetboot.tpm") == 0);
        CHECK("suggest: case aside (URL -> url)", strcmp(suggest("inetboot.URL"), "inetboot.url") == 0);
        CHECK("suggest: a letter short (cach -> cache)", strcmp(suggest("inetboot.cach"), "inetboot.cache") == 0);
        CHECK("suggest: the nearest (cachefil -> cachefill, not cache)", strcmp(suggest("inetboot.cachefil"), "inetboot.cachefill") == 0);
        CHECK("suggest: two edits in a long name (profle -> profile)", strcmp(suggest("inetboot.proffle"), "inetboot.profile") == 0 &&
              strcmp(suggest("inetboot.prfoile"), "inetboot.profile") == 0);
        CHECK("suggest: a short name takes one edit only (ip is not tpm)", !*suggest("inetboot.ip"));
        CHECK("suggest: a prefix (ent -> entry)", strcmp(suggest("inetboot.ent"), "inetboot.entry") == 0);
        CHECK("suggest: a name and more (cachesize -> cache)", strcmp(suggest("inetboot.cachesize"), "inetboot.cache") == 0);
        CHECK("suggest: too short a prefix is none (in)", !*suggest("inetboot.in"));
        CHECK("suggest: the prefix misspelt (inetbot.url)", strcmp(suggest("inetbot.url"), "inetboot.url") == 0 &&
              strcmp(suggest("inetboot_entry"), "inetboot.entry") == 0);
        CHECK("suggest: nothing near (key)", !*suggest("inetboot.key"));
        CHECK("suggest: a name with a dash (allowrollback -> allow-rollback)",
              strcmp(suggest("inetboot.allowrollback"), "inetboot.allow-rollback") == 0);
        CHECK("suggest: the kernel's words are not ours", !*suggest("root") && !*suggest("quiet") && !*suggest("console") &&
              !*suggest("init") && !*suggest("rd.live.image"));
        CHECK("suggest: a long key is near nothing", !*suggest("inetboot.entryaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_notes(void) {
        struct ib_bootreq r;
        struct ib_err e = {};
        char many[1024] = "";

        REQUIRE("notes: a typo does not stop the boot", ib_bootreq_parse("inetboot.url=http://h/x.iso inetboot.entrry=3 "
                                                                         "inetboot.entrry=4", &r, &e) == 0);
        CHECK("notes: the typo is reported once, with the word meant", r.n_notes == 1 &&
              strcmp(r.notes[0], "unknown option inetboot.entrry; did you mean inetboot.entry?") == 0);
        CHECK("notes: the typo is not taken for the word (entry 1 boots)", !r.entry);
        ib_bootreq_clear(&r);
        REQUIRE("notes: an unknown word without a near one", ib_bootreq_parse("inetboot.frobnicate=1", &r, &e) == 0);
        CHECK("notes: ... says where the known ones are", r.n_notes == 1 && strstr(r.notes[0], "unknown option inetboot.frobnicate (") &&
              strstr(r.notes[0], "--help"));
        ib_bootreq_clear(&r);
        REQUIRE("notes: the prefix misspelt", ib_bootreq_parse("inetbot.url=http://h/x.iso", &r, &e) == 0);
        CHECK("notes: ... is reported, not taken", r.n_notes == 1 && r.n_urls == 0 &&
              strcmp(r.notes[0], "unknown option inetbot.url; did you mean inetboot.url?") == 0);
        ib_bootreq_clear(&r);
        REQUIRE("notes: the kernel's and the preboot's words", ib_bootreq_parse("BOOT_IMAGE=/vmlinuz quiet splash ro root=/dev/sda "
                                                                                 "rd.live.image init=/bin/sh inetboot.shell "
                                                                                 "inetboot.menu=url inetboot.kexec=load "
                                                                                 "inetboot.cache=off inetboot.insecure=1 "
                                                                                 "inetboot.allow-rollback "
                                                                                 "console=ttyS0 ip=dhcp", &r, &e) == 0);
        CHECK("notes: ... none", r.n_notes == 0 && r.insecure && r.allow_rollback && r.n_carry == 2);
        ib_bootreq_clear(&r);
        REQUIRE("notes: forms a word does not take", ib_bootreq_parse("inetboot.shell=1 inetboot.entry inetboot.kexec=lod "
                                                                      "inetboot.insecure=0 console", &r, &e) == 0);
        CHECK("notes: a flag with a value", r.n_notes == 4 && strcmp(r.notes[0], "'inetboot.shell=1': inetboot.shell takes no value; ignored") == 0);
        CHECK("notes: a word without its value", r.n_notes == 4 &&
              strcmp(r.notes[1], "'inetboot.entry' takes a value: inetboot.entry=LABEL; ignored") == 0 && !r.entry);
        CHECK("notes: a preboot word's value not among its choices", r.n_notes == 4 &&
              strcmp(r.notes[2], "'inetboot.kexec=lod': inetboot.kexec= takes load; ignored") == 0);
        CHECK("notes: inetboot.insecure=0 is not insecure", r.n_notes == 4 && !r.insecure && strstr(r.notes[3], "(or =1)"));
        CHECK("notes: 'console' alone is not carried", r.n_carry == 0);
        ib_bootreq_clear(&r);
        for (unsigned i = 0; i < 2 * IB_CMDLINE_MAX_NOTES; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), "inetboot.x%u=1 ", i);
        REQUIRE("notes: many unknown words", ib_bootreq_parse(many, &r, &e) == 0);
        CHECK("notes: ... at most IB_CMDLINE_MAX_NOTES", r.n_notes == IB_CMDLINE_MAX_NOTES);
        ib_bootreq_clear(&r);

        CHECK("notes: a misspelt TPM policy stops the boot", ib_bootreq_parse("inetboot.url=http://h/x inetboot.tmp=required", &r, &e) == -EINVAL &&
              strstr(e.msg, "unknown option inetboot.tmp; did you mean inetboot.tpm?") && strstr(e.msg, "stops the boot"));
        CHECK("notes: ... as does its prefix misspelt", ib_bootreq_parse("inetbot.tpm=required", &r, &e) == -EINVAL);
        CHECK("notes: ... and the word without its value", ib_bootreq_parse("inetboot.tpm", &r, &e) == -EINVAL &&
              strstr(e.msg, "takes a value: inetboot.tpm=POLICY"));
}

/* @path under $IB_SRCDIR (else the working directory) into @buf. */
static const char *src_path(char *buf, size_t size, const char *path) {
        const char *src = getenv("IB_SRCDIR");

        snprintf(buf, size, "%s%s%s", src ? src : "", src ? "/" : "", path);
        return buf;
}

/* The file at @path, roff's "\-" read as "-" (a man page's inetboot.allow\-rollback). */
static char *read_text(const char *path) {
        char *text = NULL, *to;
        size_t len;

        if (ib_read_file(path, 4u << 20, &text, &len) < 0)
                return NULL;
        to = text;
        for (const char *p = text; *p; p++)
                if (!(p[0] == '\\' && p[1] == '-'))
                        *to++ = *p;
        *to = 0;
        return text;
}

/* The row of docs/cmdline.md's table for @w. */
static void doc_row(const struct ib_cmdline_word *w, char *buf, size_t size) {
        static const char *const reader_names[] = { "agent", "preboot", "hook" };
        char value[256] = "", readers[64] = "";
        size_t k;

        if (w->choices) {
                k = (size_t)snprintf(value, sizeof(value), "%s", w->value ? "" : "none, or ");
                for (size_t i = 0; w->choices[i] && k < sizeof(value); i++)
                        k += (size_t)snprintf(value + k, sizeof(value) - k, "%s`%s`", i == 0 ? "" : w->choices[i + 1] ? ", " : " or ",
                                              w->choices[i]);
        } else
                snprintf(value, sizeof(value), "%s", w->value ? "any" : "none");
        k = 0;
        for (size_t i = 0; i < ELEMENTSOF(reader_names); i++)
                if (w->readers & (1u << i))
                        k += (size_t)snprintf(readers + k, sizeof(readers) - k, "%s%s", k ? ", " : "", reader_names[i]);
        snprintf(buf, size, "| `%s%s%s` | %s | %s | %s%s%s |", w->name, w->value ? "=" : "", w->value ? w->value : "", value,
                 readers, w->what, w->carried ? " The agent passes it on to the booted kernel." : "",
                 w->strict ? " A misspelling of it stops the boot." : "");
}

/* docs/cmdline.md's table is the table, row for row; on a difference the rows expected are printed. */
static void test_docs_table(void) {
        char path[4096], row[2048];
        char *text = read_text(src_path(path, sizeof(path), "docs/cmdline.md"));
        const char *p, *end;
        size_t i = 0;
        bool same = true;

        REQUIRE("docs: docs/cmdline.md is there", text);
        p = strstr(text, "\n| word |");
        REQUIRE("docs: docs/cmdline.md has the table of the words", p);
        p = strchr(strchr(p + 1, '\n') + 1, '\n');      /* past the header and its rule */
        for (p = p ? p + 1 : NULL; p && *p == '|'; p = end + 1, i++) {
                end = strchr(p, '\n');
                if (!end)
                        end = p + strlen(p);
                if (i >= ib_cmdline_n_words)
                        break;
                doc_row(&ib_cmdline_words[i], row, sizeof(row));
                if (strlen(row) != (size_t)(end - p) || strncmp(row, p, (size_t)(end - p)) != 0) {
                        printf("# docs/cmdline.md row %zu differs from ib_cmdline_words[]:\n#   doc:   %.*s\n#   table: %s\n", i + 1,
                               (int)(end - p), p, row);
                        same = false;
                }
                if (!*end)
                        break;
        }
        if (!same || i != ib_cmdline_n_words) {
                printf("# docs/cmdline.md has %zu rows, the table %zu; the rows, from the table:\n", i, ib_cmdline_n_words);
                for (size_t k = 0; k < ib_cmdline_n_words; k++) {
                        doc_row(&ib_cmdline_words[k], row, sizeof(row));
                        printf("%s\n", row);
                }
        }
        CHECK("docs: docs/cmdline.md's table is ib_cmdline_words[], row for row", same && i == ib_cmdline_n_words);
        free(text);
}

/*
 * Every inetboot.NAME that the docs, the man pages and the preboot's scripts
 * mention is a word of the table (file names aside), and the agent's man page
 * describes each word of ours.
 */
static void test_docs_mention(void) {
        static const char *const patterns[] = { "README.md", "docs/*.md", "initramfs/*", "src/*/*.1", "attest/*.1", "src/try/inetboot-try" };
        static const char *const files[] = { "inetboot.iso", "inetboot.ipxe", "inetboot.keyring" };
        char path[4096], *man;
        regex_t re;
        size_t n_files = 0;
        bool known = true, described = true;

        REQUIRE("docs: the regex", regcomp(&re, "inetboot\\.[A-Za-z_]+(-[A-Za-z_]+)*", REG_EXTENDED) == 0);
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++) {
                glob_t g;

                if (glob(src_path(path, sizeof(path), patterns[i]), 0, NULL, &g) != 0)
                        continue;
                for (size_t f = 0; f < g.gl_pathc; f++) {
                        size_t pl = strlen(g.gl_pathv[f]);
                        char *text;
                        regmatch_t m;

                        /* docs/cmdline.md shows misspellings; its table is checked row for row above. */
                        if (pl >= 15 && strcmp(g.gl_pathv[f] + pl - 15, "docs/cmdline.md") == 0)
                                continue;
                        text = read_text(g.gl_pathv[f]);
                        if (!text)
                                continue;
                        n_files++;
                        for (const char *p = text; regexec(&re, p, 1, &m, 0) == 0; p += m.rm_eo) {
                                size_t len = (size_t)(m.rm_eo - m.rm_so);
                                bool file = false;

                                for (size_t k = 0; k < ELEMENTSOF(files); k++)
                                        file = file || (strlen(files[k]) == len && strncmp(p + m.rm_so, files[k], len) == 0);
                                char before = p + m.rm_so > text ? p[m.rm_so - 1] : ' ';

                                if (isalnum((unsigned char)before) || before == '_')
                                        continue;       /* libinetboot.a */
                                if (!file && !ib_cmdline_word_find(p + m.rm_so, len)) {
                                        printf("# %s mentions %.*s, which is no word of ib_cmdline_words[]\n", g.gl_pathv[f],
                                               (int)len, p + m.rm_so);
                                        known = false;
                                }
                        }
                        free(text);
                }
                globfree(&g);
        }
        regfree(&re);
        CHECK("docs: the files to look through are there", n_files >= 10);
        CHECK("docs: every inetboot.NAME the docs, man pages and scripts mention is a known word", known);
        man = read_text(src_path(path, sizeof(path), "src/agent/inetboot-agent.1"));
        REQUIRE("docs: the agent's man page", man);
        for (size_t i = 0; i < ib_cmdline_n_words; i++) {
                char bi[128], b[128];
                const struct ib_cmdline_word *w = &ib_cmdline_words[i];

                if (w->carried)
                        continue;
                /* ".BI inetboot.url= URL", ".B inetboot.kexec=load", ".B inetboot.shell" */
                snprintf(bi, sizeof(bi), "\n.BI %s= ", w->name);
                snprintf(b, sizeof(b), "\n.B %s%s", w->name, w->value ? "=" : "\n");
                if (!strstr(man, b) && !(w->value && strstr(man, bi))) {
                        printf("# inetboot-agent.1 has no item for %s\n", w->name);
                        described = false;
                }
        }
        CHECK("docs: inetboot-agent(1) has an item for each word", described);
        free(man);
}

int main(void) {
        test_split();
        test_bootreq();
        test_url_pair();
        test_table();
        test_suggest();
        test_notes();
        test_docs_table();
        test_docs_mention();
        UNIT_EXIT();
}
