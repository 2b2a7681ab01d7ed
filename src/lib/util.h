/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util.h: small helpers shared by every part of inetboot: cleanup attributes,
 * error reports, strict number and hex parsing, whole-file I/O and crash-safe
 * writes.  Nothing here prints; callers decide what to say.
 */
#ifndef INETBOOT_UTIL_H
#define INETBOOT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }

/*
 * An error report filled in by library code: a negative errno-style code, an
 * optional line number (0 when not applicable) and a sentence for people.
 * Every error site writes its own sentence, so one message points at one
 * place in the code.  May be NULL wherever it is accepted.
 */
struct ib_err {
        int code;               /* negative errno, or a parser-specific code */
        unsigned line;          /* 1-based input line, 0 if none */
        char msg[512];
};

/*
 * Fill @e (if not NULL) and return @code, so error sites read
 * "return ib_err_set(err, -EINVAL, line, "...")".
 */
int ib_err_set(struct ib_err *e, int code, unsigned line, const char *fmt, ...) _printf_(4, 5);

/* Strict decimal: digits only, no sign, no leading zero (except "0"), no overflow. */
int ib_parse_u64(const char *s, size_t len, uint64_t *ret);

/*
 * The cache fill's idle time, as --cache-fill and inetboot.cachefill= take it:
 * "off" (*secs = -1) or whole seconds up to IB_FILL_MAX_SECS; -EINVAL otherwise.
 */
#define IB_FILL_MAX_SECS 86400
int ib_parse_fill(const char *s, long *secs);

/* Lower-case hex of @n bytes into @out, which holds 2*n+1 bytes. */
void ib_hex(const uint8_t *in, size_t n, char *out);

/* Exactly 2*n lower-case hex digits into @out; -EINVAL otherwise. */
int ib_unhex(const char *in, size_t len, uint8_t *out, size_t n);

/* Base64 (RFC 4648, padded).  Encode returns a new string; decode is strict. */
char *ib_base64_encode(const uint8_t *in, size_t n);
int ib_base64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len);

/*
 * Read a whole regular file of at most @max bytes.  The buffer gets a
 * terminating NUL that is not counted in *ret_len.  -EFBIG beyond @max.
 */
int ib_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * Write @len bytes to @path crash-safely: a temporary file in the same
 * directory opened O_EXCL|O_CLOEXEC, fsync, rename.  A failure unlinks the
 * temporary file and leaves any old @path as it was.
 */
int ib_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/*
 * The same, with fsync only when @durable.  Without it a crash can leave an
 * empty or stale file but never a partial one under @path: fine for data
 * that is verified when read back (the block cache), not for keys.
 */
int ib_write_file_replace(const char *path, const void *buf, size_t len, mode_t mode, bool durable);

/* The same with @path relative to the directory open as @dirfd (or AT_FDCWD), as openat(2). */
int ib_write_file_replace_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode, bool durable);

/* pread/write loops that return -errno or the full count (short only at EOF). */
ssize_t ib_pread_full(int fd, void *buf, size_t len, uint64_t off);
int ib_write_full(int fd, const void *buf, size_t len);

/*
 * The program @name installed beside the running one (the directory of
 * /proc/self/exe), when it is executable there; otherwise a copy of
 * @fallback.  NULL on ENOMEM.
 */
char *ib_sibling_program(const char *name, const char *fallback);

/* strdup of @len bytes; NULL on ENOMEM. */
char *ib_strndup(const char *s, size_t len);

/* A growable array of strings; NULL-terminated after every push. */
int ib_strv_push(char ***v, size_t *n, const char *s);
/* Whether @s is one of the @n strings of @v. */
bool ib_strv_has(char *const *v, size_t n, const char *s);
void ib_strv_free(char **v, size_t n);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t ib_now_ms(void);

/*
 * @path as an absolute path, for a program about to leave its working
 * directory (a daemon's chdir("/")): an absolute @path as it is, a relative
 * one that exists resolved (realpath), else joined to the working directory
 * (a file yet to be made).  0 or -errno.
 */
int ib_path_absolute(const char *path, char **ret);

/* True when @s starts with http:// or https://, the only schemes inetboot speaks. */
bool ib_is_url(const char *s);

#endif
