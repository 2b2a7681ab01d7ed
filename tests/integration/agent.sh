#!/usr/bin/env bash
# inetboot-agent --dry-run on the host: the minilive ISO signed and served by
# nginx; the agent fetches and verifies the manifest, serves the image with
# inetboot-httpfs (FUSE), picks the entry, and writes the kernel, the target
# initrd (the ISO's initrd unchanged + a reproducible cpio with the hook,
# inetboot-httpfs, manifest, keys, the target kernel's modules from the ISO's
# squashfs) and the command line.  Refusals: bad signature, unknown key,
# tampered image, missing manifest, unsigned without policy, Range ignored.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
requires inetboot-agent inetboot-sign inetboot-httpfs xorriso mksquashfs unsquashfs cpio zstd patchelf
[ -e /dev/fuse ] || requires /dev/fuse
hook=$BUILD/initramfs-test/hook.cpio.zst
[ -r "$hook" ] || { not_ok "the hook payload $hook (make initramfs-test builds it)"; finish; }
hsz=$(stat -c %s "$hook")
scratch d
mkdir -p "$d/www" "$d/keys" "$d/other" "$d/bare"
"$IB_SRCDIR/tests/lib/mkminilive" "$d/www/minilive.iso" || { not_ok "build the minilive ISO"; finish; }
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/minilive.iso.manifest" "$d/www/minilive.iso" ||
    { not_ok "sign the minilive ISO"; finish; }
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
inetboot-sign -q keygen "$d/other/stranger"
rm -f "$d/other/stranger.key"
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
base=http://127.0.0.1:$NGINX_PORT
# A virtio NIC and its PCI function, as a QEMU guest has them.
nic=(--modalias virtio:d00000001v00001AF4 --modalias pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00)

runs=0
agent() {  # agent OUTDIR CMDLINE [options]: a dry run with a fresh work dir
    local out=$1 cmd=$2
    shift 2
    runs=$((runs + 1))
    inetboot-agent --dry-run --out "$out" --work "$d/work$runs" -K "$d/keys" --hook "$hook" "${nic[@]}" \
        --cmdline "$cmd" "$@"
}
extract() { xorriso -osirrox on -indev "$1" -extract "$2" "$3" >/dev/null 2>&1; }
# What inetboot appended after the ISO's initrd (padded to 4 bytes): the hook
# payload archive as it is (padded to 4), then a cpio of manifest, keys, modules.
hook_of() { local skip=$(( ($2 + 3) / 4 * 4 )); tail -c +$((skip + 1)) "$1" | head -c "$hsz"; }
tail_of() { local skip=$(( ($2 + 3) / 4 * 4 + (hsz + 3) / 4 * 4 )); tail -c +$((skip + 1)) "$1"; }

# --- a dry run --------------------------------------------------------------
expect_out "dry run: fetches, verifies, builds" "dry run: kernel, initrd and cmdline written" \
    agent "$d/out" "quiet inetboot.url=$base/minilive.iso.manifest console=ttyS0,115200"
extract "$d/www/minilive.iso" /live/vmlinuz "$d/vmlinuz"
extract "$d/www/minilive.iso" /live/initrd.img "$d/initrd.img"
isz=$(stat -c %s "$d/initrd.img")
check "kernel is the ISO's /live/vmlinuz, byte for byte" cmp -s "$d/out/kernel" "$d/vmlinuz"
check "the target initrd starts with the ISO's initrd unchanged" cmp -s -n "$isz" "$d/out/initrd" "$d/initrd.img"
check "the ISO's initrd is padded to 4 bytes with zeros" \
    test "$(tail -c +$((isz + 1)) "$d/out/initrd" | head -c $(( (4 - isz % 4) % 4 )) | tr -d '\0' | wc -c)" = 0
check "then the hook payload, byte for byte" cmp -s <(hook_of "$d/out/initrd" "$isz") "$hook"
tail_of "$d/out/initrd" "$isz" > "$d/tail.cpio"
# (cpio(1) stops at the first trailer: one archive at a time)
{ zstd -dqc "$hook" | cpio -it --quiet; cpio -it --quiet < "$d/tail.cpio"; } > "$d/tail.list" 2>/dev/null
cpio -it --quiet < "$d/tail.cpio" > "$d/dyn.list" 2>/dev/null
for f in inetboot/hook inetboot/bin/busybox inetboot/bin/inetboot-httpfs inetboot/lib/ld-linux-x86-64.so.2 \
         inetboot/lib/libcurl.so.4 inetboot/etc/image.manifest inetboot/etc/image.manifest.sig inetboot/etc/hook.conf \
         inetboot/keys/test-only-publisher.pub inetboot/modules.order inetboot/modules/fuse.ko \
         inetboot/modules/virtio_net.ko inetboot/modules/net_failover.ko; do
    check "appended cpio has $f" grep -qx "$f" "$d/tail.list"
done
check "each appended cpio lists its parent directories first" test "$(grep -n '^inetboot$' "$d/dyn.list" | cut -d: -f1)" = 1
mkdir "$d/x" && (cd "$d/x" && zstd -dqc "$hook" | cpio -idm --quiet 2>/dev/null && cpio -idm --quiet < "$d/tail.cpio" 2>/dev/null)
check "the manifest inside is the one served" cmp -s "$d/x/inetboot/etc/image.manifest" "$d/www/minilive.iso.manifest"
check "the hook is executable" test -x "$d/x/inetboot/hook"
check "inetboot-httpfs inside runs with its own loader" \
    test "$(patchelf --print-interpreter "$d/x/inetboot/bin/inetboot-httpfs")" = /inetboot/lib/ld-linux-x86-64.so.2
check "... and its own libraries (DT_RPATH, for theirs too)" \
    test "$(patchelf --print-rpath "$d/x/inetboot/bin/inetboot-httpfs")" = /inetboot/lib
rel=$(ls /lib/modules | sort -V | tail -n 1)
check "modules come from the target kernel's tree" cmp -s "$d/x/inetboot/modules/fuse.ko" \
    "$(find "/lib/modules/$rel/kernel" -name fuse.ko | head -n 1)"
order=$(sed 's|.*/||; s|\.ko$||' "$d/x/inetboot/modules.order" | tr '\n' ' ')
check "module order: dependencies first (failover < net_failover < virtio_net)" \
    awk -v s=" $order" 'BEGIN { exit !(index(s, " failover ") < index(s, " net_failover ") && index(s, " net_failover ") < index(s, " virtio_net ")) }'
check "module order: fuse and loop, each once" test "$(sed 's|.*/||' "$d/x/inetboot/modules.order" | grep -cxE 'fuse.ko|loop.ko')" = 2
check "modules the image's initrd has are loaded from it (loop)" \
    grep -qx "/lib/modules/$rel/kernel/drivers/block/loop.ko" "$d/x/inetboot/modules.order"
check "... and not carried again" bash -c "! grep -q 'inetboot/modules/loop.ko' '$d/tail.list'"
check "modules it lacks are carried (fuse)" grep -qx "/inetboot/modules/fuse.ko" "$d/x/inetboot/modules.order"
check "hook.conf names the image" grep -qx "IB_IMAGE='minilive.iso'" "$d/x/inetboot/etc/hook.conf"
check "site.conf (after the measured part): the image beside the manifest is the mirror" \
    grep -aq "IB_MIRRORS $base/minilive.iso$" "$d/out/initrd"
check "hook.conf: verified" grep -qx "IB_VERIFIED='1'" "$d/x/inetboot/etc/hook.conf"
check "cmdline: the entry's, console carried over, the hook" test "$(cat "$d/out/cmdline")" = \
    "console=ttyS0 minilive.label=INETBOOT_MINILIVE quiet console=ttyS0,115200 rdinit=/inetboot/hook"
agent "$d/out3" "console=tty0 console=ttyS0 inetboot.url=$base/minilive.iso.manifest" >/dev/null 2>&1
check "cmdline: the preboot's consoles in its order (the last one the booted system's), after the entry's" \
    test "$(cat "$d/out3/cmdline" 2>/dev/null)" = \
    "console=ttyS0 minilive.label=INETBOOT_MINILIVE quiet console=tty0 console=ttyS0 rdinit=/inetboot/hook"
agent "$d/out4" "console=ttyS0 inetboot.url=$base/minilive.iso.manifest" >/dev/null 2>&1
check "cmdline: a console the entry names already is not repeated" \
    test "$(cat "$d/out4/cmdline" 2>/dev/null)" = "console=ttyS0 minilive.label=INETBOOT_MINILIVE quiet rdinit=/inetboot/hook"

agent "$d/out2" "quiet inetboot.url=$base/minilive.iso.manifest console=ttyS0,115200" >/dev/null 2>&1
check "reproducible: a second run gives the same initrd bytes" cmp -s "$d/out/initrd" "$d/out2/initrd"
check "nothing is left mounted" bash -c "! grep -q ' $d/work' /proc/mounts"

# --- entries, URL forms -----------------------------------------------------
expect_out "entry by number" "boot entry 1: minilive" agent "$d/o3" "inetboot.url=$base/minilive.iso.manifest inetboot.entry=1"
expect_fail "unknown entry: the menu is listed" "^  1  minilive" \
    agent "$d/o4" "inetboot.url=$base/minilive.iso.manifest inetboot.entry=nosuch"
expect_out "the seeds' netdir=URL.iso form" "dry run" agent "$d/o5" "netdir=$base/minilive.iso type=iso"
check "type=iso changes nothing: the minilive's command line" bash -c "! grep -q live-media '$d/o5/cmdline'"
expect_out "type=casper names the family, over the manifest's" 'family casper \(type=casper on the command line\), not generic' \
    agent "$d/o5c" "netdir=$base/minilive.iso type=casper"
check "... and its hint is added" grep -q ' live-media=/dev/loop0 fsck.mode=skip' "$d/o5c/cmdline"
expect_out "an image URL finds URL.manifest beside it" "fetching the manifest $base/minilive.iso.manifest" \
    agent "$d/o6" "inetboot.url=$base/minilive.iso"
cp "$d/www/minilive.iso" "$d/www/bare.iso"
expect_fail "netdir= without a manifest: said so" "no manifest at $base/bare.iso.manifest" \
    agent "$d/o7" "netdir=$base/bare.iso"
out=$(agent "$d/o8" "inetboot.url=http://127.0.0.1:1/minilive.iso.manifest inetboot.url=$base/minilive.iso.manifest" 2>&1)
if [ -s "$d/o8/initrd" ] && grep -q "cannot fetch the manifest" <<<"$out"; then ok "mirrors: a dead first URL, the second serves"
else not_ok "mirrors: a dead first URL, the second serves ($out)"; fi
cp "$d/www/minilive.iso" "$d/www/noentry.iso"
inetboot-sign make -q --no-scan --key "$TEST_KEY" -o "$d/www/noentry.iso.manifest" "$d/www/noentry.iso"
expect_out "a manifest without entries: the ISO's own configs" "reading the image's own boot configs" \
    agent "$d/o9" "inetboot.url=$base/noentry.iso.manifest"
expect_fail "no URL at all: exit 3 and a clear message" "nothing to boot" agent "$d/o10" "quiet"
agent "$d/o10" "quiet" >/dev/null 2>&1
check "no URL at all: exit status 3" test $? = 3

# --- the words of the command line (docs/cmdline.md) --------------------------------
out=$(agent "$d/o31" "inetboot.url=$base/minilive.iso.manifest inetboot.entrry=3 inetboot.entrry=4 inetboot.shell=1 quiet" 2>&1)
check "a misspelt word: said, with the word meant" \
    grep -qx 'inetboot: warning: unknown option inetboot.entrry; did you mean inetboot.entry?' <<<"$out"
check "... once" test "$(grep -c entrry <<<"$out")" = 1
check "a known word in a form it does not take: said" \
    grep -qx "inetboot: warning: 'inetboot.shell=1': inetboot.shell takes no value; ignored" <<<"$out"
check "... and the boot goes on, with the first entry" \
    bash -c 'grep -q "^inetboot: boot entry 1: " <<<"$1" && test -s "$2/kernel"' _ "$out" "$d/o31"
expect_fail "a misspelt inetboot.tpm stops the boot" 'unknown option inetboot.tmp; did you mean inetboot.tpm\?' \
    agent "$d/o32" "inetboot.url=$base/minilive.iso.manifest inetboot.tmp=required"
out=$(agent "$d/o33" "inetboot.url=$base/minilive.iso.manifest inetboot.shell inetboot.menu=url inetboot.kexec=load inetboot.cache=off ip=dhcp quiet" 2>&1)
check "the preboot's words and the kernel's: nothing said" bash -c '! grep -q warning <<<"$1"' _ "$out"

# --- relative paths: made absolute at once (inetboot-httpfs gets them) ------------------------
out=$(cd "$d" && inetboot-agent --dry-run --out rel-out --work rel-work -K keys --hook "$hook" "${nic[@]}" --cache rel-cache \
      --cmdline "inetboot.url=$base/minilive.iso.manifest" 2>&1)
check "relative --out, --work, -K and --cache: a dry run" test -s "$d/rel-out/kernel"
check "... the cache fills ($(find "$d/rel-cache/blocks" -type f 2>/dev/null | wc -l) blocks)" \
    test "$(find "$d/rel-cache/blocks" -type f 2>/dev/null | wc -l)" -gt 10
check "... nothing is left mounted" bash -c "! grep -q ' $d/rel-work' /proc/mounts"

# --- the progress line -------------------------------------------------------------
out=$(agent "$d/o14" "inetboot.url=$base/minilive.iso.manifest" 2>&1)
check "progress: a summary of the kernel's read, with the mirror and the cache" \
    grep -qE "^inetboot: /live/vmlinuz: [0-9]+\.[0-9] MB in [0-9]+\.[0-9] s \([0-9]+\.[0-9] MB/s\); $base/minilive.iso, 0 blocks from the cache$" <<<"$out"
check "progress: off a terminal, one line a file on a fast link" test "$(grep -c '^inetboot: /live/vmlinuz' <<<"$out")" = 1
# On a terminal (script(1) gives it one) and a slow link (1 MB/s a connection): the line is redrawn in
# place, at most once a second, and ends in the summary.
if command -v script >/dev/null; then
    t0=$SECONDS
    script -qec "inetboot-agent --dry-run --out '$d/o15' --work '$d/w15' -K '$d/keys' --hook '$hook' ${nic[*]} \
        --cmdline 'inetboot.url=$base/slow/minilive.iso.manifest'" /dev/null > "$d/tty.out" 2>&1
    secs=$((SECONDS - t0 + 1))
    redraws=$(tr '\n' '\0' < "$d/tty.out" | tr '\r' '\n' | grep -c '^inetboot: /live/vmlinuz  [0-9.]* of [0-9.]* MB ([0-9]*%), [0-9.]* MB/s, [0-9]* s left; .*/slow/minilive.iso, 0 blocks from the cache')
    check "progress: on a terminal, redrawn in place while the kernel comes ($redraws times in ${secs} s)" \
        test "$redraws" -ge 1 -a "$redraws" -le "$secs"
    check "progress: on a terminal, the summary overwrites the line" grep -qa $'\rinetboot: /live/vmlinuz: .* MB/s); ' "$d/tty.out"
    check "progress: the booted files are whole" cmp -s "$d/o15/kernel" "$d/o14/kernel"
else
    not_ok "progress: script(1) is needed (bsdutils)"
fi

# --- refusals -----------------------------------------------------------------
mkdir -p "$d/www/badsig"
cp "$d/www/minilive.iso" "$d/www/minilive.iso.manifest" "$d/www/minilive.iso.manifest.sig" "$d/www/badsig/"
flip_byte "$d/www/badsig/minilive.iso.manifest" 300
expect_fail "a manifest changed after signing is refused" "changed after signing|does not match|signature" \
    agent "$d/o11" "inetboot.url=$base/badsig/minilive.iso.manifest"
check "refused: nothing written" test ! -e "$d/o11/initrd"
out=$(inetboot-agent --dry-run --out "$d/o12" --work "$d/w12" -K "$d/other" --hook "$hook" \
    --cmdline "inetboot.url=$base/minilive.iso.manifest" 2>&1)
rc=$?
check "a manifest by an unknown key is refused (exit $rc)" test "$rc" != 0
check "... the key named" grep -q 'unknown key sha256:[0-9a-f]\{64\}' <<<"$out"
check "... and the message says what to do" \
    grep -q "to trust this publisher: put their public key (.pub) into keys/ and rebuild the boot media" <<<"$out"
mkdir -p "$d/www/tampered"
cp "$d/www/minilive.iso" "$d/www/minilive.iso.manifest" "$d/www/minilive.iso.manifest.sig" "$d/www/tampered/"
koff=$(xorriso -indev "$d/www/minilive.iso" -find /live/vmlinuz -exec report_lba -- 2>/dev/null |
       awk '/File data lba:/ { print $6 * 2048; exit }')
flip_byte "$d/www/tampered/minilive.iso" $((koff + 5000))
expect_fail "a tampered image on the server stops the boot" "reading /live/vmlinuz from the image" \
    agent "$d/o13" "inetboot.url=$base/tampered/minilive.iso.manifest"
check "tampered: nothing written" test ! -e "$d/o13/kernel"
rm "$d/www/badsig/minilive.iso.manifest.sig"
cp "$d/www/minilive.iso.manifest" "$d/www/badsig/minilive.iso.manifest"
expect_fail "unsigned: inetboot.insecure needs the media's permission" "do not allow unsigned" \
    agent "$d/o14" "inetboot.url=$base/badsig/minilive.iso.manifest inetboot.insecure"
expect_out "unsigned with --allow-insecure and inetboot.insecure: boots, warned" "WARNING: no signature" \
    agent "$d/o15" "inetboot.url=$base/badsig/minilive.iso.manifest inetboot.insecure" --allow-insecure
check "unsigned: hook.conf says unverified" grep -aq "IB_VERIFIED='0'" "$d/o15/initrd"
pyhttp_start "$d/www" || { not_ok "python http.server starts"; finish; }
expect_fail "a server that ignores Range gets a clear error" "Range" \
    agent "$d/o16" "inetboot.url=http://127.0.0.1:$PYHTTP_PORT/minilive.iso.manifest"
pyhttp_stop

# --- iscript= -------------------------------------------------------------------
printf '#!/bin/sh\necho ran > "%s/iscript.ran"\n' "$d" > "$d/www/pre.sh"
check "inetboot-sign sign signs any file" inetboot-sign -q sign --key "$TEST_KEY" "$d/www/pre.sh"
expect_out "a signed iscript= runs" "fetching the preboot script" agent "$d/o17" "iscript=$base/pre.sh"
check "the signed iscript ran" test -e "$d/iscript.ran"
cp "$d/www/pre.sh" "$d/www/unsigned.sh"
expect_fail "an unsigned iscript= is not run" "iscript: .*unsigned.sh.sig" agent "$d/o18" "iscript=$base/unsigned.sh"

# --- the command itself -------------------------------------------------------------
expect_out "--help" "inetboot.url=URL" inetboot-agent --help
expect_fail "--dry-run needs --out" "go together" inetboot-agent --dry-run
expect_fail "a bad option" "Try 'inetboot-agent --help'" inetboot-agent --bogus
expect_out "--list-modules: isofs after cdrom" "cdrom.ko.*isofs.ko" \
    bash -c "inetboot-agent --list-modules --modules-dir /lib/modules/$rel isofs | tr '\n' ' '"
# Coldplug (the preboot's init): the drivers of the devices under a sysfs, with their
# dependencies, less what is loaded or built in and what the tree does not carry.
m=$d/coldplug/mods s=$d/coldplug/sys
mkdir -p "$m/kernel/net" "$m/kernel/virtio" "$m/kernel/ata" "$m/kernel/usb" \
    "$s/bus/pci/devices/0000:00:03.0" "$s/bus/pci/devices/0000:00:01.1" "$s/bus/pci/devices/0000:00:02.0" \
    "$s/bus/virtio/devices/virtio0" "$s/bus/platform/devices/serial8250" "$s/module/libata"
for k in net/virtio_net net/failover virtio/virtio_pci virtio/virtio_ring ata/ata_piix ata/libata; do : > "$m/kernel/$k.ko"; done
cat > "$m/modules.dep" <<'DEP'
kernel/net/virtio_net.ko: kernel/net/failover.ko kernel/virtio/virtio_ring.ko
kernel/net/failover.ko:
kernel/virtio/virtio_pci.ko: kernel/virtio/virtio_ring.ko
kernel/virtio/virtio_ring.ko:
kernel/ata/ata_piix.ko: kernel/ata/libata.ko
kernel/ata/libata.ko:
kernel/usb/xhci_pci.ko:
DEP
cat > "$m/modules.alias" <<'ALIAS'
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000001v* virtio_net
alias pci:v00008086d00007010sv*sd*bc*sc*i* ata_piix
alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci
ALIAS
: > "$m/modules.builtin"
echo pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00 > "$s/bus/pci/devices/0000:00:03.0/modalias"
echo pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80 > "$s/bus/pci/devices/0000:00:01.1/modalias"
echo pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30 > "$s/bus/pci/devices/0000:00:02.0/modalias"
echo virtio:d00000001v00001AF4 > "$s/bus/virtio/devices/virtio0/modalias"
echo platform:serial8250 > "$s/bus/platform/devices/serial8250/modalias"
out=$(inetboot-agent --list-modules --modules-dir "$m" --for-devices --sysfs "$s" 2>&1 | tr '\n' ' ')
check "--for-devices: each device's driver (by name) after what it needs, once; the loaded libata and the uncarried xhci_pci left out" \
    test "$out" = "kernel/ata/ata_piix.ko kernel/virtio/virtio_ring.ko kernel/net/failover.ko kernel/net/virtio_net.ko kernel/virtio/virtio_pci.ko "
out=$(inetboot-agent --list-modules --modules-dir "$m" --for-devices --sysfs "$s" virtio_ring 2>&1 | tr '\n' ' ')
check "--for-devices with a name: the name first, not twice" \
    test "$out" = "kernel/virtio/virtio_ring.ko kernel/ata/ata_piix.ko kernel/net/failover.ko kernel/net/virtio_net.ko kernel/virtio/virtio_pci.ko "
mkdir -p "$s/module/virtio_net" "$s/module/ata_piix" "$s/module/virtio_pci" "$s/module/virtio_ring" "$s/module/failover"
check "--for-devices: nothing when every driver is loaded" \
    test -z "$(inetboot-agent --list-modules --modules-dir "$m" --for-devices --sysfs "$s" 2>&1)"
expect_fail "--load without --list-modules" "go with --list-modules" inetboot-agent --load
expect_fail "--list-modules needs names or --for-devices" "module names or --for-devices" \
    inetboot-agent --list-modules --modules-dir "$m"
nginx_stop
finish
