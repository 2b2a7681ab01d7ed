#!/usr/bin/env bash
# run-tests: parallel
# A Xen boot end to end in QEMU (TCG) with swtpm (TPM 2.0): the preboot
# boots with inetboot.url= and the seeds' bootxen=1; the agent picks the
# minilive's Xen GRUB entry (multiboot /boot/xen.gz; module /live/vmlinuz;
# module /live/initrd.img), measures the manifest, the kernel, the initrd,
# the hypervisor and both command lines (inetboot.tpm=required), and
# kexecs Xen with kexec-tools (Multiboot2).  Xen's console is com1 (the
# serial port); dom0 is the minilive, its console hvc0 shown by Xen on the
# same port.  Checked from inside dom0: it runs under Xen
# (/sys/hypervisor/type), its medium is the image served by inetboot-httpfs,
# its command line is the entry's, a late file is fetched over HTTP, the
# TPM's PCRs 8 and 9 are `inetboot-attest predict`'s and the attestation
# service says TRUSTED.  Then kernel lockdown refuses the Xen entry with a
# clear message.  (The same on the host, faster: xen-dryrun.sh.)
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
. "$IB_SRCDIR/tests/lib/swtpm.sh"
requires qemu-system-x86_64 inetboot-sign inetboot-attest inetboot-attestd swtpm swtpm_setup tpm2_pcrread xorriso mksquashfs \
    apt-get dpkg-deb
pre=$BUILD/initramfs-test
[ -r "$pre/miniroot.img" ] && [ -r "$pre/vmlinuz" ] || { not_ok "the test preboot in $pre (make initramfs-test)"; finish; }
scratch d
mkdir -p "$d/www" "$d/keys"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
"$IB_SRCDIR/tests/lib/fetchxen" "$d/xen.gz" || { not_ok "Debian's Xen hypervisor (tests/lib/fetchxen)"; finish; }
# The service's port goes into dom0's command line (the minilive attests to it).
SPORT=$(free_port)
libdir=/usr/lib/x86_64-linux-gnu
"$IB_SRCDIR/tests/lib/mkminilive" --xen "$d/xen.gz" --xen-args "minilive.attest=http://10.0.2.2:$SPORT" \
    --with "$BUILD/bin/inetboot-attest=/usr/bin/inetboot-attest" --with /usr/bin/tpm2_pcrread \
    --with "$libdir/libtss2-tcti-device.so.0" "$d/www/minilive.iso" || { not_ok "build the minilive ISO with Xen"; finish; }
# Its entries as the ISO's own configs have them (the GRUB entry with the hypervisor among them).
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/minilive.iso.manifest" "$d/www/minilive.iso" ||
    { not_ok "sign the minilive ISO"; finish; }
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
url=http://10.0.2.2:$NGINX_PORT/minilive.iso.manifest
hosturl=http://127.0.0.1:$NGINX_PORT/minilive.iso.manifest
line="console=ttyS0 panic=-1 bootxen=1"

# The prediction, offline, for the machine QEMU emulates (its virtio NIC, whose driver inetboot carries).
nic=(--modalias virtio:d00000001v00001AF4 --modalias pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00)
inetboot-attest predict -K "$d/keys" --hook "$pre/hook.cpio.zst" "${nic[@]}" --cmdline "$line" -o "$d/prediction" \
    "$hosturl" > "$d/pcrs" 2>"$d/predict.err"
check "predict PCRs 8 and 9 of the Xen boot" grep -qE '^PCR  9 sha256 +[0-9a-f]{64}$' "$d/pcrs"
check "the prediction has the hypervisor's events" \
    bash -c "inetboot-attest eventlog '$d/prediction' | grep -q 'inetboot-hypervisor: /boot/xen.gz' &&
             inetboot-attest eventlog '$d/prediction' | grep -q 'hypervisor_cmdline: console=com1'"
_srv_spawn "$d/attestd.log" "$d/attestd.log" inetboot-attestd --listen "127.0.0.1:$SPORT" --aks "$d/aks" \
    --enroll --expect "$d/prediction" --record "$d/record"
apid=$_SRV_SPAWNED
_srv_register "$apid" inetboot-attestd
_srv_wait_port "$SPORT" "$apid" 10 || { not_ok "inetboot-attestd listens"; cat "$d/attestd.log"; finish; }
swtpm_qemu_start "$d/tpm" 2 || { not_ok "swtpm for QEMU starts"; finish; }

boot() {  # boot NAME KERNEL-ARGS [qemu args...]
    local name=$1 args=$2
    shift 2
    qemu_start "$d/$name.log" -m 1024 -kernel "$pre/vmlinuz" -initrd "$pre/miniroot.img" "$@" \
        -append "$args" -netdev user,id=n0 -device virtio-net-pci,netdev=n0
}

# --- the boot ------------------------------------------------------------------------
t0=$SECONDS
boot xen "$line inetboot.url=$url inetboot.tpm=required" $SWTPM_QEMU_ARGS
if qemu_wait 'inetboot: starting ' 240; then t1=$SECONDS; ok "preboot: manifest verified, measured, Xen loaded ($((t1 - t0)) s)"
else not_ok "preboot reaches kexec"; qemu_console | tail -n 30; finish; fi
if qemu_wait '\(XEN\) Xen version' 60; then t2=$SECONDS; ok "Xen starts ($((t2 - t1)) s after kexec)"
else not_ok "Xen starts after kexec"; qemu_console | tail -n 30; finish; fi
if qemu_wait 'MINILIVE-DONE|MINILIVE-ERROR' 400; then t3=$SECONDS; ok "dom0 is the minilive, booted through inetboot ($((t3 - t2)) s after Xen)"
else not_ok "dom0 boots the minilive"; qemu_console | tail -n 40; finish; fi
qemu_console > "$d/xen.txt"
echo "# Xen boot timings: preboot -> kexec $((t1 - t0)) s, kexec -> Xen $((t2 - t1)) s, Xen -> minilive done $((t3 - t2)) s"
check "bootxen=1 chose the Xen entry" grep -q 'boot entry 2: minilive Xen .*hypervisor /boot/xen.gz' "$d/xen.txt"
check "the preboot measured six events into the TPM" \
    grep -q 'measured boot: 6 events into PCRs 9 and 8 of the TPM 2.0 (sha256 bank).*the hypervisor and its command line' "$d/xen.txt"
check "the agent loaded Xen as a Multiboot2 image" grep -q 'loading /boot/xen.gz with kexec-tools (kexec_load, Multiboot2)' "$d/xen.txt"
check "Xen got the entry's command line" grep -q '(XEN) Command line: console=com1 com1=115200 dom0_mem=512M' "$d/xen.txt"
check "Xen was started by kexec-tools" grep -q '^(XEN) Bootloader: kexec' "$d/xen.txt"
check "Xen built dom0 from the kernel module, with the initrd module as its ramdisk" \
    bash -c "grep -q '^(XEN)  Dom0 kernel: 64-bit' '$d/xen.txt' && grep -q '^(XEN)  Init. ramdisk: ' '$d/xen.txt'"
check "dom0 runs under Xen (/sys/hypervisor/type)" grep -q '^MINILIVE-HYPERVISOR type=xen' "$d/xen.txt"
check "dom0's command line is the entry's module line" \
    grep -q "^INETBOOT-MINILIVE-OK cmdline=console=hvc0 minilive.label=INETBOOT_MINILIVE quiet minilive.attest=http://10.0.2.2:$SPORT rdinit=/inetboot/hook$" "$d/xen.txt"
check "the hook attached the image to /dev/loop0 in dom0" grep -q 'hook: minilive.iso is /dev/loop0' "$d/xen.txt"
check "dom0's live medium is the image served by inetboot-httpfs" \
    grep -q 'MINILIVE-MEDIUM dev=/dev/loop0 backing=/inetboot/mnt/minilive.iso' "$d/xen.txt"
check "dom0 read its late file intact" grep -qE 'MINILIVE-LATE sha256=([0-9a-f]{64}) expected=\1' "$d/xen.txt"
p8=$(awk '$2 == 8 { print $4 }' "$d/pcrs") p9=$(awk '$2 == 9 { print $4 }' "$d/pcrs")
check "in dom0, tpm2_pcrread: PCR 8 = the prediction" grep -qi "8 : 0x$p8" "$d/xen.txt"
check "in dom0, tpm2_pcrread: PCR 9 = the prediction" grep -qi "9 : 0x$p9" "$d/xen.txt"
check "in dom0, the event log has the hypervisor" grep -q 'inetboot-hypervisor: /boot/xen.gz' "$d/xen.txt"
check "in dom0, the service's verdict: TRUSTED, hypervisor included" grep -q '^MINILIVE-VERDICT TRUSTED: minilive.iso booted as predicted: manifest, kernel, initrd, hypervisor and command lines' "$d/xen.txt"
grep -a '^MINILIVE-VERDICT' "$d/xen.txt" | sed 's/^/# /'
qemu_stop
swtpm_stop
_srv_kill "$apid"

# --- kernel lockdown: kexec_load is refused, and a hypervisor has no other way ------------------
boot lockdown "lockdown=integrity $line inetboot.url=$url"
if qemu_wait 'the boot failed' 240; then
    qemu_console > "$d/lockdown.txt"
    check "kernel lockdown stops the Xen entry with a clear message" \
        grep -q 'kernel lockdown (Secure Boot) forbids it, and a hypervisor loads only with kexec_load' "$d/lockdown.txt"
    check "kernel lockdown: no kexec" bash -c "! grep -q 'inetboot: starting' '$d/lockdown.txt'"
else
    not_ok "kernel lockdown stops the Xen entry"; qemu_console | tail -n 20
fi
qemu_stop
nginx_stop
finish
