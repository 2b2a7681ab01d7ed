/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * measure.c: inetboot's measurements as events (see measure.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "measure.h"

#define START_PREFIX "inetboot-start: "

/* Add a file event: data "PREFIX: WHAT", digest H(content). */
static int add_file(struct ib_eventlog *log, const char *prefix, const char *what, const void *content, size_t len)
{
        _cleanup_(freep) char *data = NULL;
        uint8_t d[32];

        if (asprintf(&data, "%s: %s", prefix, what ? what : "") < 0)
                return -ENOMEM;
        ib_alg_hash(log->alg, content, len, d);
        return ib_eventlog_add(log, IB_PCR_FILES, IB_EV_IPL, data, strlen(data), d);
}

/* Add a string event as GRUB measures a command line: data "PREFIX: LINE" and its NUL, digest H(LINE). */
static int add_string(struct ib_eventlog *log, const char *prefix, const char *line)
{
        _cleanup_(freep) char *data = NULL;
        uint8_t d[32];

        if (asprintf(&data, "%s: %s", prefix, line) < 0)
                return -ENOMEM;
        ib_alg_hash(log->alg, line, strlen(line), d);
        return ib_eventlog_add(log, IB_PCR_STRINGS, IB_EV_IPL, data, strlen(data) + 1, d);
}

int ib_measure_events(uint16_t alg, const struct ib_measure_input *in, const uint8_t (*start)[32],
                      struct ib_eventlog *ret)
{
        struct ib_eventlog log;
        static const unsigned pcrs[] = { IB_PCR_STRINGS, IB_PCR_FILES };
        int r;

        r = ib_eventlog_init(&log, alg);
        if (r < 0)
                return r;
        /* Only for a PCR that was not zero: tpm2-tools 5.4's tpm2_eventlog wrongly extends EV_NO_ACTION
         * events, and a log without them replays right there too. */
        for (size_t i = 0; start && i < ELEMENTSOF(pcrs) && r >= 0; i++) {
                char data[sizeof(START_PREFIX) + 64];
                static const uint8_t zero[32];

                if (memcmp(start[pcrs[i]], zero, ib_alg_len(alg)) == 0)
                        continue;
                strcpy(data, START_PREFIX);
                ib_hex(start[pcrs[i]], ib_alg_len(alg), data + strlen(data));
                r = ib_eventlog_add(&log, pcrs[i], IB_EV_NO_ACTION, data, strlen(data), NULL);
        }
        if (r >= 0)
                r = add_file(&log, "inetboot-manifest", in->image_name, in->manifest, in->manifest_len);
        if (r >= 0)
                r = add_file(&log, "inetboot-kernel", in->kernel_path, in->kernel, in->kernel_len);
        if (r >= 0)
                r = add_file(&log, "inetboot-initrd", in->initrd_desc, in->initrd, in->initrd_len);
        if (r >= 0 && in->hypervisor_path)
                r = add_file(&log, "inetboot-hypervisor", in->hypervisor_path, in->hypervisor, in->hypervisor_len);
        if (r >= 0)
                r = add_string(&log, "kernel_cmdline", in->cmdline);
        if (r >= 0 && in->hypervisor_path)
                r = add_string(&log, "hypervisor_cmdline", in->hypervisor_cmdline ? in->hypervisor_cmdline : "");
        if (r < 0) {
                ib_eventlog_clear(&log);
                return r;
        }
        *ret = log;
        return 0;
}

int ib_measure_start(const struct ib_eventlog *log, uint8_t start[IB_EVENTLOG_NUM_PCRS][32], struct ib_err *err)
{
        size_t dl = ib_alg_len(log->alg), pl = strlen(START_PREFIX);

        memset(start, 0, IB_EVENTLOG_NUM_PCRS * 32);
        for (size_t i = 0; i < log->n; i++) {
                const struct ib_event *e = &log->ev[i];

                if (e->type != IB_EV_NO_ACTION || e->data_len < pl || memcmp(e->data, START_PREFIX, pl) != 0)
                        continue;
                if (ib_unhex((const char *) e->data + pl, e->data_len - pl, start[e->pcr], dl) < 0)
                        return ib_err_set(err, -EBADMSG, 0, "event %zu: the start value of PCR %u is not "
                                          "%zu bytes of hex", i + 1, e->pcr, dl);
        }
        return 0;
}

/* What an event measures, for people: from its data's prefix. */
static const char *what(const struct ib_event *e)
{
        static const struct { const char *prefix, *name; } names[] = {
                { "inetboot-manifest:", "the manifest" },
                { "inetboot-kernel:", "the kernel" },
                { "inetboot-initrd:", "the initrd" },
                { "inetboot-hypervisor:", "the hypervisor" },
                { "kernel_cmdline:", "the command line" },
                { "hypervisor_cmdline:", "the hypervisor's command line" },
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (e->data_len >= strlen(names[i].prefix) &&
                    memcmp(e->data, names[i].prefix, strlen(names[i].prefix)) == 0)
                        return names[i].name;
        return "an event";
}

/* The next extending event at or after *i, or NULL. */
static const struct ib_event *next_extend(const struct ib_eventlog *log, size_t *i)
{
        for (; *i < log->n; (*i)++)
                if (log->ev[*i].type != IB_EV_NO_ACTION)
                        return &log->ev[(*i)++];
        return NULL;
}

/* The data of @e as a printable string for a message, cut to @size with "...". */
static void show(const struct ib_event *e, char *out, size_t size)
{
        size_t n = e->data_len < size - 1 ? e->data_len : size - 4;

        for (size_t k = 0; k < n; k++)
                out[k] = e->data[k] >= 0x20 && e->data[k] < 0x7f ? (char) e->data[k] : '?';
        strcpy(out + n, n < e->data_len ? "..." : "");
}

int ib_measure_compare(const struct ib_eventlog *booted, const struct ib_eventlog *expected, struct ib_err *err)
{
        size_t i = 0, k = 0, dl = ib_alg_len(expected->alg);
        char hb[65], he[65], db[200], de[200];

        if (booted->alg != expected->alg)
                return ib_err_set(err, -EBADMSG, 0, "the log is in the %s bank, the prediction in %s",
                                  ib_alg_name(booted->alg), ib_alg_name(expected->alg));
        for (;;) {
                const struct ib_event *b = next_extend(booted, &i), *e = next_extend(expected, &k);

                if (!b && !e)
                        return 0;
                if (!e) {
                        show(b, db, sizeof(db));
                        return ib_err_set(err, -EBADMSG, 0, "the boot measured more than predicted: "
                                          "PCR %u \"%s\"", b->pcr, db);
                }
                if (!b) {
                        show(e, de, sizeof(de));
                        return ib_err_set(err, -EBADMSG, 0, "%s was not measured (expected PCR %u \"%s\")",
                                          what(e), e->pcr, de);
                }
                if (b->pcr != e->pcr || b->type != e->type || memcmp(b->digest, e->digest, dl) != 0 ||
                    (e->pcr == IB_PCR_STRINGS && (b->data_len != e->data_len ||
                                                  memcmp(b->data, e->data, e->data_len) != 0))) {
                        if (what(b) != what(e)) {
                                show(b, db, sizeof(db));
                                return ib_err_set(err, -EBADMSG, 0, "the boot measured %s (\"%s\") where %s was expected",
                                                  what(b), db, what(e));
                        }
                        ib_hex(b->digest, dl, hb);
                        ib_hex(e->digest, dl, he);
                        show(b, db, sizeof(db));
                        show(e, de, sizeof(de));
                        return ib_err_set(err, -EBADMSG, 0, "%s differs: booted PCR %u %s \"%s\", "
                                          "expected PCR %u %s \"%s\"", what(e), b->pcr, hb, db, e->pcr, he, de);
                }
        }
}
