/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The persistent block cache: round trip, re-verification, LRU bound, crash leftovers, reopen. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "diskcache.h"
#include "image.h"
#include "unit.h"

static char dir[] = "/tmp/ib-dc-XXXXXX";

static void block(unsigned i, uint8_t *buf, uint8_t sha[32]) {
        memset(buf, (int)i, 4096);
        buf[0] = (uint8_t)(i >> 8);
        ib_sha256(buf, 4096, sha);
}

static void path_of(const uint8_t sha[32], char *path) {
        char hex[65];

        ib_hex(sha, 32, hex);
        sprintf(path, "%s/blocks/%.2s/%s", dir, hex, hex);
}

int main(void) {
        struct ib_diskcache *dc = NULL;
        struct ib_err e = {};
        uint8_t buf[4096], out[4096], sha[32], sha2[32];
        char path[256], cmd[300];
        unsigned present = 0;
        FILE *f;

        REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
        REQUIRE("open", ib_diskcache_open(dir, 10 * 4096, &dc, &e) == 0);
        block(1, buf, sha);
        CHECK("miss", ib_diskcache_get(dc, sha, out, 4096) == 0);
        CHECK("put", ib_diskcache_put(dc, sha, buf, 4096) == 0);
        CHECK("hit returns the bytes", ib_diskcache_get(dc, sha, out, 4096) == 1 && memcmp(out, buf, 4096) == 0);
        CHECK("a wrong length is not a hit", ib_diskcache_get(dc, sha, out, 4095) == -EBADMSG);
        CHECK("and the entry is gone", !ib_diskcache_has(dc, sha));

        /* Corruption on disk is caught and the entry dropped. */
        ib_diskcache_put(dc, sha, buf, 4096);
        path_of(sha, path);
        f = fopen(path, "r+");
        fputc('X', f);
        fclose(f);
        CHECK("corrupt entry: -EBADMSG", ib_diskcache_get(dc, sha, out, 4096) == -EBADMSG);
        CHECK("corrupt entry: file removed", access(path, F_OK) < 0);
        CHECK("corrupt entry: then a miss", ib_diskcache_get(dc, sha, out, 4096) == 0);

        /* Bounded: 30 blocks into a 10-block cache; block 0 kept hot stays. */
        block(1000, buf, sha2);
        ib_diskcache_put(dc, sha2, buf, 4096);
        for (unsigned i = 0; i < 30; i++) {
                block(i + 10, buf, sha);
                ib_diskcache_put(dc, sha, buf, 4096);
                CHECK("the hot entry is hit", ib_diskcache_get(dc, sha2, out, 4096) == 1);
        }
        for (unsigned i = 0; i < 30; i++) {
                block(i + 10, buf, sha);
                present += ib_diskcache_has(dc, sha);
        }
        CHECK("bounded: at most 10 blocks kept", present + 1 <= 10);
        CHECK("the most recent ones are kept", (block(39, buf, sha), ib_diskcache_has(dc, sha)));
        snprintf(cmd, sizeof(cmd), "test $(find %s/blocks -type f | wc -l) -le 10", dir);
        CHECK("bounded on disk too", system(cmd) == 0);

        /* Reopen: the index is rebuilt from the files; temporary leftovers are removed. */
        ib_diskcache_free(dc);
        block(39, buf, sha);
        path_of(sha, path);
        snprintf(cmd, sizeof(cmd), "%s.tmp-1-0", path);
        f = fopen(cmd, "w");
        fputs("partial", f);
        fclose(f);
        REQUIRE("reopen", ib_diskcache_open(dir, 10 * 4096, &dc, &e) == 0);
        CHECK("reopen: entries found again", ib_diskcache_get(dc, sha, out, 4096) == 1 && memcmp(out, buf, 4096) == 0);
        CHECK("reopen: a crash leftover is removed", access(cmd, F_OK) < 0);
        {
                /* room: what the bound leaves (the file system here has far more free). */
                uint64_t room = ib_diskcache_room(dc), used = 0;
                FILE *st = fmemopen(cmd, sizeof(cmd), "w");

                ib_diskcache_stats(dc, st);
                fclose(st);
                sscanf(strstr(cmd, "cache-bytes "), "cache-bytes %" SCNu64, &used);
                CHECK("room: the bound less what is stored", used > 0 && room == 10 * 4096 - used);
        }
        memset(sha2, 0x42, 32);
        CHECK("an entry larger than the bound is refused", ib_diskcache_put(dc, sha2, buf, 4096 * 11) == -E2BIG);
        ib_diskcache_free(dc);
        REQUIRE("open unbounded", ib_diskcache_open(dir, 0, &dc, &e) == 0);
        {
                /* unbounded: the file system's free space less its margin (a twentieth, at most 64 MiB) */
                struct statvfs sv;
                uint64_t fr, margin, room = ib_diskcache_room(dc);

                REQUIRE("statvfs", statvfs(dir, &sv) == 0);
                fr = (uint64_t)sv.f_bavail * sv.f_frsize;
                margin = (uint64_t)sv.f_blocks * sv.f_frsize / 20;
                margin = margin > (64u << 20) ? 64u << 20 : margin;
                CHECK("room, unbounded: the disk's free space less the margin (within 16 MiB of it)",
                      room <= fr - margin + (16u << 20) && room + (16u << 20) >= fr - margin);
        }
        ib_diskcache_free(dc);
        {
                /*
                 * The cache's directory moved away from its path once open, as when systemd
                 * (254 and later) switching root out of an initrd detaches the cache's mount
                 * from the daemon's view: blocks are still stored and read where it was opened.
                 */
                char moved[64], file[200], hex[65];
                struct stat sb;

                REQUIRE("open before the move", ib_diskcache_open(dir, 0, &dc, &e) == 0);
                snprintf(moved, sizeof(moved), "%s-moved", dir);
                REQUIRE("move the directory away", rename(dir, moved) == 0);
                block(777, buf, sha);
                CHECK("moved: a block is stored", ib_diskcache_put(dc, sha, buf, 4096) == 0);
                CHECK("moved: and read back", ib_diskcache_get(dc, sha, out, 4096) == 1 && memcmp(out, buf, 4096) == 0);
                ib_hex(sha, 32, hex);
                snprintf(file, sizeof(file), "%s/blocks/%.2s/%s", moved, hex, hex);
                CHECK("moved: its file is where the cache was opened", stat(file, &sb) == 0 && sb.st_size == 4096);
                CHECK("moved: room from the open directory", ib_diskcache_room(dc) > 0);
                ib_diskcache_free(dc);
                REQUIRE("move it back", rename(moved, dir) == 0);
        }
        CHECK("open fails clearly on a file", ib_diskcache_open("/dev/null/x", 0, &dc, &e) < 0 && strstr(e.msg, "cache"));
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK("cleanup", system(cmd) == 0);
        UNIT_EXIT();
}
