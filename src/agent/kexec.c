/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kexec.c: step 6: what was built written out (the --dry-run result, or staged
 * for the kernel to load), loaded with kexec_file_load, else kexec-tools
 * (a hypervisor: Multiboot2 with kexec-tools), and started.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "agent.h"

int agent_write_out(struct agent *a, const char *dir) {
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return agent_fail("cannot create %s: %m", dir);
        if (agent_write_text(dir, "kernel", a->kernel, a->kernel_len) < 0 || agent_write_text(dir, "initrd", a->initrd, a->initrd_len) < 0 ||
            agent_write_text(dir, "cmdline", a->cmdline, strlen(a->cmdline)) < 0 ||
            (a->eventlog && agent_write_text(dir, "eventlog", a->eventlog, a->eventlog_len) < 0))
                return -1;
        if (a->c.hypervisor &&
            (agent_write_text(dir, "hypervisor", a->hyp, a->hyp_len) < 0 ||
             agent_write_text(dir, "hypervisor-cmdline", a->c.hypervisor_args, strlen(a->c.hypervisor_args)) < 0))
                return -1;
        return 0;
}

/*
 * A hypervisor entry: kexec-tools loads the hypervisor as a Multiboot2
 * image (kexec_load: kexec_file_load knows no multiboot) with the kernel
 * and its command line as the first module and the initrd as the second,
 * as GRUB's multiboot2/module2 lines do.  Its multiboot 1 loader is not
 * used: it puts the boot information at physical address 0, over the BIOS
 * data area, and Xen then finds no low memory for its trampoline.
 */
static int kexec_multiboot(struct agent *a, const char *kpath, const char *ipath) {
        _cleanup_(freep) char *hpath = NULL, *harg = NULL, *karg = NULL, *iarg = NULL;
        int r, probe, probe_errno;

        if (asprintf(&hpath, "%s/hypervisor.loaded", a->work) < 0 ||
            asprintf(&harg, "--command-line=%s", a->c.hypervisor_args) < 0 ||
            asprintf(&karg, "--module=%s %s", kpath, a->cmdline) < 0 || asprintf(&iarg, "--module=%s", ipath) < 0)
                return agent_fail("out of memory");
        if (ib_write_file_atomic(hpath, a->hyp_image, a->hyp_image_len, 0644) < 0)
                return agent_fail("cannot write %s: %m", hpath);
        agent_say("loading %s with kexec-tools (kexec_load, Multiboot2): %s and %s as its modules", a->c.hypervisor,
            a->c.kernel, a->c.n_initrds ? "the initrd" : "inetboot's initrd");
        r = agent_run((char *[]) { "kexec", "-c", "-l", "--type=multiboot2-x86", hpath, harg, karg, iarg, NULL }, false);
        if (r == 0)
                return 0;
        /* Why?  Unloading (no segments) is refused under lockdown before anything else, and is harmless here. */
        probe = (int)syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL);
        probe_errno = errno;
        if (probe < 0 && probe_errno == EPERM)
                return agent_fail("the running kernel refuses kexec_load (%s): kernel lockdown (Secure Boot) forbids it, and a "
                            "hypervisor loads only with kexec_load (kexec_file_load has no multiboot); boot the preboot "
                            "with Secure Boot off to boot this entry", strerror(probe_errno));
        return agent_fail("cannot load the hypervisor %s: kexec-tools exit %d", a->c.hypervisor, r);
}

int agent_kexec(struct agent *a) {
        _cleanup_(freep) char *kpath = NULL, *ipath = NULL, *iarg = NULL, *carg = NULL;
        _cleanup_(closep) int kfd = -1, ifd = -1;
        int r, file_errno;

        if (agent_write_out(a, a->work) < 0)
                return -1;
        /*
         * Staged: what is loaded is read from there, so the copies in memory
         * and inetboot-httpfs (its RAM cache; it writes its disk cache out as
         * it goes) go before the kernel makes its own copies.  In 384 MiB the
         * kernel OOM-killed us, then inetboot-httpfs, in kexec_file_load.
         */
        free(a->initrd);
        free(a->kernel);
        a->initrd = NULL;
        a->kernel = NULL;
        agent_stop_httpfs(a);
        if (asprintf(&kpath, "%s/kernel", a->work) < 0 || asprintf(&ipath, "%s/initrd", a->work) < 0 ||
            asprintf(&iarg, "--initrd=%s", ipath) < 0 || asprintf(&carg, "--command-line=%s", a->cmdline) < 0)
                return agent_fail("out of memory");
        kfd = open(kpath, O_RDONLY | O_CLOEXEC);
        ifd = open(ipath, O_RDONLY | O_CLOEXEC);
        if (kfd < 0 || ifd < 0)
                return agent_fail("cannot open the staged kernel and initrd: %m");
        if (a->c.hypervisor) {
                if (kexec_multiboot(a, kpath, ipath) < 0)
                        return -1;
                r = 0;
                file_errno = 0;
        } else if (a->kexec_load) {
                r = -1;
                file_errno = ENOSYS;
        } else {
                agent_say("loading %s with kexec_file_load", a->c.kernel);
                r = (int)syscall(SYS_kexec_file_load, kfd, ifd, strlen(a->cmdline) + 1, a->cmdline, 0UL);
                file_errno = errno;
        }
        if (r < 0) {
                char *argv[] = { "kexec", "-c", "-l", kpath, iarg, carg, NULL };

                if (a->kexec_load)
                        agent_say("loading %s with kexec-tools (kexec_load), as asked", a->c.kernel);
                else
                        agent_say("kexec_file_load refused (%s); trying kexec-tools (kexec_load)", strerror(file_errno));
                r = agent_run(argv, false);
                if (r != 0) {
                        if (file_errno == EPERM || file_errno == EKEYREJECTED)
                                return agent_fail("the running kernel refuses kexec (%s): kernel lockdown (Secure Boot) forbids "
                                            "loading this kernel; boot the preboot with Secure Boot off, or an image whose "
                                            "kernel is signed for this machine", strerror(file_errno));
                        return agent_fail("cannot load the kernel: kexec_file_load: %s; kexec-tools exit %d", strerror(file_errno), r);
                }
        }
        sync();
        agent_say("starting %s", a->c.label);
        fflush(NULL);
        reboot(LINUX_REBOOT_CMD_KEXEC);
        return agent_fail("kexec failed: %m");
}
