/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glob.h>
#include <lzma.h>
#include <zstd.h>

#include "kmod.h"
#include "unit.h"

static const char dep[] =
        "kernel/fs/fuse/fuse.ko:\n"
        "kernel/drivers/block/loop.ko:\n"
        "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
        "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
        "kernel/drivers/virtio/virtio_ring.ko:\n"
        "kernel/drivers/virtio/virtio.ko:\n"
        "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
        "kernel/net/core/failover.ko:\n"
        "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz:\n"
        "kernel/a/loop1.ko: kernel/a/loop2.ko\n"
        "kernel/a/loop2.ko: kernel/a/loop1.ko\n"
        "kernel/a/broken.ko: kernel/a/missing.ko\n";
static const char alias[] =
        "# Aliases extracted from modules themselves.\n"
        "alias virtio:d00000001v* virtio_net\n"
        "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
        "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"
        "alias fs-fuse fuse\n";
static const char builtin[] = "kernel/fs/ext4/ext4.ko\nkernel/drivers/block/virtio_blk.ko\n";

static size_t index_of(char **v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strstr(v[i], s))
                        return i;
        return (size_t)-1;
}

static void test_resolve(void) {
        struct ib_kmods *k = NULL;
        struct ib_err e = {};
        char **p = NULL, **names = NULL;
        size_t n = 0, nn = 0;
        char name[64];

        REQUIRE("kmod: parse", ib_kmods_new(dep, strlen(dep), alias, strlen(alias), builtin, strlen(builtin), &k, &e) == 0);
        REQUIRE("kmod: virtio-net resolves", ib_kmods_add(k, "virtio-net", &p, &n, &e) == 0);
        CHECK("kmod: virtio_net and its 4 deps", n == 5);
        CHECK("kmod: virtio_net last", index_of(p, n, "/virtio_net.ko") == 4);
        CHECK("kmod: failover before net_failover", index_of(p, n, "/failover.ko") < index_of(p, n, "/net_failover.ko"));
        CHECK("kmod: virtio before virtio_ring? both before virtio_net",
              index_of(p, n, "/virtio.ko") < 4 && index_of(p, n, "/virtio_ring.ko") < 4);
        REQUIRE("kmod: virtio_pci resolves", ib_kmods_add(k, "virtio_pci", &p, &n, &e) == 0);
        CHECK("kmod: shared deps not repeated", n == 8 && index_of(p, n, "/virtio_pci.ko") == 7);
        REQUIRE("kmod: fuse", ib_kmods_add(k, "fuse", &p, &n, &e) == 0);
        CHECK("kmod: fuse added once", n == 9 && ib_kmods_add(k, "fuse", &p, &n, &e) == 0 && n == 9);
        CHECK("kmod: builtin adds nothing", ib_kmods_add(k, "ext4", &p, &n, &e) == 0 && n == 9);
        CHECK("kmod: unknown module", ib_kmods_add(k, "nosuch", &p, &n, &e) == -ENOENT && strstr(e.msg, "nosuch"));
        CHECK("kmod: dependency loop stops", ib_kmods_add(k, "loop1", &p, &n, &e) == 0 || e.code == -ELOOP);
        CHECK("kmod: a missing dependency is named", ib_kmods_add(k, "broken", &p, &n, &e) == -ENOENT && strstr(e.msg, "missing.ko"));
        ib_strv_free(p, n);

        CHECK("kmod: modalias of virtio-net", ib_kmods_match(k, "virtio:d00000001v00001AF4", &names, &nn) == 1 &&
              strcmp(names[0], "virtio_net") == 0);
        CHECK("kmod: modalias of the virtio PCI function", ib_kmods_match(k, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
                                                                           &names, &nn) == 1 && nn == 2 && strcmp(names[1], "virtio_pci") == 0);
        CHECK("kmod: no match", ib_kmods_match(k, "pci:v0000FFFFd0000FFFF", &names, &nn) == 0 && nn == 2);
        ib_strv_free(names, nn);
        CHECK("kmod: name of a compressed module", ib_kmod_name("kernel/x/e1000e.ko.xz", name, sizeof(name)) == 0 &&
              strcmp(name, "e1000e") == 0);
        CHECK("kmod: name with dashes", ib_kmod_name("a/b/snd-hda.ko", name, sizeof(name)) == 0 && strcmp(name, "snd_hda") == 0);
        ib_kmods_free(k);
        CHECK("kmod: garbage modules.dep refused", ib_kmods_new("hello\n", 6, NULL, 0, NULL, 0, &k, &e) < 0 && strstr(e.msg, "line 1"));
}

/* The real tree of the installed Debian kernel (make deps installs linux-image-amd64). */
static void test_real_tree(void) {
        glob_t g = {};
        char *d = NULL, *a = NULL, *img = NULL, rel[65], want[128];
        size_t dl, al, il, n = 0;
        char **p = NULL;
        struct ib_kmods *k = NULL;
        struct ib_err e = {};

        REQUIRE("kmod: a /boot/vmlinuz-* exists", glob("/boot/vmlinuz-*", 0, NULL, &g) == 0 && g.gl_pathc > 0);
        REQUIRE("kmod: read vmlinuz", ib_read_file(g.gl_pathv[g.gl_pathc - 1], 64u << 20, &img, &il) == 0);
        REQUIRE("kmod: release of the real kernel", ib_kernel_release(img, il, rel, sizeof(rel), &e) == 0);
        snprintf(want, sizeof(want), "/boot/vmlinuz-%s", rel);
        CHECK("kmod: release matches the file name", strcmp(want, g.gl_pathv[g.gl_pathc - 1]) == 0);
        img[0x202] = 'X';
        CHECK("kmod: not a bzImage", ib_kernel_release(img, il, rel, sizeof(rel), &e) == -EINVAL);
        CHECK("kmod: too short", ib_kernel_release(img, 0x100, rel, sizeof(rel), &e) == -EINVAL);
        free(img);
        snprintf(want, sizeof(want), "/lib/modules/%s/modules.dep", g.gl_pathv[g.gl_pathc - 1] + 14);
        REQUIRE("kmod: read modules.dep", ib_read_file(want, 64u << 20, &d, &dl) == 0);
        snprintf(want, sizeof(want), "/lib/modules/%s/modules.alias", g.gl_pathv[g.gl_pathc - 1] + 14);
        REQUIRE("kmod: read modules.alias", ib_read_file(want, 64u << 20, &a, &al) == 0);
        REQUIRE("kmod: parse the real tree", ib_kmods_new(d, dl, a, al, NULL, 0, &k, &e) == 0);
        CHECK("kmod: real virtio_net", ib_kmods_add(k, "virtio_net", &p, &n, &e) == 0 && n >= 3 &&
              strstr(p[n - 1], "virtio_net.ko"));
        CHECK("kmod: real isofs needs cdrom first", ib_kmods_add(k, "isofs", &p, &n, &e) == 0 &&
              index_of(p, n, "/cdrom.ko") < index_of(p, n, "/isofs.ko"));
        ib_strv_free(p, n);
        ib_kmods_free(k);
        free(d);
        free(a);
        globfree(&g);
}


/* ---- compressed modules: ib_kmod_plain() ------------------------------------------ */

/* A stand-in module: ELF magic, some text, and an appended signature's trailer. */
static size_t fake_module(uint8_t *buf, size_t size) {
        static const char sig[] = "~Module signature appended~\n";
        size_t n = 0;

        memcpy(buf, "\177ELF\002\001\001", 7);
        n = 7;
        while (n + sizeof(sig) < size) {
                n += (size_t)snprintf((char *)buf + n, size - n, "symbol_%zu ", n);
        }
        memcpy(buf + size - (sizeof(sig) - 1), sig, sizeof(sig) - 1);
        return size;
}

/* @in compressed as the kernel's CONFIG_MODULE_COMPRESS_* do (xz: crc32, 1 MiB dictionary). */
static size_t compress_as(const char *how, const uint8_t *in, size_t len, uint8_t *out, size_t size) {
        if (strcmp(how, "xz") == 0) {
                lzma_options_lzma o;
                lzma_filter f[2] = { { LZMA_FILTER_LZMA2, &o }, { LZMA_VLI_UNKNOWN, NULL } };
                size_t pos = 0;

                lzma_lzma_preset(&o, 6);
                o.dict_size = 1u << 20;
                return lzma_stream_buffer_encode(f, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, size) == LZMA_OK ? pos : 0;
        }
        if (strcmp(how, "zst") == 0) {
                /* As the zstd program writes them: with the content checksum. */
                ZSTD_CCtx *c = ZSTD_createCCtx();
                size_t r;

                ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
                ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
                r = ZSTD_compress2(c, out, size, in, len);
                ZSTD_freeCCtx(c);
                return ZSTD_isError(r) ? 0 : r;
        }
        if (strcmp(how, "gz") == 0)
                return unit_gzip(in, len, out, size);
        return 0;
}

static void test_plain(void) {
        static const char *const hows[] = { "xz", "zst", "gz" };
        static uint8_t mod[300000], packed[400000], junk[400000];
        size_t mlen = fake_module(mod, sizeof(mod));
        uint8_t *out = NULL;
        size_t olen = 0;
        struct ib_err e = {};
        char name[768];

        CHECK("compressed: .ko.xz", ib_kmod_compressed("kernel/drivers/block/loop.ko.xz"));
        CHECK("compressed: .ko.zst", ib_kmod_compressed("kernel/fs/fuse/fuse.ko.zst"));
        CHECK("compressed: .ko.gz", ib_kmod_compressed("a/b.ko.gz"));
        CHECK("compressed: not .ko", !ib_kmod_compressed("kernel/drivers/block/loop.ko"));
        CHECK("compressed: not .xz alone", !ib_kmod_compressed("loop.xz"));

        REQUIRE("plain: a .ko is copied", ib_kmod_plain(mod, mlen, "x/loop.ko", 1u << 20, &out, &olen, &e) == 0);
        CHECK("plain: ... byte for byte", olen == mlen && memcmp(out, mod, mlen) == 0);
        free(out);
        out = NULL;
        CHECK("plain: a .ko over the bound", ib_kmod_plain(mod, mlen, "x/loop.ko", 1000, &out, &olen, &e) == -E2BIG && !out);

        for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
                char path[64];
                size_t plen = compress_as(hows[i], mod, mlen, packed, sizeof(packed));
                int r;

                snprintf(path, sizeof(path), "kernel/drivers/block/loop.ko.%s", hows[i]);
                snprintf(name, sizeof(name), "plain: %s compressed for the test", hows[i]);
                REQUIRE(name, plen > 0 && plen < mlen);

                out = NULL;
                r = ib_kmod_plain(packed, plen, path, 1u << 20, &out, &olen, &e);
                snprintf(name, sizeof(name), "plain: %s decompressed, the appended signature intact", hows[i]);
                CHECK(name, r == 0 && olen == mlen && memcmp(out, mod, mlen) == 0 &&
                            memcmp(out + mlen - 28, "~Module signature appended~\n", 28) == 0);
                free(out);

                out = NULL;
                r = ib_kmod_plain(packed, plen, path, mlen - 1, &out, &olen, &e);
                snprintf(name, sizeof(name), "plain: %s one byte over the bound is -E2BIG (%s)", hows[i], e.msg);
                CHECK(name, r == -E2BIG && !out && strstr(e.msg, path));

                out = NULL;
                r = ib_kmod_plain(packed, plen / 2, path, 1u << 20, &out, &olen, &e);
                snprintf(name, sizeof(name), "plain: %s truncated is -EINVAL (%s)", hows[i], e.msg);
                CHECK(name, r == -EINVAL && !out);

                memcpy(junk, packed, plen);
                junk[plen / 2] ^= 0x55;
                out = NULL;
                r = ib_kmod_plain(junk, plen, path, 1u << 20, &out, &olen, &e);
                snprintf(name, sizeof(name), "plain: %s corrupt is refused", hows[i]);
                CHECK(name, r < 0 && !out);

                memcpy(junk, packed, plen);
                memset(junk + plen, 0, 8);
                out = NULL;
                r = ib_kmod_plain(junk, plen + 8, path, 1u << 20, &out, &olen, &e);
                snprintf(name, sizeof(name), "plain: %s with zero padding after it", hows[i]);
                CHECK(name, r == 0 && olen == mlen);
                free(out);

                junk[plen + 3] = 'X';
                out = NULL;
                r = ib_kmod_plain(junk, plen + 8, path, 1u << 20, &out, &olen, &e);
                snprintf(name, sizeof(name), "plain: %s with junk after it is -EINVAL (%s)", hows[i], e.msg);
                CHECK(name, r == -EINVAL && !out);
        }

        /* Not ELF once decompressed; not compressed at all though named so. */
        memcpy(junk, "not a module at all, just text", 30);
        olen = compress_as("xz", junk, 30, packed, sizeof(packed));
        out = NULL;
        CHECK("plain: not ELF once decompressed",
              ib_kmod_plain(packed, olen, "m.ko.xz", 1u << 20, &out, &olen, &e) == -EINVAL && !out && strstr(e.msg, "ELF"));
        out = NULL;
        CHECK("plain: named .ko.zst but plain", ib_kmod_plain(mod, mlen, "m.ko.zst", 1u << 20, &out, &olen, &e) == -EINVAL && !out);
        out = NULL;
        CHECK("plain: a .ko that is not ELF", ib_kmod_plain(junk, 30, "m.ko", 1u << 20, &out, &olen, &e) == -EINVAL && !out);
}

int main(void) {
        test_plain();
        test_resolve();
        test_real_tree();
        UNIT_EXIT();
}
