/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manifest v1: round trip, canonical form, and one distinct error per class of fault. */
#include <errno.h>
#include <inttypes.h>

#include "manifest.h"
#include "unit.h"

/* A valid manifest text: 2 entries, 2 mirrors, a profile, @size bytes in blocks of @bs. */
static char *make_text(uint64_t size, uint32_t bs, size_t *len) {
        struct ib_manifest m = {
                .name = "test.iso", .size = size, .block_size = bs, .serial = 7, .created = 1763900000,
        };
        struct ib_file_ref initrds[2] = {
                { .path = "/live/initrd.img", .size = 1000 },
                { .path = "/live/extra.img", .size = 10 },
        };
        struct ib_entry entries[2] = {
                { .label = "Live system (amd64)", .family = "debian-live", .kernel = { .path = "/live/vmlinuz", .size = 500 },
                  .initrds = initrds, .n_initrds = 2, .cmdline = "boot=live components quiet" },
                { .label = "Xen", .family = "generic", .kernel = { .path = "/boot/vmlinuz", .size = 500 },
                  .cmdline = "", .has_hypervisor = true, .hypervisor = { .path = "/boot/xen.gz", .size = 300 },
                  .hypervisor_args = "dom0_mem=1G" },
        };
        char *urls[] = { "http://127.0.0.1/test.iso", "https://mirror.example/test.iso" };
        uint64_t profile[] = { 0, 1, 2, 5 };
        struct ib_err e = {};
        char *text;

        m.n_blocks = ib_manifest_block_count(size, bs);
        m.blocks = calloc(m.n_blocks, 32);
        for (uint64_t i = 0; i < m.n_blocks; i++)
                m.blocks[i][0] = (uint8_t)i, m.blocks[i][31] = 0xab;
        m.sha256[0] = 0x11;
        m.urls = urls, m.n_urls = 2;
        m.entries = entries, m.n_entries = 2;
        m.profile = profile, m.n_profile = m.n_blocks > 5 ? 4 : 0;
        if (ib_manifest_format(&m, &text, len, &e) < 0) {
                printf("# format failed: %s\n", e.msg);
                exit(1);
        }
        free(m.blocks);
        return text;
}

/* Replace the first occurrence of @from in @text by @to (new string). */
static char *edit(const char *text, const char *from, const char *to) {
        const char *p = strstr(text, from);
        char *out;

        if (!p) {
                printf("# edit: '%s' not found\n", from);
                exit(1);
        }
        out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
        sprintf(out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
        return out;
}

static void expect_error(const char *name, const char *text, size_t len, int code, unsigned line) {
        struct ib_manifest *m = NULL;
        struct ib_err e = {};
        int r = ib_manifest_parse(text, len, &m, &e);
        char buf[600];

        snprintf(buf, sizeof(buf), "%s -> code %d line %u (got %d line %u: %s)", name, code, line, e.code, e.line, e.msg);
        CHECK(buf, r < 0 && e.code == code && (line == 0 || e.line == line) && !m && e.msg[0]);
}

static void expect_edit(const char *name, const char *base, const char *from, const char *to, int code, unsigned line) {
        char *t = edit(base, from, to);

        expect_error(name, t, strlen(t), code, line);
        free(t);
}

int main(void) {
        struct ib_manifest *m = NULL, *big = NULL;
        struct ib_err e = {};
        size_t len, len2, blen;
        char *text = make_text(10 * 65536 + 123, 65536, &len), *again, *btext;

        /* Round trip. */
        REQUIRE("parse a formatted manifest", ib_manifest_parse(text, len, &m, &e) == 0);
        CHECK("name", strcmp(m->name, "test.iso") == 0);
        CHECK("size and block count", m->size == 10 * 65536 + 123 && m->n_blocks == 11 && m->block_size == 65536);
        CHECK("last block hash", m->blocks[10][0] == 10 && m->blocks[10][31] == 0xab);
        CHECK("mirrors", m->n_urls == 2 && strcmp(m->urls[1], "https://mirror.example/test.iso") == 0);
        CHECK("entries", m->n_entries == 2 && m->entries[0].n_initrds == 2 && m->entries[0].initrds[1].size == 10);
        CHECK("empty cmdline kept", strcmp(m->entries[1].cmdline, "") == 0);
        CHECK("hypervisor", m->entries[1].has_hypervisor && strcmp(m->entries[1].hypervisor_args, "dom0_mem=1G") == 0);
        CHECK("profile runs", m->n_profile == 4 && m->profile[3] == 5 && strstr(text, "profile 0-2 5\n"));
        REQUIRE("format again", ib_manifest_format(m, &again, &len2, &e) == 0);
        CHECK("canonical: format(parse(x)) == x", len2 == len && memcmp(again, text, len) == 0);
        free(again);
        ib_manifest_free(m);

        /* Over 4 GiB: 64-bit sizes and block indices. */
        btext = make_text(UINT64_C(5) << 30 | 77, 1u << 20, &blen);
        CHECK("5 GiB image parses", ib_manifest_parse(btext, blen, &big, &e) == 0 && big->size == (UINT64_C(5) << 30 | 77) &&
              big->n_blocks == 5121);
        ib_manifest_free(big);
        free(btext);

        /* One error per class. */
        expect_edit("unknown version", text, "inetboot-manifest 1", "inetboot-manifest 3", IB_MANIFEST_EVERSION, 1);

        /* Version 2: version 1 and an expiry, exactly one 'expires' after 'created'. */
        {
                struct ib_manifest *v2 = NULL;
                char *t2 = edit(text, "inetboot-manifest 1\n", "inetboot-manifest 2\n"), *t3, *again2;
                size_t l3;

                t3 = edit(t2, "created 1763900000\n", "created 1763900000\nexpires 1766500000\n");
                REQUIRE("a version 2 manifest parses", ib_manifest_parse(t3, strlen(t3), &v2, &e) == 0);
                CHECK("its expiry", v2->expires == 1766500000 && v2->created == 1763900000);
                REQUIRE("format it again", ib_manifest_format(v2, &again2, &l3, &e) == 0);
                CHECK("canonical: version 2 with its expiry", l3 == strlen(t3) && memcmp(again2, t3, l3) == 0);
                free(again2);
                v2->expires = 0;
                REQUIRE("format without expiry", ib_manifest_format(v2, &again2, &l3, &e) == 0);
                CHECK("... is version 1 again", l3 == len && memcmp(again2, text, len) == 0);
                free(again2);
                v2->expires = v2->created;
                CHECK("an expiry not after the creation is not formatted",
                      ib_manifest_format(v2, &again2, &l3, &e) < 0 && e.code == IB_MANIFEST_ERANGE);
                ib_manifest_free(v2);
                expect_edit("expires in version 1", text, "created 1763900000\n", "created 1763900000\nexpires 1766500000\n",
                            IB_MANIFEST_EUNKNOWN, 8);
                expect_error("version 2 without 'expires'", t2, strlen(t2), IB_MANIFEST_EMISSING, 8);
                expect_edit("expires twice", t3, "expires 1766500000\n", "expires 1766500000\nexpires 1766600000\n",
                            IB_MANIFEST_EDUPLICATE, 9);
                expect_edit("expires before created", t3, "expires 1766500000", "expires 1763800000", IB_MANIFEST_ERANGE, 8);
                expect_edit("expires out of place", t3, "created 1763900000\nexpires 1766500000\n",
                            "expires 1766500000\ncreated 1763900000\n", IB_MANIFEST_EMISSING, 7);
                expect_edit("url before expires", t3, "expires 1766500000\nurl http://127.0.0.1/test.iso\n",
                            "url http://127.0.0.1/test.iso\nexpires 1766500000\n", IB_MANIFEST_EMISSING, 8);
                free(t2);
                free(t3);
        }
        expect_edit("not a manifest", text, "inetboot-manifest 1", "hello world", IB_MANIFEST_EMAGIC, 1);
        expect_error("empty file", "", 0, IB_MANIFEST_EMAGIC, 0);
        expect_edit("duplicate name", text, "name test.iso\n", "name test.iso\nname other.iso\n", IB_MANIFEST_EDUPLICATE, 3);
        expect_edit("duplicate field in entry", text, "family debian-live\n", "family debian-live\nfamily generic\n",
                    IB_MANIFEST_EDUPLICATE, 0);
        expect_edit("missing serial", text, "serial 7\n", "", IB_MANIFEST_EMISSING, 6);
        expect_edit("misspelt field", text, "kernel 500 ", "kernle 500 ", IB_MANIFEST_EUNKNOWN, 0);
        expect_edit("entry without kernel", text, "entry Xen\nfamily generic\nkernel 500 ",
                    "entry Xen\nfamily generic\ninitrd 500 ", IB_MANIFEST_EMISSING, 0);
        expect_edit("unknown field", text, "serial 7\n", "serial 7\ncolour red\n", IB_MANIFEST_EUNKNOWN, 7);
        expect_edit("field out of place", text, "entry Xen\n", "url http://late.example/x.iso\nentry Xen\n", IB_MANIFEST_EORDER, 0);
        expect_edit("entry field outside an entry", text, "url http://127.0.0.1/test.iso\n", "family generic\n",
                    IB_MANIFEST_EORDER, 8);
        expect_edit("malformed number", text, "serial 7\n", "serial 7x\n", IB_MANIFEST_ENUMBER, 6);
        expect_edit("leading zero", text, "serial 7\n", "serial 07\n", IB_MANIFEST_ENUMBER, 6);
        expect_edit("64-bit overflow", text, "serial 7\n", "serial 18446744073709551616\n", IB_MANIFEST_ENUMBER, 6);
        expect_edit("block size not a power of two", text, "block-size 65536\n", "block-size 65535\n", IB_MANIFEST_ERANGE, 5);
        expect_edit("block size too small", text, "block-size 65536\n", "block-size 2048\n", IB_MANIFEST_ERANGE, 5);
        expect_edit("image size 0", text, "size 655483\n", "size 0\n", IB_MANIFEST_ERANGE, 3);
        expect_edit("image beyond 16 TiB", text, "size 655483\n", "size 17592186044417\n", IB_MANIFEST_ERANGE, 3);
        expect_edit("too many blocks", text, "size 655483\nsha256", "size 1099511627776\nsha256", IB_MANIFEST_ERANGE, 5);
        expect_edit("upper-case hash", text, "sha256 11", "sha256 1A", IB_MANIFEST_EHASH, 4);
        expect_edit("short hash", text, "sha256 1100", "sha256 11", IB_MANIFEST_EHASH, 4);
        expect_edit("block count mismatch", text, "blocks 11\n", "blocks 12\n", IB_MANIFEST_ECOUNT, 0);
        expect_edit("block count vs size", text, "size 655483\n", "size 655360\n", IB_MANIFEST_ECOUNT, 0);
        expect_edit("bad block hash", text, "0a000000", "0A000000", IB_MANIFEST_EHASH, 0);
        expect_edit("kernel larger than image", text, "kernel 500 ", "kernel 999999999 ", IB_MANIFEST_ERANGE, 0);
        expect_edit("relative path", text, "/live/vmlinuz", "live/vmlinuz", IB_MANIFEST_EVALUE, 0);
        expect_edit("dot-dot path", text, "/live/vmlinuz", "/live/../../vmlinuz", IB_MANIFEST_EVALUE, 0);
        expect_edit("non-HTTP URL", text, "http://127.0.0.1/", "ftp://127.0.0.1/", IB_MANIFEST_EVALUE, 8);
        expect_edit("name with slash", text, "name test.iso", "name a/test.iso", IB_MANIFEST_EVALUE, 2);
        expect_edit("duplicate URL", text, "url https://mirror.example/test.iso", "url http://127.0.0.1/test.iso",
                    IB_MANIFEST_EDUPLICATE, 9);
        expect_edit("duplicate label", text, "entry Xen", "entry Live system (amd64)", IB_MANIFEST_EDUPLICATE, 0);
        expect_edit("profile beyond the blocks", text, "profile 0-2 5", "profile 0-2 11", IB_MANIFEST_ERANGE, 0);
        expect_edit("profile not canonical (split run)", text, "profile 0-2 5", "profile 0-1 2 5", IB_MANIFEST_ESYNTAX, 0);
        expect_edit("profile not canonical (N-N)", text, "profile 0-2 5", "profile 0-2 5-5", IB_MANIFEST_ESYNTAX, 0);
        expect_edit("profile split over short lines", text, "profile 0-2 5", "profile 0-2\nprofile 5", IB_MANIFEST_ESYNTAX, 0);
        expect_edit("profile malformed", text, "profile 0-2 5", "profile 0--2 5", IB_MANIFEST_ENUMBER, 0);
        expect_edit("hypervisor-args without hypervisor", text, "cmdline boot=live components quiet\n",
                    "cmdline boot=live components quiet\nhypervisor-args x\n", IB_MANIFEST_EMISSING, 0);
        expect_edit("CR LF line end", text, "name test.iso\n", "name test.iso\r\n", IB_MANIFEST_ESYNTAX, 2);
        expect_edit("control byte", text, "name test.iso\n", "name te\x01st.iso\n", IB_MANIFEST_ESYNTAX, 2);
        expect_edit("double space", text, "name test.iso\n", "name  test.iso\n", IB_MANIFEST_ESYNTAX, 2);
        expect_edit("empty line", text, "serial 7\n", "serial 7\n\n", IB_MANIFEST_ESYNTAX, 7);
        expect_edit("missing blocks line", text, "blocks 11\n", "", IB_MANIFEST_EUNKNOWN, 0);
        expect_error("no final newline", text, len - 1, IB_MANIFEST_EMISSING, 0);
        expect_error("truncated after blocks line", text, (size_t)(strstr(text, "blocks 11\n") - text) + 10, IB_MANIFEST_EMISSING, 0);
        expect_error("truncated header", text, (size_t)(strstr(text, "serial") - text), IB_MANIFEST_EMISSING, 0);
        {
                char *t = malloc(len + 6);

                memcpy(t, text, len);
                memcpy(t + len, "junk\n", 5);
                expect_error("trailing garbage", t, len + 5, IB_MANIFEST_ETRAILING, 0);
                free(t);
        }
        {
                char *t = malloc(IB_MANIFEST_MAX_LINE + 64);

                memset(t, 'a', IB_MANIFEST_MAX_LINE + 63);
                memcpy(t, "inetboot-manifest 1\nname ", 25);
                t[IB_MANIFEST_MAX_LINE + 62] = '\n';
                expect_error("line too long", t, IB_MANIFEST_MAX_LINE + 63, IB_MANIFEST_ETOOBIG, 2);
                free(t);
        }
        {
                /* Nothing that is not a manifest may be accepted: every single-byte flip is caught. */
                unsigned caught = 0, total = 0;

                for (size_t i = 0; i < len; i += 7, total++) {
                        char *t = strdup(text);
                        struct ib_manifest *mm = NULL;

                        t[i] ^= 0x01;
                        if (ib_manifest_parse(t, len, &mm, NULL) < 0)
                                caught++;
                        else {
                                /* A flip that still parses must at least change what the manifest says. */
                                char *f;
                                size_t fl;

                                if (ib_manifest_format(mm, &f, &fl, NULL) == 0) {
                                        caught += fl != len || memcmp(f, text, len) != 0;
                                        free(f);
                                }
                                ib_manifest_free(mm);
                        }
                        free(t);
                }
                CHECK("every flipped byte is rejected or changes the manifest", caught == total);
        }
        CHECK("free(NULL) is safe", ib_manifest_free(NULL) == NULL);
        free(text);
        UNIT_EXIT();
}
