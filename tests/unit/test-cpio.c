/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-cpio: the newc writer (reproducible bytes, parents, name rules), the
 * initrd reader (round trip, strictness, limits), and both against the real
 * tools: GNU cpio extracts what we write; cpio | gzip, zstd, xz, ... and an
 * early + zstd concatenation as Debian builds it are read back; the host's
 * own /boot/initrd.img-* is walked.
 *
 * Needs cpio, gzip, zstd, xz, lzma, bzip2 and lz4 on PATH (make deps).
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpio.h"
#include "unit.h"

static char tmp[] = "/tmp/ib-cpio-XXXXXX";

/* ---- collecting a walk ----------------------------------------------------------- */

struct got {
        char *name;
        uint32_t mode;
        char *data;
        size_t size;
};

struct list {
        struct got *v;
        size_t n;
};

static int collect(const struct ib_cpio_entry *e, void *ctx) {
        struct list *l = ctx;
        struct got *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

        if (!nv)
                return -ENOMEM;
        l->v = nv;
        nv[l->n].name = strdup(e->name);
        nv[l->n].mode = e->mode;
        nv[l->n].size = e->size;
        nv[l->n].data = malloc(e->size + 1);
        if (!nv[l->n].name || !nv[l->n].data)
                return -ENOMEM;
        if (e->size)
                memcpy(nv[l->n].data, e->data, e->size);
        nv[l->n].data[e->size] = 0;
        l->n++;
        return 0;
}

static void list_free(struct list *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].name);
                free(l->v[i].data);
        }
        free(l->v);
        *l = (struct list) {};
}

static const struct got *find(const struct list *l, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].name, name) == 0)
                        return &l->v[i];
        return NULL;
}

static size_t count(const struct list *l, const char *name) {
        size_t k = 0;

        for (size_t i = 0; i < l->n; i++)
                k += strcmp(l->v[i].name, name) == 0;
        return k;
}

/* Walk @buf into @l (emptied first); the walk's return. */
static int walk(const void *buf, size_t len, size_t max, struct list *l, struct ib_err *err) {
        int r;

        list_free(l);
        *err = (struct ib_err) {};
        r = ib_initrd_walk(buf, len, max, collect, l, err);
        if (r < 0 && r != -ENOMEM)
                printf("# walk: %d: %s\n", r, err->msg);
        return r;
}

static int walk_quiet(const void *buf, size_t len, size_t max, struct ib_err *err) {
        struct list l = {};
        int r;

        *err = (struct ib_err) {};
        r = ib_initrd_walk(buf, len, max, collect, &l, err);
        list_free(&l);
        return r;
}

/* ---- files and commands ---------------------------------------------------------- */

static char *path_in(const char *name) {
        static char buf[16][PATH_MAX];     /* a few per expression */
        static unsigned k;
        char *p = buf[k++ % 16];

        snprintf(p, PATH_MAX, "%s/%s", tmp, name);
        return p;
}

static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...) {
        char cmd[4096];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        r = system(cmd);
        if (r != 0)
                printf("# command failed (%d): %s\n", r, cmd);
        return r;
}

static char *slurp(const char *path, size_t *len) {
        char *buf = NULL;

        if (ib_read_file(path, (size_t)1 << 31, &buf, len) < 0)
                return NULL;
        return buf;
}

/* ---- the sample archive ---------------------------------------------------------- */

static const char hello[] = "#!/bin/sh\necho hello\n";
static const char conf[] = { 'a', 0, 'b' };     /* binary, with a NUL */

static const struct {
        const char *name;
        uint32_t mode;
        const char *data;
        size_t size;
} sample_entries[] = {
        { "inetboot",                040755, "", 0 },
        { "inetboot/bin",            040755, "", 0 },
        { "inetboot/bin/hello",      0100755, hello, sizeof(hello) - 1 },
        { "inetboot/bin/hi",         0120777, "hello", 5 },
        { "inetboot/etc",            040700, "", 0 },
        { "inetboot/etc/conf",       0100600, conf, sizeof(conf) },
        { "inetboot/etc/empty",      0100644, "", 0 },
        { "top",                     0100444, "top\n", 4 },
        { "inetboot/x/y/z",          040751, "", 0 },
};

static void *sample(size_t *len) {
        struct ib_cpio *c = NULL;
        struct ib_err err = {};
        void *buf = NULL;
        int r = 0;

        if (ib_cpio_new(&c) < 0)
                return NULL;
        r = r ?: ib_cpio_add_file(c, "inetboot/bin/hello", 0755, hello, sizeof(hello) - 1, &err);
        r = r ?: ib_cpio_add_symlink(c, "inetboot/bin/hi", "hello", &err);
        r = r ?: ib_cpio_add_dir(c, "inetboot/etc", 0700, &err);
        r = r ?: ib_cpio_add_file(c, "inetboot/etc/conf", 0600, conf, sizeof(conf), &err);
        r = r ?: ib_cpio_add_file(c, "inetboot/etc/empty", 0644, NULL, 0, &err);
        r = r ?: ib_cpio_add_file(c, "/top", 0444, "top\n", 4, &err);
        r = r ?: ib_cpio_add_dir(c, "inetboot/x/y/z", 0751, &err);
        r = r ?: ib_cpio_finish(c, &buf, len, &err);
        if (r < 0)
                printf("# sample: %s\n", err.msg);
        ib_cpio_free(c);
        return r < 0 ? NULL : buf;
}

/* The 13 header fields of the entry at @p. */
static int header(const uint8_t *p, uint32_t f[13]) {
        if (memcmp(p, "070701", 6) != 0)
                return -1;
        for (unsigned i = 0; i < 13; i++) {
                char field[9];

                memcpy(field, p + 6 + 8 * i, 8);
                field[8] = 0;
                if (strspn(field, "0123456789ABCDEF") != 8)
                        return -1;
                f[i] = (uint32_t)strtoul(field, NULL, 16);
        }
        return 0;
}

static void test_writer(void) {
        size_t len1 = 0, len2 = 0, off = 0, n = 0, want = ELEMENTSOF(sample_entries) + 3;   /* 2 more parents, the trailer */
        uint8_t *a = sample(&len1), *b = sample(&len2);
        bool fields_ok = true, ino_ok = true, nlink_ok = true, align_ok = true;
        char names[16][64] = {};

        REQUIRE("writer builds the sample", a && b);
        CHECK("writer output identical across runs", len1 == len2 && memcmp(a, b, len1) == 0);
        CHECK("writer output a multiple of 512", len1 % 512 == 0);
        /* Walk the headers by hand: order, inode numbers, fixed fields. */
        for (;;) {
                uint32_t f[13];

                if (off + 110 > len1 || header(a + off, f) < 0 || n >= 16) {
                        fields_ok = false;
                        break;
                }
                snprintf(names[n], sizeof(names[n]), "%s", (char *)a + off + 110);
                if (strcmp(names[n], "TRAILER!!!") == 0) {
                        fields_ok &= f[0] == 0 && f[1] == 0 && f[4] == 1 && f[6] == 0 && f[11] == 11;
                        off += 124;
                        n++;
                        break;
                }
                fields_ok &= f[2] == 0 && f[3] == 0 && f[5] == 0 && f[7] == 0 && f[8] == 0 && f[9] == 0 &&
                             f[10] == 0 && f[12] == 0 && f[11] == strlen(names[n]) + 1;
                ino_ok &= f[0] == n + 1;
                nlink_ok &= f[4] == ((f[1] & 0170000) == 040000 ? 2u : 1u);
                for (size_t i = off + 110 + f[11] - 1; i < off + ((110 + f[11] + 3) & ~3u); i++)
                        align_ok &= a[i] == 0;
                if (f[6] > 0)
                        for (size_t i = off + ((110 + f[11] + 3) & ~3u) + f[6]; i % 4; i++)
                                align_ok &= a[i] == 0;
                off += (110 + f[11] + 3) & ~3u;
                off += (f[6] + 3) & ~3u;
                n++;
        }
        CHECK("writer header fields zero", fields_ok);
        CHECK("writer inode numbers sequential from 1", ino_ok);
        CHECK("writer nlink 2 for dirs, 1 otherwise", nlink_ok);
        CHECK("writer pads name and data to 4 with NULs", align_ok);
        CHECK("writer entry count (parents added)", n == want);
        CHECK("writer trailer last, then only padding",
              n == want && strcmp(names[n - 1], "TRAILER!!!") == 0 && off <= len1 &&
              (off == len1 || (a[off] == 0 && memcmp(a + off, a + off + 1, len1 - off - 1) == 0)));
        CHECK("writer parents before children",
              strcmp(names[0], "inetboot") == 0 && strcmp(names[1], "inetboot/bin") == 0 &&
              strcmp(names[2], "inetboot/bin/hello") == 0 && strcmp(names[8], "inetboot/x") == 0 &&
              strcmp(names[9], "inetboot/x/y") == 0 && strcmp(names[10], "inetboot/x/y/z") == 0);
        CHECK("writer strips the leading /", strcmp(names[7], "top") == 0);
        free(a);
        free(b);

        /* Golden bytes of the smallest archive. */
        {
                struct ib_cpio *c = NULL;
                void *buf = NULL;
                size_t len = 0;
                char want_bytes[512] = {};

                memcpy(want_bytes,
                       "070701" "00000001" "000081A4" "00000000" "00000000" "00000001" "00000000" "00000001"
                       "00000000" "00000000" "00000000" "00000000" "00000002" "00000000" "a\0" "x\0\0\0"
                       "070701" "00000000" "00000000" "00000000" "00000000" "00000001" "00000000" "00000000"
                       "00000000" "00000000" "00000000" "00000000" "0000000B" "00000000" "TRAILER!!!\0",
                       112 + 4 + 121);
                REQUIRE("golden new", ib_cpio_new(&c) == 0);
                CHECK("golden add", ib_cpio_add_file(c, "a", 0644, "x", 1, NULL) == 0);
                CHECK("golden finish", ib_cpio_finish(c, &buf, &len, NULL) == 0);
                CHECK("golden bytes", buf && len == 512 && memcmp(buf, want_bytes, 512) == 0);
                free(buf);
                /* The writer is empty again: the next archive starts over. */
                buf = NULL;
                CHECK("writer reusable after finish", ib_cpio_add_file(c, "a", 0644, "x", 1, NULL) == 0 &&
                      ib_cpio_finish(c, &buf, &len, NULL) == 0 && len == 512 && memcmp(buf, want_bytes, 512) == 0);
                free(buf);
                buf = NULL;
                CHECK("empty archive is a padded trailer", ib_cpio_finish(c, &buf, &len, NULL) == 0 && len == 512 &&
                      memcmp((char *)buf + 110, "TRAILER!!!", 11) == 0);
                free(buf);
                ib_cpio_free(c);
        }
}

static void test_parents(void) {
        struct ib_cpio *c = NULL;
        struct ib_err err = {};
        struct list l = {};
        void *buf = NULL;
        size_t len = 0;

        REQUIRE("parents new", ib_cpio_new(&c) == 0);
        CHECK("parents add a/b/c", ib_cpio_add_file(c, "a/b/c", 0644, "1", 1, &err) == 0);
        CHECK("parents add a/b/d", ib_cpio_add_file(c, "a/b/d", 0644, "2", 1, &err) == 0);
        CHECK("parents add a/e/f", ib_cpio_add_symlink(c, "a/e/f", "../b/c", &err) == 0);
        CHECK("parents re-add dir same mode is a no-op", ib_cpio_add_dir(c, "a/b", 0755, &err) == 0);
        CHECK("parents re-add dir other mode", ib_cpio_add_dir(c, "a/b", 0700, &err) == -EEXIST && err.code == -EEXIST);
        CHECK("parents finish", ib_cpio_finish(c, &buf, &len, &err) == 0);
        CHECK("parents walk", walk(buf, len, 0, &l, &err) == 0 && l.n == 6);
        CHECK("parents a once", count(&l, "a") == 1);
        CHECK("parents a/b once", count(&l, "a/b") == 1);
        CHECK("parents a/e once", count(&l, "a/e") == 1);
        CHECK("parents mode 0755", find(&l, "a") && find(&l, "a")->mode == 040755 && find(&l, "a/e")->mode == 040755);
        CHECK("parents order", l.n == 6 && strcmp(l.v[0].name, "a") == 0 && strcmp(l.v[1].name, "a/b") == 0 &&
              strcmp(l.v[2].name, "a/b/c") == 0 && strcmp(l.v[3].name, "a/b/d") == 0 &&
              strcmp(l.v[4].name, "a/e") == 0 && strcmp(l.v[5].name, "a/e/f") == 0);
        list_free(&l);
        free(buf);
        ib_cpio_free(c);
}

static void test_rejects(void) {
        static const char *const bad[] = {
                "", "/", "//a", "a//b", "a/", "a/b/", ".", "..", "./a", "a/.", "a/./b", "a/../b", "../a", "/..",
                "TRAILER!!!", "/TRAILER!!!", "TRAILER!!!/x",
        };
        struct ib_cpio *c = NULL;
        struct ib_err err = {};
        void *ref = NULL, *buf = NULL;
        size_t ref_len = 0, len = 0;
        char *longname = malloc(4097);
        char check[96];
        int r;

        REQUIRE("rejects new", ib_cpio_new(&c) == 0 && longname);
        CHECK("reference add", ib_cpio_add_file(c, "d/f", 0644, "x", 1, &err) == 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err = (struct ib_err) {};
                r = ib_cpio_add_file(c, bad[i], 0644, "x", 1, &err);
                snprintf(check, sizeof(check), "rejects file name \"%s\"", bad[i]);
                CHECK(check, r == -EINVAL && err.code == -EINVAL && err.msg[0]);
                r = ib_cpio_add_dir(c, bad[i], 0755, &err);
                snprintf(check, sizeof(check), "rejects dir name \"%s\"", bad[i]);
                CHECK(check, r == -EINVAL);
        }
        CHECK("accepts x/TRAILER!!!", ib_cpio_add_file(c, "x/TRAILER!!!", 0644, "", 0, &err) == 0);
        CHECK("accepts dots in names", ib_cpio_add_file(c, "x/.a/..b/...", 0644, "", 0, &err) == 0);

        memset(longname, 'n', 4096);
        longname[4096] = 0;
        CHECK("rejects 4096-byte name", ib_cpio_add_file(c, longname, 0644, "", 0, &err) == -ENAMETOOLONG);
        longname[4095] = 0;
        CHECK("accepts 4095-byte name", ib_cpio_add_file(c, longname, 0644, "", 0, &err) == 0);
        longname[0] = '/';
        longname[4095] = 'n';
        CHECK("4095 bytes after the leading /", ib_cpio_add_dir(c, longname, 0755, &err) == -EEXIST);
        longname[0] = 'n';
        CHECK("rejects mode bits", ib_cpio_add_file(c, "m", 0100644, "", 0, &err) == -EINVAL);
        CHECK("rejects mode bits (dir)", ib_cpio_add_dir(c, "m", 010755, &err) == -EINVAL);
        CHECK("rejects 4 GiB of data",
              ib_cpio_add_file(c, "big", 0644, longname, (size_t)UINT32_MAX + 1, &err) == -EFBIG && err.code == -EFBIG);
        CHECK("rejects empty symlink target", ib_cpio_add_symlink(c, "l", "", &err) == -EINVAL);
        CHECK("rejects long symlink target", ib_cpio_add_symlink(c, "l", longname, &err) == -EINVAL);
        CHECK("rejects duplicate file", ib_cpio_add_file(c, "d/f", 0644, "y", 1, &err) == -EEXIST);
        CHECK("rejects file over dir", ib_cpio_add_file(c, "d", 0644, "y", 1, &err) == -EEXIST);
        CHECK("rejects dir over file", ib_cpio_add_dir(c, "d/f", 0755, &err) == -EEXIST);
        CHECK("rejects symlink over file", ib_cpio_add_symlink(c, "d/f", "x", &err) == -EEXIST);
        CHECK("rejects child of file", ib_cpio_add_file(c, "d/f/g", 0644, "y", 1, &err) == -ENOTDIR &&
              strstr(err.msg, "d/f"));
        CHECK("rejects missing source", ib_cpio_add_file_from(c, "s", 0644, path_in("missing"), &err) == -ENOENT &&
              strstr(err.msg, "missing"));
        CHECK("rejects directory source", ib_cpio_add_file_from(c, "s", 0644, tmp, &err) == -EISDIR);
        CHECK("rejects device source", ib_cpio_add_file_from(c, "s", 0644, "/dev/null", &err) == -EINVAL);
        CHECK("finish after rejects", ib_cpio_finish(c, &buf, &len, &err) == 0);
        ib_cpio_free(c);

        /* The same good calls without the bad ones: identical bytes, so failures changed nothing. */
        REQUIRE("reference new", ib_cpio_new(&c) == 0);
        ib_cpio_add_file(c, "d/f", 0644, "x", 1, &err);
        ib_cpio_add_file(c, "x/TRAILER!!!", 0644, "", 0, &err);
        ib_cpio_add_file(c, "x/.a/..b/...", 0644, "", 0, &err);
        longname[4095] = 0;
        ib_cpio_add_file(c, longname, 0644, "", 0, &err);
        CHECK("reference finish", ib_cpio_finish(c, &ref, &ref_len, &err) == 0);
        CHECK("failed calls leave the writer unchanged", buf && ref && len == ref_len && memcmp(buf, ref, len) == 0);
        ib_cpio_free(c);
        free(buf);
        free(ref);
        free(longname);
}

static void test_roundtrip(void) {
        size_t len = 0;
        void *buf = sample(&len);
        struct ib_err err = {};
        struct list l = {};
        bool same = true;

        REQUIRE("round trip sample", buf);
        CHECK("round trip walk", walk(buf, len, 0, &l, &err) == 0);
        CHECK("round trip count", l.n == ELEMENTSOF(sample_entries) + 2);
        for (size_t i = 0; i < ELEMENTSOF(sample_entries); i++) {
                const struct got *g = find(&l, sample_entries[i].name);

                if (!g || g->mode != sample_entries[i].mode || g->size != sample_entries[i].size ||
                    memcmp(g->data, sample_entries[i].data, g->size) != 0) {
                        printf("# mismatch for %s\n", sample_entries[i].name);
                        same = false;
                }
        }
        CHECK("round trip names, modes and data", same);
        list_free(&l);

        /* A file from the host. */
        {
                struct ib_cpio *c = NULL;
                void *out = NULL;
                size_t out_len = 0;
                uint8_t bin[3000];

                for (size_t i = 0; i < sizeof(bin); i++)
                        bin[i] = (uint8_t)(i * 7);
                REQUIRE("host file", ib_write_file_atomic(path_in("src.bin"), bin, sizeof(bin), 0644) == 0);
                REQUIRE("host file new", ib_cpio_new(&c) == 0);
                CHECK("add_file_from", ib_cpio_add_file_from(c, "inetboot/src.bin", 0640, path_in("src.bin"), &err) == 0);
                CHECK("add_file_from finish", ib_cpio_finish(c, &out, &out_len, &err) == 0);
                CHECK("add_file_from round trip", walk(out, out_len, 0, &l, &err) == 0 && l.n == 2 &&
                      find(&l, "inetboot/src.bin") && find(&l, "inetboot/src.bin")->mode == 0100640 &&
                      find(&l, "inetboot/src.bin")->size == sizeof(bin) &&
                      memcmp(find(&l, "inetboot/src.bin")->data, bin, sizeof(bin)) == 0);
                list_free(&l);
                free(out);
                ib_cpio_free(c);
        }
        free(buf);
}

/* ---- against GNU cpio ------------------------------------------------------------- */

static void test_cpio_extracts(void) {
        size_t len = 0, flen = 0;
        void *buf = sample(&len);
        char *f, target[64] = {};
        struct stat st;
        ssize_t n;

        REQUIRE("extract sample", buf);
        REQUIRE("extract write", ib_write_file_atomic(path_in("ours.cpio"), buf, len, 0644) == 0);
        REQUIRE("extract dir", mkdir(path_in("x"), 0755) == 0);
        CHECK("cpio -idm extracts our archive", sh("cd '%s' && cpio -idm --quiet < '%s'", path_in("x"), path_in("ours.cpio")) == 0);
        f = slurp(path_in("x/inetboot/bin/hello"), &flen);
        CHECK("cpio: file contents", f && flen == sizeof(hello) - 1 && memcmp(f, hello, flen) == 0);
        free(f);
        CHECK("cpio: file mode", stat(path_in("x/inetboot/bin/hello"), &st) == 0 && st.st_mode == 0100755);
        f = slurp(path_in("x/inetboot/etc/conf"), &flen);
        CHECK("cpio: binary contents", f && flen == sizeof(conf) && memcmp(f, conf, flen) == 0);
        free(f);
        CHECK("cpio: binary file mode", stat(path_in("x/inetboot/etc/conf"), &st) == 0 && st.st_mode == 0100600);
        CHECK("cpio: empty file", stat(path_in("x/inetboot/etc/empty"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
        CHECK("cpio: top-level file", stat(path_in("x/top"), &st) == 0 && st.st_size == 4 && (st.st_mode & 07777) == 0444);
        n = readlink(path_in("x/inetboot/bin/hi"), target, sizeof(target) - 1);
        CHECK("cpio: symlink", n == 5 && memcmp(target, "hello", 5) == 0);
        CHECK("cpio: dir mode", stat(path_in("x/inetboot/etc"), &st) == 0 && st.st_mode == 040700);
        CHECK("cpio: auto parent mode", stat(path_in("x/inetboot/x/y"), &st) == 0 && st.st_mode == 040755);
        CHECK("cpio: deep dir mode", stat(path_in("x/inetboot/x/y/z"), &st) == 0 && st.st_mode == 040751);
        CHECK("cpio: mtime 0", stat(path_in("x/inetboot/bin/hello"), &st) == 0 && st.st_mtime == 0);
        CHECK("cpio -t lists the same names",
              sh("cpio -it --quiet < '%s' > '%s' && printf '%%s\\n' inetboot inetboot/bin inetboot/bin/hello inetboot/bin/hi "
                 "inetboot/etc inetboot/etc/conf inetboot/etc/empty top inetboot/x inetboot/x/y inetboot/x/y/z | "
                 "cmp -s - '%s'", path_in("ours.cpio"), path_in("list"), path_in("list")) == 0);
        free(buf);
}

/* The tree that the cpio tool archives, under tmp/tree. */
static void make_tree(void) {
        uint8_t big[70000];

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (uint8_t)(i * 31 + i / 1000);
        REQUIRE("tree", sh("mkdir -p '%s/tree/usr/lib/modules/6.1.0-x/kernel/fs/fuse' '%s/tree/etc' && "
                           "cd '%s/tree' && printf 'fuse module' > usr/lib/modules/6.1.0-x/kernel/fs/fuse/fuse.ko && "
                           "printf 'x=1\\n' > etc/conf && chmod 600 etc/conf && ln -s usr/lib lib && : > empty && "
                           "mkfifo fifo", tmp, tmp, tmp) == 0);
        REQUIRE("tree big", ib_write_file_atomic(path_in("tree/big"), big, sizeof(big), 0644) == 0);
}

static bool tree_entries_ok(const struct list *l, const char *prefix) {
        char name[256];
        const struct got *g;
        uint8_t big[70000];
        bool ok = true;

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (uint8_t)(i * 31 + i / 1000);
#define P(s) (snprintf(name, sizeof(name), "%s%s", prefix, s), name)
        g = find(l, P("usr/lib/modules/6.1.0-x/kernel/fs/fuse/fuse.ko"));
        ok &= g && S_ISREG(g->mode) && g->size == 11 && memcmp(g->data, "fuse module", 11) == 0;
        g = find(l, P("etc/conf"));
        ok &= g && g->mode == 0100600 && g->size == 4 && memcmp(g->data, "x=1\n", 4) == 0;
        g = find(l, P("lib"));
        ok &= g && S_ISLNK(g->mode) && g->size == 7 && memcmp(g->data, "usr/lib", 7) == 0;
        g = find(l, P("empty"));
        ok &= g && S_ISREG(g->mode) && g->size == 0;
        g = find(l, P("fifo"));
        ok &= g && S_ISFIFO(g->mode) && g->size == 0;
        g = find(l, P("big"));
        ok &= g && g->size == sizeof(big) && memcmp(g->data, big, sizeof(big)) == 0;
        g = find(l, P("usr/lib/modules"));
        ok &= g && S_ISDIR(g->mode) && g->size == 0;
#undef P
        if (!ok)
                printf("# tree entries missing or wrong under prefix '%s' (%zu entries)\n", prefix, l->n);
        return ok;
}

static void test_tool_archives(void) {
        static const struct {
                const char *name, *cmd;
                bool optional;          /* not installed by make deps: skipped when missing */
        } filters[] = {
                { "plain", "cat", false },
                { "gzip", "gzip -9n", false },
                { "zstd", "zstd -q -19", false },
                { "xz", "xz --check=crc32", false },
                { "lzma", "lzma", false },
                { "bzip2", "bzip2", false },
                { "lz4 legacy", "lz4 -l -q", true },
        };
        struct ib_err err = {};
        struct list l = {};
        char check[96];

        make_tree();
        for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
                char *buf;
                size_t len = 0;
                int tool_len = (int)strcspn(filters[i].cmd, " ");

                if (filters[i].optional && sh("command -v %.*s >/dev/null", tool_len, filters[i].cmd) != 0) {
                        printf("skip - cpio -H newc | %s: %.*s not installed\n", filters[i].name, tool_len, filters[i].cmd);
                        continue;
                }
                snprintf(check, sizeof(check), "cpio -H newc | %s: made", filters[i].name);
                CHECK(check, sh("cd '%s/tree' && find . | sort | cpio -o -H newc --quiet | %s > '%s'", tmp, filters[i].cmd,
                                path_in("tool.img")) == 0);
                buf = slurp(path_in("tool.img"), &len);
                snprintf(check, sizeof(check), "cpio -H newc | %s: walked", filters[i].name);
                CHECK(check, buf && walk(buf, len, 1 << 24, &l, &err) == 0);
                snprintf(check, sizeof(check), "cpio -H newc | %s: entries", filters[i].name);
                CHECK(check, tree_entries_ok(&l, "") && find(&l, "."));
                if (i > 0) {
                        snprintf(check, sizeof(check), "cpio -H newc | %s: cap below size", filters[i].name);
                        CHECK(check, walk_quiet(buf, len, 70000, &err) == -E2BIG && err.code == -E2BIG);
                }
                free(buf);
        }

        /* The 070702 variant: checksums verified. */
        {
                char *buf;
                size_t len = 0;
                char *p;

                CHECK("cpio -H crc made", sh("cd '%s/tree' && find etc big | cpio -o -H crc --quiet > '%s'", tmp,
                                             path_in("crc.img")) == 0);
                buf = slurp(path_in("crc.img"), &len);
                CHECK("cpio -H crc walked", buf && walk(buf, len, 0, &l, &err) == 0 && l.n == 3 && find(&l, "etc/conf") &&
                      memcmp(find(&l, "etc/conf")->data, "x=1\n", 4) == 0);
                p = buf ? memmem(buf, len, "x=1\n", 4) : NULL;
                if (p)
                        p[0] = 'y';
                CHECK("cpio -H crc bad checksum", p && walk_quiet(buf, len, 0, &err) == -EBADMSG && strstr(err.msg, "etc/conf"));
                free(buf);
        }

        /* The tool's odc format is not the kernel's. */
        {
                char *buf;
                size_t len = 0;

                CHECK("cpio -H odc made", sh("cd '%s/tree' && find etc | cpio -o -H odc --quiet > '%s'", tmp, path_in("odc.img")) == 0);
                buf = slurp(path_in("odc.img"), &len);
                CHECK("cpio -H odc refused", buf && walk_quiet(buf, len, 0, &err) == -EINVAL &&
                      strstr(err.msg, "byte offset 0") && strstr(err.msg, "070707"));
                free(buf);
        }
        list_free(&l);
}

/* Debian's layout: an uncompressed early archive, then the main one compressed. */
static void test_concatenated(void) {
        static const uint8_t ucode[] = { 0x01, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef };
        struct ib_cpio *c = NULL;
        struct ib_err err = {};
        struct list l = {};
        void *early = NULL, *ours = NULL;
        size_t early_len = 0, ours_len = 0, len = 0;
        char *buf;
        const struct got *g;

        REQUIRE("early new", ib_cpio_new(&c) == 0);
        CHECK("early add", ib_cpio_add_file(c, "kernel/x86/microcode/GenuineIntel.bin", 0644, ucode, sizeof(ucode), &err) == 0);
        CHECK("early finish", ib_cpio_finish(c, &early, &early_len, &err) == 0);
        CHECK("early second archive", ib_cpio_add_file(c, "kernel/x86/microcode/AuthenticAMD.bin", 0644, "amd", 3, &err) == 0 &&
              ib_cpio_finish(c, &ours, &ours_len, &err) == 0);
        ib_cpio_free(c);
        REQUIRE("early write", ib_write_file_atomic(path_in("early.cpio"), early, early_len, 0644) == 0 &&
                ib_write_file_atomic(path_in("amd.cpio"), ours, ours_len, 0644) == 0);
        CHECK("early + zstd made",
              sh("cd '%s/tree' && { cat '%s' '%s'; find . | sort | cpio -o -H newc --quiet | zstd -q; } > '%s'", tmp,
                 path_in("early.cpio"), path_in("amd.cpio"), path_in("debian.img")) == 0);
        buf = slurp(path_in("debian.img"), &len);
        CHECK("early + zstd walked", buf && walk(buf, len, 1 << 24, &l, &err) == 0);
        g = find(&l, "kernel/x86/microcode/GenuineIntel.bin");
        CHECK("early + zstd: early entry", g && g->size == sizeof(ucode) && memcmp(g->data, ucode, sizeof(ucode)) == 0);
        g = find(&l, "kernel/x86/microcode/AuthenticAMD.bin");
        CHECK("early + zstd: second early archive", g && g->size == 3);
        CHECK("early + zstd: main entries", tree_entries_ok(&l, ""));
        CHECK("early + zstd: early entries come first", l.n > 3 && strcmp(l.v[0].name, "kernel") == 0 &&
              strcmp(l.v[3].name, "kernel/x86/microcode/GenuineIntel.bin") == 0);
        CHECK("early + zstd: kernel dir in both early archives", count(&l, "kernel/x86/microcode") == 2);
        free(buf);

        /* NUL padding between segments at any length (the compressed one needs no alignment). */
        CHECK("padded concatenation made",
              sh("cd '%s/tree' && { cat '%s'; head -c 1024 /dev/zero; cat '%s'; head -c 3 /dev/zero; "
                 "find . | cpio -o -H newc --quiet | gzip; } > '%s'", tmp, path_in("early.cpio"), path_in("amd.cpio"),
                 path_in("padded.img")) == 0);
        buf = slurp(path_in("padded.img"), &len);
        CHECK("padded concatenation walked", buf && walk(buf, len, 1 << 24, &l, &err) == 0 &&
              find(&l, "kernel/x86/microcode/AuthenticAMD.bin") && tree_entries_ok(&l, ""));
        free(buf);

        /*
         * inetboot's use: our archive appended to early + zstd; the walk goes on after zstd frames.
         * The kernel wants every uncompressed archive at a multiple of 4 bytes in the image
         * (init/initramfs.c: this_header & 3), so appending needs NUL padding first.
         */
        CHECK("early + zstd made",
              sh("cd '%s/tree' && { cat '%s'; find . | sort | cpio -o -H newc --quiet | zstd -q; } > '%s' && "
                 "s=$(stat -c %%s '%s') && cp '%s' '%s' && head -c $((s %% 4 == 0)) /dev/zero >> '%s' && "
                 "cat '%s' >> '%s' && head -c $(((4 - s %% 4) %% 4)) /dev/zero >> '%s' && cat '%s' >> '%s'", tmp,
                 path_in("early.cpio"), path_in("appended.img"), path_in("appended.img"), path_in("appended.img"),
                 path_in("unaligned.img"), path_in("unaligned.img"), path_in("amd.cpio"), path_in("unaligned.img"),
                 path_in("appended.img"), path_in("amd.cpio"), path_in("appended.img")) == 0);
        buf = slurp(path_in("unaligned.img"), &len);
        CHECK("unaligned append refused", buf && walk_quiet(buf, len, 1 << 24, &err) == -EINVAL && strstr(err.msg, "aligned"));
        free(buf);
        buf = slurp(path_in("appended.img"), &len);
        CHECK("early + zstd + padding + ours walked", buf && walk(buf, len, 1 << 24, &l, &err) == 0);
        CHECK("early + zstd + padding + ours: all three", find(&l, "kernel/x86/microcode/GenuineIntel.bin") &&
              tree_entries_ok(&l, "") && find(&l, "kernel/x86/microcode/AuthenticAMD.bin") &&
              strcmp(l.v[l.n - 1].name, "kernel/x86/microcode/AuthenticAMD.bin") == 0);
        free(buf);
        CHECK("zstd + NULs + zstd + ours made",
              sh("cd '%s/tree' && { find etc | cpio -o -H newc --quiet | zstd -q; head -c 5 /dev/zero; "
                 "find big | cpio -o -H newc --quiet | zstd -q; } > '%s' && s=$(stat -c %%s '%s') && "
                 "head -c $((4 - s %% 4 + 8)) /dev/zero >> '%s' && cat '%s' >> '%s'", tmp, path_in("zz.img"), path_in("zz.img"),
                 path_in("zz.img"), path_in("amd.cpio"), path_in("zz.img")) == 0);
        buf = slurp(path_in("zz.img"), &len);
        CHECK("zstd + NULs + zstd + ours walked", buf && walk(buf, len, 1 << 24, &l, &err) == 0 && find(&l, "etc/conf") &&
              find(&l, "big") && find(&l, "kernel/x86/microcode/AuthenticAMD.bin") && l.n == 7);
        CHECK("cap counts all segments", buf && walk_quiet(buf, len, 70000 + 1024, &err) == -E2BIG &&
              strstr(err.msg, "zstd segment"));
        free(buf);
        CHECK("zstd + junk made", sh("cd '%s/tree' && { find etc | cpio -o -H newc --quiet | zstd -q; printf 'junk'; } > '%s'",
                                     tmp, path_in("zj.img")) == 0);
        buf = slurp(path_in("zj.img"), &len);
        CHECK("junk after zstd refused", buf && walk_quiet(buf, len, 1 << 24, &err) == -EINVAL && strstr(err.msg, "6a 75 6e 6b"));
        free(buf);

        /*
         * gzip is decoded into a buffer sized up front: by the trailer when the member ends the image,
         * else by a guess that a stream of zeros (1000:1) outgrows many times, and an archive after it.
         */
        CHECK("zeros gzip + ours made",
              sh("mkdir -p '%s/zeros' && cd '%s/zeros' && head -c 8388608 /dev/zero > zero && "
                 "{ echo zero | cpio -o -H newc --quiet | gzip -9n; } > '%s' && s=$(stat -c %%s '%s') && "
                 "head -c $(((4 - s %% 4) %% 4)) /dev/zero >> '%s' && cat '%s' >> '%s'", tmp, tmp, path_in("zg.img"),
                 path_in("zg.img"), path_in("zg.img"), path_in("amd.cpio"), path_in("zg.img")) == 0);
        buf = slurp(path_in("zg.img"), &len);
        g = NULL;
        CHECK("zeros gzip + ours walked", buf && len < 65536 && walk(buf, len, 1 << 24, &l, &err) == 0 &&
              (g = find(&l, "zero")) && g->size == 8388608 && find(&l, "kernel/x86/microcode/AuthenticAMD.bin"));
        CHECK("zeros gzip: the bytes", g && g->data && g->data[0] == 0 && g->data[8388607] == 0 &&
              memcmp(g->data, g->data + 1, 8388607) == 0);
        CHECK("zeros gzip: the cap still holds", buf && walk_quiet(buf, len, 8388608, &err) == -E2BIG &&
              strstr(err.msg, "more than 8388608"));
        free(buf);

        /* After any compressed segment the walk goes on, as the kernel does (an archive after it 4-aligned). */
        CHECK("after gzip made", sh("cd '%s/tree' && find etc | cpio -o -H newc --quiet | gzip > '%s.gz' && "
                                    "{ cat '%s.gz'; head -c $(( (4 - $(stat -c %%s '%s.gz') %% 4) %% 4 )) /dev/zero; cat '%s'; } > '%s'",
                                    tmp, path_in("after"), path_in("after"), path_in("after"), path_in("amd.cpio"),
                                    path_in("after.img")) == 0);
        buf = slurp(path_in("after.img"), &len);
        CHECK("walk goes on after a gzip segment, as the kernel does", buf && walk(buf, len, 1 << 24, &l, &err) == 0 &&
              find(&l, "etc/conf") && find(&l, "kernel/x86/microcode/AuthenticAMD.bin"));
        free(buf);
        list_free(&l);
        free(early);
        free(ours);
}

/* ---- the host's initrd ------------------------------------------------------------ */

static int count_modules(const struct ib_cpio_entry *e, void *ctx) {
        size_t *n = ctx;

        if (strncmp(e->name, "usr/lib/modules/", 16) == 0 || strncmp(e->name, "lib/modules/", 12) == 0)
                (*n)++;
        return 0;
}

static int stop_at_module(const struct ib_cpio_entry *e, void *ctx) {
        (void)ctx;
        return strstr(e->name, "/modules/") ? 42 : 0;
}

static void test_host_initrd(void) {
        glob_t g = {};
        size_t modules = 0, len = 0;
        struct ib_err err = {};
        char *buf = NULL;
        int r;

        if (glob("/boot/initrd.img-*", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
                CHECK("host initrd present (make deps installs linux-image-amd64)", false);
                globfree(&g);
                return;
        }
        printf("# walking %s\n", g.gl_pathv[0]);
        CHECK("host initrd readable", (buf = slurp(g.gl_pathv[0], &len)) != NULL);
        if (buf) {
                r = ib_initrd_walk(buf, len, (size_t)1 << 30, count_modules, &modules, &err);
                if (r < 0)
                        printf("# %s\n", err.msg);
                printf("# %zu entries under modules/\n", modules);
                CHECK("host initrd walked", r == 0);
                CHECK("host initrd has kernel modules", modules > 0);
                err = (struct ib_err) { .code = 7 };
                CHECK("callback stop returned", ib_initrd_walk(buf, len, (size_t)1 << 30, stop_at_module, NULL, &err) == 42);
                CHECK("callback stop leaves err alone", err.code == 7 && err.msg[0] == 0);
        }
        free(buf);
        globfree(&g);
}

/* ---- memory: a stream holds a window, not its output ------------------------------ */

struct zeros {
        size_t files, bytes;
        bool ok;
};

static int count_zeros(const struct ib_cpio_entry *e, void *ctx) {
        struct zeros *z = ctx;

        if (S_ISREG(e->mode) && e->size > 0) {
                const uint8_t *d = e->data;

                z->files++;
                z->bytes += e->size;
                z->ok = z->ok && d[0] == 0 && d[e->size - 1] == 0 && memcmp(d, d + 1, e->size - 1) == 0;
        }
        return 0;
}

/* The peak RSS (KiB) a walk of @buf adds, in a child; -1 when the walk fails or its files are not 32 x 4 MiB of zeros. */
static long walk_peak_kib(const void *buf, size_t len) {
        int fd[2];
        long got = -1;
        pid_t pid;

        if (pipe(fd) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                struct rusage before, after;
                struct zeros z = { .ok = true };
                long delta = -1;

                getrusage(RUSAGE_SELF, &before);
                if (ib_initrd_walk(buf, len, (size_t)1 << 30, count_zeros, &z, NULL) == 0 && z.ok && z.files == 32 &&
                    z.bytes == (size_t)32 << 22 && getrusage(RUSAGE_SELF, &after) == 0)
                        delta = after.ru_maxrss - before.ru_maxrss;
                if (write(fd[1], &delta, sizeof(delta)) != sizeof(delta))
                        _exit(1);
                _exit(0);
        }
        close(fd[1]);
        if (pid < 0 || read(fd[0], &got, sizeof(got)) != sizeof(got))
                got = -1;
        close(fd[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        return got;
}

/* Every codec's stream of 128 MiB is walked holding a window, not the output (a live initrd: 9 MB for 152). */
static void test_stream_memory(void) {
        static const char *const tools[] = { "gzip -1", "zstd -q -1", "xz -0", "lzma -0", "bzip2 -1", "lz4 -l -q" };

        CHECK("128 MiB initrd made", sh("mkdir -p '%s/big' && cd '%s/big' && for i in $(seq 10 41); do "
                                        "head -c 4194304 /dev/zero > z$i; done && ls | cpio -o -H newc --quiet > '%s' && rm -f z*",
                                        tmp, tmp, path_in("big.cpio")) == 0);
        for (size_t i = 0; i < ELEMENTSOF(tools); i++) {
                size_t len = 0;
                char *buf = NULL;
                long peak = -1;
                char name[96];

                if (sh("%s < '%s' > '%s'", tools[i], path_in("big.cpio"), path_in("big.z")) == 0 &&
                    (buf = slurp(path_in("big.z"), &len)))
                        peak = walk_peak_kib(buf, len);
                printf("# 128 MiB in 4 MiB files, %s: the walk's peak +%ld KiB\n", tools[i], peak);
                snprintf(name, sizeof(name), "%s: 128 MiB walked in less than 48 MiB more memory", tools[i]);
                CHECK(name, peak >= 0 && peak < 48 * 1024);
                free(buf);
        }
        sh("rm -f '%s' '%s'", path_in("big.cpio"), path_in("big.z"));
}

/*
 * A gzip member whose fixed-Huffman block uses a reserved length code:
 * zlib's inflate and the kernel's (lib/zlib_inflate) refuse it; libdeflate,
 * which decoded initrds here before, took it (found by fuzz-cpio).
 */
static void test_reserved_code(void) {
        static const uint8_t gz[] = {
                0x1f, 0x8b, 0x08, 0x08, 0x00, 0x00, 0x00, 0x03, 0x69, 0x6e, 0x69, 0x74, 0x72, 0x64, 0x00, 0x33,
                0x30, 0x37, 0x30, 0x37, 0x30, 0x34, 0x30, 0x70, 0x34, 0x37, 0x32, 0x70, 0x35, 0x32, 0x00, 0x02,
                0x0b, 0x43, 0x47, 0x13, 0x03, 0xec, 0xc0, 0xd0, 0xcc, 0xc9, 0xd0, 0xd0, 0xcc, 0xcd, 0xd0, 0x12,
                0xca, 0x37, 0x83, 0x50, 0x6e, 0xae, 0x06, 0xf8, 0x81, 0x11, 0x8c, 0x91, 0xc8, 0x90, 0x91, 0x9a,
                0x93, 0x93, 0xcf, 0xc5, 0xc0, 0x60, 0x00, 0xb5, 0x97, 0x28, 0x40, 0xac, 0x3a, 0x74, 0xe0, 0x04,
                0x63, 0x84, 0x04, 0x39, 0x7a, 0xfa, 0xb8, 0x06, 0x29, 0x2a, 0x2a, 0x32, 0x8c, 0x01, 0x14, 0x00,
                0x00, 0xef, 0x88, 0x86, 0xdb, 0x00, 0x02, 0x00, 0x00
        };
        struct ib_err err = {};

        CHECK("a reserved length code in a fixed-Huffman block is refused, as by the kernel",
              walk_quiet(gz, sizeof(gz), 1 << 20, &err) == -EINVAL && strstr(err.msg, "gzip"));
}

/* ---- malformed input -------------------------------------------------------------- */

/* A copy of @src with @len bytes and @what written at @off. */
static uint8_t *patched(const void *src, size_t len, size_t off, const char *what) {
        uint8_t *p = malloc(len);

        if (!p)
                exit(1);
        memcpy(p, src, len);
        memcpy(p + off, what, strlen(what));
        return p;
}

static void test_malformed(void) {
        size_t len = 0, entry_ends[16], n_ends = 0, off = 0;
        uint8_t *buf = sample(&len), *p;
        struct ib_err err = {};
        bool all_fail = true, bounds_ok = true;
        char *gz = NULL;
        size_t gz_len = 0;

        REQUIRE("malformed sample", buf);
        /* Entry boundaries of the sample: truncating exactly there is a valid archive without trailer. */
        while (off < len && memcmp(buf + off + 110, "TRAILER!!!", 10) != 0 && n_ends < 16) {
                uint32_t f[13];

                if (header(buf + off, f) < 0)
                        break;
                off += ((110 + f[11] + 3) & ~3u) + ((f[6] + 3) & ~3u);
                entry_ends[n_ends++] = off;
        }
        for (size_t cut = 1; cut < off; cut++) {
                bool boundary = false;
                int r;

                for (size_t i = 0; i < n_ends; i++)
                        boundary |= cut == entry_ends[i];
                r = walk_quiet(buf, cut, 0, &err);
                if (boundary ? r != 0 : r != -EINVAL || err.code != -EINVAL || !err.msg[0]) {
                        printf("# truncation at %zu: %d\n", cut, r);
                        all_fail = false;
                }
        }
        CHECK("every truncation inside an entry fails", all_fail);
        CHECK("truncation message", walk_quiet(buf, 150, 0, &err) == -EINVAL && strstr(err.msg, "byte offset 120") &&
              strstr(err.msg, "truncated"));
        CHECK("empty image", walk_quiet(buf, 0, 0, &err) == 0);
        CHECK("NULs only", walk_quiet("\0\0\0\0\0", 5, 0, &err) == 0);

        p = patched(buf, len, 0, "070707");
        CHECK("bad magic", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "byte offset 0") && strstr(err.msg, "070707"));
        free(p);
        p = patched(buf, len, 0, "\x7f" "ELF");
        CHECK("unknown magic message", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "byte offset 0") &&
              strstr(err.msg, "7f 45 4c 46"));
        free(p);
        p = patched(buf, len, 6 + 8, "0000G1ED");
        CHECK("non-hex field", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "mode"));
        free(p);
        p = patched(buf, len, 6 + 8, " 00041ED");
        CHECK("space in field", walk_quiet(p, len, 0, &err) == -EINVAL);
        free(p);
        p = patched(buf, len, 6 + 8, "000041ed");
        CHECK("lower-case hex accepted", walk_quiet(p, len, 0, &err) == 0);
        free(p);
        p = patched(buf, len, 6 + 11 * 8, "00000000");
        CHECK("namesize 0", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "name size"));
        free(p);
        p = patched(buf, len, 6 + 11 * 8, "FFFFFFFF");
        CHECK("namesize huge", walk_quiet(p, len, 0, &err) == -EINVAL);
        free(p);
        p = patched(buf, len, 6 + 11 * 8, "00000008");
        CHECK("name without NUL at its size", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "NUL"));
        free(p);
        p = patched(buf, len, 6 + 11 * 8, "0000000A");
        CHECK("name with NUL inside", walk_quiet(p, len, 0, &err) == -EINVAL);
        free(p);
        p = patched(buf, len, 6 + 6 * 8, "FFFFFFFF");
        CHECK("data size beyond the buffer", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "truncated"));
        free(p);
        p = patched(buf, len, 6 + 6 * 8, "00000004");
        CHECK("directory with data", walk_quiet(p, len, 0, &err) == -EINVAL && strstr(err.msg, "directory"));
        free(p);
        p = patched(buf, len, 6 + 8, "000F41ED");
        CHECK("bad mode", walk_quiet(p, len, 0, &err) == -EINVAL);
        free(p);
        p = patched(buf, len, 6 + 8, "000001ED");
        CHECK("no file type", walk_quiet(p, len, 0, &err) == -EINVAL);
        free(p);

        /* Unaligned archive, junk between archives. */
        p = calloc(1, len + 2);
        memcpy(p + 2, buf, len);
        CHECK("unaligned archive", walk_quiet(p, len + 2, 0, &err) == -EINVAL && strstr(err.msg, "aligned"));
        free(p);
        p = calloc(1, 2 * len);
        memcpy(p, buf, len);
        memcpy(p + len, "junk", 4);
        CHECK("junk after trailer", walk_quiet(p, 2 * len, 0, &err) == -EINVAL && strstr(err.msg, "junk") &&
              strstr(err.msg, "6a 75 6e 6b"));
        memcpy(p + len, buf, len);
        CHECK("two archives", walk_quiet(p, 2 * len, 0, &err) == 0);
        free(p);

        /* Compressed trouble. */
        REQUIRE("gzip sample", ib_write_file_atomic(path_in("m.cpio"), buf, len, 0644) == 0 &&
                sh("gzip -9n < '%s' > '%s'", path_in("m.cpio"), path_in("m.gz")) == 0 &&
                (gz = slurp(path_in("m.gz"), &gz_len)));
        CHECK("gzip sample walked", walk_quiet(gz, gz_len, 1 << 20, &err) == 0);
        CHECK("gzip truncated", walk_quiet(gz, gz_len / 2, 1 << 20, &err) == -EINVAL && strstr(err.msg, "gzip"));
        for (size_t cut = 1; cut + 8 < gz_len; cut++)
                bounds_ok &= walk_quiet(gz, cut, 1 << 20, &err) < 0;
        CHECK("every gzip truncation before the trailer fails", bounds_ok);
        gz[gz_len / 2] ^= 0x55;
        CHECK("gzip corrupted", walk_quiet(gz, gz_len, 1 << 20, &err) < 0);
        gz[gz_len / 2] ^= 0x55;
        CHECK("cap too small", walk_quiet(gz, gz_len, len - 1, &err) == -E2BIG && strstr(err.msg, "more than"));
        CHECK("cap exact", walk_quiet(gz, gz_len, len, &err) == 0);
        CHECK("cap zero", walk_quiet(gz, gz_len, 0, &err) == -E2BIG);
        free(gz);
        CHECK("gzip in gzip made", sh("gzip -9n < '%s' > '%s'", path_in("m.gz"), path_in("mm.gz")) == 0);
        gz = slurp(path_in("mm.gz"), &gz_len);
        CHECK("gzip in gzip refused", gz && walk_quiet(gz, gz_len, 1 << 20, &err) == -EINVAL && strstr(err.msg, "nested"));
        free(gz);
        /* Uncompressed, an archive may end without trailer at the end of the image; compressed, not. */
        REQUIRE("no trailer", n_ends > 0 && ib_write_file_atomic(path_in("nt.cpio"), buf, entry_ends[n_ends - 1], 0644) == 0);
        CHECK("no trailer, uncompressed", walk_quiet(buf, entry_ends[n_ends - 1], 0, &err) == 0);
        CHECK("no trailer gzip made", sh("gzip < '%s' > '%s'", path_in("nt.cpio"), path_in("nt.gz")) == 0);
        gz = slurp(path_in("nt.gz"), &gz_len);
        CHECK("no trailer, gzip refused", gz && walk_quiet(gz, gz_len, 1 << 20, &err) == -EINVAL && strstr(err.msg, "trailer"));
        free(gz);
        CHECK("empty gzip made", sh("gzip < /dev/null > '%s'", path_in("e.gz")) == 0);
        gz = slurp(path_in("e.gz"), &gz_len);
        CHECK("empty gzip refused", gz && walk_quiet(gz, gz_len, 1 << 20, &err) == -EINVAL && strstr(err.msg, "gzip"));
        free(gz);
        CHECK("gzip of junk made", sh("printf 'not a cpio archive' | gzip > '%s'", path_in("j.gz")) == 0);
        gz = slurp(path_in("j.gz"), &gz_len);
        CHECK("gzip of junk refused", gz && walk_quiet(gz, gz_len, 1 << 20, &err) == -EINVAL &&
              strstr(err.msg, "gzip segment at byte offset 0, decompressed byte offset 0"));
        free(gz);
        CHECK("zstd corrupted made", sh("zstd -q < '%s' | head -c 60 > '%s'", path_in("m.cpio"), path_in("m.zst")) == 0);
        gz = slurp(path_in("m.zst"), &gz_len);
        CHECK("zstd truncated refused", gz && walk_quiet(gz, gz_len, 1 << 20, &err) == -EINVAL && strstr(err.msg, "zstd"));
        free(gz);
        CHECK("lzo refused", walk_quiet("\x89LZO\0\r\n\x1a\n", 9, 1 << 20, &err) == -EOPNOTSUPP);
        free(buf);
}

int main(void) {
        REQUIRE("mkdtemp", mkdtemp(tmp) != NULL);
        test_stream_memory();   /* first, while the heap holds nothing freed that a walk could reuse */
        test_writer();
        test_parents();
        test_rejects();
        test_roundtrip();
        test_cpio_extracts();
        test_tool_archives();
        test_concatenated();
        test_host_initrd();
        test_malformed();
        test_reserved_code();
        sh("rm -rf '%s'", tmp);
        UNIT_EXIT();
}
