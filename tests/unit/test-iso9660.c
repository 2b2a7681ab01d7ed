/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-iso9660: real images built with xorriso in a temporary directory
 * ($TMPDIR, else /tmp): Rock Ridge, Rock Ridge + Joliet, plain ISO 9660,
 * Rock Ridge with relocated deep directories ("CL"/"RE"), zisofs.  Every
 * file found is checked by reading the bytes at the returned offset of the
 * image and comparing them with the source file, both through the _fd
 * calls and through a read function over the image in memory.  Then
 * damaged images (truncated, patched descriptors, records and System Use
 * entries, random byte flips): each call fails with its error and a
 * message and never reads out of bounds (the ASan build runs this too).
 *
 * Needs xorriso, a test dependency ("make deps").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso9660.h"
#include "unit.h"

#define SECTOR IB_ISO9660_SECTOR

static char dir[PATH_MAX - 64];
static char long_dir[201], long_file[251], long_path[512];

/* Source files (under dir/src) with their sizes; the contents are a pattern seeded by the index. */
static const struct {
        const char *path;
        size_t size;
} files[] = {
        { "live/filesystem.squashfs", 300001 },
        { "live/vmlinuz", 5000 },
        { "live/empty", 0 },
        { "LiveOS/squashfs.img", 70000 },
        { "EFI/BOOT/BOOTX64.EFI", 4096 },
        { "boot/grub/x86_64-efi/very/deep/path/one/two/three/four/five/the-end.txt", 1234 },
        { "zisofs/words.txt", 0 },      /* text, written separately */
};

struct mem {
        const uint8_t *data;
        size_t len;
        int fail;               /* errno to fail every read with, or 0 */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, uint64_t off) {
        const struct mem *m = ctx;

        if (m->fail)
                return -m->fail;
        if (off >= m->len)
                return 0;
        if (len > m->len - off)
                len = m->len - off;
        memcpy(buf, m->data + off, len);
        return (ssize_t)len;
}

static const char *errno_name(int code) {
        switch (-code) {
        case 0: return "0";
        case EBADMSG: return "EBADMSG";
        case E2BIG: return "E2BIG";
        case EFBIG: return "EFBIG";
        case EINVAL: return "EINVAL";
        case EIO: return "EIO";
        case EISDIR: return "EISDIR";
        case ELOOP: return "ELOOP";
        case ENAMETOOLONG: return "ENAMETOOLONG";
        case ENOENT: return "ENOENT";
        case ENOTDIR: return "ENOTDIR";
        case EOPNOTSUPP: return "EOPNOTSUPP";
        default: return "other";
        }
}

/* ---- building the source tree and the images ---------------------------------------- */

static void pattern(uint8_t *buf, size_t n, uint32_t seed) {
        uint32_t x = seed * 2654435761u + 1;

        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (uint8_t)x;
        }
}

static int mkdir_parents(char *path) {
        for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                        *s = '/';
                        return -errno;
                }
                *s = '/';
        }
        return 0;
}

static int write_src(const char *rel, const void *data, size_t len) {
        char path[PATH_MAX];
        int fd, r;

        snprintf(path, sizeof(path), "%s/src/%s", dir, rel);
        if (mkdir_parents(path) < 0)
                return -1;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = ib_write_full(fd, data, len);
        close(fd);
        return r;
}

static int make_tree(void) {
        static const char words[] = "the quick brown fox jumps over the lazy dog\n";
        char path[PATH_MAX];
        uint8_t *buf = malloc(1 << 20);
        int r = 0;

        if (!buf)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(files) - 1 && r == 0; i++) {
                pattern(buf, files[i].size, (uint32_t)i);
                r = write_src(files[i].path, buf, files[i].size);
        }
        for (size_t i = 0; i + sizeof(words) - 1 <= 65536; i += sizeof(words) - 1)
                memcpy(buf + i, words, sizeof(words) - 1);
        r = r ?: write_src("zisofs/words.txt", buf, 65536 - 65536 % (sizeof(words) - 1));
        /* Long Rock Ridge names: the System Use entries spill into continuation areas. */
        for (size_t i = 0; i < sizeof(long_dir) - 1; i++)
                long_dir[i] = "a-directory-with-a-long-name-"[i % 29];
        for (size_t i = 0; i < sizeof(long_file) - 1; i++)
                long_file[i] = "A File With A Long Name "[i % 24];
        memcpy(long_file + sizeof(long_file) - 10, ".squashfs", 9);
        snprintf(long_path, sizeof(long_path), "%s/%s", long_dir, long_file);
        pattern(buf, 10000, 77);
        r = r ?: write_src(long_path, buf, 10000);
        /* A directory of several sectors. */
        for (unsigned i = 0; i < 300 && r == 0; i++) {
                snprintf(path, sizeof(path), "many/file-%03u.bin", i);
                pattern(buf, 100, 1000 + i);
                r = write_src(path, buf, 100);
        }
        snprintf(path, sizeof(path), "%s/src/live/link", dir);
        r = r ?: symlink("vmlinuz", path);
        snprintf(path, sizeof(path), "%s/src/current", dir);
        r = r ?: symlink("live", path);
        free(buf);
        return r;
}

static int xorriso(const char *iso, const char *args) {
        char cmd[2 * PATH_MAX + 1024];
        int r;

        snprintf(cmd, sizeof(cmd), "cd %s && xorriso %s >%s.log 2>&1", dir, args, iso);
        r = system(cmd);
        if (r != 0) {
                snprintf(cmd, sizeof(cmd), "sed 's/^/# /' %s/%s.log", dir, iso);
                (void)!system(cmd);
        }
        return r;
}

/* ---- checks --------------------------------------------------------------------------- */

static int open_iso(const char *iso) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, iso);
        return open(path, O_RDONLY | O_CLOEXEC);
}

static uint8_t *load(const char *iso, size_t *ret_len) {
        char path[PATH_MAX], *buf = NULL;

        snprintf(path, sizeof(path), "%s/%s", dir, iso);
        return ib_read_file(path, 64 << 20, &buf, ret_len) < 0 ? NULL : (uint8_t *)buf;
}

/* @path in @iso is src/@src: found both ways, the same answer, and the bytes there are the file's. */
static void expect_file(const char *iso, const char *path, const char *src, const char *what) {
        char name[256], p[PATH_MAX];
        uint64_t off = 1, size = 1, off2 = 2, size2 = 2;
        struct ib_err e = {};
        struct mem m = {};
        char *want = NULL, *got = NULL;
        size_t want_len = 0;
        int fd = open_iso(iso), r;

        snprintf(name, sizeof(name), "%s: %s: found", iso, what);
        r = ib_iso9660_locate_fd(fd, path, &off, &size, &e);
        if (!CHECK(name, r == 0))
                printf("# %s: %s\n", errno_name(r), e.msg);
        m.data = (const uint8_t *)load(iso, &m.len);
        snprintf(name, sizeof(name), "%s: %s: the same through a read function", iso, what);
        r = ib_iso9660_locate(mem_read, &m, path, &off2, &size2, &e);
        CHECK(name, r == 0 && off2 == off && size2 == size);
        snprintf(p, sizeof(p), "%s/src/%s", dir, src);
        if (ib_read_file(p, 1 << 20, &want, &want_len) < 0)
                want = NULL;
        got = malloc(size + 1);
        snprintf(name, sizeof(name), "%s: %s: the image's bytes at the offset are the file's", iso, what);
        CHECK(name, want && got && size == want_len && ib_pread_full(fd, got, size, off) == (ssize_t)size &&
                    memcmp(got, want, size) == 0);
        free(got);
        free(want);
        free((void *)m.data);
        close(fd);
}

static void expect_error(const char *iso, const char *path, int code, const char *substr, const char *what) {
        char name[256];
        uint64_t off = 7, size = 7;
        struct ib_err e = {};
        int fd = open_iso(iso), r;

        r = ib_iso9660_locate_fd(fd, path, &off, &size, &e);
        snprintf(name, sizeof(name), "%s: %s: %s", iso, what, errno_name(code));
        if (!CHECK(name, r == code && e.code == code && strstr(e.msg, substr) && off == 7 && size == 7))
                printf("# got %s: %s\n", errno_name(r), e.msg);
        close(fd);
}

static void expect_label(const char *iso, const char *want) {
        char name[128], label[33] = "x", label2[33] = "y";
        struct ib_err e = {};
        struct mem m = {};
        int fd = open_iso(iso), r;

        snprintf(name, sizeof(name), "%s: label \"%s\"", iso, want);
        r = ib_iso9660_label_fd(fd, label, &e);
        if (!CHECK(name, r == 0 && strcmp(label, want) == 0))
                printf("# %s: \"%s\" %s\n", errno_name(r), label, e.msg);
        m.data = (const uint8_t *)load(iso, &m.len);
        snprintf(name, sizeof(name), "%s: label through a read function", iso);
        CHECK(name, ib_iso9660_label(mem_read, &m, label2, &e) == 0 && strcmp(label2, want) == 0);
        free((void *)m.data);
        close(fd);
}

/* The same paths found in every Rock Ridge image. */
static void rock_ridge_checks(const char *iso) {
        char path[PATH_MAX];

        expect_file(iso, "/live/filesystem.squashfs", "live/filesystem.squashfs", "/live/filesystem.squashfs");
        expect_file(iso, "/live/vmlinuz", "live/vmlinuz", "/live/vmlinuz");
        expect_file(iso, "/live/empty", "live/empty", "an empty file");
        expect_file(iso, "/LiveOS/squashfs.img", "LiveOS/squashfs.img", "/LiveOS/squashfs.img");
        expect_file(iso, "//LiveOS//squashfs.img", "LiveOS/squashfs.img", "doubled slashes");
        expect_file(iso, "/EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/BOOTX64.EFI", "/EFI/BOOT/BOOTX64.EFI");
        expect_file(iso, "/boot/grub/x86_64-efi/very/deep/path/one/two/three/four/five/the-end.txt",
                    "boot/grub/x86_64-efi/very/deep/path/one/two/three/four/five/the-end.txt", "a path 12 levels deep");
        snprintf(path, sizeof(path), "/%s", long_path);
        expect_file(iso, path, long_path, "200- and 250-byte Rock Ridge names");
        expect_file(iso, "/many/file-299.bin", "many/file-299.bin", "the last of 300 files in a directory of several sectors");
        expect_file(iso, "/many/file-000.bin", "many/file-000.bin", "the first of 300 files");
        expect_error(iso, "/live/link", -ELOOP, "symbolic link", "a symbolic link");
        expect_error(iso, "/current/vmlinuz", -ELOOP, "/current is a symbolic link",
                     "a symbolic link to a directory in the path");
        expect_error(iso, "/live", -EISDIR, "directory", "a directory");
        expect_error(iso, "/live/", -EISDIR, "directory", "a directory with a trailing slash");
        expect_error(iso, "/", -EISDIR, "directory", "the root");
        expect_error(iso, "/live/vmlinuz/", -ENOTDIR, "not a directory", "a file with a trailing slash");
        expect_error(iso, "/live/vmlinuz/x", -ENOTDIR, "/live/vmlinuz is not a directory", "a file in the middle of the path");
        expect_error(iso, "/live/nope.squashfs", -ENOENT, "/live/nope.squashfs", "a missing file, named in the message");
        expect_error(iso, "/nope/vmlinuz", -ENOENT, "no \"nope\" in /", "a missing directory");
        expect_error(iso, "/LIVE/vmlinuz", -ENOENT, "LIVE", "Rock Ridge names are case-sensitive");
        expect_error(iso, "/LIVE/VMLINUZ.;1", -ENOENT, "LIVE", "ISO 9660 names are not used when Rock Ridge has one");
        expect_error(iso, "live/vmlinuz", -EINVAL, "absolute", "a relative path");
        expect_error(iso, "/live/../live/vmlinuz", -EINVAL, "..", "a path with \"..\"");
        snprintf(path, sizeof(path), "/%s%s", long_file, "123456");
        expect_error(iso, path, -ENAMETOOLONG, "longer than 255", "a component of 256 bytes");
        expect_error(iso, "/zisofs/words", -ENOENT, "words", "no match on a prefix");
}

/* ---- damaged images -------------------------------------------------------------------- */

static int locate_mem(const uint8_t *data, size_t len, const char *path, struct ib_err *e) {
        struct mem m = { .data = data, .len = len };
        uint64_t off, size;

        *e = (struct ib_err) {};
        return ib_iso9660_locate(mem_read, &m, path, &off, &size, e);
}

static void expect_mem_error(const char *what, const uint8_t *data, size_t len, const char *path, int code, const char *substr) {
        char name[256];
        struct ib_err e;
        int r = locate_mem(data, len, path, &e);

        snprintf(name, sizeof(name), "damaged: %s: %s", what, code ? errno_name(code) : "found");
        if (!CHECK(name, r == code && e.code == code && strstr(e.msg, substr)))
                printf("# got %s: %s\n", errno_name(r), e.msg);
}

/* The directory record whose ISO 9660 name is @name (searched as bytes; the test images are small). */
static size_t find_record(const uint8_t *d, size_t len, const char *name) {
        size_t n = strlen(name);

        for (size_t i = 16 * SECTOR + 33; i + n <= len; i++)
                if (d[i - 1] == n && memcmp(d + i, name, n) == 0 && d[i - 33] >= 33 + n)
                        return i - 33;
        return 0;
}

/* The System Use entry @sig of the record at @rec (Rock Ridge image, no SP skip), or 0. */
static size_t find_su(const uint8_t *d, size_t rec, const char *sig) {
        size_t end = rec + d[rec], pos = rec + 33 + d[rec + 32] + !(d[rec + 32] & 1);

        while (pos + 4 <= end && d[pos + 2] >= 4) {
                if (d[pos] == (uint8_t)sig[0] && d[pos + 1] == (uint8_t)sig[1])
                        return pos;
                pos += d[pos + 2];
        }
        return 0;
}

static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++) {
                p[i] = (uint8_t)(v >> (8 * i));
                p[7 - i] = (uint8_t)(v >> (8 * i));
        }
}

static void damaged(void) {
        uint8_t *orig, *d;
        size_t len, rec, su, last = 0;
        struct ib_err e = {};
        char label[33], path[PATH_MAX];
        struct mem m = {};
        uint64_t off = 0, size = 0;
        int fd, r;

        orig = load("rr.iso", &len);
        REQUIRE("damaged: rr.iso loaded", orig && len > 64 * SECTOR);
        d = malloc(len);
        REQUIRE("damaged: memory", d);
#define RESET() memcpy(d, orig, len)

        RESET();
        m = (struct mem) { .data = d, .len = 0 };
        r = ib_iso9660_label(mem_read, &m, label, &e);
        CHECK("damaged: an empty image: EINVAL", r == -EINVAL && strstr(e.msg, "not an ISO 9660 image"));
        m.len = 16 * SECTOR + 100;
        r = ib_iso9660_label(mem_read, &m, label, &e);
        CHECK("damaged: cut inside the first volume descriptor: EINVAL", r == -EINVAL && strstr(e.msg, "only 32868 bytes"));
        m.len = 18 * SECTOR;
        CHECK("damaged: cut after the descriptors: the label is still read", ib_iso9660_label(mem_read, &m, label, &e) == 0);
        expect_mem_error("cut after the descriptors: locate", d, 18 * SECTOR, "/live/vmlinuz", -EBADMSG, "truncated");
        m = (struct mem) { .data = d, .len = len, .fail = EIO };
        r = ib_iso9660_label(mem_read, &m, label, &e);
        CHECK("damaged: a failing read function: its error is returned", r == -EIO && e.code == -EIO && strstr(e.msg, "reading"));

        /* Truncated inside a file's data: only a caller that knows the image's size can tell. */
        fd = open_iso("rr.iso");
        REQUIRE("damaged: locate for the cut", ib_iso9660_locate_fd(fd, "/live/filesystem.squashfs", &off, &size, &e) == 0);
        close(fd);
        snprintf(path, sizeof(path), "%s/cut.iso", dir);
        REQUIRE("damaged: write the cut image", ib_write_file_replace(path, orig, off + size / 2, 0644, false) == 0);
        expect_error("cut.iso", "/live/filesystem.squashfs", -EBADMSG, "outside the image", "cut inside the file's data (fd)");
        expect_mem_error("cut inside the file's data, read function: found (the volume size is all it knows)", orig,
                         off + size / 2, "/live/filesystem.squashfs", 0, "");

        RESET();
        memcpy(d + 16 * SECTOR + 1, "CD002", 5);
        expect_mem_error("no CD001", d, len, "/live/vmlinuz", -EINVAL, "not an ISO 9660 image");
        RESET();
        d[16 * SECTOR] = 255;
        expect_mem_error("a terminator first", d, len, "/live/vmlinuz", -EINVAL, "no primary volume descriptor");
        RESET();
        d[16 * SECTOR + 128] = 0;
        d[16 * SECTOR + 129] = 2;
        expect_mem_error("logical block size 512", d, len, "/live/vmlinuz", -EOPNOTSUPP, "block size 512");
        RESET();
        put32(d + 16 * SECTOR + 156 + 2, 0xffffff00);
        expect_mem_error("root extent far outside", d, len, "/live/vmlinuz", -EBADMSG, "outside the image");
        RESET();
        put32(d + 16 * SECTOR + 156 + 10, 32u << 20);
        expect_mem_error("root directory of 32 MiB", d, len, "/live/vmlinuz", -E2BIG, "MiB");
        RESET();
        put32(d + 16 * SECTOR + 80, 18);
        expect_mem_error("volume of 18 blocks", d, len, "/live/vmlinuz", -EBADMSG, "outside the image");
        RESET();
        d[16 * SECTOR + 156] = 40;
        expect_mem_error("root record length", d, len, "/live/vmlinuz", -EBADMSG, "root directory record");

        /* A label with padding and a control character. */
        RESET();
        memcpy(d + 16 * SECTOR + 40, "MY\aLABEL                        ", 32);
        m = (struct mem) { .data = d, .len = len };
        r = ib_iso9660_label(mem_read, &m, label, &e);
        CHECK("damaged: label: spaces stripped, a control character replaced", r == 0 && strcmp(label, "MY_LABEL") == 0);

        /* Directory records. */
        RESET();
        rec = find_record(d, len, "VMLINUZ.;1");
        REQUIRE("damaged: the record of /live/vmlinuz", rec != 0);
        expect_mem_error("the unpatched record is found", d, len, "/live/vmlinuz", 0, "");
        d[rec + 25] |= 0x80;
        expect_mem_error("multi-extent file", d, len, "/live/vmlinuz", -EFBIG, "multi-extent file not supported");
        RESET();
        d[rec + 26] = 1;
        expect_mem_error("interleaved file", d, len, "/live/vmlinuz", -EOPNOTSUPP, "interleaved");
        RESET();
        d[rec + 25] |= 0x02;
        expect_mem_error("a directory flag on the last component", d, len, "/live/vmlinuz", -EISDIR, "directory");
        RESET();
        d[rec + 32] = 200;
        expect_mem_error("a name longer than its record", d, len, "/live/vmlinuz", -EBADMSG, "name of 200 bytes");
        RESET();
        d[rec] = 20;
        expect_mem_error("a record shorter than 34 bytes", d, len, "/live/vmlinuz", -EBADMSG, "too short");
        RESET();
        put32(d + rec + 2, 0xfffffff0);
        expect_mem_error("file extent outside the volume", d, len, "/live/vmlinuz", -EBADMSG, "outside the image");
        RESET();
        put32(d + rec + 10, 0xffffffff);
        expect_mem_error("file size beyond the volume", d, len, "/live/vmlinuz", -EBADMSG, "outside the image");

        /* System Use entries of that record. */
        RESET();
        su = find_su(d, rec, "NM");
        REQUIRE("damaged: its NM entry", su != 0);
        d[su + 2] = 255;
        expect_mem_error("an NM entry longer than its record", d, len, "/live/vmlinuz", -EBADMSG, "malformed System Use entry");
        RESET();
        d[su + 2] = 2;
        expect_mem_error("an NM entry of 2 bytes", d, len, "/live/vmlinuz", -EBADMSG, "malformed System Use entry");
        RESET();
        su = find_su(d, rec, "PX");
        REQUIRE("damaged: its PX entry", su != 0);
        put32(d + su + 4, S_IFLNK | 0777);
        expect_mem_error("PX says symbolic link", d, len, "/live/vmlinuz", -ELOOP, "symbolic link");
        RESET();
        put32(d + su + 4, S_IFCHR | 0644);
        expect_mem_error("PX says character device", d, len, "/live/vmlinuz", -EINVAL, "not a regular file");
        RESET();
        memcpy(d + su, "ZF", 2);
        expect_mem_error("a ZF entry", d, len, "/live/vmlinuz", -EOPNOTSUPP, "zisofs");
        /* PX becomes a CE whose area (in the unused block 1) continues into itself. */
        RESET();
        memcpy(d + su, "CE", 2);
        put32(d + su + 4, 1);
        put32(d + su + 12, 0);
        put32(d + su + 20, 28);
        memcpy(d + SECTOR, d + su, 28);
        d[SECTOR + 2] = 28;
        expect_mem_error("continuation areas in a loop", d, len, "/live/vmlinuz", -EBADMSG, "more than 32");
        d[SECTOR] = 'S';
        d[SECTOR + 1] = 'T';
        expect_mem_error("a continuation area that stops", d, len, "/live/vmlinuz", 0, "");
        put32(d + su + 12, 2040);
        expect_mem_error("a continuation area across its block", d, len, "/live/vmlinuz", -EBADMSG, "crosses the end of block");
        put32(d + su + 4, 0x7fffffff);
        put32(d + su + 12, 0);
        expect_mem_error("a continuation area outside the image", d, len, "/live/vmlinuz", -EBADMSG, "outside the image");

        /* Every continuation area of the long names points outside. */
        RESET();
        for (size_t i = 0; i + 28 <= len; i++)
                if (memcmp(d + i, "CE\x1c\x01", 4) == 0)
                        put32(d + i + 4, 0x00ffffff);
        snprintf(path, sizeof(path), "/%s", long_path);
        expect_mem_error("continuation areas outside the image", d, len, path, -EBADMSG, "outside the image");

        /* The last record of a sector made to cross into the next one. */
        RESET();
        rec = find_record(d, len, "FILE_000.BIN;1");
        REQUIRE("damaged: the record of /many/file-000.bin", rec != 0);
        last = rec;
        for (size_t pos = rec + d[rec]; pos % SECTOR != 0 && d[pos] != 0; pos += d[pos])
                last = pos;
        d[last] = (uint8_t)(254 < SECTOR - last % SECTOR + 2 ? 254 : SECTOR - last % SECTOR + 2);
        expect_mem_error("a record across the end of its sector", d, len, "/many/file-299.bin", -EBADMSG,
                         "crosses the end of its sector");

        /* The root's SP entry gone: Rock Ridge is not used, names are ISO 9660 ones. */
        RESET();
        for (size_t i = 16 * SECTOR; i + 6 <= len; i++)
                if (memcmp(d + i, "SP\x07\x01\xbe\xef", 6) == 0) {
                        d[i] = 'X';
                        break;
                }
        expect_mem_error("no SP: ISO 9660 names", d, len, "/LIVE/VMLINUZ", 0, "");
        expect_mem_error("no SP: no Rock Ridge names", d, len, "/live/filesystem.squashfs", -ENOENT,
                         "no \"filesystem.squashfs\"");

        free(d);
        free(orig);
}

/* Flip bytes in the descriptors and directories at random: every call returns cleanly. */
static void random_damage(void) {
        static const char *const paths[] = {
                "/live/filesystem.squashfs",
                "/many/file-299.bin",
                "/boot/grub/x86_64-efi/very/deep/path/one/two/three/four/five/the-end.txt",
                NULL,           /* the label */
        };
        uint8_t *d, saved[8];
        size_t len, where[8], region;
        uint32_t x = 12345;
        unsigned bad = 0, errors = 0, calls = 0;
        char label[33], name[128];

        d = load("rr.iso", &len);
        REQUIRE("random: rr.iso loaded", d && len > 64 * SECTOR);
        /* The descriptors, path tables, directories and continuation areas come before the first file's data. */
        region = len;
        for (size_t p = 0; p < ELEMENTSOF(paths); p++) {
                struct mem m = { .data = d, .len = len };
                uint64_t off = 0, size;

                if (paths[p] && ib_iso9660_locate(mem_read, &m, paths[p], &off, &size, NULL) == 0 && off < region)
                        region = off;
        }
        REQUIRE("random: metadata before the files' data", region > 20 * SECTOR);
        region -= 16 * SECTOR;
        for (unsigned it = 0; it < 3000; it++) {
                struct mem m = { .data = d, .len = len };
                unsigned n;

                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                n = 1 + x % 8;
                for (unsigned k = 0; k < n; k++) {
                        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                        where[k] = 16 * SECTOR + x % region;
                        saved[k] = d[where[k]];
                        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                        d[where[k]] = (uint8_t)(x & 1 ? x >> 8 : saved[k] ^ (1u << (x >> 8 & 7)));
                }
                for (size_t p = 0; p < ELEMENTSOF(paths); p++) {
                        struct ib_err e = {};
                        uint64_t off, size;
                        int r = paths[p] ? ib_iso9660_locate(mem_read, &m, paths[p], &off, &size, &e)
                                         : ib_iso9660_label(mem_read, &m, label, &e);

                        calls++;
                        if (r < 0)
                                errors++;
                        if (r > 0 || (r < 0 && (e.code != r || e.msg[0] == 0)))
                                bad++;
                        if (r == 0 && paths[p] && (off > len || size > len - off))
                                bad++;
                }
                for (unsigned k = n; k-- > 0;)
                        d[where[k]] = saved[k];
        }
        snprintf(name, sizeof(name), "random: %u calls on damaged images (%u errors): each returns 0 or an error with a message",
                 calls,
                 errors);
        CHECK(name, bad == 0 && errors > 0);
        free(d);
}

int main(void) {
        const char *tmp = getenv("TMPDIR");
        char args[3 * PATH_MAX];
        int n;

        n = snprintf(dir, sizeof(dir), "%s/ib-iso9660-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        REQUIRE("temporary directory name", n > 0 && (size_t)n < sizeof(dir));
        REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
        REQUIRE("source tree", make_tree() == 0);

        REQUIRE("xorriso: Rock Ridge image", xorriso("rr.iso", "-as mkisofs -R -V 'IB rr test' -o rr.iso src") == 0);
        REQUIRE("xorriso: Rock Ridge + Joliet image",
                xorriso("rrj.iso", "-as mkisofs -R -J -joliet-long -V RRJ -o rrj.iso src") == 0);
        REQUIRE("xorriso: plain ISO 9660 image", xorriso("plain.iso", "-as mkisofs --norock -V PLAIN_ISO -o plain.iso src") == 0);
        REQUIRE("xorriso: relocated deep directories",
                xorriso("reloc.iso", "-outdev reloc.iso -compliance deep_paths_off -rr_reloc_dir rr_moved -map src /") == 0);
        REQUIRE("xorriso: zisofs image",
                xorriso("zisofs.iso", "-outdev zisofs.iso -map src / -set_filter --zisofs /zisofs/words.txt --") == 0);

        expect_label("rr.iso", "IB rr test");
        expect_label("rrj.iso", "RRJ");
        expect_label("plain.iso", "PLAIN_ISO");
        rock_ridge_checks("rr.iso");
        rock_ridge_checks("rrj.iso");
        rock_ridge_checks("reloc.iso");
        expect_error("reloc.iso", "/rr_moved", -ENOENT, "rr_moved", "the relocation directory is hidden");
        expect_error("reloc.iso", "/boot/grub/x86_64-efi/very/deep/path/one/two", -EISDIR, "directory", "a relocated directory");
        expect_file("zisofs.iso", "/live/vmlinuz", "live/vmlinuz", "an uncompressed file beside a compressed one");
        expect_error("zisofs.iso", "/zisofs/words.txt", -EOPNOTSUPP, "zisofs", "a zisofs-compressed file");
        expect_file("rr.iso", "/zisofs/words.txt", "zisofs/words.txt", "the same file uncompressed");

        /* Plain ISO 9660: upper-case 8.3 names, found ignoring case when the name fits. */
        expect_file("plain.iso", "/live/vmlinuz", "live/vmlinuz", "/live/vmlinuz (VMLINUZ.;1)");
        expect_file("plain.iso", "/LIVE/VMLINUZ", "live/vmlinuz", "/LIVE/VMLINUZ");
        expect_file("plain.iso", "/LiveOS/squashfs.img", "LiveOS/squashfs.img", "/LiveOS/squashfs.img (SQUASHFS.IMG;1)");
        expect_file("plain.iso", "/efi/boot/bootx64.efi", "EFI/BOOT/BOOTX64.EFI", "/efi/boot/bootx64.efi");
        expect_file("plain.iso", "/live/empty", "live/empty", "an empty file");
        expect_file("plain.iso", "/many/file_299.bin", "many/file-299.bin", "/many/file_299.bin (FILE_299.BIN;1)");
        expect_error("plain.iso", "/live/filesystem.squashfs", -ENOENT, "filesystem.squashfs", "a name that does not fit 8.3");
        expect_error("plain.iso", "/live/link", -ENOENT, "link", "no symbolic links without Rock Ridge");
        expect_error("plain.iso", "/live", -EISDIR, "directory", "a directory");
        expect_error("plain.iso", "/live/vmlinuz;1", -ENOENT, "vmlinuz;1", "the version is not part of the name");

        damaged();
        random_damage();

        snprintf(args, sizeof(args), "rm -rf %s", dir);
        CHECK("cleanup", system(args) == 0);
        UNIT_EXIT();
}
