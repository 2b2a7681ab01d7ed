/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The trust state: expiry, rollback floors, the time floor, the file's strict form. */
#include <errno.h>
#include <sys/stat.h>

#include "state.h"
#include "unit.h"

static const uint8_t key_a[32] = { 0xaa }, key_b[32] = { 0xbb };

static void expect_corrupt(const char *name, const char *text) {
        struct ib_state *s = NULL;
        struct ib_err e = {};

        CHECK(name, ib_state_parse(text, strlen(text), &s, &e) == -EBADMSG && e.code == IB_STATE_ECORRUPT && e.msg[0] && !s);
}

int main(void) {
        struct ib_manifest m = { .name = "live.iso", .serial = 200, .created = 1766000000 };
        struct ib_state *s = calloc(1, sizeof(*s)), *back = NULL;
        struct ib_state_notes n;
        struct ib_err e = {};
        char dir[] = "/tmp/test-state-XXXXXX", *text, path[64];
        size_t len;

        /* Expiry: judged with the clock, never before what was seen signed. */
        m.expires = 1767000000;
        CHECK("before its expiry: accepted", ib_state_judge(NULL, key_a, &m, 1766500000, 0, &n, &e) == 0 && !n.clock_behind);
        CHECK("at its expiry: refused", ib_state_judge(NULL, key_a, &m, 1767000000, 0, &n, &e) == -EKEYEXPIRED &&
              e.code == IB_STATE_EEXPIRED && strstr(e.msg, "expired on 2025-12-29 09:20:00 UTC"));
        CHECK("a clock before the manifest's creation is taken as that creation",
              ib_state_judge(NULL, key_a, &m, 100, 0, &n, &e) == 0 && n.clock_behind && n.now == m.created);
        s->time_floor = 1767100000;
        CHECK("a dead RTC does not bring an expired manifest back (time floor)",
              ib_state_judge(s, key_a, &m, 0, 0, &n, &e) == -EKEYEXPIRED && strstr(e.msg, "the clock is behind"));
        s->time_floor = 0;
        m.expires = 0;
        CHECK("no expiry (version 1): accepted at any time", ib_state_judge(NULL, key_a, &m, UINT64_C(1) << 40, 0, &n, &e) == 0);

        /* Rollback. */
        CHECK("first manifest: accepted, recorded", ib_state_judge(s, key_a, &m, 1766100000, 0, &n, &e) == 0 && n.changed &&
              s->n_recs == 1 && s->recs[0].serial == 200 && s->time_floor == 1766000000);
        CHECK("the same again: nothing to save", ib_state_judge(s, key_a, &m, 1766100001, 0, &n, &e) == 0 && !n.changed);
        m.serial = 100;
        m.created = 1765000000;
        CHECK("a lower serial: refused", ib_state_judge(s, key_a, &m, 1766200000, 0, &n, &e) == -ESTALE &&
              e.code == IB_STATE_EROLLBACK && strstr(e.msg, "serial 100, older than serial 200 accepted on 2025-12-18"));
        CHECK("... and the floor is unchanged", s->recs[0].serial == 200);
        CHECK("the same serial under another key is another image",
              ib_state_judge(s, key_b, &m, 1766200000, 0, &n, &e) == 0 && s->n_recs == 2);
        CHECK("the owner's override takes it and lowers the floor",
              ib_state_judge(s, key_a, &m, 1766300000, IB_STATE_ALLOW_ROLLBACK, &n, &e) == 0 && n.rolled_back &&
              n.old_serial == 200 && s->recs[0].serial == 100 && s->recs[0].seen == 1766300000);
        CHECK("the time floor never goes down", s->time_floor == 1766000000);
        m.serial = 300;
        CHECK("a higher serial: accepted", ib_state_judge(s, key_a, &m, 1766400000, 0, &n, &e) == 0 && s->recs[0].serial == 300);

        /* The file: round trip, durable replace, strict reading. */
        REQUIRE("a scratch dir", mkdtemp(dir));
        struct ib_state *empty = NULL;
        CHECK("no file is an empty state", ib_state_load(dir, &empty, &e) == 0 && empty->n_recs == 0 && empty->time_floor == 0);
        ib_state_free(empty);
        REQUIRE("save", ib_state_save(s, dir, &e) == 0);
        REQUIRE("load", ib_state_load(dir, &back, &e) == 0);
        CHECK("what was saved is read back", back->n_recs == 2 && back->recs[0].serial == 300 &&
              memcmp(back->recs[1].key_id, key_b, 32) == 0 && back->time_floor == s->time_floor &&
              strcmp(back->recs[1].name, "live.iso") == 0);
        REQUIRE("format", ib_state_format(back, &text, &len) == 0);
        CHECK("the text form", strncmp(text, "inetboot-trust-state 1\ntime-floor 1766000000\nserial aa00", 56) == 0 &&
              strstr(text, " 300 1766400000 live.iso\nserial bb00"));
        free(text);
        ib_state_free(back);
        snprintf(path, sizeof(path), "%s/trust-state", dir);
        FILE *f = fopen(path, "a");
        fputs("garbage\n", f);
        fclose(f);
        CHECK("a damaged file is an error naming it", ib_state_load(dir, &back, &e) == -EBADMSG && strstr(e.msg, path) &&
              strstr(e.msg, "line 5"));
        unlink(path);
        rmdir(dir);

        expect_corrupt("empty", "");
        expect_corrupt("no time floor", "inetboot-trust-state 1\n");
        expect_corrupt("other magic", "inetboot-trust-state 2\ntime-floor 0\n");
        expect_corrupt("no final newline", "inetboot-trust-state 1\ntime-floor 0");
        expect_corrupt("leading zero", "inetboot-trust-state 1\ntime-floor 01\n");
        expect_corrupt("short key", "inetboot-trust-state 1\ntime-floor 0\nserial abcd 1 1 x.iso\n");
        expect_corrupt("upper-case key", "inetboot-trust-state 1\ntime-floor 0\nserial "
                       "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB 1 1 x.iso\n");
        expect_corrupt("name with a slash", "inetboot-trust-state 1\ntime-floor 0\nserial "
                       "abababababababababababababababababababababababababababababababab 1 1 a/x.iso\n");
        expect_corrupt("twice", "inetboot-trust-state 1\ntime-floor 0\n"
                       "serial abababababababababababababababababababababababababababababababab 1 1 x.iso\n"
                       "serial abababababababababababababababababababababababababababababababab 2 1 x.iso\n");
        expect_corrupt("unknown line", "inetboot-trust-state 1\ntime-floor 0\nhello\n");

        /* At the bound the record accepted longest ago gives way. */
        struct ib_state *full = calloc(1, sizeof(*full));
        struct ib_manifest mm = { .serial = 1, .created = 1 };
        char name[32];
        int ok = 1;

        for (unsigned i = 0; i < IB_STATE_MAX_RECS + 1; i++) {
                snprintf(name, sizeof(name), "image-%u.iso", i);
                mm.name = name;
                ok &= ib_state_judge(full, key_a, &mm, 1000 + i, 0, &n, &e) == 0;
        }
        CHECK("bounded: 4096 records, the oldest dropped", ok && full->n_recs == IB_STATE_MAX_RECS &&
              strcmp(full->recs[0].name, "image-4096.iso") == 0);
        ib_state_free(full);

        /* The TPM's floors: they hold when the cache's state is wiped. */
        uint8_t nv[IB_STATE_NV_SIZE], nv2[IB_STATE_NV_SIZE];
        struct ib_state *wiped = calloc(1, sizeof(*wiped)), *again = calloc(1, sizeof(*again));

        ib_state_nv_export(s, nv);
        CHECK("the TPM's floors start with their magic and hold both images", memcmp(nv, "IBF1", 4) == 0 && nv[12] == 2);
        CHECK("a wiped state takes the TPM's floors", ib_state_nv_import(wiped, nv, sizeof(nv), &e) == 0 &&
              wiped->n_nv == 2 && wiped->time_floor == s->time_floor && wiped->n_recs == 0);
        m.serial = 250;
        CHECK("... and refuses a lower serial by them", ib_state_judge(wiped, key_a, &m, 1766500000, 0, &n, &e) == -ESTALE &&
              n.floor_from_tpm && strstr(e.msg, "older than serial 300 the TPM keeps as accepted before"));
        m.serial = 300;
        CHECK("the same serial: nothing for the TPM to write", ib_state_judge(wiped, key_a, &m, 1766500000, 0, &n, &e) == 0 &&
              !n.nv_changed && n.changed);
        m.serial = 400;
        CHECK("a higher serial: the TPM's floor rises", ib_state_judge(wiped, key_a, &m, 1766500000, 0, &n, &e) == 0 &&
              n.nv_changed && wiped->nv[0].serial == 400);
        ib_state_nv_export(wiped, nv2);
        CHECK("export, import, export: the same bytes", ib_state_nv_import(again, nv2, sizeof(nv2), &e) == 0 &&
              (ib_state_nv_export(again, nv), memcmp(nv, nv2, sizeof(nv)) == 0));
        nv2[12] = 31;
        CHECK("more than 30 records: damaged", ib_state_nv_import(again, nv2, sizeof(nv2), &e) == -EBADMSG);
        nv2[12] = 2;
        nv2[IB_STATE_NV_SIZE - 1] = 1;
        CHECK("bytes after the records: damaged", ib_state_nv_import(again, nv2, sizeof(nv2), &e) == -EBADMSG);
        nv2[IB_STATE_NV_SIZE - 1] = 0;
        memcpy(nv2 + 14 + 16, nv2 + 14, 8);
        CHECK("a tag twice: damaged", ib_state_nv_import(again, nv2, sizeof(nv2), &e) == -EBADMSG);
        CHECK("another magic: damaged", ib_state_nv_import(again, (const uint8_t[IB_STATE_NV_SIZE]){ 'X' }, IB_STATE_NV_SIZE, &e) ==
              -EBADMSG && strstr(e.msg, "not inetboot's"));
        for (unsigned i = 0; i < IB_STATE_NV_RECS + 5; i++) {
                snprintf(name, sizeof(name), "nv-%u.iso", i);
                mm.name = name;
                ib_state_judge(wiped, key_b, &mm, 2000, 0, &n, &e);
        }
        CHECK("the TPM keeps the 30 newest", wiped->n_nv == IB_STATE_NV_RECS);
        ib_state_free(wiped);
        ib_state_free(again);
        ib_state_free(s);
        UNIT_EXIT();
}
