#!/usr/bin/env bash
# run-tests: parallel
# A KNOPPIX-style live ISO (tests/lib/mkknoppix: a Debian 12 root compressed
# with Debian's cloop-utils into /KNOPPIX/KNOPPIX, cloop.ko built from
# Debian's cloop-src, a minirt whose /init does what KNOPPIX's does; cached
# outside the repo by its recipe) boots through inetboot in QEMU to its login
# prompt, with its minirt unmodified and our hook appended.  The agent finds
# the family from the entry's minirt.gz and adds fromhd=/dev/loop0: the
# minirt's device scan (findknoppix) never looks at loop devices.  Logged in
# on the serial console, the test checks from inside the booted system: the
# minirt's medium (/mnt-system) is /dev/loop0, backed by the image that
# inetboot-httpfs serves, and /KNOPPIX is /dev/cloop0; the root-storage
# daemon ('@' argv[0]) survived switch_root and systemd; reading a file not
# read before fetches verified blocks over HTTP (through cloop, loop0 and the
# FUSE file); `poweroff` ends the machine.  That boot has a block cache
# (inetboot.cache=LABEL=IBCACHE), which the daemon fills with the rest of the
# image when idle; a second boot with the same disk asks the network for the
# manifest alone and reaches login: with the same medium.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
. "$IB_SRCDIR/tests/lib/distro.sh"
requires gcc make
name=knoppix host=inetboot-knoppix what="KNOPPIX-style cloop live" ram=256
distro_serve mkknoppix "$name"
d=$D
if distro_boot "$ram" "$host login:" 480; then ok "$what boots through inetboot to login: in $ram MiB ($LOGIN_S s)"
else
    not_ok "$what boots through inetboot to login: in $ram MiB"
    grep -a 'minirt:' "$QEMU_LOG" | tail -n 3 | sed 's/^/# /'
    finish
fi
check "the entry is KNOPPIX's, its minirt told where its medium is (fromhd=/dev/loop0)" \
    grep -q 'command line: ramdisk_size=100000 lang=en vt.default_utf8=0 apm=power-off nomce libata.force=noncq tz=localtime console=ttyS0 fromhd=/dev/loop0 rdinit=/inetboot/hook' "$d/boot.txt"
check "the agent named the family from the minirt (knoppix)" grep -q 'boot entry 1: linux (knoppix)' "$d/boot.txt"
distro_check_modules initrd
check "the minirt found KNOPPIX/KNOPPIX on /dev/loop0" grep -aq 'minirt: KNOPPIX/KNOPPIX found on /dev/loop0' "$d/boot.txt"

check_medium() {  # check_medium WHICH-BOOT
    local medium
    run_in MEDIUM 'cat /sys/block/loop0/loop/backing_file; grep -E " /(mnt-system|KNOPPIX) " /proc/mounts; ls /KNOPPIX/data/late.bin'
    medium=$(between MEDIUM)
    if grep -q "^/inetboot/mnt/$name.iso" <<<"$medium" && grep -q '^/dev/loop0 /mnt-system iso9660' <<<"$medium" &&
       grep -q '^/dev/cloop0 /KNOPPIX iso9660' <<<"$medium" && grep -qx '/KNOPPIX/data/late.bin' <<<"$medium"; then
        ok "(a) $1the minirt's medium (/mnt-system) is /dev/loop0, backed by the image inetboot-httpfs serves; /KNOPPIX is /dev/cloop0"
    else
        not_ok "(a) $1the minirt's medium (/mnt-system) is /dev/loop0, backed by the image inetboot-httpfs serves; /KNOPPIX is /dev/cloop0 (got: $medium)"
    fi
}

# Log in (root has no password in this image) and look around.
distro_login root "root@$host"
check_medium ""
distro_check_daemon "switch_root and systemd"
distro_check_late
distro_wait_fill
distro_cache_stats "first boot, before poweroff"
distro_check_poweroff
distro_check_cache_filled

# The second boot, with the cache the first one filled.
if distro_boot "$ram" "$host login:" 480; then ok "(e) the second boot reaches login: ($LOGIN_S s)"
else not_ok "(e) the second boot reaches login:"; finish; fi
distro_login root "root@$host"
check_medium "second boot: "
distro_check_late_cached
distro_cache_stats "second boot"
distro_check_poweroff "second boot: "
distro_check_cache_only
distro_summary "$what"
nginx_stop
finish
