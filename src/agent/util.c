/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util.c: small helpers of every step: a path composed in a buffer, a file
 * written, a program run and waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "agent.h"

/* Compose a path; false (and an empty string) when it does not fit. */
_printf_(3, 4) bool agent_pathf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= size) {
                buf[0] = 0;
                return false;
        }
        return true;
}

int agent_write_text(const char *dir, const char *name, const void *buf, size_t len) {
        _cleanup_(freep) char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return agent_fail("out of memory");
        if (ib_write_file_atomic(p, buf, len, 0644) < 0)
                return agent_fail("cannot write %s: %m", p);
        return 0;
}

int agent_run(char *const argv[], bool quiet) {
        return agent_run_limited(argv, quiet, 0);
}

int agent_run_limited(char *const argv[], bool quiet, uint64_t max_file) {
        pid_t p;
        int status;

        fflush(NULL);
        p = fork();
        if (p < 0)
                return -errno;
        if (p == 0) {
                if (quiet) {
                        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                }
                if (max_file) {
                        struct rlimit rl = { .rlim_cur = max_file, .rlim_max = max_file };

                        /* A file written past it kills the program (SIGXFSZ): a bound on what it extracts. */
                        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                                _exit(126);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(p, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
