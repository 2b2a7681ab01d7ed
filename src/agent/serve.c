/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * serve.c: the image served: inetboot-httpfs started on the verified manifest and
 * waited for until the image is mounted, the image loop-mounted for the
 * preboot's shell, and both stopped again before kexec.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "image.h"

#include "agent.h"

static bool mounted(const char *dir) {
        _cleanup_(freep) char *parent = NULL;
        struct stat a, b;

        if (asprintf(&parent, "%s/..", dir) < 0)
                return false;
        return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

int agent_start_httpfs(struct agent *a) {
        char *argv[64 + 2 * IB_CMDLINE_MAX_URLS];
        _cleanup_(freep) char *mf = NULL, *sf = NULL, *kf = NULL;
        size_t n = 0;
        pid_t pid;

        if (asprintf(&a->mnt, "%s/mnt", a->work) < 0 || asprintf(&mf, "%s/image.manifest", a->work) < 0 ||
            asprintf(&sf, "%s/image.manifest.sig", a->work) < 0 || asprintf(&a->image, "%s/%s", a->mnt, a->m->name) < 0)
                return agent_fail("out of memory");
        if (mkdir(a->mnt, 0755) < 0 && errno != EEXIST)
                return agent_fail("cannot create %s: %m", a->mnt);
        if (mounted(a->mnt))
                return agent_fail("%s is already a mount point (another inetboot-agent running?)", a->mnt);
        if (agent_write_text(a->work, "image.manifest", a->manifest, a->manifest_len) < 0 ||
            (a->sig && agent_write_text(a->work, "image.manifest.sig", a->sig, a->sig_len) < 0))
                return -1;
        /* The keyring that certified the signer, checked again by httpfs (it judges the same version: no change). */
        if (a->verified && a->kr &&
            (asprintf(&kf, "%s/image.keyring", a->work) < 0 ||
             agent_write_text(a->work, "image.keyring", a->keyring, a->keyring_len) < 0 ||
             agent_write_text(a->work, "image.keyring.sig", a->keyring_sig, a->keyring_sig_len) < 0))
                return agent_fail("cannot write the keyring into %s", a->work);
        argv[n++] = (char *)a->httpfs;
        argv[n++] = "-f";
        /* The boot profile is the booted system's: prefetched here it would end in RAM at kexec. */
        argv[n++] = "--no-profile";
        /* Nor the cache fill: the booted system's daemon does it, and this one ends at kexec. */
        argv[n++] = "--cache-fill";
        argv[n++] = "off";
        argv[n++] = "-K";
        argv[n++] = (char *)a->keys;
        if (a->verified) {
                argv[n++] = "--sig";
                argv[n++] = sf;
                if (kf) {
                        argv[n++] = "--keyring";
                        argv[n++] = kf;
                }
        } else
                argv[n++] = "--insecure";
        for (size_t i = 0; i < a->n_mirrors; i++) {
                argv[n++] = "-m";
                argv[n++] = a->mirrors[i];
        }
        if (a->cache_dir) {
                argv[n++] = "--cache";
                argv[n++] = (char *)a->cache_dir;
        }
        if (a->ca_file) {
                argv[n++] = "--ca-file";
                argv[n++] = (char *)a->ca_file;
        }
        argv[n++] = mf;
        argv[n++] = a->mnt;
        argv[n] = NULL;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return agent_fail("fork: %m");
        if (pid == 0) {
                execv(argv[0], argv);
                fprintf(stderr, "inetboot: error: cannot run %s: %m\n", argv[0]);
                _exit(127);
        }
        a->httpfs_pid = pid;
        /* inetboot-httpfs probes its mirrors before it mounts: wait for the mount or its exit. */
        for (unsigned i = 0; i < 20 * 300; i++) {
                int status;

                if (mounted(a->mnt) && access(a->image, R_OK) == 0) {
                        agent_say("image mounted at %s", a->image);
                        return 0;
                }
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        a->httpfs_pid = 0;
                        return agent_fail("inetboot-httpfs could not serve the image (see above)");
                }
                nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        return agent_fail("inetboot-httpfs did not mount the image within 300 s");
}

static int report_bad(void *userdata, uint64_t block, uint64_t offset) {
        agent_fail("%s: block %" PRIu64 " (byte %" PRIu64 ") differs from the manifest", (const char *)userdata, block, offset);
        return -1;      /* one is enough */
}

int agent_local_image(struct agent *a) {
        _cleanup_(closep) int fd = open(a->image_file, O_RDONLY | O_CLOEXEC);
        struct ib_err e = {};
        int64_t bad;

        if (fd < 0)
                return agent_fail("cannot open %s: %m", a->image_file);
        /* A local copy is not read through verified blocks: it is checked whole, once, first. */
        bad = ib_image_verify(fd, a->m, report_bad, (void *)a->image_file, &e);
        if (bad < 0)
                return agent_fail("%s: %s", a->image_file, e.msg[0] ? e.msg : strerror((int)-bad));
        if (bad != 0)
                return -1;
        if (!(a->image = strdup(a->image_file)))
                return agent_fail("out of memory");
        agent_say("image %s: every block matches the manifest", a->image_file);
        return 0;
}

/* The preboot loop-mounts the image read-only (for people at the shell: ls /run/inetboot/iso). */
void agent_mount_iso(struct agent *a) {
        char *argv[] = { "mount", "-t", "iso9660", "-o", "loop,ro", a->image, NULL, NULL };

        if (asprintf(&a->iso_mnt, "%s/iso", a->work) < 0 || (mkdir(a->iso_mnt, 0755) < 0 && errno != EEXIST)) {
                free(a->iso_mnt);
                a->iso_mnt = NULL;
                return;
        }
        argv[6] = a->iso_mnt;
        if (agent_run(argv, true) == 0)
                agent_say("image loop-mounted read-only at %s", a->iso_mnt);
        else {
                agent_say("warning: cannot loop-mount the image at %s (no iso9660 module?); booting anyway", a->iso_mnt);
                free(a->iso_mnt);
                a->iso_mnt = NULL;
        }
}

void agent_stop_httpfs(struct agent *a) {
        int status;

        if (a->iso_mnt) {
                agent_run((char *[]) { "umount", "-d", a->iso_mnt, NULL }, true);
                free(a->iso_mnt);
                a->iso_mnt = NULL;
        }
        if (a->httpfs_pid <= 0)
                return;
        if (umount2(a->mnt, 0) < 0)
                agent_run((char *[]) { "fusermount3", "-u", "-q", a->mnt, NULL }, true);     /* not root: dry runs */
        /* It flushes its cache queue on the way out. */
        for (unsigned i = 0; i < 20 * 60; i++) {
                if (waitpid(a->httpfs_pid, &status, WNOHANG) == a->httpfs_pid) {
                        a->httpfs_pid = 0;
                        return;
                }
                if (i == 20 * 10)
                        kill(a->httpfs_pid, SIGTERM);
                nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        kill(a->httpfs_pid, SIGKILL);
        waitpid(a->httpfs_pid, &status, 0);
        a->httpfs_pid = 0;
}
