#!/usr/bin/env bash
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
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
requires qemu-system-x86_64 inetboot-sign debootstrap mksquashfs xorriso
pre=$BUILD/initramfs-test
[ -r "$pre/miniroot.img" ] || { not_ok "the test preboot in $pre (make initramfs-test)"; finish; }
scratch d
mkdir -p "$d/www"
"$IB_SRCDIR/tests/lib/mkdracutlive" "$d/www/dracut-live.iso" || { not_ok "build (or take from the cache) the dracut live ISO"; finish; }
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/dracut-live.iso.manifest" "$d/www/dracut-live.iso" ||
    { not_ok "sign the dracut live ISO"; finish; }
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
isosize=$(stat -c %s "$d/www/dracut-live.iso")

t0=$SECONDS
qemu_start "$d/boot.log" -m 1024 -kernel "$pre/vmlinuz" -initrd "$pre/miniroot.img" \
    -append "console=ttyS0 panic=-1 inetboot.url=http://10.0.2.2:$NGINX_PORT/dracut-live.iso.manifest" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0
if qemu_wait 'inetboot-dracut login:' 600; then login_s=$((SECONDS - t0)); ok "dracut live boots through inetboot to login: ($login_s s)"
else not_ok "dracut live boots through inetboot to login:"; qemu_console | tail -n 40; finish; fi
boot_bytes=$(nginx_bytes_sent /dracut-live.iso)
qemu_console > "$d/boot.txt"
check "the entry is the ISO's first, dmsquash-live told its medium is /dev/loop0 (root=live:CDLABEL= dropped)" \
    grep -q 'command line: rd.live.image rd.live.overlay.overlayfs=1 console=ttyS0 root=live:/dev/loop0 rdinit=/inetboot/hook' "$d/boot.txt"
check "the image's initrd had the hook's modules (none carried)" grep -qE 'kernel modules for the hook: [0-9]+ from the image.s initrd, 0 carried' "$d/boot.txt"

# Log in (root has no password in this image) and look around.
qemu_send root
qemu_wait 'root@inetboot-dracut' 60 || true
sleep 2
run_in() {  # run_in TAG COMMAND: its output between TAG-BEGIN and TAG-END lines
    qemu_send "echo $1-BEGIN; $2; echo $1-END"
    qemu_wait "^$1-END" 120
}
# (qemu_console strips the escape sequences bash's bracketed-paste mode puts before the first output line)
between() { qemu_console | awk -v b="$1-BEGIN" -v e="$1-END" '$0 == b { on = 1; next } $0 == e { on = 0 } on'; }
run_in MEDIUM 'cat /sys/block/loop0/loop/backing_file; grep /run/initramfs/live /proc/mounts; readlink /run/initramfs/livedev'
medium=$(between MEDIUM)
if grep -q '^/inetboot/mnt/dracut-live.iso' <<<"$medium" && grep -q '^/dev/loop0 /run/initramfs/live iso9660' <<<"$medium" &&
   grep -qx '/dev/loop0' <<<"$medium"; then
    ok "(a) dmsquash-live's medium (/run/initramfs/live) is /dev/loop0, backed by the image inetboot-httpfs serves"
else
    not_ok "(a) dmsquash-live's medium (/run/initramfs/live) is /dev/loop0, backed by the image inetboot-httpfs serves (got: $medium)"
fi
run_in DAEMON 'for p in /proc/[0-9]*; do head -c 1 $p/cmdline 2>/dev/null; echo; done | grep -c "^@"'
daemons=$(between DAEMON | grep -E '^[0-9]+$' | head -n 1)
check "(b) the root-storage daemon ('@' argv[0]) survived systemd in the initrd, switch-root and systemd ($daemons)" test "${daemons:-0}" -ge 1
before=$(wc -l < "$NGINX_ACCESS_LOG")
run_in LATE 'sha256sum /data/late.bin | cut -c1-64; cat /data/late.sha256'
late=$(awk -v from="$before" 'NR > from && $2 ~ /dracut-live\.iso$/ && $3 == 206' "$NGINX_ACCESS_LOG" | wc -l)
sums=$(between LATE | grep -E '^[0-9a-f]{64}$' | sort -u | wc -l)
check "(c) a file read after boot is intact (one sha256 twice)" test "$sums" = 1
check "(c) ... and was fetched over HTTP ($late Range requests)" test "$late" -gt 0

# Clean shutdown: QEMU runs with -no-reboot and panic=-1, so a hang shows as a timeout, a panic as no power-down line.
qemu_gone() {  # qemu_gone SECONDS: QEMU exited (or is a zombie) within SECONDS
    local i st
    for ((i = 0; i < $1 * 5; i++)); do
        [ -r "/proc/$QEMU_PID/stat" ] || return 0
        read -r st < "/proc/$QEMU_PID/stat" || return 0
        st=${st##*) }
        [ "${st%% *}" = Z ] && return 0
        sleep 0.2
    done
    return 1
}
t1=$SECONDS
qemu_send poweroff
if qemu_gone 300; then ok "(d) poweroff ends the machine: QEMU exited after $((SECONDS - t1)) s"
else not_ok "(d) poweroff ends the machine within 300 s"; qemu_console | tail -n 30; fi
check "(d) ... through the kernel's power-down (reboot: Power down on the console)" grep -aq 'reboot: Power down' "$QEMU_LOG"
check "(d) ... with no stop job waiting and no kernel panic" \
    bash -c "! grep -aqE 'A stop job is running|Kernel panic|blocked for more than' '$QEMU_LOG'"
qemu_stop
echo "# dracut live through inetboot: login: after $login_s s under this machine's load;" \
     "ISO bytes fetched to login: $boot_bytes of $isosize; poweroff to QEMU exit $((SECONDS - t1)) s"
nginx_stop
finish
