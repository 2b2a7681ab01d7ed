#!/usr/bin/env bash
# run-tests: parallel
# A Fedora-style live ISO (tests/lib/mkdracutlive: debootstrap + dracut's
# dmsquash-live with systemd in its initrd, cached outside the repo by its
# recipe) boots through inetboot in QEMU to its login prompt, with its own
# initrd unmodified and our hook appended; the agent swaps the entry's
# root=live:CDLABEL=... for root=live:/dev/loop0.  Logged in on the serial
# console, the test checks from inside the booted system: dmsquash-live's
# medium (/run/initramfs/live) is /dev/loop0, backed by the image that
# inetboot-httpfs serves; the daemon runs as a root-storage daemon ('@'
# argv[0]) that systemd, in the initrd and after switch-root, did not kill;
# reading a file not read before fetches verified blocks over HTTP; and
# `poweroff` ends the machine (QEMU exits) without hanging on that daemon.
# That boot has a block cache (inetboot.cache=LABEL=IBCACHE, a FAT virtio
# disk), which the daemon, left idle after the checks, fills with the rest of
# the image; a second boot with the same disk asks the network for the manifest
# alone, reaches login: with its medium still /dev/loop0 served by
# inetboot-httpfs, and reads the late file from the cache.
# DRACUT_LIVE_SUITE=trixie (distro-dracut-trixie.sh): the same with Debian 13's
# dracut-ng and kernel 6.12, whose .ko.xz modules the agent carries decompressed.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
. "$IB_SRCDIR/tests/lib/distro.sh"
case ${DRACUT_LIVE_SUITE:-bookworm} in
    bookworm) mods=initrd builder=mkdracutlive name=dracut-live host=inetboot-dracut what="dracut live"
              backing=/inetboot/mnt/dracut-live.iso ;;
    # systemd 254 and later, switching root out of the initrd, detach what stays of it: the loop
    # device's backing file is then named from the FUSE mount's own root.
    trixie) mods=carried builder=mkdracut13live name=dracut13-live host=inetboot-dracut13 what="dracut live (Debian 13)"
            backing=/dracut13-live.iso ;;
    *) not_ok "DRACUT_LIVE_SUITE is bookworm or trixie"; finish ;;
esac
distro_serve "$builder" "$name"
d=$D
if distro_boot 1024 "$host login:" 600; then ok "$what boots through inetboot to login: ($LOGIN_S s)"
else not_ok "$what boots through inetboot to login:"; finish; fi
check "the entry is the ISO's first, dmsquash-live told its medium is /dev/loop0 (root=live:CDLABEL= dropped)" \
    grep -q 'command line: rd.live.image rd.live.overlay.overlayfs=1 console=ttyS0 root=live:/dev/loop0 rdinit=/inetboot/hook' "$d/boot.txt"
distro_check_modules "$mods"

check_medium() {  # check_medium WHICH-BOOT
    local medium
    run_in MEDIUM 'cat /sys/block/loop0/loop/backing_file; grep /run/initramfs/live /proc/mounts; readlink /run/initramfs/livedev'
    medium=$(between MEDIUM)
    if grep -qx "$backing" <<<"$medium" && grep -q '^/dev/loop0 /run/initramfs/live iso9660' <<<"$medium" &&
       grep -qx '/dev/loop0' <<<"$medium"; then
        ok "(a) $1dmsquash-live's medium (/run/initramfs/live) is /dev/loop0, backed by the image inetboot-httpfs serves"
    else
        not_ok "(a) $1dmsquash-live's medium (/run/initramfs/live) is /dev/loop0, backed by the image inetboot-httpfs serves (got: $medium)"
    fi
}

# Log in (root has no password in this image) and look around.
distro_login root "root@$host"
check_medium ""
distro_check_daemon "systemd in the initrd, switch-root and systemd"
distro_check_late
distro_wait_fill
distro_cache_stats "first boot, before poweroff"
distro_check_poweroff
distro_check_cache_filled

# The second boot, with the cache the first one filled.
if distro_boot 1024 "$host login:" 600; then ok "(e) the second boot reaches login: ($LOGIN_S s)"
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
