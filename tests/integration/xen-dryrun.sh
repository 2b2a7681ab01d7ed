#!/usr/bin/env bash
# A hypervisor (Xen) entry on the host: the minilive with Debian's xen.gz
# and its own GRUB entry (multiboot /boot/xen.gz ...; module /live/vmlinuz
# ...; module /live/initrd.img), signed from the ISO's configs.  The agent's
# dry run of that entry (chosen with the seeds' bootxen=1) writes the
# hypervisor as published and its command line, measures the hypervisor
# (event 4, PCR 9) and its command line (PCR 8); `inetboot-attest predict`
# is that log byte for byte; measured into swtpm, a quote verifies TRUSTED,
# and a boot of another hypervisor (one byte changed, signed by the
# publisher all the same) is UNTRUSTED.  A hypervisor in the image that is
# not the manifest's stops the boot.  (The boot itself, in QEMU:
# tests/integration/xen.sh.)
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/swtpm.sh"
requires inetboot-agent inetboot-attest inetboot-sign swtpm tpm2_eventlog xorriso mksquashfs apt-get dpkg-deb openssl
[ -e /dev/fuse ] || requires /dev/fuse
hook=$BUILD/initramfs-test/hook.cpio.zst
[ -r "$hook" ] || { not_ok "the hook payload $hook (make initramfs-test builds it)"; finish; }
scratch d
mkdir -p "$d/www/other" "$d/www/tampered" "$d/www/plain" "$d/keys"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
"$IB_SRCDIR/tests/lib/fetchxen" "$d/xen.gz" || { not_ok "Debian's Xen hypervisor (tests/lib/fetchxen)"; finish; }
"$IB_SRCDIR/tests/lib/mkminilive" --xen "$d/xen.gz" "$d/www/minilive.iso" || { not_ok "build the minilive ISO with Xen"; finish; }
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/minilive.iso.manifest" "$d/www/minilive.iso" ||
    { not_ok "sign the minilive ISO"; finish; }
check "the manifest has the GRUB entry's hypervisor" \
    bash -c "grep -q '^hypervisor [0-9]* $(sha256sum < "$d/xen.gz" | cut -c1-64) /boot/xen.gz$' '$d/www/minilive.iso.manifest' &&
             grep -qx 'hypervisor-args console=com1 com1=115200 dom0_mem=512M' '$d/www/minilive.iso.manifest'"
# Another hypervisor: the same with one byte changed (the gzip header's time stamp: still a valid xen.gz),
# in an image of its own that the publisher signed.  Of the same serial: the dry runs below measure into one
# swtpm, whose rollback floor (docs/signatures.md) would refuse the first image after a newer other one.
serial=$(sed -n 's/^serial //p' "$d/www/minilive.iso.manifest")
cp "$d/xen.gz" "$d/xen.other.gz"
flip_byte "$d/xen.other.gz" 4
"$IB_SRCDIR/tests/lib/mkminilive" --xen "$d/xen.other.gz" "$d/www/other/minilive.iso" ||
    { not_ok "build the minilive ISO with the other hypervisor"; finish; }
inetboot-sign make -q --key "$TEST_KEY" --serial "$serial" -o "$d/www/other/minilive.iso.manifest" "$d/www/other/minilive.iso" ||
    { not_ok "sign the other ISO"; finish; }
# The minilive without Xen: no hypervisor entry.
"$IB_SRCDIR/tests/lib/mkminilive" "$d/www/plain/minilive.iso" && \
    inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/plain/minilive.iso.manifest" "$d/www/plain/minilive.iso" ||
    { not_ok "build and sign the minilive without Xen"; finish; }
# The image changed under its manifest: a byte of /boot/xen.gz in the ISO.  (4 KiB blocks: xen.gz lies
# in the first 256 KiB, and inetboot-httpfs refuses a mirror whose first block is wrong at once.)
cp "$d/www/minilive.iso" "$d/www/tampered/"
inetboot-sign make -q --key "$TEST_KEY" -b 4096 -o "$d/www/tampered/minilive.iso.manifest" "$d/www/tampered/minilive.iso" ||
    { not_ok "sign the image to tamper with"; finish; }
xoff=$(xorriso -indev "$d/www/minilive.iso" -find /boot/xen.gz -exec report_lba -- 2>/dev/null |
       awk '/File data lba:/ { print $6 * 2048; exit }')
[ -n "$xoff" ] && [ "$xoff" -ge 8192 ] || { not_ok "find /boot/xen.gz in the ISO (at ${xoff:-?})"; finish; }
flip_byte "$d/www/tampered/minilive.iso" $((xoff + 5000))
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
base=http://127.0.0.1:$NGINX_PORT
url=$base/minilive.iso.manifest
xsum=$(sha256sum < "$d/xen.gz" | cut -c1-64)
xline="console=com1 com1=115200 dom0_mem=512M"

runs=0
dry() {  # dry OUTDIR CMDLINE [agent options...]
    local out=$1 line=$2
    shift 2
    runs=$((runs + 1))
    inetboot-agent --dry-run --out "$out" --work "$d/work$runs" -K "$d/keys" --hook "$hook" --cmdline "$line" "$@"
}

# --- the dry run -------------------------------------------------------------------
t0=$SECONDS
expect_out "bootxen=1: the dry run picks the Xen entry" 'boot entry 2: minilive Xen .*hypervisor /boot/xen.gz' \
    dry "$d/b1" "console=ttyS0 inetboot.url=$url bootxen=1"
echo "# dry run of the Xen entry: $((SECONDS - t0)) s"
check "the dry run writes the hypervisor as published" cmp -s "$d/b1/hypervisor" "$d/xen.gz"
check "the dry run writes the hypervisor's command line" test "$(cat "$d/b1/hypervisor-cmdline" 2>/dev/null)" = "$xline"
check "dom0's command line is the entry's module line (no preboot console=ttyS0 under Xen)" \
    test "$(cat "$d/b1/cmdline" 2>/dev/null)" = "console=hvc0 minilive.label=INETBOOT_MINILIVE quiet rdinit=/inetboot/hook"
inetboot-attest eventlog "$d/b1/eventlog" > "$d/b1.events" 2>&1
check "the event log: the hypervisor in PCR 9, its SHA-256" grep -qE "^ 9 EV_IPL +$xsum inetboot-hypervisor: /boot/xen.gz$" "$d/b1.events"
check "the event log: the hypervisor's command line in PCR 8, its SHA-256" \
    grep -qE "^ 8 EV_IPL +$(printf %s "$xline" | sha256sum | cut -c1-64) hypervisor_cmdline: $xline$" "$d/b1.events"
check "the event log: six events, in order" \
    test "$(awk '/EV_IPL/ { print $1 ":" $4 }' "$d/b1.events" | tr '\n' ' ')" = \
        "9:inetboot-manifest: 9:inetboot-kernel: 9:inetboot-initrd: 9:inetboot-hypervisor: 8:kernel_cmdline: 8:hypervisor_cmdline: "
check "tpm2_eventlog reads the log" bash -c "tpm2_eventlog '$d/b1/eventlog' 2>/dev/null | grep -q 'hypervisor_cmdline: $xline'"
expect_out "inetboot.entry= wins over bootxen=1" 'boot entry 1: minilive \(' \
    dry "$d/entry1" "console=ttyS0 inetboot.url=$url bootxen=1 inetboot.entry=1"
check "a plain entry's dry run writes no hypervisor" bash -c "test -s '$d/entry1/kernel' && test ! -e '$d/entry1/hypervisor'"
expect_fail "bootxen=1 with an image without a hypervisor entry" 'bootxen=1, but no boot entry of the image has a hypervisor' \
    dry "$d/none" "console=ttyS0 inetboot.url=$base/plain/minilive.iso.manifest bootxen=1"
expect_fail "a hypervisor in the image that is not the manifest's stops the boot" \
    'reading /boot/xen.gz from the image: .*(read error|Input/output)' \
    dry "$d/tampered" "console=ttyS0 inetboot.url=$base/tampered/minilive.iso.manifest bootxen=1"

# --- predict ---------------------------------------------------------------------------
inetboot-attest predict -K "$d/keys" --hook "$hook" --cmdline "console=ttyS0 bootxen=1" -o "$d/good.log" "$url" \
    > "$d/good.pcrs" 2>"$d/predict.err"
check "predict: the Xen boot's log is the dry run's, byte for byte" cmp -s "$d/good.log" "$d/b1/eventlog"
inetboot-attest predict -K "$d/keys" --hook "$hook" --cmdline "console=ttyS0" --entry 1 -o "$d/plain.log" "$url" \
    >/dev/null 2>&1
check "predict: the plain entry's log differs from it" bash -c "! cmp -s '$d/plain.log' '$d/good.log'"

# --- measured into swtpm: quote, verify ------------------------------------------------
swtpm2_start "$d/tpm" || { not_ok "swtpm starts"; finish; }
tcti=${SWTPM_SPEC#tpm2:}
expect_out "the agent measures the Xen boot into the TPM" \
    'measured boot: 6 events into PCRs 9 and 8 of the TPM 2.0 \(sha256 bank\).*the hypervisor and its command line' \
    dry "$d/m1" "console=ttyS0 inetboot.url=$url bootxen=1" --tpm "$SWTPM_SPEC"
p8=$(awk '$2 == 8 { print $4 }' "$d/good.pcrs") p9=$(awk '$2 == 9 { print $4 }' "$d/good.pcrs")
check "the TPM's PCR 9 is the predicted value" bash -c "inetboot-attest pcrread --tpm '$SWTPM_SPEC' | grep -qE '^PCR  9 sha256 +$p9\$'"
check "the TPM's PCR 8 is the predicted value" bash -c "inetboot-attest pcrread --tpm '$SWTPM_SPEC' | grep -qE '^PCR  8 sha256 +$p8\$'"
inetboot-attest ak --tpm "$SWTPM_SPEC" -o "$d/ak.pem"
nonce=$(openssl rand -hex 20)
quote() { inetboot-attest quote --tpm "$SWTPM_SPEC" --nonce "$nonce" --eventlog "$2/eventlog" -o "$d/$1.quote"; }
verify() { inetboot-attest verify --ak "$d/ak.pem" --nonce "$nonce" --expect "$d/good.log" "$@"; }
quote good "$d/m1" || not_ok "quote the Xen boot"
expect_out "verify: the Xen boot is TRUSTED, its hypervisor named" '^TRUSTED: minilive.iso booted as predicted: manifest, kernel, initrd, hypervisor and command lines' verify "$d/good.quote"
dry "$d/m2" "console=ttyS0 inetboot.url=$base/other/minilive.iso.manifest bootxen=1" --tpm "$SWTPM_SPEC" >/dev/null 2>&1 ||
    not_ok "the dry run of the other hypervisor"
check "the other hypervisor differs from ours in one byte" \
    test "$(cmp -l "$d/m2/hypervisor" "$d/xen.gz" 2>/dev/null | wc -l)" = 1
quote other "$d/m2" || not_ok "quote the boot of the other hypervisor"
# Another hypervisor is another signed image: its manifest is the first measurement that differs.
expect_fail "verify: a boot of another hypervisor is UNTRUSTED" '^UNTRUSTED: the manifest differs' verify "$d/other.quote"
check "... whose log measured the other hypervisor" grep -aq "$(sha256sum < "$d/xen.other.gz" | cut -c1-64)" \
    <(inetboot-attest eventlog "$d/m2/eventlog" 2>&1 | grep 'inetboot-hypervisor: /boot/xen.gz')
check "... and not ours" bash -c "! inetboot-attest eventlog '$d/m2/eventlog' 2>&1 | grep -q '$xsum'"
dry "$d/m3" "console=ttyS0 inetboot.url=$url inetboot.entry=1" --tpm "$SWTPM_SPEC" >/dev/null 2>&1 ||
    not_ok "the dry run of the plain entry"
quote plain "$d/m3" || not_ok "quote the boot of the plain entry"
# (the entry's label is in the initrd's hook.conf: the initrd is the first thing that differs)
expect_fail "verify: the same image booted without its hypervisor is UNTRUSTED" \
    '^UNTRUSTED: the initrd differs' verify "$d/plain.quote"
swtpm_stop
nginx_stop
finish
