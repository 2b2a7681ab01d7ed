/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inetboot-sign: the publisher's tool.  keygen, make, verify, show, sign, keyring.
 * See inetboot-sign(1) beside this file and docs/manifest.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zstd.h>

#include "bootcfg.h"
#include "image.h"
#include "iso.h"
#include "keyring.h"
#include "manifest.h"
#include "sig.h"
#include "state.h"

#ifndef IB_KEYS_DIR
#define IB_KEYS_DIR "/usr/local/share/inetboot/keys"
#endif

static const char *prog = "inetboot-sign";
static bool quiet;

static void usage(FILE *f) {
        fprintf(f,
                "Usage: %1$s keygen [--type ed25519|rsa|ecdsa] NAME\n"
                "       %1$s make --key KEY.key [OPTIONS] IMAGE [-o NAME.manifest]\n"
                "       %1$s verify [--keys DIR] [--sig FILE] [--cache DIR] NAME.manifest [IMAGE]\n"
                "       %1$s show NAME.manifest\n"
                "       %1$s sign --key KEY.key FILE\n"
                "       %1$s keyring init|certify|revoke|renew --root-key ROOT.key [OPTIONS] [KEY.pub|sha256:FP]\n"
                "       %1$s keyring show [FILE]\n"
                "\n"
                "Sign live ISO images for inetboot: a manifest of block hashes and boot entries,\n"
                "with a detached signature NAME.manifest.sig.\n"
                "\n"
                "keygen    writes NAME.key (private, mode 0600) and NAME.pub\n"
                "make      hashes IMAGE, finds its boot entries, writes and signs the manifest\n"
                "  -k, --key FILE          private key (PEM) to sign with (required)\n"
                "  -o, --output FILE       manifest to write (default IMAGE.manifest)\n"
                "  -b, --block-size N      block size, power of two, 4K..16M (default %2$uK)\n"
                "  -u, --url URL           a raw image mirror (repeatable)\n"
                "  -s, --store URL         a block-store base URL (repeatable)\n"
                "  -n, --name NAME         image name (default: IMAGE's file name)\n"
                "      --serial N          serial number for rollback protection (default: creation time)\n"
                "      --created SECONDS   creation time (default: $SOURCE_DATE_EPOCH or now)\n"
                "      --expires WHEN      clients refuse the manifest from then on: +DAYS (after\n"
                "                          the creation), YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or\n"
                "                          @SECONDS (default: never; writes manifest version 2)\n"
                "      --profile FILE      boot profile: block indices/ranges to prefetch (\"0-15 200\")\n"
                "      --blocks DIR        also write every block zstd-compressed as DIR/xx/<sha256>.zst\n"
                "                          (a block store; publish it and name it with --store)\n"
                "      --no-scan           do not read the image's boot loader configs\n"
                "  -e, --entry LABEL       add or override an entry; the options below apply to it:\n"
                "      --kernel PATH  --initrd PATH (repeatable)  --cmdline ARGS  --family NAME\n"
                "      --hypervisor PATH  --hypervisor-args ARGS\n"
                "verify    checks the signature against trusted keys; with IMAGE, every block\n"
                "  -K, --keys DIR          trusted public keys (default %3$s); root keys in DIR/roots/\n"
                "      --sig FILE          signature file (default NAME.manifest.sig)\n"
                "  -c, --cache DIR         also refuse what a client with this cache would: a lower\n"
                "                          serial than its trust state holds (read, never written)\n"
                "      --keyring FILE      the keyring certifying the signer (default: " IB_KEYRING_FILE " beside\n"
                "                          the manifest, when DIR/roots/ has keys)\n"
                "show      prints the manifest for people\n"
                "sign      signs any FILE into FILE.sig (e.g. a preboot script for iscript=)\n"
                "keyring   a root key certifies and revokes publisher keys (docs/signatures.md):\n"
                "          init (version 1, no keys), certify KEY.pub, revoke KEY.pub|sha256:FP,\n"
                "          renew (a new version, e.g. with a new --expires); each writes the next\n"
                "          version and signs it into FILE.sig; show prints it\n"
                "  -r, --root-key FILE     the root's private key (keygen makes one; its .pub goes\n"
                "                          into the boot media's keys/roots/)\n"
                "  -f, --keyring FILE      the keyring (default " IB_KEYRING_FILE ")\n"
                "      --until WHEN        certify: the key is valid until then (required; as --expires)\n"
                "      --from WHEN         certify: ... and from then (default: the keyring's creation)\n"
                "      --names PATTERN     certify: the image names it may sign ('*', '?'; default *)\n"
                "      --expires WHEN      clients refuse the keyring from then on (default: the\n"
                "                          previous version's, if any; +DAYS is after the creation)\n"
                "      --created SECONDS   creation time (default: $SOURCE_DATE_EPOCH or now)\n"
                "\n"
                "  -q, --quiet             print only errors\n"
                "  -h, --help              this text\n"
                "\n"
                "Exit status: 0 success, 1 failure (with a message), 2 usage error.\n",
                prog, IB_MANIFEST_DEFAULT_BLOCK_SIZE >> 10, IB_KEYS_DIR);
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help'.\n", prog);
        return 2;
}

static int error(const char *what, const struct ib_err *e) {
        if (e->line)
                fprintf(stderr, "%s: %s:%u: %s\n", prog, what, e->line, e->msg);
        else
                fprintf(stderr, "%s: %s: %s\n", prog, what, e->msg);
        return 1;
}

static void pkey_freep(EVP_PKEY **k) { EVP_PKEY_free(*k); }

/* ---- keygen ---------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv) {
        static const struct option opts[] = {
                { "type", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(pkey_freep) EVP_PKEY *k = NULL;
        const char *type = "ed25519";
        struct ib_err e = {};
        uint8_t id[32];
        char hex[65];
        int c;

        while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) >= 0)
                switch (c) {
                case 't': type = optarg; break;
                case 'h': usage(stdout); return 0;
                default: return usage_error("%s", "keygen: bad option");
                }
        if (optind + 1 != argc)
                return usage_error("%s", "keygen takes one NAME");
        if (ib_key_generate(type, &k, &e) < 0 || ib_key_save(k, argv[optind], &e) < 0)
                return error("keygen", &e);
        ib_key_fingerprint(k, id);
        ib_hex(id, 32, hex);
        if (!quiet)
                printf("%s.key (private, keep it safe) and %s.pub (give to users)\nkey sha256:%s\n",
                       argv[optind], argv[optind], hex);
        return 0;
}

/* ---- make ------------------------------------------------------------------- */

struct entry_opt {
        char *label, *kernel, *cmdline, *family, *hypervisor, *hypervisor_args;
        char **initrds;
        size_t n_initrds;
};

static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || s[0] == '-')
                return -EINVAL;
        if (*end == 'K' || *end == 'k')
                v <<= 10, end++;
        else if (*end == 'M' || *end == 'm')
                v <<= 20, end++;
        if (end[0] == 'i' && end[1] == 'B')
                end += 2;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int hash_file_ref(struct ib_iso *iso, const char *path, struct ib_file_ref *f, struct ib_err *e) {
        if (!iso)
                return ib_err_set(e, -ENOENT, 0, "%s: the image has no ISO 9660 file system to read it from", path);
        f->path = strdup(path);
        if (!f->path)
                return ib_err_set(e, -ENOMEM, 0, "out of memory");
        return ib_iso_hash(iso, path, &f->size, f->sha256, e);
}

/*
 * Turn the image's own entries plus the --entry options into manifest
 * entries; unless -q, an entry whose family is found generic (not given
 * by --family) is warned about on stderr.
 */
static int build_entries(struct ib_iso *iso, bool scan, struct entry_opt *eo, size_t n_eo, struct ib_manifest *m,
                         size_t *dropped, struct ib_err *e) {
        struct ib_bootcfg_entry *found = NULL;
        size_t n_found = 0;
        int r = 0;

        if (scan && iso) {
                r = ib_bootcfg_scan(ib_iso_read_cb, iso, &found, &n_found, e);
                if (r < 0)
                        return r;
        }
        /* Overrides replace the same label's fields; new labels are appended. */
        m->entries = calloc(n_found + n_eo + 1, sizeof(struct ib_entry));
        if (!m->entries) {
                ib_bootcfg_entries_free(found, n_found);
                return ib_err_set(e, -ENOMEM, 0, "out of memory");
        }
        for (size_t i = 0; i < n_found + n_eo && r >= 0; i++) {
                struct ib_bootcfg_entry *b = i < n_found ? &found[i] : NULL;
                struct entry_opt *o = NULL;
                struct ib_entry *out;
                const char *label = b ? b->label : eo[i - n_found].label;
                const char *kernel, *cmdline, *family, *hyp, *hyp_args;
                char **initrds;
                size_t n_initrds;

                for (size_t j = 0; j < n_eo; j++)
                        if (strcmp(eo[j].label, label) == 0)
                                o = &eo[j];
                if (!b) {
                        bool seen = false;

                        for (size_t j = 0; j < n_found; j++)
                                seen = seen || strcmp(found[j].label, label) == 0;
                        if (seen || o != &eo[i - n_found])
                                continue; /* applied to the scanned entry, or a later --entry of the same label */
                }
                /* Two scanned entries with one label (e.g. the same menu in isolinux and GRUB, other args): keep the first. */
                for (size_t j = 0; j < m->n_entries; j++)
                        if (strcmp(m->entries[j].label, label) == 0)
                                goto next;
                kernel = o && o->kernel ? o->kernel : b ? b->kernel : NULL;
                if (!kernel) {
                        r = ib_err_set(e, -EINVAL, 0, "entry '%s': --kernel is required for a new entry", label);
                        break;
                }
                initrds = o && o->n_initrds ? o->initrds : b ? b->initrds : NULL;
                n_initrds = o && o->n_initrds ? o->n_initrds : b ? b->n_initrds : 0;
                cmdline = o && o->cmdline ? o->cmdline : b && b->cmdline ? b->cmdline : "";
                family = o && o->family ? o->family : ib_bootcfg_entry_family(cmdline, kernel, initrds, n_initrds);
                if (!(o && o->family) && strcmp(family, "generic") == 0 && !quiet)
                        fprintf(stderr,
                                "%s: warning: entry '%s': family generic: its initrd may not find its medium on /dev/loop0,\n"
                                "  where the booted system has the image; if it is a live system of a family inetboot knows,\n"
                                "  name it with --entry '%s' --family NAME (docs/distros.md)\n",
                                prog, label, label);
                hyp = o && o->hypervisor ? o->hypervisor : b ? b->hypervisor : NULL;
                hyp_args = o && o->hypervisor_args ? o->hypervisor_args : b ? b->hypervisor_args : NULL;
                if (n_initrds > IB_MANIFEST_MAX_INITRDS) {
                        r = ib_err_set(e, -E2BIG, 0, "entry '%s': more than %u initrds", label, IB_MANIFEST_MAX_INITRDS);
                        break;
                }
                if (m->n_entries >= IB_MANIFEST_MAX_ENTRIES) {
                        /* A huge menu: keep its first entries; a hand-made entry must never be lost silently. */
                        if (b) {
                                (*dropped)++;
                                continue;
                        }
                        r = ib_err_set(e, -E2BIG, 0, "entry '%s': more than %u boot entries (use --no-scan to keep only yours)",
                                       label, IB_MANIFEST_MAX_ENTRIES);
                        break;
                }
                out = &m->entries[m->n_entries++];
                if (!(out->label = strdup(label)) || !(out->family = strdup(family)) || !(out->cmdline = strdup(cmdline)) ||
                    (hyp_args && !(out->hypervisor_args = strdup(hyp_args))) ||
                    !(out->initrds = calloc(n_initrds + 1, sizeof(struct ib_file_ref)))) {
                        r = ib_err_set(e, -ENOMEM, 0, "out of memory");
                        break;
                }
                r = hash_file_ref(iso, kernel, &out->kernel, e);
                for (size_t j = 0; r >= 0 && j < n_initrds; j++, out->n_initrds++)
                        r = hash_file_ref(iso, initrds[j], &out->initrds[j], e);
                if (r >= 0 && hyp) {
                        out->has_hypervisor = true;
                        r = hash_file_ref(iso, hyp, &out->hypervisor, e);
                }
                if (r < 0) {
                        char tmp[sizeof(e->msg)];

                        snprintf(tmp, sizeof(tmp), "entry '%.100s': %.380s", label, e->msg);
                        memcpy(e->msg, tmp, sizeof(tmp));
                }
        next:;
        }
        ib_bootcfg_entries_free(found, n_found);
        return r;
}

/*
 * Write every block as DIR/xx/<sha256 hex>.zst (zstd), the block-store layout
 * of docs/manifest.md.  Content-addressed: an existing file is the same
 * block and is kept, so stores of several images share their blocks.
 */
static int write_blocks(int fd, const struct ib_manifest *m, const char *dir, uint64_t *ret_written, struct ib_err *e) {
        _cleanup_(freep) uint8_t *buf = malloc(m->block_size);
        _cleanup_(freep) uint8_t *z = malloc(ZSTD_compressBound(m->block_size));
        uint64_t written = 0;

        if (!buf || !z)
                return ib_err_set(e, -ENOMEM, 0, "out of memory");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return ib_err_set(e, -errno, 0, "cannot create %s: %m", dir);
        for (uint64_t i = 0; i < m->n_blocks; i++) {
                size_t len = ib_manifest_block_len(m, i);
                char hex[65], path[4096], sub[4096];
                size_t zn;
                ssize_t n;
                int r;

                ib_hex(m->blocks[i], 32, hex);
                snprintf(sub, sizeof(sub), "%s/%.2s", dir, hex);
                snprintf(path, sizeof(path), "%s/%.2s/%s.zst", dir, hex, hex);
                if (access(path, F_OK) == 0)
                        continue;
                n = ib_pread_full(fd, buf, len, i * m->block_size);
                if (n != (ssize_t)len)
                        return ib_err_set(e, n < 0 ? (int)n : -EIO, 0, "cannot read block %" PRIu64, i);
                zn = ZSTD_compress(z, ZSTD_compressBound(m->block_size), buf, len, 6);
                if (ZSTD_isError(zn))
                        return ib_err_set(e, -EIO, 0, "zstd: %s", ZSTD_getErrorName(zn));
                if (mkdir(sub, 0755) < 0 && errno != EEXIST)
                        return ib_err_set(e, -errno, 0, "cannot create %s: %m", sub);
                r = ib_write_file_atomic(path, z, zn, 0644);
                if (r < 0)
                        return ib_err_set(e, r, 0, "cannot write %s: %s", path, strerror(-r));
                written++;
        }
        *ret_written = written;
        return 0;
}

/* --expires: +DAYS after @created, a UTC date or time, or @SECONDS. */
static int parse_expires(const char *s, uint64_t created, uint64_t *ret) {
        struct tm tm = {};
        const char *end;
        uint64_t v;
        time_t t;

        if (s[0] == '+' || s[0] == '@') {
                if (ib_parse_u64(s + 1, strlen(s + 1), &v) < 0)
                        return -EINVAL;
                if (s[0] == '@') {
                        *ret = v;
                        return 0;
                }
                if (v == 0 || v > 36500)        /* a hundred years */
                        return -ERANGE;
                *ret = created + v * 86400;
                return 0;
        }
        end = strptime(s, "%Y-%m-%d", &tm);
        if (end && *end == 'T')
                end = strptime(end, "T%H:%M:%SZ", &tm);
        if (!end || *end || tm.tm_year < 70)
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t)t;
        return 0;
}

static int cmd_make(int argc, char **argv) {
        enum { O_SERIAL = 256, O_CREATED, O_EXPIRES, O_PROFILE, O_NO_SCAN, O_KERNEL, O_INITRD, O_CMDLINE, O_FAMILY, O_HYP, O_HYP_ARGS, O_BLOCKS };
        static const struct option opts[] = {
                { "key", required_argument, NULL, 'k' },
                { "output", required_argument, NULL, 'o' },
                { "block-size", required_argument, NULL, 'b' },
                { "url", required_argument, NULL, 'u' },
                { "store", required_argument, NULL, 's' },
                { "name", required_argument, NULL, 'n' },
                { "serial", required_argument, NULL, O_SERIAL },
                { "created", required_argument, NULL, O_CREATED },
                { "expires", required_argument, NULL, O_EXPIRES },
                { "profile", required_argument, NULL, O_PROFILE },
                { "no-scan", no_argument, NULL, O_NO_SCAN },
                { "entry", required_argument, NULL, 'e' },
                { "kernel", required_argument, NULL, O_KERNEL },
                { "initrd", required_argument, NULL, O_INITRD },
                { "cmdline", required_argument, NULL, O_CMDLINE },
                { "family", required_argument, NULL, O_FAMILY },
                { "hypervisor", required_argument, NULL, O_HYP },
                { "hypervisor-args", required_argument, NULL, O_HYP_ARGS },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "blocks", required_argument, NULL, O_BLOCKS },
                {}
        };
        _cleanup_(ib_manifest_freep) struct ib_manifest *m = calloc(1, sizeof(*m));
        _cleanup_(ib_iso_freep) struct ib_iso *iso = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(freep) char *out_default = NULL, *text = NULL, *sig = NULL, *sig_path = NULL, *profile_text = NULL;
        _cleanup_(closep) int fd = -1;
        struct entry_opt eo[IB_MANIFEST_MAX_ENTRIES] = {};
        size_t n_eo = 0, text_len, sig_len, profile_len = 0, dropped = 0;
        const char *key_path = NULL, *out = NULL, *image, *profile_path = NULL, *name = NULL, *blocks_dir = NULL,
                   *expires = NULL;
        bool scan = true, serial_set = false, created_set = false;
        uint64_t block_size = IB_MANIFEST_DEFAULT_BLOCK_SIZE;
        struct ib_err e = {};
        struct stat st;
        int c, r, ret = 1;

        if (!m)
                return error("make", &(struct ib_err) { .msg = "out of memory" });
        while ((c = getopt_long(argc, argv, "k:o:b:u:s:n:e:qh", opts, NULL)) >= 0) {
                struct entry_opt *cur = n_eo ? &eo[n_eo - 1] : NULL;

                if (c >= O_KERNEL && c <= O_HYP_ARGS && !cur) {
                        const char *opt = "?";

                        for (const struct option *o = opts; o->name; o++)
                                if (o->val == c)
                                        opt = o->name;
                        return usage_error("--%s must follow an --entry LABEL", opt);
                }
                switch (c) {
                case 'k': key_path = optarg; break;
                case 'o': out = optarg; break;
                case 'b':
                        if (parse_size(optarg, &block_size) < 0)
                                return usage_error("bad --block-size '%s'", optarg);
                        break;
                case 'u':
                case 's':
                        if (ib_strv_push(c == 'u' ? &m->urls : &m->stores, c == 'u' ? &m->n_urls : &m->n_stores, optarg) < 0)
                                return 1;
                        break;
                case 'n': name = optarg; break;
                case O_SERIAL:
                        if (ib_parse_u64(optarg, strlen(optarg), &m->serial) < 0)
                                return usage_error("bad --serial '%s'", optarg);
                        serial_set = true;
                        break;
                case O_CREATED:
                        if (ib_parse_u64(optarg, strlen(optarg), &m->created) < 0)
                                return usage_error("bad --created '%s' (seconds since 1970)", optarg);
                        created_set = true;
                        break;
                case O_EXPIRES: expires = optarg; break;
                case O_PROFILE: profile_path = optarg; break;
                case O_BLOCKS: blocks_dir = optarg; break;
                case O_NO_SCAN: scan = false; break;
                case 'e':
                        if (n_eo >= ELEMENTSOF(eo))
                                return usage_error("%s", "too many --entry options");
                        if (!optarg[0])
                                return usage_error("%s", "--entry needs a label");
                        eo[n_eo++].label = optarg;
                        break;
                case O_KERNEL: cur->kernel = optarg; break;
                case O_INITRD:
                        if (ib_strv_push(&cur->initrds, &cur->n_initrds, optarg) < 0)
                                return 1;
                        break;
                case O_CMDLINE: cur->cmdline = optarg; break;
                case O_FAMILY: cur->family = optarg; break;
                case O_HYP: cur->hypervisor = optarg; break;
                case O_HYP_ARGS: cur->hypervisor_args = optarg; break;
                case 'q': quiet = true; break;
                case 'h': usage(stdout); return 0;
                default: return usage_error("%s", "make: bad option");
                }
        }
        if (optind + 1 != argc)
                return usage_error("%s", "make takes one IMAGE");
        if (!key_path)
                return usage_error("%s", "make needs --key KEY.key (create one with 'inetboot-sign keygen NAME')");
        if (block_size < IB_MANIFEST_MIN_BLOCK_SIZE || block_size > IB_MANIFEST_MAX_BLOCK_SIZE || (block_size & (block_size - 1)))
                return usage_error("%s", "--block-size must be a power of two from 4K to 16M");
        image = argv[optind];
        if (!out) {
                if (asprintf(&out_default, "%s.manifest", image) < 0)
                        return 1;
                out = out_default;
        }
        if (ib_key_load_private(key_path, &key, &e) < 0)
                goto fail;

        fd = open(image, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                ib_err_set(&e, -errno, 0, "cannot open %s: %m", image);
                goto fail;
        }
        m->size = S_ISBLK(st.st_mode) ? (uint64_t)lseek(fd, 0, SEEK_END) : (uint64_t)st.st_size;
        m->block_size = (uint32_t)block_size;
        m->n_blocks = ib_manifest_block_count(m->size, m->block_size);
        if (!name) {
                name = strrchr(image, '/');
                name = name ? name + 1 : image;
        }
        if (!(m->name = strdup(name)))
                goto fail;
        if (!created_set) {
                const char *sde = getenv("SOURCE_DATE_EPOCH");

                if (!sde || ib_parse_u64(sde, strlen(sde), &m->created) < 0)
                        m->created = (uint64_t)time(NULL);
        }
        if (!serial_set)
                m->serial = m->created;
        if (expires) {
                char when[40];

                if (parse_expires(expires, m->created, &m->expires) < 0)
                        return usage_error("bad --expires '%s' (+DAYS, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @SECONDS)", expires);
                if (m->expires <= m->created)
                        return usage_error("--expires %s is not after the creation time %s", expires, ib_state_time(m->created, when));
                if (m->expires <= (uint64_t)time(NULL) && !quiet)
                        fprintf(stderr, "%s: warning: the manifest expires on %s, which has passed: clients will refuse it\n",
                                prog, ib_state_time(m->expires, when));
        }
        if (profile_path) {
                if ((r = ib_read_file(profile_path, 64u << 20, &profile_text, &profile_len)) < 0) {
                        ib_err_set(&e, r, 0, "cannot read profile %s: %s", profile_path, strerror(-r));
                        goto fail;
                }
                for (char *p = profile_text; *p; p++)
                        if (*p == '\n' || *p == '\t')
                                *p = ' ';
                while (profile_len && profile_text[profile_len - 1] == ' ')
                        profile_len--;
                if (ib_profile_parse(profile_text, profile_len, m->n_blocks, false, &m->profile, &m->n_profile, NULL, &e) < 0)
                        goto fail;
        }

        /* An image without ISO 9660 can still be signed; it has no boot entries of its own. */
        if (ib_iso_open(image, &iso, &e) < 0) {
                if (!quiet)
                        fprintf(stderr, "%s: warning: %s: no boot entries read from it\n", prog, e.msg);
                iso = NULL;
                e = (struct ib_err) {};
        }
        if (build_entries(iso, scan, eo, n_eo, m, &dropped, &e) < 0)
                goto fail;
        if (dropped && !quiet)
                fprintf(stderr, "%s: warning: the image's menus have %zu entries more than the %u a manifest holds; kept the first\n",
                        prog, dropped, IB_MANIFEST_MAX_ENTRIES);
        if (m->n_entries == 0 && !quiet)
                fprintf(stderr, "%s: warning: no boot entries (add them with --entry LABEL --kernel PATH ...)\n", prog);

        if (ib_image_hash(fd, m->size, m->block_size, m->sha256, &m->blocks, &e) < 0)
                goto fail;
        if (blocks_dir) {
                uint64_t written = 0;

                if (write_blocks(fd, m, blocks_dir, &written, &e) < 0)
                        goto fail;
                if (!quiet)
                        printf("%s: %" PRIu64 " block files written, %" PRIu64 " already there\n", blocks_dir, written,
                               m->n_blocks - written);
        }
        if (ib_manifest_format(m, &text, &text_len, &e) < 0 || ib_sign(key, text, text_len, &sig, &sig_len, &e) < 0)
                goto fail;
        if (asprintf(&sig_path, "%s.sig", out) < 0)
                goto fail;
        /* The signature first: a manifest next to a stale signature would fail to verify, the reverse likewise. */
        if ((r = ib_write_file_atomic(out, text, text_len, 0644)) < 0 ||
            (r = ib_write_file_atomic(sig_path, sig, sig_len, 0644)) < 0) {
                ib_err_set(&e, r, 0, "cannot write %s: %s", out, strerror(-r));
                goto fail;
        }
        if (!quiet) {
                printf("%s: %s, %" PRIu64 " bytes, %" PRIu64 " blocks of %u bytes, %zu boot entr%s\n", out, m->name, m->size,
                       m->n_blocks, m->block_size, m->n_entries, m->n_entries == 1 ? "y" : "ies");
                for (size_t i = 0; i < m->n_entries; i++)
                        printf("  entry '%s' (%s): %s\n", m->entries[i].label, m->entries[i].family, m->entries[i].kernel.path);
                printf("%s: signed\n", sig_path);
        }
        ret = 0;
fail:
        for (size_t i = 0; i < n_eo; i++)
                ib_strv_free(eo[i].initrds, eo[i].n_initrds);
        if (ret)
                return error("make", &e);
        return 0;
}

/* ---- verify ----------------------------------------------------------------- */

static int report_bad(void *ud, uint64_t block, uint64_t offset) {
        unsigned *shown = ud;

        if ((*shown)++ < 10)
                fprintf(stderr, "%s: block %" PRIu64 " (offset %" PRIu64 ") does not match the manifest\n", prog, block, offset);
        return 0;
}

/* A detached signature of any file, in the manifest's signature format (iscript= uses it). */
static int cmd_sign(int argc, char **argv) {
        static const struct option opts[] = {
                { "key", required_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(freep) char *text = NULL, *sig = NULL, *sig_path = NULL;
        const char *key_path = NULL;
        EVP_PKEY *key = NULL;
        size_t text_len, sig_len;
        struct ib_err e = {};
        int c, r;

        while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) >= 0)
                switch (c) {
                case 'k': key_path = optarg; break;
                case 'h': usage(stdout); return 0;
                default: return usage_error("%s", "sign: bad option");
                }
        if (!key_path || optind + 1 != argc)
                return usage_error("%s", "sign takes --key KEY.key and one FILE");
        if ((r = ib_read_file(argv[optind], 64u << 20, &text, &text_len)) < 0) {
                fprintf(stderr, "%s: cannot read %s: %s\n", prog, argv[optind], strerror(-r));
                return 1;
        }
        if (ib_key_load_private(key_path, &key, &e) < 0)
                return error(key_path, &e);
        r = ib_sign(key, text, text_len, &sig, &sig_len, &e);
        EVP_PKEY_free(key);
        if (r < 0)
                return error("sign", &e);
        if (asprintf(&sig_path, "%s.sig", argv[optind]) < 0)
                return 1;
        if ((r = ib_write_file_atomic(sig_path, sig, sig_len, 0644)) < 0) {
                fprintf(stderr, "%s: cannot write %s: %s\n", prog, sig_path, strerror(-r));
                return 1;
        }
        if (!quiet)
                printf("%s: signed\n", sig_path);
        return 0;
}

/*
 * The keyring a verifier uses: @path (--keyring), or inetboot.keyring beside
 * the manifest when the keys directory has root keys (none there: none).
 * Verified against the roots; 0 and *ret NULL when there is none to use.
 */
static int load_keyring(const char *keys, const char *manifest, const char *path, struct ib_keyring **ret) {
        _cleanup_(freep) char *text = NULL, *sig = NULL, *dflt = NULL, *sig_path = NULL;
        size_t len, sig_len;
        struct ib_err e = {};
        int r;

        *ret = NULL;
        if (ib_keyring_n_roots(keys) == 0) {
                if (path)
                        fprintf(stderr, "%s: --keyring %s: no root keys in %s/" IB_KEYRING_ROOTS "/ to check it with\n", prog, path,
                                keys);
                return path ? -1 : 0;
        }
        if (!path) {
                const char *slash = strrchr(manifest, '/');

                if (asprintf(&dflt, "%.*s" IB_KEYRING_FILE, slash ? (int)(slash - manifest + 1) : 0, manifest) < 0)
                        return -1;
        }
        if (asprintf(&sig_path, "%s.sig", path ?: dflt) < 0)
                return -1;
        r = ib_read_file(path ?: dflt, IB_KEYRING_MAX_BYTES, &text, &len);
        if (r == -ENOENT && !path)
                return 0;       /* no keyring: the folder's keys alone */
        if (r < 0) {
                fprintf(stderr, "%s: cannot read the keyring %s: %s\n", prog, path ?: dflt, strerror(-r));
                return -1;
        }
        if ((r = ib_read_file(sig_path, IB_SIG_MAX_BYTES, &sig, &sig_len)) < 0) {
                fprintf(stderr, "%s: cannot read the keyring's signature %s: %s\n", prog, sig_path, strerror(-r));
                return -1;
        }
        if (ib_keyring_verify(keys, text, len, sig, sig_len, ret, &e) < 0)
                return error(path ?: dflt, &e), -1;
        return 0;
}

static int cmd_verify(int argc, char **argv) {
        static const struct option opts[] = {
                { "keys", required_argument, NULL, 'K' },
                { "sig", required_argument, NULL, 'S' },
                { "keyring", required_argument, NULL, 'R' },
                { "cache", required_argument, NULL, 'c' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ib_manifest_freep) struct ib_manifest *m = NULL;
        _cleanup_(freep) char *text = NULL, *sig = NULL, *sig_default = NULL;
        _cleanup_(ib_keyring_freep) struct ib_keyring *kr = NULL;
        _cleanup_(ib_state_freep) struct ib_state *st = NULL;
        const char *keys = IB_KEYS_DIR, *sig_path = NULL, *path, *keyring_path = NULL, *cache = NULL;
        struct ib_state_notes notes = {};
        size_t text_len, sig_len;
        struct ib_err e = {};
        bool certified = false;
        uint8_t id[32];
        char hex[65];
        int c, r;

        while ((c = getopt_long(argc, argv, "K:S:R:c:qh", opts, NULL)) >= 0)
                switch (c) {
                case 'K': keys = optarg; break;
                case 'R': keyring_path = optarg; break;
                case 'c': cache = optarg; break;
                case 'S': sig_path = optarg; break;
                case 'q': quiet = true; break;
                case 'h': usage(stdout); return 0;
                default: return usage_error("%s", "verify: bad option");
                }
        if (optind + 1 != argc && optind + 2 != argc)
                return usage_error("%s", "verify takes NAME.manifest and optionally IMAGE");
        path = argv[optind];
        if (!sig_path) {
                if (asprintf(&sig_default, "%s.sig", path) < 0)
                        return 1;
                sig_path = sig_default;
        }
        if ((r = ib_read_file(path, IB_MANIFEST_MAX_BYTES, &text, &text_len)) < 0) {
                fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(-r));
                return 1;
        }
        if ((r = ib_read_file(sig_path, IB_SIG_MAX_BYTES, &sig, &sig_len)) < 0) {
                fprintf(stderr, "%s: cannot read the signature %s: %s\n", prog, sig_path,
                        r == -EFBIG ? "malformed signature file: too large" : strerror(-r));
                return 1;
        }
        if (load_keyring(keys, path, keyring_path, &kr) < 0)
                return 1;
        if (ib_verify_trusted(keys, kr, text, text_len, sig, sig_len, id, &certified, &e) < 0)
                return error(sig_path, &e);
        ib_hex(id, 32, hex);
        /* Signed is not enough: the manifest must also be well-formed. */
        if (ib_manifest_parse(text, text_len, &m, &e) < 0)
                return error(path, &e);
        /*
         * Signed and well-formed, but perhaps no longer to be used: clients
         * refuse an expired manifest, and (--cache DIR: a client's trust
         * state, read, never written) one older than they accepted.
         */
        if (cache && ib_state_load(cache, &st, &e) < 0)
                return error(cache, &e);
        if (ib_state_judge(st, id, m, (uint64_t)time(NULL), 0, &notes, &e) < 0 ||
            ib_keyring_judge(st, kr, id, certified, m, 0, &notes, &e) < 0)
                return error(path, &e);
        if (!quiet)
                printf("%s: good signature by key sha256:%s%s\n", path, hex, certified ? ", certified by the keyring" : "");
        if (optind + 2 == argc) {
                _cleanup_(closep) int fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
                _cleanup_(ib_iso_freep) struct ib_iso *iso = NULL;
                unsigned shown = 0;
                int64_t bad;

                if (fd < 0) {
                        fprintf(stderr, "%s: cannot open %s: %m\n", prog, argv[optind + 1]);
                        return 1;
                }
                bad = ib_image_verify(fd, m, report_bad, &shown, &e);
                if (bad < 0)
                        return error(argv[optind + 1], &e);
                if (bad > 0) {
                        fprintf(stderr, "%s: %s: %" PRId64 " of %" PRIu64 " blocks do not match the manifest\n", prog,
                                argv[optind + 1], bad, m->n_blocks);
                        return 1;
                }
                /* The entries' files are inside verified blocks; their own hashes must agree too. */
                if (m->n_entries && ib_iso_open(argv[optind + 1], &iso, &e) < 0)
                        return error(argv[optind + 1], &e);
                for (size_t i = 0; i < m->n_entries; i++) {
                        const struct ib_entry *en = &m->entries[i];

                        for (size_t j = 0; j < en->n_initrds + 1 + en->has_hypervisor; j++) {
                                const struct ib_file_ref *f = j == 0 ? &en->kernel : j <= en->n_initrds ? &en->initrds[j - 1] : &en->hypervisor;
                                uint8_t sha[32];
                                uint64_t size;

                                if (ib_iso_hash(iso, f->path, &size, sha, &e) < 0)
                                        return error(argv[optind + 1], &e);
                                if (size != f->size || memcmp(sha, f->sha256, 32) != 0) {
                                        fprintf(stderr, "%s: entry '%s': %s differs from the manifest\n", prog, en->label, f->path);
                                        return 1;
                                }
                        }
                }
                if (!quiet)
                        printf("%s: all %" PRIu64 " blocks and %zu entries match\n", argv[optind + 1], m->n_blocks, m->n_entries);
        }
        return 0;
}

/* ---- show ------------------------------------------------------------------- */

static const char *human(uint64_t n, char buf[32]) {
        static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double)n;
        unsigned u = 0;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units))
                v /= 1024, u++;
        snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
        return buf;
}

static void show_file(const char *what, const struct ib_file_ref *f) {
        char hex[65], h[32];

        ib_hex(f->sha256, 32, hex);
        printf("    %-10s %s (%s, sha256 %.16s...)\n", what, f->path, human(f->size, h), hex);
}

static int cmd_show(int argc, char **argv) {
        _cleanup_(ib_manifest_freep) struct ib_manifest *m = NULL;
        _cleanup_(freep) char *sig_path = NULL, *sig = NULL;
        struct ib_err e = {};
        char hex[65], h[32], when[64], until[40];
        struct tm tm;
        time_t t;
        size_t sig_len;
        struct ib_sigfile sf = {};

        if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
                usage(stdout);
                return 0;
        }
        if (argc != 2)
                return usage_error("%s", "show takes one NAME.manifest");
        if (ib_manifest_load(argv[1], &m, &e) < 0)
                return error(argv[1], &e);
        ib_hex(m->sha256, 32, hex);
        t = (time_t)m->created;
        if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
                snprintf(when, sizeof(when), "%" PRIu64, m->created);
        printf("image      %s\n", m->name);
        printf("size       %" PRIu64 " bytes (%s)\n", m->size, human(m->size, h));
        printf("sha256     %s\n", hex);
        printf("blocks     %" PRIu64 " of %u bytes\n", m->n_blocks, m->block_size);
        printf("serial     %" PRIu64 "\n", m->serial);
        printf("created    %s\n", when);
        if (m->expires)
                printf("expires    %s%s\n", ib_state_time(m->expires, until),
                       m->expires <= (uint64_t)time(NULL) ? " (expired: clients refuse it)" : "");
        for (size_t i = 0; i < m->n_urls; i++)
                printf("mirror     %s\n", m->urls[i]);
        for (size_t i = 0; i < m->n_stores; i++)
                printf("store      %s\n", m->stores[i]);
        if (m->n_profile)
                printf("profile    %zu blocks to prefetch\n", m->n_profile);
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct ib_entry *en = &m->entries[i];

                printf("entry      %s [%s]\n", en->label, en->family);
                show_file("kernel", &en->kernel);
                for (size_t j = 0; j < en->n_initrds; j++)
                        show_file("initrd", &en->initrds[j]);
                printf("    %-10s %s\n", "cmdline", en->cmdline);
                if (en->has_hypervisor) {
                        show_file("hypervisor", &en->hypervisor);
                        if (en->hypervisor_args)
                                printf("    %-10s %s\n", "hyp. args", en->hypervisor_args);
                }
        }
        if (asprintf(&sig_path, "%s.sig", argv[1]) >= 0 && ib_read_file(sig_path, IB_SIG_MAX_BYTES, &sig, &sig_len) == 0 &&
            ib_sigfile_parse(sig, sig_len, &sf, NULL) == 0) {
                ib_hex(sf.key_id, 32, hex);
                printf("signature  %s by key sha256:%s (not checked here: use 'verify')\n", sf.algorithm, hex);
                ib_sigfile_clear(&sf);
        } else
                printf("signature  none found at %s\n", sig_path ?: "?");
        return 0;
}

/* ---- keyring ----------------------------------------------------------------- */

static const char *fp_hex(const uint8_t fp[32], char hex[65]) {
        ib_hex(fp, 32, hex);
        return hex;
}

static int keyring_show(const char *path) {
        _cleanup_(ib_keyring_freep) struct ib_keyring *kr = NULL;
        _cleanup_(freep) char *text = NULL, *sig = NULL, *sig_path = NULL;
        struct ib_sigfile sf = {};
        size_t len, sig_len;
        struct ib_err e = {};
        char t1[40], t2[40], hex[65];
        uint64_t now = (uint64_t)time(NULL);
        int r;

        if ((r = ib_read_file(path, IB_KEYRING_MAX_BYTES, &text, &len)) < 0) {
                fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(-r));
                return 1;
        }
        if (ib_keyring_parse(text, len, &kr, &e) < 0)
                return error(path, &e);
        printf("keyring    version %" PRIu64 ", created %s\n", kr->version, ib_state_time(kr->created, t1));
        if (kr->expires)
                printf("expires    %s%s\n", ib_state_time(kr->expires, t1), kr->expires <= now ? " (expired: clients refuse it)" : "");
        for (size_t i = 0; i < kr->n_keys; i++) {
                const struct ib_keyring_key *k = &kr->keys[i];

                printf("key        sha256:%s %s\n           valid %s to %s%s, may sign %s\n", fp_hex(k->fp, hex),
                       ib_key_algorithm(k->pub), ib_state_time(k->not_before, t1), ib_state_time(k->not_after, t2),
                       now >= k->not_after ? " (expired)" : now < k->not_before ? " (not yet)" : "", k->names);
        }
        for (size_t i = 0; i < kr->n_revoked; i++)
                printf("revoked    sha256:%s in version %" PRIu64 "\n", fp_hex(kr->revoked[i].fp, hex), kr->revoked[i].version);
        if (asprintf(&sig_path, "%s.sig", path) >= 0 && ib_read_file(sig_path, IB_SIG_MAX_BYTES, &sig, &sig_len) == 0 &&
            ib_sigfile_parse(sig, sig_len, &sf, NULL) == 0) {
                printf("signature  %s by root key sha256:%s (not checked here: use 'verify')\n", sf.algorithm, fp_hex(sf.key_id, hex));
                ib_sigfile_clear(&sf);
        } else
                printf("signature  none found at %s\n", sig_path ?: "?");
        return 0;
}

/* The keyring at @path, whose signature must be @root's own: a root key changes only what it signed. */
static int keyring_load_own(const char *path, EVP_PKEY *root, struct ib_keyring **ret) {
        _cleanup_(freep) char *text = NULL, *sig = NULL, *sig_path = NULL;
        struct ib_sigfile sf = {};
        size_t len, sig_len;
        struct ib_err e = {};
        int r;

        if ((r = ib_read_file(path, IB_KEYRING_MAX_BYTES, &text, &len)) < 0) {
                fprintf(stderr, "%s: cannot read %s: %s%s\n", prog, path, strerror(-r),
                        r == -ENOENT ? " (start one with 'inetboot-sign keyring init')" : "");
                return -1;
        }
        if (asprintf(&sig_path, "%s.sig", path) < 0)
                return -1;
        if ((r = ib_read_file(sig_path, IB_SIG_MAX_BYTES, &sig, &sig_len)) < 0) {
                fprintf(stderr, "%s: cannot read %s: %s\n", prog, sig_path, strerror(-r));
                return -1;
        }
        if (ib_sigfile_parse(sig, sig_len, &sf, &e) < 0 || ib_verify_key(root, &sf, text, len, &e) < 0) {
                ib_sigfile_clear(&sf);
                fprintf(stderr, "%s: %s: %s: not signed by this root key; refusing to change it\n", prog, sig_path, e.msg);
                return -1;
        }
        ib_sigfile_clear(&sf);
        if (ib_keyring_parse(text, len, ret, &e) < 0)
                return error(path, &e), -1;
        return 0;
}

/* Write @kr to @path and its signature by @root to @path.sig (the keyring first). */
static int keyring_write(const struct ib_keyring *kr, const char *path, EVP_PKEY *root) {
        _cleanup_(freep) char *text = NULL, *sig = NULL, *sig_path = NULL;
        size_t len, sig_len;
        struct ib_err e = {};
        int r;

        if (ib_keyring_format(kr, &text, &len) < 0 || asprintf(&sig_path, "%s.sig", path) < 0)
                return -1;
        if (ib_sign(root, text, len, &sig, &sig_len, &e) < 0)
                return error("keyring", &e), -1;
        if ((r = ib_write_file_replace(path, text, len, 0644, true)) < 0 ||
            (r = ib_write_file_replace(sig_path, sig, sig_len, 0644, true)) < 0) {
                fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(-r));
                return -1;
        }
        return 0;
}

/* KEY.pub, or sha256:FP (revoke only: a lost key's fingerprint is all one may have). */
static int keyring_key_arg(const char *arg, bool fp_ok, EVP_PKEY **ret_key, uint8_t fp[32]) {
        struct ib_err e = {};

        if (strncmp(arg, "sha256:", 7) == 0 && fp_ok) {
                if (strlen(arg) != 7 + 64 || ib_unhex(arg + 7, 64, fp, 32) < 0)
                        return usage_error("'%s' is not sha256: and 64 hex digits", arg), -1;
                return 0;
        }
        if (ib_key_load_public(arg, ret_key, &e) < 0)
                return error(arg, &e), -1;
        return ib_key_fingerprint(*ret_key, fp) < 0 ? -1 : 0;
}

static int cmd_keyring(int argc, char **argv) {
        enum { O_UNTIL = 256, O_FROM, O_NAMES, O_EXPIRES, O_CREATED };
        static const struct option opts[] = {
                { "root-key", required_argument, NULL, 'r' },
                { "keyring", required_argument, NULL, 'f' },
                { "until", required_argument, NULL, O_UNTIL },
                { "from", required_argument, NULL, O_FROM },
                { "names", required_argument, NULL, O_NAMES },
                { "expires", required_argument, NULL, O_EXPIRES },
                { "created", required_argument, NULL, O_CREATED },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ib_keyring_freep) struct ib_keyring *kr = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *root = NULL, *pub = NULL;
        const char *sub, *root_path = NULL, *path = IB_KEYRING_FILE, *until = NULL, *from = NULL, *names = "*";
        const char *expires = NULL, *created_arg = NULL;
        uint64_t created, not_before, not_after, old_expires = 0;
        struct ib_err e = {};
        uint8_t fp[32];
        char hex[65], t1[40], t2[40];
        int c;

        if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        sub = argv[1];
        argc--, argv++;
        if (strcmp(sub, "show") == 0) {
                if (argc > 2)
                        return usage_error("%s", "keyring show takes one FILE");
                return keyring_show(argc == 2 ? argv[1] : IB_KEYRING_FILE);
        }
        if (strcmp(sub, "init") && strcmp(sub, "certify") && strcmp(sub, "revoke") && strcmp(sub, "renew"))
                return usage_error("unknown keyring command '%s' (init, certify, revoke, renew, show)", sub);
        while ((c = getopt_long(argc, argv, "r:f:h", opts, NULL)) >= 0)
                switch (c) {
                case 'r': root_path = optarg; break;
                case 'f': path = optarg; break;
                case O_UNTIL: until = optarg; break;
                case O_FROM: from = optarg; break;
                case O_NAMES: names = optarg; break;
                case O_EXPIRES: expires = optarg; break;
                case O_CREATED: created_arg = optarg; break;
                case 'h': usage(stdout); return 0;
                default: return usage_error("keyring %s: bad option", sub);
                }
        if (!root_path)
                return usage_error("keyring %s needs --root-key ROOT.key (create one with 'inetboot-sign keygen NAME')", sub);
        if (optind + (strcmp(sub, "certify") == 0 || strcmp(sub, "revoke") == 0) != argc)
                return usage_error("keyring %s takes %s", sub, strcmp(sub, "certify") == 0 ? "one KEY.pub" :
                                   strcmp(sub, "revoke") == 0 ? "one KEY.pub or sha256:FP" : "no argument");
        if (strcmp(sub, "certify") == 0 && !until)
                return usage_error("%s", "keyring certify needs --until WHEN: a certified key is valid for a while, not for ever");
        if (strcmp(sub, "certify") && (until || from || strcmp(names, "*")))
                return usage_error("%s", "--until, --from and --names are for keyring certify");
        if (ib_key_load_private(root_path, &root, &e) < 0)
                return error(root_path, &e);
        created = (uint64_t)time(NULL);
        if (created_arg) {
                if (ib_parse_u64(created_arg, strlen(created_arg), &created) < 0)
                        return usage_error("bad --created '%s' (seconds since 1970)", created_arg);
        } else {
                const char *sde = getenv("SOURCE_DATE_EPOCH");

                if (sde && ib_parse_u64(sde, strlen(sde), &created) < 0)
                        created = (uint64_t)time(NULL);
        }
        if (strcmp(sub, "init") == 0) {
                if (access(path, F_OK) == 0)
                        return fprintf(stderr, "%s: %s exists already; 'keyring renew' writes its next version\n", prog, path), 1;
                if (!(kr = ib_keyring_new()))
                        return 1;
        } else {
                if (keyring_load_own(path, root, &kr) < 0)
                        return 1;
                old_expires = kr->expires;
                if (kr->version == UINT64_MAX || created < kr->created)
                        return fprintf(stderr, "%s: %s: version %" PRIu64 " was created on %s, after this one would be\n", prog,
                                       path, kr->version, ib_state_time(kr->created, t1)), 1;
        }
        kr->version++;
        kr->created = created;
        kr->expires = 0;
        if (expires) {
                if (parse_expires(expires, created, &kr->expires) < 0 || kr->expires <= created)
                        return usage_error("bad --expires '%s' (+DAYS, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @SECONDS, after the creation)",
                                           expires);
        } else if (old_expires > created)
                kr->expires = old_expires;
        else if (old_expires)
                return usage_error("version %" PRIu64 " expired on %s: give the new one an --expires", kr->version - 1,
                                   ib_state_time(old_expires, t1));
        if (strcmp(sub, "certify") == 0) {
                if (keyring_key_arg(argv[optind], false, &pub, fp) < 0)
                        return 1;
                not_before = created;
                if (from && parse_expires(from, created, &not_before) < 0)
                        return usage_error("bad --from '%s'", from);
                if (parse_expires(until, created, &not_after) < 0)
                        return usage_error("bad --until '%s' (+DAYS, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @SECONDS)", until);
                if (ib_keyring_certify(kr, pub, not_before, not_after, names, &e) < 0)
                        return error("keyring certify", &e);
        } else if (strcmp(sub, "revoke") == 0) {
                if (keyring_key_arg(argv[optind], true, &pub, fp) < 0)
                        return 1;
                if (ib_keyring_revoke(kr, fp, kr->version, &e) < 0)
                        return error("keyring revoke", &e);
        }
        if (keyring_write(kr, path, root) < 0)
                return 1;
        if (!quiet) {
                printf("%s: version %" PRIu64 ", %zu key%s certified, %zu revoked%s%s; signed into %s.sig\n", path, kr->version,
                       kr->n_keys, kr->n_keys == 1 ? "" : "s", kr->n_revoked, kr->expires ? ", expires " : "",
                       kr->expires ? ib_state_time(kr->expires, t2) : "", path);
                if (strcmp(sub, "certify") == 0)
                        printf("certified key sha256:%s: %s to %s, images %s\n", fp_hex(fp, hex), ib_state_time(not_before, t1),
                               ib_state_time(not_after, t2), names);
                else if (strcmp(sub, "revoke") == 0)
                        printf("revoked key sha256:%s\n", fp_hex(fp, hex));
        }
        return 0;
}

int main(int argc, char **argv) {
        const char *cmd;

        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        cmd = argv[1];
        if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(cmd, "-q") == 0 || strcmp(cmd, "--quiet") == 0) {
                quiet = true;
                argv++, argc--;
                if (argc < 2)
                        return usage_error("%s", "missing command");
                cmd = argv[1];
        }
        if (strcmp(cmd, "keygen") == 0)
                return cmd_keygen(argc - 1, argv + 1);
        if (strcmp(cmd, "make") == 0)
                return cmd_make(argc - 1, argv + 1);
        if (strcmp(cmd, "verify") == 0)
                return cmd_verify(argc - 1, argv + 1);
        if (strcmp(cmd, "show") == 0)
                return cmd_show(argc - 1, argv + 1);
        if (strcmp(cmd, "sign") == 0)
                return cmd_sign(argc - 1, argv + 1);
        if (strcmp(cmd, "keyring") == 0)
                return cmd_keyring(argc - 1, argv + 1);
        return usage_error("unknown command '%s' (keygen, make, verify, show, sign, keyring)", cmd);
}
