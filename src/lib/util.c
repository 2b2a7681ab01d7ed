/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

int ib_err_set(struct ib_err *e, int code, unsigned line, const char *fmt, ...) {
        if (e) {
                va_list ap;

                e->code = code;
                e->line = line;
                va_start(ap, fmt);
                vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
                va_end(ap);
        }
        return code < 0 ? code : -EINVAL;
}

int ib_parse_u64(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 20)
                return -EINVAL;
        if (s[0] == '0' && len > 1)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                unsigned d;

                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                d = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int ib_parse_fill(const char *s, long *secs) {
        uint64_t v;

        if (strcmp(s, "off") == 0) {
                *secs = -1;
                return 0;
        }
        if (ib_parse_u64(s, strlen(s), &v) < 0 || v > IB_FILL_MAX_SECS)
                return -EINVAL;
        *secs = (long)v;
        return 0;
}

void ib_hex(const uint8_t *in, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = 0;
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int ib_unhex(const char *in, size_t len, uint8_t *out, size_t n) {
        uint8_t tmp[64];

        if (len != 2 * n || n > sizeof(tmp))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int hi = unhex_digit(in[2 * i]), lo = unhex_digit(in[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                tmp[i] = (uint8_t)(hi << 4 | lo);
        }
        memcpy(out, tmp, n);
        return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ib_base64_encode(const uint8_t *in, size_t n) {
        char *out = malloc((n + 2) / 3 * 4 + 1), *p = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                *p++ = b64[v >> 18 & 63];
                *p++ = b64[v >> 12 & 63];
                *p++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
                *p++ = i + 2 < n ? b64[v & 63] : '=';
        }
        *p = 0;
        return out;
}

static int b64_value(char c) {
        const char *p = c ? strchr(b64, c) : NULL;

        return p ? (int)(p - b64) : -1;
}

int ib_base64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len) {
        _cleanup_(freep) uint8_t *out = NULL;
        size_t n = 0;

        if (len == 0 || len % 4 != 0)
                return -EINVAL;
        out = malloc(len / 4 * 3);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                bool last = i + 4 == len;

                for (int k = 0; k < 4; k++) {
                        v[k] = b64_value(in[i + k]);
                        if (v[k] < 0 && !(last && k >= 2 && in[i + k] == '='))
                                return -EINVAL;
                }
                if (v[2] < 0 && v[3] >= 0)
                        return -EINVAL;
                out[n++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
                if (v[2] >= 0)
                        out[n++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
                else if (v[1] & 15)
                        return -EINVAL; /* non-canonical padding bits */
                if (v[3] >= 0)
                        out[n++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
                else if (v[2] >= 0 && (v[2] & 3))
                        return -EINVAL;
        }
        *ret = out;
        out = NULL;
        *ret_len = n;
        return 0;
}

int ib_read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        if (st.st_size == 0) {
                /* procfs and friends report 0 bytes: read to the end. */
                size_t len = 0, cap = 0;

                for (;;) {
                        char *nb;

                        if (len == cap) {
                                if (cap > max)
                                        return -EFBIG;
                                cap = cap ? 2 * cap : 4096;
                                nb = realloc(buf, cap + 1);
                                if (!nb)
                                        return -ENOMEM;
                                buf = nb;
                        }
                        n = read(fd, buf + len, cap - len);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        if (n == 0)
                                break;
                        len += (size_t)n;
                }
                if (len > max)
                        return -EFBIG;
                if (!buf && !(buf = malloc(1)))
                        return -ENOMEM;
                buf[len] = 0;
                *ret = buf;
                buf = NULL;
                *ret_len = len;
                return 0;
        }
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        n = ib_pread_full(fd, buf, (size_t)st.st_size, 0);
        if (n < 0)
                return (int)n;
        buf[n] = 0;
        *ret = buf;
        buf = NULL;
        *ret_len = (size_t)n;
        return 0;
}

ssize_t ib_pread_full(int fd, void *buf, size_t len, uint64_t off) {
        size_t done = 0;

        while (done < len) {
                ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (ssize_t)done;
}

int ib_write_full(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int ib_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode) {
        return ib_write_file_replace(path, buf, len, mode, true);
}

int ib_write_file_replace(const char *path, const void *buf, size_t len, mode_t mode, bool durable) {
        return ib_write_file_replace_at(AT_FDCWD, path, buf, len, mode, durable);
}

int ib_write_file_replace_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode, bool durable) {
        char tmp[PATH_MAX];
        int fd, r;

        for (unsigned attempt = 0;; attempt++) {
                if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-%u", path, (long)getpid(), attempt) >= (int)sizeof(tmp))
                        return -ENAMETOOLONG;
                fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || attempt >= 100)
                        return -errno;
        }
        r = ib_write_full(fd, buf, len);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, path) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dirfd, tmp, 0);
        return r;
}

char *ib_strndup(const char *s, size_t len) {
        char *p = malloc(len + 1);

        if (!p)
                return NULL;
        memcpy(p, s, len);
        p[len] = 0;
        return p;
}

bool ib_strv_has(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

int ib_strv_push(char ***v, size_t *n, const char *s) {
        char **nv;
        char *copy = strdup(s);

        if (!copy)
                return -ENOMEM;
        nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv) {
                free(copy);
                return -ENOMEM;
        }
        nv[(*n)++] = copy;
        nv[*n] = NULL;
        *v = nv;
        return 0;
}

int ib_path_absolute(const char *path, char **ret) {
        _cleanup_(freep) char *cwd = NULL;
        char *p;

        if (!*path)
                return -EINVAL;
        if (path[0] == '/')
                p = strdup(path);
        else if (!(p = realpath(path, NULL))) {
                if (errno != ENOENT)
                        return -errno;
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
                if (asprintf(&p, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path) < 0)
                        p = NULL;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

bool ib_is_url(const char *s) {
        return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

void ib_strv_free(char **v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

char *ib_sibling_program(const char *name, const char *fallback) {
        char self[PATH_MAX], *slash, *p;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n > 0) {
                self[n] = 0;
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        if (asprintf(&p, "%s/%s", self, name) < 0)
                                return NULL;
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        return strdup(fallback);
}

uint64_t ib_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
