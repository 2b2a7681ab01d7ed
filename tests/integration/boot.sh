#!/usr/bin/env bash
# run-tests: parallel
# End to end in QEMU (TCG): the preboot (Debian kernel + miniroot) boots with
# inetboot.url= pointing at the signed minilive ISO served by nginx on the
# host's 127.0.0.1 (10.0.2.2 from the guest).  inetboot-agent kexecs the
# ISO's kernel; the hook serves the ISO again from the booted initramfs;
# the minilive's own init finds its medium on /dev/loop0, mounts its
# squashfs and prints a marker.  Checked from inside the booted system: the
# medium is the image served by inetboot-httpfs, the kernel command line is
# the ISO entry's, and a file read after boot is fetched over HTTP.  Also:
# a tampered ISO and a bad signature stop the boot before kexec with a clear
# message; the seeds' netdir= form boots.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
requires qemu-system-x86_64 inetboot-sign xorriso mksquashfs
pre=$BUILD/initramfs-test
[ -r "$pre/miniroot.img" ] && [ -r "$pre/vmlinuz" ] || { not_ok "the test preboot in $pre (make initramfs-test)"; finish; }
scratch d
mkdir -p "$d/www/tampered" "$d/www/badsig"
"$IB_SRCDIR/tests/lib/mkminilive" "$d/www/minilive.iso" || { not_ok "build the minilive ISO"; finish; }
# A second entry, as a publisher adds one: it makes the minilive wait before its late read.
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/minilive.iso.manifest" --entry minilive-wait --kernel /live/vmlinuz \
    --initrd /live/initrd.img --cmdline "console=ttyS0 minilive.label=INETBOOT_MINILIVE minilive.go=wait" "$d/www/minilive.iso" ||
    { not_ok "sign the minilive ISO"; finish; }
for x in tampered badsig; do cp "$d/www/minilive.iso" "$d/www/minilive.iso.manifest" "$d/www/minilive.iso.manifest.sig" "$d/www/$x/"; done
koff=$(xorriso -indev "$d/www/minilive.iso" -find /live/vmlinuz -exec report_lba -- 2>/dev/null |
       awk '/File data lba:/ { print $6 * 2048; exit }')
flip_byte "$d/www/tampered/minilive.iso" $((koff + 100000))
flip_byte "$d/www/badsig/minilive.iso.manifest" 200
isosize=$(stat -c %s "$d/www/minilive.iso")
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
url=http://10.0.2.2:$NGINX_PORT

boot() {  # boot NAME KERNEL-ARGS
    qemu_start "$d/$1.log" -m 1024 -kernel "$pre/vmlinuz" -initrd "$pre/miniroot.img" \
        -append "console=ttyS0 panic=-1 $2" -netdev user,id=n0 -device virtio-net-pci,netdev=n0
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
iso_bytes() {  # bytes of the image nginx sent (log lines after line $1), all paths
    awk -v from="${1:-0}" 'NR > from && $2 ~ /minilive\.iso$/ { s += $4 } END { print s + 0 }' "$NGINX_ACCESS_LOG"
}

# --- the boot -------------------------------------------------------------------
t0=$(now)
boot main "inetboot.url=$url/minilive.iso.manifest inetboot.entry=minilive-wait"
if qemu_wait 'inetboot: starting ' 180; then t1=$(now); ok "preboot: manifest verified, image served, kexec"
else not_ok "preboot reaches kexec"; qemu_console | tail -n 30; finish; fi
if qemu_wait 'MINILIVE-WAITING' 180; then t2=$(now); ok "the minilive booted through inetboot"
else not_ok "the minilive boots through inetboot"; qemu_console | tail -n 30; finish; fi
qemu_console > "$d/main.txt"
check "the agent verified the manifest's signature" grep -q 'manifest signature good' "$d/main.txt"
check "the hook attached the image to /dev/loop0" grep -q 'hook: minilive.iso is /dev/loop0' "$d/main.txt"
check "(a) the live medium is the image served by inetboot-httpfs" \
    grep -q 'MINILIVE-MEDIUM dev=/dev/loop0 backing=/inetboot/mnt/minilive.iso' "$d/main.txt"
check "(a) the root is the overlay over the ISO's squashfs" grep -qE 'MINILIVE-ROOT overlay / overlay .* squashfs' "$d/main.txt"
check "(b) the running kernel has the chosen entry's command line" \
    grep -qE 'INETBOOT-MINILIVE-OK cmdline=console=ttyS0 minilive.label=INETBOOT_MINILIVE minilive.go=wait rdinit=/inetboot/hook' "$d/main.txt"
check "(b) the preboot's own arguments are not passed on" bash -c "! grep -q 'MINILIVE-OK cmdline=.*inetboot.url' '$d/main.txt'"
before=$(wc -l < "$NGINX_ACCESS_LOG")
bytes_boot=$(iso_bytes)
qemu_send go
if qemu_wait 'MINILIVE-DONE' 120; then ok "the booted system read /data/late.bin"; else not_ok "the booted system reads /data/late.bin"; fi
qemu_console > "$d/main.txt"
check "the late file is intact" grep -qE 'MINILIVE-LATE sha256=([0-9a-f]{64}) expected=\1' "$d/main.txt"
late=$(awk -v from="$before" 'NR > from && $2 ~ /minilive\.iso$/ && $3 == 206' "$NGINX_ACCESS_LOG" | wc -l)
check "(c) reading a file after boot fetched blocks over HTTP ($late Range requests)" test "$late" -gt 0
qemu_stop
echo "# boot timings: preboot start -> kexec $(secs "$t0" "$t1") s, kexec -> minilive marker $(secs "$t1" "$t2") s"
echo "# bytes of the ISO fetched up to the marker: $bytes_boot of $isosize (both kernels, the hook included)"
echo "# miniroot $(stat -c %s "$pre/miniroot.img") bytes, kernel $(stat -c %s "$pre/vmlinuz") bytes"

# --- refusals before kexec ---------------------------------------------------------
# refused NAME KERNEL-ARGS WHAT PATTERN: the preboot stops before kexec, says PATTERN, offers a shell.
refused() {
    boot "$1" "$2"
    if qemu_wait 'the boot failed' 120; then
        # (init says "a shell follows" right after; a loaded machine may show the console between the two)
        qemu_wait 'a shell follows' 30 || true
        qemu_console > "$d/$1.txt"
        check "$3 stops the boot with a clear message" grep -qE "$4" "$d/$1.txt"
        check "$3: no kexec" bash -c "! grep -q 'inetboot: starting' '$d/$1.txt'"
        check "$3: the shell is offered" grep -q "a shell follows" "$d/$1.txt"
    else
        not_ok "$3 stops the boot with a message"; qemu_console | tail -n 20
    fi
    qemu_stop
}
refused tampered "inetboot.url=$url/tampered/minilive.iso.manifest" "a tampered ISO" \
    'error: reading /live/vmlinuz from the image'
refused badsig "inetboot.url=$url/badsig/minilive.iso.manifest" "a bad signature" 'error: .*(changed after signing|signature)'
refused lockdown "lockdown=integrity inetboot.url=$url/minilive.iso.manifest" "kernel lockdown (kexec refused)" \
    'kernel lockdown \(Secure Boot\) forbids'
check "kernel lockdown: kexec-tools was tried too" grep -q 'trying kexec-tools' "$d/lockdown.txt"

# --- the seeds' form, a static ip=, kexec-tools -----------------------------------------------
boot netdir "netdir=$url/minilive.iso type=iso ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off inetboot.kexec=load inetboot.entrry=1"
if qemu_wait 'MINILIVE-DONE' 240; then
    qemu_console > "$d/netdir.txt"
    check "netdir=URL.iso boots the minilive" grep -q 'INETBOOT-MINILIVE-OK' "$d/netdir.txt"
    check "netdir=: the medium is served by inetboot-httpfs" grep -q 'backing=/inetboot/mnt/minilive.iso' "$d/netdir.txt"
    check "ip= static: the preboot and the hook both used it" \
        test "$(grep -c 'network: eth0 10.0.2.15 (static, ip=)' "$d/netdir.txt")" = 2
    check "the preboot loop-mounted the image read-only" grep -q 'image loop-mounted read-only at /run/inetboot/iso' "$d/netdir.txt"
    check "kexec-tools' kexec_load boots too (inetboot.kexec=load)" grep -q 'with kexec-tools (kexec_load), as asked' "$d/netdir.txt"
    check "a misspelt word is reported on the console, and the boot goes on" \
        grep -q 'inetboot: warning: unknown option inetboot.entrry; did you mean inetboot.entry?' "$d/netdir.txt"
else
    not_ok "netdir=URL.iso boots the minilive"; qemu_console | tail -n 20
fi
qemu_stop

# --- no URL on the command line: the preboot's menu -----------------------------------------
# The media's menu file rides in a second archive after the miniroot (initramfs/mkmedia does the same).
mkdir -p "$d/menucpio/etc/inetboot"
cat > "$d/menucpio/etc/inetboot/menu" <<EOF
timeout 5
options console=ttyS0
entry Not served | $url/missing/minilive.iso.manifest
entry Minilive from the menu | $url/minilive.iso.manifest | inetboot.entry=minilive-wait
EOF
(cd "$d/menucpio" && find etc | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) > "$d/menu.cpio"
# As a boot loader loads two initrds: each starts on a 4-byte boundary.
cp "$pre/miniroot.img" "$d/miniroot+menu.img"
truncate -s $(( ($(stat -c %s "$d/miniroot+menu.img") + 3) / 4 * 4 )) "$d/miniroot+menu.img"
cat "$d/menu.cpio" >> "$d/miniroot+menu.img"
before=$(wc -l < "$NGINX_ACCESS_LOG")
# Two consoles, the screen and the serial port: the menu is on both; one answer is typed on the
# screen's keyboard (QEMU's monitor: sendkey), the next on the serial port.
qemu_start "$d/menu.log" -m 1024 -kernel "$pre/vmlinuz" -initrd "$d/miniroot+menu.img" \
    -append "console=tty0 console=ttyS0 panic=-1" -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
    -monitor "unix:$d/monitor,server,nowait"
sendkeys() {  # sendkeys KEY...: typed on the guest's keyboard (not the serial port)
    python3 - "$d/monitor" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.3)
for k in sys.argv[2:]:
    s.sendall(b"sendkey " + k.encode() + b"\n")
    time.sleep(0.3)
time.sleep(0.5)
PY
}
if qemu_wait 'inetboot: your choice: ' 120; then
    ok "no inetboot.url: the preboot shows its menu"
    qemu_console > "$d/menu.txt"
    check "menu: it says why" grep -q 'nothing to boot: no inetboot.url=' "$d/menu.txt"
    check "menu: the network's state" grep -qE 'inetboot: network: up: eth0 10\.0\.2\.15/24' "$d/menu.txt"
    check "menu: the media's entries, numbered" bash -c "grep -q '  1  Not served' '$d/menu.txt' && grep -q '  2  Minilive from the menu' '$d/menu.txt'"
    check "menu: type a URL, the network again, a shell" \
        bash -c "grep -q '  u  type the URL' '$d/menu.txt' && grep -q '  n  bring the network up' '$d/menu.txt' && grep -q '  s  a shell' '$d/menu.txt'"
    : > "$QEMU_LOG"
    sendkeys 9 ret
    if qemu_wait 'your choice: ' 30; then
        check "menu: the screen's keyboard answers too; a number out of range is refused" grep -aq "there is no entry 9" "$QEMU_LOG"
    else not_ok "menu: the screen's keyboard answers; asks again after a wrong number"; qemu_console | tail -n 5; fi
    qemu_send 2
    if qemu_wait 'MINILIVE-WAITING' 240; then
        ok "menu: entry 2 boots its image"
        qemu_console > "$d/menu.txt"
        check "menu: with the entry's own options (inetboot.entry=minilive-wait)" grep -q 'minilive.go=wait' "$d/menu.txt"
        check "menu: the entry not chosen was never fetched" \
            test "$(awk -v from="$before" 'NR > from && $2 ~ /missing/' "$NGINX_ACCESS_LOG" | wc -l)" = 0
    else
        not_ok "menu: entry 2 boots its image"; qemu_console | tail -n 20
    fi
else
    not_ok "no inetboot.url: the preboot shows its menu"; qemu_console | tail -n 20
fi
qemu_stop

# --- a persistent cache on a FAT disk: the second boot fetches no image byte ----------------
if command -v mkfs.vfat >/dev/null && command -v mdir >/dev/null; then
    truncate -s 64M "$d/cache.img"
    mkfs.vfat -n IBCACHE "$d/cache.img" >/dev/null
    cache_boot() {  # cache_boot NAME NIC-ARGS...: a boot with the cache disk
        local name=$1
        shift
        qemu_start "$d/$name.log" -m 1024 -kernel "$pre/vmlinuz" -initrd "$pre/miniroot.img" \
            -drive "file=$d/cache.img,if=virtio,format=raw" "$@" \
            -append "console=ttyS0 panic=-1 inetboot.url=$url/minilive.iso.manifest inetboot.cache=LABEL=IBCACHE"
    }
    nic=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0)
    cache_boot cache1 "${nic[@]}"
    if qemu_wait 'MINILIVE-DONE' 240; then ok "cache: the first boot fills a FAT cache"; else not_ok "cache: the first boot"; qemu_console | tail -n 20; fi
    # The minilive syncs and powers off after its marker: killing QEMU at the marker would lose the
    # cache's last writes, still in the guest's page cache.
    check "cache: the first boot synced its disks and powered off" qemu_wait_exit 60
    qemu_console > "$d/cache1.txt"
    qemu_stop
    check "cache: the preboot mounted it" grep -q 'cache: LABEL=IBCACHE on /run/inetboot/cache' "$d/cache1.txt"
    check "cache: the hook mounted it too" grep -q 'cache: LABEL=IBCACHE on /inetboot/cache' "$d/cache1.txt"
    nfiles=$(mdir -/ -b -i "$d/cache.img" :: 2>/dev/null | grep -c '\.blk$\|[0-9a-f]\{64\}' || true)
    check "cache: block files on the FAT file system ($nfiles)" test "$nfiles" -gt 0
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    cache_boot cache2 "${nic[@]}"
    if qemu_wait 'MINILIVE-DONE' 240; then ok "cache: the second boot"; else not_ok "cache: the second boot"; qemu_console | tail -n 20; fi
    check "cache: the second boot synced its disks and powered off" qemu_wait_exit 60
    qemu_console > "$d/cache2.txt"
    qemu_stop
    check "cache: the late file read back intact from the cache" grep -qE 'MINILIVE-LATE sha256=([0-9a-f]{64}) expected=\1' "$d/cache2.txt"
    served=$(awk -v from="$before" 'NR > from && $2 ~ /minilive\.iso$/ { n++ } END { print n + 0 }' "$NGINX_ACCESS_LOG")
    manif=$(awk -v from="$before" 'NR > from && $2 ~ /minilive\.iso\.manifest$/ { n++ } END { print n + 0 }' "$NGINX_ACCESS_LOG")
    check "cache: the second boot fetched the manifest ($manif) and no image byte ($served requests)" \
        test "$served" = 0 -a "$manif" -gt 0
    # Third boot: no network card at all.  The manifest kept in the cache, verified again, and the cached blocks.
    cache_boot cache3 -nic none
    if qemu_wait 'MINILIVE-DONE' 240; then ok "cache: a boot with the network down"; else not_ok "cache: a boot with the network down"; qemu_console | tail -n 20; fi
    qemu_console > "$d/cache3.txt"
    qemu_stop
    check "network down: the cached manifest, its signature checked" grep -q 'booting the cached manifest of .*(signature good)' "$d/cache3.txt"
    check "network down: the hook served the image from the cache" grep -q 'serving the image from the cache alone' "$d/cache3.txt"
    check "network down: the late file intact" grep -qE 'MINILIVE-LATE sha256=([0-9a-f]{64}) expected=\1' "$d/cache3.txt"
    # Fourth boot: an older manifest of the image (a lower serial), as a mirror replaying it would serve
    # it.  The cache's trust state holds the floor: the preboot refuses it before kexec and keeps its copy.
    mkdir -p "$d/saved"
    cp "$d/www/minilive.iso.manifest" "$d/www/minilive.iso.manifest.sig" "$d/saved/"
    serial=$(sed -n 's/^serial //p' "$d/saved/minilive.iso.manifest")
    inetboot-sign make -q --key "$TEST_KEY" --serial 1 -o "$d/www/minilive.iso.manifest" "$d/www/minilive.iso"
    cache_boot cache4 "${nic[@]}"
    if qemu_wait 'refusing a rollback' 240; then
        qemu_console > "$d/cache4.txt"
        check "rollback: the preboot names both serials" grep -q "serial 1, older than serial $serial accepted on" "$d/cache4.txt"
        check "rollback: and the owner's way out" grep -q 'as the machine.s owner: inetboot.allow-rollback' "$d/cache4.txt"
        check "rollback: no kexec" bash -c "! grep -q 'MINILIVE' '$d/cache4.txt'"
    else
        not_ok "rollback: a lower serial is refused with a cache disk"; qemu_console | tail -n 20
    fi
    qemu_stop
    check "rollback: the cache keeps the manifest of serial $serial" \
        bash -c "mtype -i '$d/cache.img' ::/manifests/*.manifest | grep -qx 'serial $serial'"
    check "rollback: the trust state on the cache disk holds serial $serial" \
        bash -c "mtype -i '$d/cache.img' ::/trust-state | grep -qE '^serial [0-9a-f]{64} $serial [0-9]+ minilive.iso\$'"
    cp "$d/saved/minilive.iso.manifest" "$d/saved/minilive.iso.manifest.sig" "$d/www/"
else
    not_ok "cache: mkfs.vfat and mtools are needed (make deps)"
fi
# --- an expired manifest: the preboot refuses it ------------------------------------------------
mkdir -p "$d/www/expired"
inetboot-sign make -q --key "$TEST_KEY" --created 1577836800 --expires +30 -o "$d/www/expired/minilive.iso.manifest" \
    --url "$url/minilive.iso" "$d/www/minilive.iso" 2>/dev/null
boot expired "inetboot.url=$url/expired/minilive.iso.manifest"
if qemu_wait 'expired on 2020-01-31 00:00:00 UTC' 240; then
    ok "expired: the preboot refuses a manifest whose expiry has passed"
    qemu_console > "$d/expired.txt"
    check "expired: no kexec" bash -c "! grep -q 'MINILIVE' '$d/expired.txt'"
else
    not_ok "expired: the preboot refuses an expired manifest"; qemu_console | tail -n 20
fi
qemu_stop
nginx_stop
finish
