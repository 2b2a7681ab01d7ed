/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inetboot-attest: measured boot, seen from both ends.
 *
 *   predict   the publisher's or verifier's side, offline: the event log (and
 *             PCR values) a boot of an entry must produce, computed by
 *             inetboot-agent --dry-run on the same inputs
 *   pcrread, ak, quote, eventlog
 *             the booted machine's side: its PCRs, its attestation key, a
 *             quote with the event log as one file
 *   verify    the verifier: quote file + nonce + trusted AK + prediction ->
 *             one verdict line, exit 0 (trusted) or 1
 *   attest    the client of inetboot-attestd: nonce, quote, verdict
 *
 * docs/measurements.md describes what is measured and how to recompute it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "attest.h"
#include "eventlog.h"
#include "fetch.h"
#include "measure.h"
#include "tpm.h"
#include "util.h"

#define DEFAULT_EVENTLOG "/dev/.inetboot/eventlog"

static const char *prog = "inetboot-attest";

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: %s predict [OPTIONS] MANIFEST-URL | MANIFEST-FILE IMAGE-FILE\n"
                "       %s pcrread [--tpm SPEC]\n"
                "       %s ak [--tpm SPEC] [--ak-blob FILE] [-o FILE]\n"
                "       %s quote --nonce HEX [--tpm SPEC] [--eventlog FILE] [--ak-blob FILE] [-o FILE]\n"
                "       %s eventlog [FILE]\n"
                "       %s verify --ak FILE --nonce HEX --expect FILE... QUOTE-FILE\n"
                "       %s attest --server URL [--tpm SPEC] [--eventlog FILE] [--ak-blob FILE]\n"
                "\n"
                "Measured boot and attestation of inetboot boots (docs/measurements.md).\n"
                "\n"
                "predict: the event log a boot of MANIFEST-URL must produce, from\n"
                "inetboot-agent --dry-run with the same inputs; prints PCRs 8 and 9.  With a\n"
                "local MANIFEST-FILE (and its .sig) and IMAGE-FILE, before publishing: the same\n"
                "log a boot of them from any URL produces (the image is checked whole first).\n"
                "  -o, --out FILE          write the predicted event log (for verify --expect)\n"
                "      --cmdline ARGS      the preboot's kernel command line (console=, ip=, ...)\n"
                "      --entry LABEL       the boot entry (default: the first)\n"
                "      --tpm-version V     2.0 (SHA-256, default) or 1.2 (SHA-1)\n"
                "  -K, --keys DIR, --hook FILE, --modalias STR, --ca-file FILE\n"
                "                          passed to inetboot-agent (--modalias: the machine's\n"
                "                          network devices, /sys/class/net/*/device/modalias)\n"
                "      --agent PATH        the inetboot-agent program (default: beside this one)\n"
                "\n"
                "On the booted machine:\n"
                "      --tpm SPEC          auto (default), tpm2[:TCTI], tpm12[:PORT]\n"
                "      --ak-blob FILE      TPM 1.2: where the attestation key is kept\n"
                "                          (default /var/lib/inetboot/ak-tpm12.blob)\n"
                "      --eventlog FILE     the boot's log (default " DEFAULT_EVENTLOG ")\n"
                "      --nonce HEX         the verifier's nonce (TPM 1.2: 20 bytes)\n"
                "\n"
                "verify: exit 0 and a line starting TRUSTED, or exit 1 and UNTRUSTED: why.\n"
                "      --ak FILE           the machine's enrolled attestation key (PEM)\n"
                "      --expect FILE       a prediction (predict -o); repeat for several images\n"
                "\n"
                "Exit status: 0 done (trusted), 1 failed (untrusted), 2 usage.\n",
                prog, prog, prog, prog, prog, prog, prog);
}

_printf_(1, 2) static int fail(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

static int write_out(const char *path, const void *buf, size_t len)
{
        if (!path || strcmp(path, "-") == 0)
                return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : fail("cannot write: %m");
        if (ib_write_file_atomic(path, buf, len, 0644) < 0)
                return fail("cannot write %s: %m", path);
        return 0;
}

static int open_tpm(const char *spec, struct ib_tpm **t)
{
        struct ib_err e = { 0 };

        if (ib_tpm_open(spec, t, &e) < 0)
                return fail("%s", e.msg);
        return 0;
}

static void print_pcrs(uint16_t alg, const uint8_t (*pcrs)[32], uint32_t mask)
{
        char hex[65];

        for (unsigned i = 0; i < IB_EVENTLOG_NUM_PCRS; i++)
                if (mask & (1u << i)) {
                        ib_hex(pcrs[i], ib_alg_len(alg), hex);
                        printf("PCR %2u %-6s %s\n", i, ib_alg_name(alg), hex);
                }
}

static int read_log(const char *path, struct ib_eventlog *log)
{
        _cleanup_(freep) char *buf = NULL;
        struct ib_err e = { 0 };
        size_t len;
        int r = ib_read_file(path, 16u << 20, &buf, &len);

        if (r < 0)
                return fail("cannot read %s: %s", path, strerror(-r));
        if (ib_eventlog_parse((uint8_t *) buf, len, log, &e) < 0)
                return fail("%s: %s", path, e.msg);
        return 0;
}

static int parse_nonce(const char *hex, uint8_t *out, size_t *len)
{
        size_t n = strlen(hex);

        if (n == 0 || n % 2 || n / 2 > IB_TPM_MAX_NONCE || ib_unhex(hex, n, out, n / 2) < 0)
                return fail("--nonce: 1..%d bytes of hex", IB_TPM_MAX_NONCE);
        *len = n / 2;
        return 0;
}

/* ---- predict ------------------------------------------------------------------------ */

static int cmd_predict(int argc, char **argv)
{
        static const struct option opts[] = {
                { "out", required_argument, NULL, 'o' }, { "cmdline", required_argument, NULL, 'c' },
                { "entry", required_argument, NULL, 'e' }, { "tpm-version", required_argument, NULL, 'V' },
                { "keys", required_argument, NULL, 'K' }, { "hook", required_argument, NULL, 'H' },
                { "modalias", required_argument, NULL, 'm' }, { "ca-file", required_argument, NULL, 'C' },
                { "agent", required_argument, NULL, 'A' }, { "help", no_argument, NULL, 'h' }, {}
        };
        const char *out = NULL, *cmdline = "", *entry = NULL, *version = "2.0", *agent = NULL;
        char *args[64], tmp[] = "/tmp/inetboot-predict.XXXXXX";
        _cleanup_(freep) char *agent_default = NULL, *full = NULL, *odir = NULL, *wdir = NULL, *logp = NULL;
        _cleanup_(freep) uint8_t *buf = NULL;
        struct ib_eventlog log = { 0 };
        struct ib_err e = { 0 };
        size_t na = 0, len;
        int c, status, r = 1;
        pid_t pid;

        args[na++] = NULL;      /* the agent, below */
        args[na++] = "--dry-run";
        while ((c = getopt_long(argc, argv, "o:K:h", opts, NULL)) != -1) {
                if (na > ELEMENTSOF(args) - 12)
                        return fail("predict: too many options");
                switch (c) {
                case 'o': out = optarg; break;
                case 'c': cmdline = optarg; break;
                case 'e': entry = optarg; break;
                case 'V':
                        if (strcmp(optarg, "2.0") != 0 && strcmp(optarg, "1.2") != 0)
                                return fprintf(stderr, "%s: --tpm-version is 2.0 or 1.2\n", prog), 2;
                        version = optarg;
                        break;
                case 'K': args[na++] = "--keys"; args[na++] = optarg; break;
                case 'H': args[na++] = "--hook"; args[na++] = optarg; break;
                case 'm': args[na++] = "--modalias"; args[na++] = optarg; break;
                case 'C': args[na++] = "--ca-file"; args[na++] = optarg; break;
                case 'A': agent = optarg; break;
                case 'h': usage(stdout); return 0;
                default: return 2;
                }
        }
        if (optind + 1 != argc && optind + 2 != argc)
                return fprintf(stderr, "%s: predict takes a MANIFEST-URL, or a MANIFEST-FILE and an IMAGE-FILE\n"
                               "Try '%s --help'.\n", prog, prog), 2;
        if (optind + 2 == argc) {
                args[na++] = "--manifest";
                args[na++] = argv[optind];
                args[na++] = "--image";
                args[na++] = argv[optind + 1];
        }
        if (!agent)
                agent = agent_default = ib_sibling_program("inetboot-agent", "inetboot-agent");
        if (!agent)
                return fail("out of memory");
        if (!mkdtemp(tmp))
                return fail("cannot create a scratch directory: %m");
        /* The preboot's command line: its own words, the URL (a local manifest has none), the entry. */
        if (asprintf(&full, "%s%s%s%s%s", cmdline, optind + 1 == argc ? " inetboot.url=" : "",
                     optind + 1 == argc ? argv[optind] : "", entry ? " inetboot.entry=" : "", entry ? entry : "") < 0 ||
            asprintf(&odir, "%s/out", tmp) < 0 || asprintf(&wdir, "%s/work", tmp) < 0 ||
            asprintf(&logp, "%s/eventlog", odir) < 0) {
                r = fail("out of memory");
                goto out;
        }
        args[0] = (char *) agent;
        args[na++] = "--out";
        args[na++] = odir;
        args[na++] = "--work";
        args[na++] = wdir;
        args[na++] = "--bank";
        args[na++] = strcmp(version, "1.2") == 0 ? "sha1" : "sha256";
        args[na++] = "--cmdline";
        args[na++] = full;
        args[na] = NULL;
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                r = fail("fork: %m");
                goto out;
        }
        if (pid == 0) {
                dup2(STDERR_FILENO, STDOUT_FILENO);     /* the agent's story goes to stderr; stdout is ours */
                execv(agent, args);
                fprintf(stderr, "%s: cannot run %s: %m\n", prog, agent);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                r = fail("predict: inetboot-agent --dry-run failed (its messages are above)");
                goto out;
        }
        if (ib_read_file(logp, 16u << 20, (char **) &buf, &len) < 0) {
                r = fail("predict: the agent wrote no event log");
                goto out;
        }
        if (ib_eventlog_parse(buf, len, &log, &e) < 0) {
                r = fail("predict: %s: %s", logp, e.msg);
                goto out;
        }
        {
                uint8_t pcrs[IB_EVENTLOG_NUM_PCRS][32];

                ib_eventlog_replay(&log, NULL, pcrs, NULL);
                print_pcrs(log.alg, (const uint8_t (*)[32]) pcrs, IB_PCR_MASK);
        }
        r = out ? write_out(out, buf, len) : 0;
out:
        ib_eventlog_clear(&log);
        {
                char *rm[] = { "rm", "-rf", tmp, NULL };

                pid = fork();
                if (pid == 0) {
                        execvp("rm", rm);
                        _exit(127);
                }
                if (pid > 0)
                        waitpid(pid, NULL, 0);
        }
        return r;
}

/* ---- the booted machine's side --------------------------------------------------------- */

static int cmd_pcrread(const char *spec)
{
        _cleanup_(ib_tpm_closep) struct ib_tpm *t = NULL;
        uint8_t pcrs[IB_EVENTLOG_NUM_PCRS][32] = { { 0 } };

        if (open_tpm(spec, &t))
                return 1;
        for (unsigned p = IB_PCR_STRINGS; p <= IB_PCR_FILES; p++)
                if (ib_tpm_pcr_read(t, p, pcrs[p]) < 0)
                        return fail("cannot read PCR %u: %s", p, ib_tpm_error(t));
        print_pcrs(ib_measure_alg(ib_tpm_family(t)), (const uint8_t (*)[32]) pcrs,
                   IB_PCR_MASK);
        return 0;
}

static int cmd_ak(const char *spec, const char *blob, const char *out)
{
        _cleanup_(ib_tpm_closep) struct ib_tpm *t = NULL;
        _cleanup_(freep) char *pem = NULL;

        if (open_tpm(spec, &t))
                return 1;
        if (ib_tpm_ak_public(t, blob, &pem) < 0)
                return fail("the attestation key: %s", ib_tpm_error(t));
        return write_out(out, pem, strlen(pem));
}

/* Quote PCRs 8 and 9 over @nonce with the log at @logpath: the quote file's text into *ret. */
static int make_quote(const char *spec, const char *blob, const char *logpath, const uint8_t *nonce, size_t nonce_len,
                      char **ret)
{
        _cleanup_(ib_tpm_closep) struct ib_tpm *t = NULL;
        struct ib_quotefile qf = { 0 };
        struct ib_eventlog log = { 0 };
        struct ib_err e = { 0 };
        char *buf = NULL;
        size_t len;
        int r;

        r = ib_read_file(logpath, 16u << 20, &buf, &len);
        if (r < 0)
                return fail("cannot read the event log %s: %s (was this system booted by inetboot?)", logpath,
                            strerror(-r));
        if (ib_eventlog_parse((uint8_t *) buf, len, &log, &e) < 0) {
                free(buf);
                return fail("%s: %s", logpath, e.msg);
        }
        ib_eventlog_clear(&log);
        qf.eventlog = (uint8_t *) buf;
        qf.eventlog_len = len;
        if (open_tpm(spec, &t)) {
                ib_quotefile_clear(&qf);
                return 1;
        }
        if (ib_tpm_quote(t, blob, IB_PCR_MASK, nonce, nonce_len, &qf.q) < 0) {
                r = fail("quote: %s", ib_tpm_error(t));
                ib_quotefile_clear(&qf);
                return r;
        }
        r = ib_quotefile_format(&qf, ret) < 0 ? fail("out of memory") : 0;
        ib_quotefile_clear(&qf);
        return r;
}

static int cmd_eventlog(const char *path)
{
        struct ib_eventlog log = { 0 };
        _cleanup_(freep) char *text = NULL;
        uint8_t start[IB_EVENTLOG_NUM_PCRS][32], pcrs[IB_EVENTLOG_NUM_PCRS][32];
        struct ib_err e = { 0 };
        uint32_t mask;

        if (read_log(path, &log))
                return 1;
        if (ib_eventlog_format(&log, &text) < 0 || ib_measure_start(&log, start, &e) < 0) {
                ib_eventlog_clear(&log);
                return fail("%s: %s", path, e.msg[0] ? e.msg : "out of memory");
        }
        fputs(text, stdout);
        ib_eventlog_replay(&log, (const uint8_t (*)[32]) start, pcrs, &mask);
        printf("replayed:\n");
        print_pcrs(log.alg, (const uint8_t (*)[32]) pcrs, mask);
        ib_eventlog_clear(&log);
        return 0;
}

/* ---- verify ------------------------------------------------------------------------- */

static int cmd_verify(const char *ak_path, const char *nonce_hex, char **expect, size_t n_expect, const char *qpath)
{
        _cleanup_(freep) char *ak = NULL, *qtext = NULL;
        struct ib_eventlog logs[16];
        struct ib_quotefile qf = { 0 };
        struct ib_verdict v;
        struct ib_err e = { 0 };
        uint8_t nonce[IB_TPM_MAX_NONCE];
        size_t nl, len, n = 0;
        int r;

        if (parse_nonce(nonce_hex, nonce, &nl))
                return 2;
        r = ib_read_file(ak_path, 64 * 1024, &ak, &len);
        if (r < 0)
                return fail("cannot read the attestation key %s: %s", ak_path, strerror(-r)), 2;
        r = ib_read_file(qpath, IB_QUOTEFILE_MAX, &qtext, &len);
        if (r < 0)
                return fail("cannot read %s: %s", qpath, strerror(-r)), 2;
        if (ib_quotefile_parse(qtext, len, &qf, &e) < 0) {
                printf("UNTRUSTED: %s\n", e.msg);
                return 1;
        }
        for (; n < n_expect; n++)
                if (read_log(expect[n], &logs[n])) {
                        r = 2;
                        goto out;
                }
        if (ib_attest_verify(&qf, ak, nonce, nl, logs, n, &v) < 0) {
                r = fail("out of memory");
                goto out;
        }
        printf("%s\n", v.line);
        r = v.trusted ? 0 : 1;
out:
        for (size_t i = 0; i < n; i++)
                ib_eventlog_clear(&logs[i]);
        ib_quotefile_clear(&qf);
        return r;
}

/* ---- attest: the client of inetboot-attestd ------------------------------------------ */

static int cmd_attest(const char *server, const char *spec, const char *blob, const char *logpath)
{
        _cleanup_(freep) char *nurl = NULL, *aurl = NULL, *nonce_hex = NULL, *quote = NULL, *answer = NULL;
        uint8_t nonce[IB_TPM_MAX_NONCE];
        struct ib_err e = { 0 };
        size_t nl, len;
        long code = 0;

        if (!ib_is_url(server))
                return fail("--server %s: an http(s) URL", server);
        if (asprintf(&nurl, "%s/nonce", server) < 0 || asprintf(&aurl, "%s/attest", server) < 0)
                return fail("out of memory");
        if (ib_fetch(nurl, NULL, 1024, &nonce_hex, &len, &e) < 0)
                return fail("no nonce: %s", e.msg);
        nonce_hex[strcspn(nonce_hex, "\r\n")] = 0;
        if (parse_nonce(nonce_hex, nonce, &nl))
                return fail("%s: not a nonce", nurl);
        if (make_quote(spec, blob, logpath, nonce, nl, &quote))
                return 1;
        if (ib_http_post(aurl, NULL, quote, strlen(quote), 64 * 1024, &answer, &len, &code, &e) < 0)
                return fail("%s", e.msg);
        fputs(answer, stdout);
        if (!*answer || answer[strlen(answer) - 1] != '\n')
                putchar('\n');
        return code == 200 && strncmp(answer, "TRUSTED", 7) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "tpm", required_argument, NULL, 't' }, { "ak-blob", required_argument, NULL, 'b' },
                { "out", required_argument, NULL, 'o' }, { "nonce", required_argument, NULL, 'n' },
                { "eventlog", required_argument, NULL, 'l' }, { "ak", required_argument, NULL, 'a' },
                { "expect", required_argument, NULL, 'x' }, { "server", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' }, {}
        };
        const char *spec = NULL, *blob = NULL, *out = NULL, *nonce = NULL, *logpath = DEFAULT_EVENTLOG, *ak = NULL,
                   *server = NULL, *cmd;
        char *expect[16];
        size_t n_expect = 0;
        int c;

        if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        cmd = argv[1];
        argv++;
        argc--;
        if (strcmp(cmd, "predict") == 0)
                return cmd_predict(argc, argv);
        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1)
                switch (c) {
                case 't': spec = optarg; break;
                case 'b': blob = optarg; break;
                case 'o': out = optarg; break;
                case 'n': nonce = optarg; break;
                case 'l': logpath = optarg; break;
                case 'a': ak = optarg; break;
                case 'x':
                        if (n_expect == ELEMENTSOF(expect))
                                return fprintf(stderr, "%s: at most %zu --expect\n", prog, ELEMENTSOF(expect)), 2;
                        expect[n_expect++] = optarg;
                        break;
                case 's': server = optarg; break;
                case 'h': usage(stdout); return 0;
                default: fprintf(stderr, "Try '%s --help'.\n", prog); return 2;
                }
        if (strcmp(cmd, "pcrread") == 0 && optind == argc)
                return cmd_pcrread(spec);
        if (strcmp(cmd, "ak") == 0 && optind == argc)
                return cmd_ak(spec, blob, out);
        if (strcmp(cmd, "eventlog") == 0 && optind + 1 >= argc)
                return cmd_eventlog(optind < argc ? argv[optind] : logpath);
        if (strcmp(cmd, "quote") == 0 && optind == argc && nonce) {
                uint8_t n[IB_TPM_MAX_NONCE];
                size_t nl;
                _cleanup_(freep) char *text = NULL;

                if (parse_nonce(nonce, n, &nl))
                        return 2;
                if (make_quote(spec, blob, logpath, n, nl, &text))
                        return 1;
                return write_out(out, text, strlen(text));
        }
        if (strcmp(cmd, "verify") == 0 && optind + 1 == argc && ak && nonce && n_expect)
                return cmd_verify(ak, nonce, expect, n_expect, argv[optind]);
        if (strcmp(cmd, "attest") == 0 && optind == argc && server) {
                int r;

                curl_global_init(CURL_GLOBAL_DEFAULT);
                r = cmd_attest(server, spec, blob, logpath);
                curl_global_cleanup();
                return r;
        }
        fprintf(stderr, "%s: '%s': unknown command or missing arguments\nTry '%s --help'.\n", prog, cmd, prog);
        return 2;
}
