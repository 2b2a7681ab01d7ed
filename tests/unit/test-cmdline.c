/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

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

int main(void) {
        test_split();
        test_bootreq();
        test_url_pair();
        UNIT_EXIT();
}
