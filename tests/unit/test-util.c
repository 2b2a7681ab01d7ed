/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "unit.h"
#include "util.h"

/* ib_path_absolute() in a scratch directory @dir (real, no symlinks) made the working directory. */
static void test_path_absolute(const char *dir) {
        char want[256], *p = NULL, *cwd = getcwd(NULL, 0);

        REQUIRE("absolute: into the scratch directory", cwd && chdir(dir) == 0 && mkdir("sub", 0755) == 0);
        CHECK("absolute: an absolute path stays as it is", ib_path_absolute("/no/such/x", &p) == 0 && strcmp(p, "/no/such/x") == 0);
        free(p);
        snprintf(want, sizeof(want), "%s/sub", dir);
        CHECK("absolute: an existing relative directory is resolved", ib_path_absolute("./sub/../sub/", &p) == 0 && strcmp(p, want) == 0);
        free(p);
        snprintf(want, sizeof(want), "%s/sub/new-file", dir);
        CHECK("absolute: a file yet to be made is joined to the working directory",
              ib_path_absolute("sub/new-file", &p) == 0 && strcmp(p, want) == 0);
        free(p);
        CHECK("absolute: the working directory itself", ib_path_absolute(".", &p) == 0 && strcmp(p, dir) == 0);
        free(p);
        CHECK("absolute: an empty path is refused", ib_path_absolute("", &p) == -EINVAL);
        CHECK("absolute: back in the working directory", chdir(cwd) == 0);
        CHECK("absolute: the file yet to be made is not made", access(want, F_OK) != 0 && errno == ENOENT);
        snprintf(want, sizeof(want), "%s/sub", dir);
        CHECK("absolute: the scratch directory cleaned", rmdir(want) == 0);
        free(cwd);
}

int main(void) {
        uint64_t v = 0;
        uint8_t b[4], *d = NULL;
        size_t dl = 0;
        char hex[9], *s, dir[] = "/tmp/ib-util-XXXXXX", path[64], *buf = NULL;
        size_t len;
        struct stat st;

        CHECK("u64 0", ib_parse_u64("0", 1, &v) == 0 && v == 0);
        CHECK("u64 max", ib_parse_u64("18446744073709551615", 20, &v) == 0 && v == UINT64_MAX);
        CHECK("u64 overflow", ib_parse_u64("18446744073709551616", 20, &v) == -ERANGE);
        CHECK("u64 leading zero", ib_parse_u64("01", 2, &v) == -EINVAL);
        CHECK("u64 sign", ib_parse_u64("-1", 2, &v) == -EINVAL && ib_parse_u64("+1", 2, &v) == -EINVAL);
        CHECK("u64 empty", ib_parse_u64("", 0, &v) == -EINVAL);
        {
                long secs = 7;

                CHECK("fill off", ib_parse_fill("off", &secs) == 0 && secs == -1);
                CHECK("fill 0", ib_parse_fill("0", &secs) == 0 && secs == 0);
                CHECK("fill max", ib_parse_fill("86400", &secs) == 0 && secs == IB_FILL_MAX_SECS);
                secs = 7;
                CHECK("fill over max", ib_parse_fill("86401", &secs) == -EINVAL && secs == 7);
                CHECK("fill junk", ib_parse_fill("30s", &secs) == -EINVAL && ib_parse_fill("", &secs) == -EINVAL &&
                                   ib_parse_fill("OFF", &secs) == -EINVAL && secs == 7);
        }
        ib_hex((const uint8_t *)"\x01\xab\xff\x00", 4, hex);
        CHECK("hex", strcmp(hex, "01abff00") == 0);
        CHECK("unhex", ib_unhex("01abff00", 8, b, 4) == 0 && memcmp(b, "\x01\xab\xff\x00", 4) == 0);
        CHECK("unhex rejects upper case", ib_unhex("01ABff00", 8, b, 4) == -EINVAL);
        CHECK("unhex rejects wrong length", ib_unhex("01ab", 4, b, 4) == -EINVAL);
        for (size_t n = 0; n < 4; n++) {
                s = ib_base64_encode((const uint8_t *)"abc", n);
                CHECK("base64 round trip", n == 0 || (ib_base64_decode(s, strlen(s), &d, &dl) == 0 && dl == n && memcmp(d, "abc", n) == 0));
                free(s);
                free(d);
                d = NULL;
        }
        s = ib_base64_encode((const uint8_t *)"ab", 2);
        CHECK("base64 vector", strcmp(s, "YWI=") == 0);
        free(s);
        CHECK("base64 rejects bad padding", ib_base64_decode("YW=I", 4, &d, &dl) == -EINVAL);
        CHECK("base64 rejects non-canonical bits", ib_base64_decode("YWJ=", 4, &d, &dl) == -EINVAL);
        CHECK("base64 rejects bad char", ib_base64_decode("YW!=", 4, &d, &dl) == -EINVAL);
        CHECK("base64 rejects short", ib_base64_decode("YWI", 3, &d, &dl) == -EINVAL);

        REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/f", dir);
        CHECK("atomic write", ib_write_file_atomic(path, "hello", 5, 0600) == 0);
        CHECK("atomic write mode", stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
        CHECK("read back", ib_read_file(path, 100, &buf, &len) == 0 && len == 5 && strcmp(buf, "hello") == 0);
        free(buf);
        CHECK("read limit", ib_read_file(path, 4, &buf, &len) == -EFBIG);
        CHECK("replace", ib_write_file_atomic(path, "bye", 3, 0644) == 0 && ib_read_file(path, 100, &buf, &len) == 0 && len == 3);
        free(buf);
        snprintf(path, sizeof(path), "%s/missing/f", dir);
        CHECK("write into missing dir fails", ib_write_file_atomic(path, "x", 1, 0644) == -ENOENT);
        snprintf(path, sizeof(path), "%s/f", dir);
        unlink(path);
        test_path_absolute(dir);
        CHECK("no temp files left", rmdir(dir) == 0);
        UNIT_EXIT();
}
