#!/usr/bin/env bash
# inetboot-sign end to end: keygen, make from a real ISO (Debian kernel,
# busybox initrd, GRUB and isolinux configs), verify, show; every flipped
# byte in manifest, signature or image caught with its own error; unknown
# key refused; RSA and ECDSA keys; --entry overrides; an image over 4 GiB.
. "$(dirname "$0")/../lib/common.sh"
requires inetboot-sign xorriso python3 cpio
scratch d
sign() { inetboot-sign "$@"; }

"$IB_SRCDIR/tests/lib/mkiso" "$d/live.iso" || { not_ok "build the test ISO"; finish; }

# --- keygen ---------------------------------------------------------------
expect_out "keygen prints the key id" 'key sha256:[0-9a-f]{64}' sign keygen "$d/pub"
check "keygen: private key is mode 0600" test "$(stat -c %a "$d/pub.key")" = 600
check "keygen: public key is PEM" grep -q 'BEGIN PUBLIC KEY' "$d/pub.pub"
expect_fail "keygen refuses to overwrite a private key" 'exists already' sign keygen "$d/pub"
mkdir "$d/keys" "$d/otherkeys"
cp "$d/pub.pub" "$d/keys/"
sign -q keygen "$d/otherkeys/stranger"

# --- make -------------------------------------------------------------------
expect_out "make signs the ISO and finds its entries" "entry 'Live system \(amd64\)' \(debian-live\): /live/vmlinuz" \
    sign make --key "$d/pub.key" --url http://127.0.0.1:8080/live.iso --url https://mirror.example/live.iso \
    --created 1763900000 --serial 42 "$d/live.iso" -o "$d/live.manifest"
check "make writes manifest and signature" test -s "$d/live.manifest" -a -s "$d/live.manifest.sig"
check "the manifest starts with its magic and version" grep -qx 'inetboot-manifest 1' <(head -n 1 "$d/live.manifest")
check "entries come from grub.cfg, submenu included" grep -qx 'entry Live system, verbose (amd64)' "$d/live.manifest"
check "undefined \${iso_path} argument dropped" grep -qx 'cmdline boot=live components quiet console=ttyS0' "$d/live.manifest"
check "the COMBOOT isolinux entry (hdt.c32) is not an entry" bash -c "! grep -q HDT '$d/live.manifest'"
ksize=$(stat -c %s "$d/live.iso")
expect_out "kernel size and hash from inside the ISO" "kernel $(stat -c %s /boot/vmlinuz-* | sort -n | tail -1) [0-9a-f]{64} /live/vmlinuz" \
    cat "$d/live.manifest"
check "image size recorded" grep -qx "size $ksize" "$d/live.manifest"
check "image sha256 recorded" grep -qx "sha256 $(sha256sum < "$d/live.iso" | cut -c1-64)" "$d/live.manifest"
bs=$(sed -n 's/^block-size //p' "$d/live.manifest")
first=$(head -c "$bs" "$d/live.iso" | sha256sum | cut -c1-64)
check "block 0 hash is the SHA-256 of the first block" grep -qx "$first" "$d/live.manifest"
last_off=$(( (ksize - 1) / bs * bs ))
lasthash=$(tail -c +$((last_off + 1)) "$d/live.iso" | sha256sum | cut -c1-64)
check "the last (short) block hash" test "$(tail -n 1 "$d/live.manifest")" = "$lasthash"
SOURCE_DATE_EPOCH=1763900000 sign -q make --key "$d/pub.key" --serial 42 --url http://127.0.0.1:8080/live.iso \
    --url https://mirror.example/live.iso "$d/live.iso" -o "$d/again.manifest"
check "make is reproducible (same inputs, same manifest bytes)" cmp -s "$d/live.manifest" "$d/again.manifest"

# --- verify and show ----------------------------------------------------------
expect_out "verify: good signature" 'good signature by key sha256:' sign verify --keys "$d/keys" "$d/live.manifest"
expect_out "verify with the image: every block" 'all [0-9]+ blocks and 3 entries match' \
    sign verify --keys "$d/keys" "$d/live.manifest" "$d/live.iso"
expect_out "show prints entries for people" 'entry +Live system \(amd64\) \[debian-live\]' sign show "$d/live.manifest"
expect_out "show names mirrors and signer" 'mirror +https://mirror.example/live.iso' sign show "$d/live.manifest"
expect_out "show: the signature's key" 'ed25519 by key sha256:' sign show "$d/live.manifest"

# --- faults: each has its own error -------------------------------------------
expect_fail "unknown key refused" 'unknown key sha256:[0-9a-f]{64}' sign verify --keys "$d/otherkeys" "$d/live.manifest"
cp "$d/live.manifest" "$d/edited.manifest"; cp "$d/live.manifest.sig" "$d/edited.manifest.sig"
flip_byte "$d/edited.manifest" 40
expect_fail "a flipped byte in the manifest: changed after signing" 'changed after signing' \
    sign verify --keys "$d/keys" "$d/edited.manifest"
# Every byte of the manifest, flipped one at a time (sampled), is caught.
msize=$(stat -c %s "$d/live.manifest") caught=0 tried=0
for off in $(seq 0 $((msize / 61 + 1)) $((msize - 1))); do
    cp "$d/live.manifest" "$d/f.manifest"; cp "$d/live.manifest.sig" "$d/f.manifest.sig"
    flip_byte "$d/f.manifest" "$off"
    tried=$((tried + 1))
    sign -q verify --keys "$d/keys" "$d/f.manifest" 2>/dev/null || caught=$((caught + 1))
done
check "every sampled manifest byte flip is caught ($caught/$tried)" test "$caught" = "$tried"
sigline=$(grep -n '^signature ' "$d/live.manifest.sig" | cut -d: -f1)
sigoff=$(( $(head -n $((sigline - 1)) "$d/live.manifest.sig" | wc -c) + 12 ))
cp "$d/live.manifest" "$d/s.manifest"; cp "$d/live.manifest.sig" "$d/s.manifest.sig"
python3 - "$d/s.manifest.sig" "$sigoff" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read()); b[off] = ord('B') if b[off] != ord('B') else ord('C'); open(p, 'wb').write(b)
PY
expect_fail "a changed signature byte: bad signature" 'bad signature' sign verify --keys "$d/keys" "$d/s.manifest"
cp "$d/live.manifest.sig" "$d/s.manifest.sig"; flip_byte "$d/s.manifest.sig" 3
expect_fail "a flipped byte in the signature's first line: malformed" 'not an inetboot signature file' \
    sign verify --keys "$d/keys" "$d/s.manifest"
cp "$d/live.manifest.sig" "$d/s.manifest.sig"; flip_byte "$d/s.manifest.sig" 30
expect_fail "a flipped byte in the key id: unknown key or malformed" 'unknown key|malformed' \
    sign verify --keys "$d/keys" "$d/s.manifest"
rm "$d/s.manifest.sig"
expect_fail "missing signature file" 'cannot read the signature' sign verify --keys "$d/keys" "$d/s.manifest"
cp "$d/live.iso" "$d/bad.iso"; flip_byte "$d/bad.iso" $((bs * 3 + 17))
expect_fail "a flipped byte in the image: its block is named" 'block 3 \(offset [0-9]+\) does not match' \
    sign verify --keys "$d/keys" "$d/live.manifest" "$d/bad.iso"
truncate -s $((ksize - 1)) "$d/bad.iso"
expect_fail "a truncated image" 'the manifest says' sign verify --keys "$d/keys" "$d/live.manifest" "$d/bad.iso"
expect_fail "show: parser error names file and line" 'bad.manifest:3: size: ' bash -c \
    "sed 's/^size .*/size 12x/' '$d/live.manifest' > '$d/bad.manifest' && inetboot-sign show '$d/bad.manifest'"

# --- other key types ----------------------------------------------------------
for t in rsa ecdsa; do
    sign -q keygen --type $t "$d/$t"
    mkdir -p "$d/keys-$t"; cp "$d/$t.pub" "$d/keys-$t/"
    sign -q make --key "$d/$t.key" --block-size 64K "$d/live.iso" -o "$d/$t.manifest"
    expect_out "$t key: sign and verify" 'good signature' sign verify --keys "$d/keys-$t" "$d/$t.manifest" "$d/live.iso"
    expect_fail "$t key: a different key's directory refuses it" 'unknown key' sign verify --keys "$d/keys" "$d/$t.manifest"
done

# --- entries by hand -------------------------------------------------------------
sign -q make --key "$d/pub.key" --entry "Live system (amd64)" --cmdline "boot=live toram" \
    --entry "Rescue" --kernel /live/vmlinuz --initrd /live/initrd.img --cmdline "single" --family generic \
    "$d/live.iso" -o "$d/e.manifest"
check "--entry overrides a scanned entry's cmdline" bash -c "grep -A4 -x 'entry Live system (amd64)' '$d/e.manifest' | grep -qx 'cmdline boot=live toram'"
check "--entry adds a new entry" grep -qx 'entry Rescue' "$d/e.manifest"
sign -q make --key "$d/pub.key" --no-scan --entry "Only" --kernel /LIVE/VMLINUZ "$d/live.iso" -o "$d/n.manifest"
check "an entry found generic is warned about, with what to do" bash -c \
    "inetboot-sign make --key '$d/pub.key' --no-scan --entry Only --kernel /live/vmlinuz --cmdline single '$d/live.iso' \
     -o '$d/g.manifest' 2>&1 >/dev/null | tr '\\n' ' ' | grep -q \"entry 'Only': family generic: .*--family NAME (docs/distros.md)\""
check "no warning for --family generic, nor for a debian-live entry" bash -c \
    "! inetboot-sign make --key '$d/pub.key' --entry Only --kernel /live/vmlinuz --cmdline single --family generic \
     '$d/live.iso' -o '$d/g.manifest' 2>&1 >/dev/null | grep -q 'family generic'"
check "--no-scan: only the given entry (path matched case-insensitively)" test "$(grep -c '^entry ' "$d/n.manifest")" = 1
expect_fail "--entry with a missing kernel path" 'no such file in the image' \
    sign make --key "$d/pub.key" --no-scan --entry X --kernel /nope "$d/live.iso" -o "$d/x.manifest"
expect_fail "--kernel without --entry is a usage error" 'must follow an --entry' \
    sign make --key "$d/pub.key" --kernel /live/vmlinuz "$d/live.iso"
expect_fail "make without --key" 'needs --key' sign make "$d/live.iso"
expect_fail "bad block size" 'power of two' sign make --key "$d/pub.key" --block-size 3000 "$d/live.iso"
expect_fail "profile outside the image" 'profile' bash -c "echo '0-3 999999' > '$d/p' && inetboot-sign make --key '$d/pub.key' --profile '$d/p' '$d/live.iso' -o '$d/p.manifest'"
echo "0-3 7" > "$d/prof"
sign -q make --key "$d/pub.key" --profile "$d/prof" "$d/live.iso" -o "$d/p.manifest"
check "a boot profile goes into the manifest" grep -qx 'profile 0-3 7' "$d/p.manifest"

# --- a menu larger than a manifest holds ----------------------------------------------
mkdir -p "$d/many/boot/grub" "$d/many/live"
echo kernel > "$d/many/live/vmlinuz"
for i in $(seq 1 70); do printf 'menuentry "Entry %d" {\n linux /live/vmlinuz n=%d\n}\n' "$i" "$i"; done > "$d/many/boot/grub/grub.cfg"
xorriso -as mkisofs -quiet -R -V MANY -o "$d/many.iso" "$d/many" 2>/dev/null
expect_out "70 menu entries: warned, the first 64 kept" 'kept the first' \
    sign make --key "$d/pub.key" "$d/many.iso" -o "$d/many.manifest"
check "70 menu entries: 64 in the manifest" test "$(grep -c '^entry ' "$d/many.manifest")" = 64
expect_fail "a hand-made entry beyond 64 is an error, not lost" 'more than 64 boot entries' \
    sign make --key "$d/pub.key" --entry Mine --kernel /live/vmlinuz "$d/many.iso" -o "$d/many.manifest"

# --- over 4 GiB (sparse) ------------------------------------------------------------
cp "$d/live.iso" "$d/big.iso"
truncate -s $((4 * 1024 * 1024 * 1024 + 512 * 1024 * 1024 + 12345)) "$d/big.iso"
printf 'beyond 4 GiB' | dd of="$d/big.iso" bs=1 seek=$((4 * 1024 * 1024 * 1024 + 300 * 1024 * 1024)) conv=notrunc status=none
sign -q make --key "$d/pub.key" --block-size 1M "$d/big.iso" -o "$d/big.manifest"
check "4.5 GiB image: 64-bit size in the manifest" grep -qx "size $(stat -c %s "$d/big.iso")" "$d/big.manifest"
check "4.5 GiB image: block count" grep -qx "blocks 4609" "$d/big.manifest"
expect_out "4.5 GiB image verifies" 'all 4609 blocks' sign verify --keys "$d/keys" "$d/big.manifest" "$d/big.iso"
flip_byte "$d/big.iso" $((4 * 1024 * 1024 * 1024 + 300 * 1024 * 1024 + 3))
expect_fail "4.5 GiB image: a flip above 4 GiB names block 4396" 'block 4396 \(offset 4609540096\)' \
    sign verify --keys "$d/keys" "$d/big.manifest" "$d/big.iso"

# --- help and man page -------------------------------------------------------------
expect_out "--help" 'Usage: inetboot-sign keygen' sign --help
expect_out "make --help" 'block-size' sign make --help
expect_fail "unknown command" "unknown command 'frobnicate'" sign frobnicate
check "man page beside the code" grep -q '^\.TH INETBOOT-SIGN 1' "$IB_SRCDIR/src/sign/inetboot-sign.1"
if command -v man >/dev/null; then
    check "man page renders without warnings" bash -c "MANWIDTH=80 man --warnings -l '$IB_SRCDIR/src/sign/inetboot-sign.1' 2>&1 >/dev/null | (! grep .)"
fi
finish
