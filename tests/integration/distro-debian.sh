#!/usr/bin/env bash
# A real Debian 12 live ISO (tests/lib/mkdebianlive: debootstrap + live-boot +
# systemd, cached outside the repo by its recipe) boots through inetboot in
# QEMU to its login prompt, with its own initrd unmodified and our hook
# appended.  Logged in on the serial console, the test checks from inside
# the booted system: live-boot's medium is /dev/loop0, backed by the image
# that inetboot-httpfs serves; the daemon runs as a root-storage daemon
# ('@' argv[0]) that systemd did not kill; reading a file not read before
# fetches verified blocks over HTTP; `poweroff` ends the machine (QEMU
# exits) without hanging on that daemon.  That boot has a block cache
# (inetboot.cache=LABEL=IBCACHE, a FAT virtio disk), which the daemon, left
# idle after the checks, fills with the rest of the image; a second boot with the
# same disk asks the network for the manifest alone, reaches login: with its
# medium still /dev/loop0 served by inetboot-httpfs, and reads the late file
# from the cache.  (dracut: distro-dracut.sh.)
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
. "$IB_SRCDIR/tests/lib/distro.sh"
distro_serve mkdebianlive debian-live
d=$D
# In 384 MiB, where the CD and fetch= do not boot (docs/performance.md, smallest RAM): the preboot
# scans the image's initrd as a stream, and the booted system unpacks it into ramfs (docs/distros.md).
if distro_boot 384 'inetboot-live login:' 480; then ok "Debian live boots through inetboot to login: in 384 MiB ($LOGIN_S s)"
else not_ok "Debian live boots through inetboot to login: in 384 MiB"; finish; fi
check "the entry is Debian's, with live-boot told where its medium is" \
    grep -q 'command line: boot=live components quiet console=ttyS0 live-media=/dev/loop0 rootfstype=ramfs rdinit=/inetboot/hook' "$d/boot.txt"
check "the image's initrd had the hook's modules (none carried)" grep -qE 'kernel modules for the hook: [0-9]+ from the image.s initrd, 0 carried' "$d/boot.txt"

check_medium() {  # check_medium WHICH-BOOT
    local medium
    run_in MEDIUM 'cat /sys/block/loop0/loop/backing_file; grep /run/live/medium /proc/mounts'
    medium=$(between MEDIUM)
    if grep -q '^/inetboot/mnt/debian-live.iso' <<<"$medium" && grep -q '^/dev/loop0 /run/live/medium iso9660' <<<"$medium"; then
        ok "(a) $1live-boot's medium is /dev/loop0, backed by the image inetboot-httpfs serves"
    else
        not_ok "(a) $1live-boot's medium is /dev/loop0, backed by the image inetboot-httpfs serves (got: $medium)"
    fi
}

# Log in (root has no password in this image) and look around.
distro_login root 'root@inetboot-live'
check_medium ""
distro_check_daemon "switch-root and systemd"
distro_check_late
distro_wait_fill
distro_cache_stats "first boot, before poweroff"
distro_check_poweroff
distro_check_cache_filled

# The second boot, with the cache the first one filled.
if distro_boot 2048 'inetboot-live login:' 480; then ok "(e) the second boot reaches login: ($LOGIN_S s)"
else not_ok "(e) the second boot reaches login:"; finish; fi
distro_login root 'root@inetboot-live'
check_medium "second boot: "
distro_check_late_cached
distro_cache_stats "second boot"
distro_check_poweroff "second boot: "
distro_check_cache_only
distro_summary "Debian live"
nginx_stop
finish
