/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-eventlog: the TCG event log (eventlog.c), inetboot's measurements
 * (measure.c) and the quote file (attest.c) without a TPM.  Expected PCR
 * values were computed independently (Python's hashlib) from the inputs
 * written here.
 */
#include <errno.h>
#include <string.h>

#include "attest.h"
#include "eventlog.h"
#include "measure.h"
#include "unit.h"
#include "util.h"

static void hexeq(const char *name, const uint8_t *d, size_t n, const char *want) {
        char hex[65];

        ib_hex(d, n, hex);
        if (!CHECK(name, strcmp(hex, want) == 0))
                printf("#   got %s\n#  want %s\n", hex, want);
}

static const struct ib_measure_input input = {
        .image_name = "x.iso", .manifest = "manifest", .manifest_len = 8,
        .kernel_path = "/live/vmlinuz", .kernel = "kernel", .kernel_len = 6,
        .initrd_desc = "/live/initrd.img + inetboot", .initrd = "initrd", .initrd_len = 6,
        .cmdline = "console=ttyS0 rdinit=/inetboot/hook",
};

static void test_measure(void) {
        struct ib_eventlog log, back, other;
        uint8_t pcrs[IB_EVENTLOG_NUM_PCRS][32], start[IB_EVENTLOG_NUM_PCRS][32] = { { 0 } };
        uint8_t *buf;
        size_t len;
        uint32_t mask;
        struct ib_err e = {};
        struct ib_measure_input in2 = input;

        REQUIRE("measure: events of a boot", ib_measure_events(IB_ALG_SHA256, &input, NULL, &log) == 0);
        CHECK("measure: four events, no start annotations for zero PCRs", log.n == 4);
        CHECK("measure: manifest, kernel, initrd in PCR 9, command line in PCR 8",
              log.ev[0].pcr == 9 && log.ev[1].pcr == 9 && log.ev[2].pcr == 9 && log.ev[3].pcr == 8 &&
              log.ev[0].type == IB_EV_IPL && log.ev[3].type == IB_EV_IPL);
        CHECK("measure: the command line's data is GRUB's, NUL included",
              log.ev[3].data_len == strlen("kernel_cmdline: ") + strlen(input.cmdline) + 1 &&
              memcmp(log.ev[3].data, "kernel_cmdline: console=ttyS0", 29) == 0 && log.ev[3].data[log.ev[3].data_len - 1] == 0);
        hexeq("measure: kernel digest is SHA-256 of the kernel", log.ev[1].digest, 32,
              "6923dd1bc0460082c5d55a831908c24a282860b7f1cd6c2b79cf1bc8857c639c");
        ib_eventlog_replay(&log, NULL, pcrs, &mask);
        CHECK("replay: PCRs 8 and 9 extended", mask == IB_PCR_MASK);
        hexeq("replay: PCR 8", pcrs[8], 32, "ff73417e8162e6eb37ed4154dcf630d1296ea4941c4b56504eea5ff16e2ee438");
        hexeq("replay: PCR 9", pcrs[9], 32, "f3898bb37c734b1feddd85343adba94c667099608f2101a44fec68e650d52fa8");

        REQUIRE("serialize", ib_eventlog_serialize(&log, &buf, &len) == 0);
        REQUIRE("parse what was written", ib_eventlog_parse(buf, len, &back, &e) == 0);
        CHECK("round trip: same events", back.n == log.n && back.alg == IB_ALG_SHA256 &&
              memcmp(back.ev[2].digest, log.ev[2].digest, 32) == 0 && back.ev[3].data_len == log.ev[3].data_len);
        CHECK("compare: a log matches itself", ib_measure_compare(&back, &log, &e) == 0);
        for (size_t cut = 0; cut < len; cut += 7) {
                struct ib_eventlog t;
                int r = ib_eventlog_parse(buf, cut, &t, &e);

                if (r == 0 && cut != 0) {       /* a cut between records is a shorter, valid log */
                        ib_eventlog_clear(&t);
                        continue;
                }
                if (!CHECK("parse: a truncated log is refused (or whole records)", r == -EBADMSG))
                        break;
        }
        buf[30] ^= 1;
        CHECK("parse: a damaged Spec ID signature is refused",
              ib_eventlog_parse(buf, len, &other, &e) == -EBADMSG && strstr(e.msg, "Spec ID"));
        buf[30] ^= 1;
        free(buf);
        ib_eventlog_clear(&back);

        in2.kernel = "kernel2";
        in2.kernel_len = 7;
        REQUIRE("measure: another kernel", ib_measure_events(IB_ALG_SHA256, &in2, NULL, &other) == 0);
        CHECK("compare: another kernel is named", ib_measure_compare(&other, &log, &e) == -EBADMSG &&
              strstr(e.msg, "the kernel differs"));
        ib_eventlog_clear(&other);
        in2 = input;
        in2.cmdline = "console=ttyS0 rdinit=/bin/sh";
        REQUIRE("measure: another command line", ib_measure_events(IB_ALG_SHA256, &in2, NULL, &other) == 0);
        CHECK("compare: an edited command line is named", ib_measure_compare(&other, &log, &e) == -EBADMSG &&
              strstr(e.msg, "the command line differs") && strstr(e.msg, "rdinit=/bin/sh"));
        ib_eventlog_clear(&other);
        in2 = input;
        in2.hypervisor_path = "/boot/xen.gz";
        in2.hypervisor = "xen";
        in2.hypervisor_len = 3;
        in2.hypervisor_cmdline = "dom0_mem=512M";
        REQUIRE("measure: with a hypervisor", ib_measure_events(IB_ALG_SHA256, &in2, NULL, &other) == 0);
        CHECK("measure: the hypervisor is a fourth file event, in PCR 9, then two strings in PCR 8",
              other.n == 6 && other.ev[3].pcr == 9 && other.ev[4].pcr == 8 && other.ev[5].pcr == 8);
        CHECK("measure: the hypervisor event names its path",
              other.ev[3].data_len == strlen("inetboot-hypervisor: /boot/xen.gz") &&
              memcmp(other.ev[3].data, "inetboot-hypervisor: /boot/xen.gz", other.ev[3].data_len) == 0);
        hexeq("measure: hypervisor digest is SHA-256 of the file", other.ev[3].digest, 32,
              "f5199694a2f9853bdcbbb2a61453dd786d69a5f2eae14e9ddb7eaaaf2b232308");
        CHECK("measure: the hypervisor's command line, GRUB's way, NUL included",
              other.ev[5].data_len == strlen("hypervisor_cmdline: dom0_mem=512M") + 1 &&
              memcmp(other.ev[5].data, "hypervisor_cmdline: dom0_mem=512M", other.ev[5].data_len) == 0);
        hexeq("measure: its digest is SHA-256 of the line", other.ev[5].digest, 32,
              "728e338323a4965dbffc79641f957de4622107644a8fbd64471219bc68e487c4");
        CHECK("compare: a log with a hypervisor matches itself", ib_measure_compare(&other, &other, &e) == 0);
        {
                struct ib_eventlog third;
                struct ib_measure_input in3 = in2;

                in3.hypervisor_cmdline = "dom0_mem=4G";
                REQUIRE("measure: another hypervisor command line", ib_measure_events(IB_ALG_SHA256, &in3, NULL, &third) == 0);
                CHECK("compare: an edited hypervisor command line is named", ib_measure_compare(&third, &other, &e) == -EBADMSG &&
                      strstr(e.msg, "the hypervisor's command line differs") && strstr(e.msg, "dom0_mem=4G"));
                ib_eventlog_clear(&third);
                in3 = in2;
                in3.hypervisor = "xem";
                REQUIRE("measure: another hypervisor", ib_measure_events(IB_ALG_SHA256, &in3, NULL, &third) == 0);
                CHECK("compare: another hypervisor is named", ib_measure_compare(&third, &other, &e) == -EBADMSG &&
                      strstr(e.msg, "the hypervisor differs"));
                ib_eventlog_clear(&third);
        }
        CHECK("compare: an unexpected hypervisor is named", ib_measure_compare(&other, &log, &e) == -EBADMSG &&
              strstr(e.msg, "the hypervisor"));
        CHECK("compare: a missing hypervisor is named", ib_measure_compare(&log, &other, &e) == -EBADMSG &&
              strstr(e.msg, "the hypervisor"));
        ib_eventlog_clear(&other);

        start[9][0] = 0xaa;
        REQUIRE("measure: PCR 9 not zero before", ib_measure_events(IB_ALG_SHA256, &input, (const uint8_t (*)[32])start,
                                                                   &other) == 0);
        CHECK("measure: one start annotation, for PCR 9, not extended",
              other.n == 5 && other.ev[0].type == IB_EV_NO_ACTION && other.ev[0].pcr == 9);
        {
                uint8_t got[IB_EVENTLOG_NUM_PCRS][32];

                CHECK("start values read back", ib_measure_start(&other, got, &e) == 0 && got[9][0] == 0xaa &&
                      got[8][0] == 0);
        }
        CHECK("compare: start annotations are not measurements", ib_measure_compare(&other, &log, &e) == 0);
        ib_eventlog_clear(&other);

        REQUIRE("measure: SHA-1 bank (TPM 1.2)", ib_measure_events(IB_ALG_SHA1, &input, NULL, &other) == 0);
        ib_eventlog_replay(&other, NULL, pcrs, &mask);
        hexeq("replay: PCR 9, SHA-1", pcrs[9], 20, "9f8d84f1b39d8b4c673e90292876a0ae5cb4ac0c");
        CHECK("compare: another bank is refused", ib_measure_compare(&other, &log, &e) == -EBADMSG &&
              strstr(e.msg, "bank"));
        ib_eventlog_clear(&other);
        ib_eventlog_clear(&log);
}

static void test_quotefile(void) {
        struct ib_quotefile qf = {}, back;
        struct ib_err e = {};
        char *text;

        qf.q.family = IB_TPM_20;
        qf.q.mask = IB_PCR_MASK;
        memset(qf.q.pcrs[8], 0x08, 32);
        memset(qf.q.pcrs[9], 0x09, 32);
        memcpy(qf.q.nonce, "0123456789abcdef", 16);
        qf.q.nonce_len = 16;
        qf.q.attest = (uint8_t *) strdup("attest");
        qf.q.attest_len = 6;
        qf.q.sig = (uint8_t *) strdup("sig");
        qf.q.sig_len = 3;
        qf.q.ak_pem = strdup("-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n");
        qf.eventlog = (uint8_t *) strdup("log");
        qf.eventlog_len = 3;
        REQUIRE("quote file: written", ib_quotefile_format(&qf, &text) == 0);
        CHECK("quote file: starts with its magic and the TPM version", strncmp(text, "inetboot-quote 1\ntpm 2.0\n", 25) == 0);
        REQUIRE("quote file: read back", ib_quotefile_parse(text, strlen(text), &back, &e) == 0);
        CHECK("quote file: same contents", back.q.family == IB_TPM_20 && back.q.mask == IB_PCR_MASK &&
              back.q.pcrs[9][31] == 0x09 && back.q.nonce_len == 16 && back.q.attest_len == 6 &&
              strcmp(back.q.ak_pem, qf.q.ak_pem) == 0 && back.eventlog_len == 3);
        ib_quotefile_clear(&back);
        {
                size_t n = strlen(text);
                char *more = malloc(n + 8);

                memcpy(more, text, n);
                memcpy(more + n, "junk 1\n", 8);
                CHECK("quote file: trailing lines refused", ib_quotefile_parse(more, n + 7, &back, &e) == -EBADMSG &&
                      strstr(e.msg, "follows"));
                free(more);
        }
        {
                char *swapped = strdup(text), *p8 = strstr(swapped, "pcr 8"), *p9 = strstr(swapped, "pcr 9");

                p8[4] = '9';
                p9[4] = '8';
                CHECK("quote file: PCRs out of order refused", ib_quotefile_parse(swapped, strlen(swapped), &back, &e) ==
                      -EBADMSG && strstr(e.msg, "ascending"));
                free(swapped);
        }
        CHECK("quote file: another magic refused", ib_quotefile_parse("inetboot-quote 2\n", 17, &back, &e) == -EBADMSG);
        {
                struct ib_verdict v;
                struct ib_eventlog none = {};

                CHECK("verify: a quote whose key is not a key is untrusted, with the reason",
                      ib_attest_verify(&qf, NULL, qf.q.nonce, 16, &none, 0, &v) == 0 && !v.trusted &&
                      strstr(v.line, "UNTRUSTED: ") && strstr(v.line, "PEM"));
        }
        free(text);
        ib_quotefile_clear(&qf);
}

int main(void) {
        test_measure();
        test_quotefile();
        UNIT_EXIT();
}
