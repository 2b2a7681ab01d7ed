#!/usr/bin/env bash
# run-tests: parallel
# The minilive test ISO (tests/lib/mkminilive) boots from a virtual CD-ROM
# under QEMU the way a live distribution does: the initrd finds the medium by
# its volume id, loop-mounts the squashfs under an overlay, switch_roots, and
# the live system reads a late 4 MiB file intact.  A wrong label ends in
# MINILIVE-ERROR and a rescue shell, not a panic.
. "$(dirname "$0")/../lib/common.sh"
requires qemu-system-x86_64 xorriso mksquashfs cpio timeout
scratch d
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -r "$kernel" ] || { echo "skip - requires a readable /boot/vmlinuz-*"; exit 77; }
iso=$d/minilive.iso marker=INETBOOT-MINILIVE-OK label=INETBOOT_MINILIVE

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- build ------------------------------------------------------------------------
t=$(now_ms)
if ! "$IB_SRCDIR/tests/lib/mkminilive" "$iso" >"$d/mk.stdout" 2>"$d/mk.stderr"; then
    not_ok "mkminilive builds the ISO ($(head -c 400 "$d/mk.stderr"))"
    finish
fi
build_ms=$(($(now_ms) - t))
ok "mkminilive builds the ISO"
check "mkminilive prints nothing but warnings" bash -c "! grep -v warning '$d/mk.stdout' '$d/mk.stderr'"
echo "# ISO $(stat -c %s "$iso") bytes, built in $((build_ms / 1000)).$((build_ms % 1000 / 100)) s"
xorriso -osirrox on -indev "$iso" -extract /live/initrd.img "$d/initrd.img" >"$d/xorriso.log" 2>&1 ||
    { not_ok "extract /live/initrd.img from the ISO ($(tail -n 3 "$d/xorriso.log"))"; finish; }
check "the initrd holds isofs/squashfs/overlay/loop but not fuse, virtio_net, e1000" bash -c "
    zcat '$d/initrd.img' | cpio -t --quiet > '$d/initrd.list' &&
    grep -q '/isofs.ko\$' '$d/initrd.list' && grep -q '/squashfs.ko\$' '$d/initrd.list' &&
    grep -q '/overlay.ko\$' '$d/initrd.list' && grep -q '/loop.ko\$' '$d/initrd.list' &&
    ! grep -Eq '/(fuse|virtio_net|e1000|e1000e)\.ko' '$d/initrd.list'"

# boot NAME CMDLINE: QEMU with the ISO as a CD-ROM, in the background, bounded
# by timeout 120; console in $d/NAME.log, PID in $qpid.
boot() {
    : >"$d/$1.log"
    timeout 120 qemu-system-x86_64 -accel tcg -m 512 -no-reboot -kernel "$kernel" -initrd "$d/initrd.img" \
        -append "$2" -drive file="$iso",media=cdrom,readonly=on \
        -serial file:"$d/$1.log" -display none -monitor none </dev/null >"$d/$1.qemu" 2>&1 &
    qpid=$!
}
# At exit, end the QEMU still running (only that one: a reaped PID may be reused).
qpid=
cleanup_add '[ -z "$qpid" ] || kill "$qpid" 2>/dev/null'
# reap: wait for QEMU; its exit status in $rc.
reap() { wait "$qpid"; rc=$?; qpid=; }
# wait_for NAME PATTERN SECONDS: until the console shows PATTERN (grep -E),
# QEMU has ended, or SECONDS have passed.  Succeeds if PATTERN was seen.
wait_for() {
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        grep -aqE -- "$2" "$d/$1.log" && return 0
        kill -0 "$qpid" 2>/dev/null || break
        sleep 0.1
    done
    grep -aqE -- "$2" "$d/$1.log"
}
# console NAME: the console log without carriage returns.
console() { tr -d '\r' <"$d/$1.log"; }
has() { console "$1" | grep -aqE -- "$2"; }

# --- the good boot ------------------------------------------------------------------
t=$(now_ms)
boot good "console=ttyS0 minilive.label=$label panic=-1"
# Stop waiting early on an error: it would sit in its rescue shell until the timeout.
if wait_for good "^$marker cmdline=|MINILIVE-ERROR" 100 && has good "^$marker cmdline="; then
    marker_ms=$(($(now_ms) - t))
    echo "# QEMU start to marker: $((marker_ms / 1000)).$((marker_ms % 1000 / 100)) s"
    wait_for good 'reboot: Power down|MINILIVE-ERROR' 30
    for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
fi
kill "$qpid" 2>/dev/null   # still running: it did not power off
reap
check "QEMU powers off by itself (exit 124: timeout, 143: killed by the test)" test "$rc" = 0
check "the marker line with the kernel command line" has good "^$marker cmdline=console=ttyS0 minilive\.label=$label panic=-1\$"
check "MINILIVE-MEDIUM names an sr device, no loop backing" has good '^MINILIVE-MEDIUM dev=/dev/sr[0-9]+ backing=-$'
check "MINILIVE-ROOT: an overlay / over the squashfs on a loop device" has good \
    '^MINILIVE-ROOT overlay / overlay [^ ]*lowerdir=/run/live/rootfs[^|]*\| /dev/loop[0-9]+ /run/live/rootfs squashfs ro'
late=$(console good | sed -n 's/^MINILIVE-LATE sha256=\([0-9a-f]\{64\}\) expected=\([0-9a-f]\{64\}\)$/\1 \2/p')
check "MINILIVE-LATE: sha256 of /data/late.bin equals the expected one" test -n "$late" -a "${late% *}" = "${late#* }"
check "MINILIVE-DONE" has good '^MINILIVE-DONE$'
check "no MINILIVE-ERROR and no insmod warning" bash -c "! tr -d '\r' < '$d/good.log' | grep -aE 'MINILIVE-ERROR|minilive: warning'"

# --- a label no device has -------------------------------------------------------------
t=$(now_ms)
boot nope "console=ttyS0 minilive.label=NOPE minilive.wait=3 panic=-1"
if wait_for nope 'MINILIVE-ERROR' 60; then
    err_ms=$(($(now_ms) - t))
    echo "# QEMU start to MINILIVE-ERROR (minilive.wait=3): $((err_ms / 1000)).$((err_ms % 1000 / 100)) s"
    sleep 1
fi
check "minilive.label=NOPE: MINILIVE-ERROR names the label" has nope "^MINILIVE-ERROR: no block device with ISO 9660 volume id 'NOPE' after 3s"
# (Not which ones: under load the CD-ROM may appear after the 3 s.)
check "minilive.label=NOPE: the error lists the ISO 9660 devices it saw" has nope "^MINILIVE-ERROR: .*\(ISO 9660 devices seen: "
check "minilive.label=NOPE: a rescue shell, no panic" bash -c "tr -d '\r' < '$d/nope.log' | grep -aq 'dropping to a shell' &&
    ! grep -aqE 'Kernel panic|Attempted to kill init' '$d/nope.log' && kill -0 $qpid"
kill "$qpid" 2>/dev/null
reap
finish
