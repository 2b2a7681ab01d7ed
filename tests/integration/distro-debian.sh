#!/usr/bin/env bash
# run-tests: parallel
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
# Debian 12's first boot goes through the fault proxy, which goes down for 60 s
# after kexec while the booted system reads its squashfs: the boot rides it out,
# with no I/O error in its kernel log (f).
# DEBIAN_LIVE_SUITE=trixie (distro-debian13.sh): the same on Debian 13, whose
# kernel's modules are all .ko.xz: the agent carries loop and the NIC's driver
# from the image's squashfs, decompressed, and the hook loads them.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
. "$IB_SRCDIR/tests/lib/distro.sh"
case ${DEBIAN_LIVE_SUITE:-bookworm} in
    # In 384 MiB, where the CD and fetch= do not boot (docs/performance.md, smallest RAM): the preboot
    # scans the image's initrd as a stream, and the booted system unpacks it into ramfs (docs/distros.md).
    bookworm) mods=initrd builder=mkdebianlive name=debian-live host=inetboot-live ram=384 what="Debian live" outage=60 ;;
    trixie) mods=carried builder=mkdebian13live name=debian13-live host=inetboot-live13 ram=512 what="Debian 13 live" outage=0 ;;
    *) not_ok "DEBIAN_LIVE_SUITE is bookworm or trixie"; finish ;;
esac
distro_serve "$builder" "$name"
d=$D
[ "$outage" = 0 ] || distro_outage "$outage"
if distro_boot "$ram" "$host login:" 480; then ok "$what boots through inetboot to login: in $ram MiB ($LOGIN_S s${DISTRO_PORT:+, a $outage s server outage included})"
else not_ok "$what boots through inetboot to login: in $ram MiB"; finish; fi
check "the entry is Debian's, with live-boot told where its medium is" \
    grep -q 'command line: boot=live components quiet console=ttyS0 live-media=/dev/loop0 rootfstype=ramfs rdinit=/inetboot/hook' "$d/boot.txt"
distro_check_modules "$mods"

check_medium() {  # check_medium WHICH-BOOT
    local medium
    run_in MEDIUM 'cat /sys/block/loop0/loop/backing_file; grep /run/live/medium /proc/mounts'
    medium=$(between MEDIUM)
    if grep -q "^/inetboot/mnt/$name.iso" <<<"$medium" && grep -q '^/dev/loop0 /run/live/medium iso9660' <<<"$medium"; then
        ok "(a) $1live-boot's medium is /dev/loop0, backed by the image inetboot-httpfs serves"
    else
        not_ok "(a) $1live-boot's medium is /dev/loop0, backed by the image inetboot-httpfs serves (got: $medium)"
    fi
}

# Log in (root has no password in this image) and look around.
distro_login root "root@$host"
check_medium ""
[ "$outage" = 0 ] || distro_check_outage
distro_check_daemon "switch-root and systemd"
distro_check_late
distro_wait_fill
distro_cache_stats "first boot, before poweroff"
distro_check_poweroff
distro_check_cache_filled
# (the second boot straight from nginx)
[ -z "${DISTRO_PORT:-}" ] || { faultproxy_stop; DISTRO_PORT=; }

# The second boot, with the cache the first one filled.
if distro_boot 2048 "$host login:" 480; then ok "(e) the second boot reaches login: ($LOGIN_S s)"
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
