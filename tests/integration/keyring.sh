#!/usr/bin/env bash
# The life of a key (docs/signatures.md): a root key (keys/roots/) certifies
# publisher keys in a signed, versioned keyring published beside the
# manifests; a newer keyring rotates and revokes keys; a client with a cache
# refuses an older keyring version than it has seen.  inetboot-sign verify,
# inetboot-httpfs and the agent (dry run; the keyring carried into the target
# initrd and checked again there) alike.  The plain keys folder keeps working.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/swtpm.sh"
requires inetboot-httpfs inetboot-sign inetboot-agent fusermount3 nginx xorriso cpio zstd openssl
[ -e /dev/fuse ] || { echo "skip - no /dev/fuse"; exit 77; }
scratch d
S=inetboot-sign
hook=$BUILD/initramfs-test/hook.cpio.zst
[ -r "$hook" ] || { not_ok "the hook payload $hook (make initramfs-test builds it)"; finish; }
mkdir -p "$d/www" "$d/keys/roots" "$d/plain" "$d/pub" "$d/cache" "$d/acache"
"$IB_SRCDIR/tests/lib/mkminilive" "$d/www/live.iso" || { not_ok "build the minilive ISO"; finish; }
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
U=http://127.0.0.1:$NGINX_PORT
now=$(date +%s)
KR=$d/pub/inetboot.keyring      # the publisher's working copy; published by copying into www/

# Keys: a root (offline, its .pub on the boot media), an old and a new publisher key, and more.
for k in root old new short debian other; do $S -q keygen "$d/pub/$k" || not_ok "keygen $k"; done
cp "$d/pub/root.pub" "$d/keys/roots/"
fp() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -c1-64; }
sign() {  # sign NAME KEY [ARGS...]: www/NAME.manifest of live.iso
    local n=$1 k=$2
    shift 2
    $S -q make --key "$k" --block-size 64K --url "$U/live.iso" --name live.iso "$@" "$d/www/live.iso" -o "$d/www/$n.manifest"
}
publish() { cp "$KR" "$KR.sig" "$d/www/"; }
unmount() {  # unmount MNT: a moment busy (the kernel still reading ahead) is no reason to hang the test
    local i
    for i in $(seq 50); do fusermount3 -u "$1" 2>/dev/null && return 0; sleep 0.1; done
    fusermount3 -u -z "$1"
}
try_mount() {  # try_mount ARGS...: inetboot-httpfs in the foreground; 0 once mounted (then unmounted)
    local mnt=$d/m pid i
    mkdir -p "$mnt"
    : > "$d/httpfs.err"
    inetboot-httpfs -f "$@" "$mnt" 2>"$d/httpfs.err" &
    pid=$!
    for i in $(seq 100); do
        if mountpoint -q "$mnt"; then unmount "$mnt"; wait $pid; return 0; fi
        kill -0 $pid 2>/dev/null || { wait $pid; return $(( $? ? $? : 1 )); }
        sleep 0.1
    done
    kill $pid; wait $pid; return 1
}
mount_fails() {  # mount_fails PATTERN ARGS...: httpfs refuses, saying PATTERN
    local pat=$1
    shift
    ! try_mount "$@" && grep -Eq -- "$pat" "$d/httpfs.err" && ! mountpoint -q "$d/m"
}
runs=0
agent() {  # agent CACHE URL: a dry run
    runs=$((runs + 1))
    inetboot-agent --dry-run --out "$d/out$runs" --work "$d/work$runs" -K "$d/keys" --hook "$hook" \
        ${1:+--cache "$1"} ${TPM:+--tpm "$TPM"} --modalias virtio:d00000001v00001AF4 --cmdline "inetboot.url=$2"
}

# --- the root certifies the first publisher key ------------------------------------
sign a "$d/pub/old.key"
expect_fail "no keyring published: a key the media do not hold is unknown" 'no trusted public keys .* nor is a keyring of its root keys' \
    $S verify --keys "$d/keys" "$d/www/a.manifest"
expect_out "keyring init: version 1, signed by the root" 'version 1, 0 keys certified' \
    $S keyring init --root-key "$d/pub/root.key" --keyring "$KR" --expires +365
expect_out "keyring certify: version 2" "certified key sha256:$(fp "$d/pub/old.pub")" \
    $S keyring certify --root-key "$d/pub/root.key" --keyring "$KR" --until +90 --names 'live*' "$d/pub/old.pub"
check "the keyring is signed by the root key" grep -qx "key sha256:$(fp "$d/pub/root.pub")" "$KR.sig"
expect_fail "certify needs --until" 'needs --until' \
    $S keyring certify --root-key "$d/pub/root.key" --keyring "$KR" "$d/pub/new.pub"
expect_fail "another key cannot change the root's keyring" 'not signed by this root key' \
    $S keyring certify --root-key "$d/pub/other.key" --keyring "$KR" --until +9 "$d/pub/new.pub"
publish
cp "$KR" "$d/keyring.v2"; cp "$KR.sig" "$d/keyring.v2.sig"
expect_out "verify: the certified key's manifest is good" 'good signature by key sha256:[0-9a-f]+, certified by the keyring' \
    $S verify --keys "$d/keys" "$d/www/a.manifest"
check "httpfs with a cache mounts it (keyring fetched beside the manifest)" try_mount -K "$d/keys" --cache "$d/cache" "$U/a.manifest"
check "... and keeps the keyring's version in the trust state" \
    grep -qx "keyring $(fp "$d/pub/root.pub") 2 [0-9]*" "$d/cache/trust-state"
expect_out "show: the keyring for people" 'may sign live\*' $S keyring show "$KR"

# --- rotation: the new key certified, the old one revoked -----------------------------
$S -q keyring certify --root-key "$d/pub/root.key" --keyring "$KR" --until +90 "$d/pub/new.pub" || not_ok "certify new"
expect_out "keyring revoke: version 4" "revoked key sha256:$(fp "$d/pub/old.pub")" \
    $S keyring revoke --root-key "$d/pub/root.key" --keyring "$KR" "$d/pub/old.pub"
publish
sign b "$d/pub/new.key"
expect_out "verify: the new key's manifest is good" 'certified by the keyring' $S verify --keys "$d/keys" "$d/www/b.manifest"
expect_fail "verify: the old key's manifest is refused" "key sha256:$(fp "$d/pub/old.pub") was revoked by keyring version 4" \
    $S verify --keys "$d/keys" "$d/www/a.manifest"
check "httpfs mounts the new key's manifest" try_mount -K "$d/keys" --cache "$d/cache" "$U/b.manifest"
check "httpfs refuses the old key's manifest" mount_fails 'was revoked by keyring version 4' -K "$d/keys" "$U/a.manifest"
check "the trust state holds version 4" grep -qx "keyring $(fp "$d/pub/root.pub") 4 [0-9]*" "$d/cache/trust-state"
expect_fail "a revoked key is never certified again" 'never certified again' \
    $S keyring certify --root-key "$d/pub/root.key" --keyring "$KR" --until +9 "$d/pub/old.pub"

# --- replay of an older keyring ----------------------------------------------------------
cp "$d/keyring.v2" "$d/www/inetboot.keyring"; cp "$d/keyring.v2.sig" "$d/www/inetboot.keyring.sig"
check "httpfs with the cache refuses keyring version 2 after 4" \
    mount_fails 'keyring version 2 is older than version 4 seen on 20[0-9-]+ [0-9:]+ UTC: refusing a rollback' \
    -K "$d/keys" --cache "$d/cache" "$U/a.manifest"
check "... and the owner's way out is named" grep -q -- '--allow-rollback' "$d/httpfs.err"
check "httpfs --allow-rollback takes it, and says so" \
    bash -c "$(declare -f unmount try_mount); d='$d'; try_mount -K '$d/keys' --cache '$d/cache' --allow-rollback '$U/a.manifest' &&
             grep -q 'keyring version 2 accepted below version 4' '$d/httpfs.err'"
publish
check "the current keyring mounts again (the floor back at 4)" try_mount -K "$d/keys" --cache "$d/cache" "$U/b.manifest"

# --- validity and names ----------------------------------------------------------------
$S -q keyring certify --root-key "$d/pub/root.key" --keyring "$KR" --from @$((now - 200 * 86400)) \
    --until @$((now - 100 * 86400)) "$d/pub/short.pub" || not_ok "certify short"
$S -q keyring certify --root-key "$d/pub/root.key" --keyring "$KR" --until +90 --names 'debian-*' "$d/pub/debian.pub" ||
    not_ok "certify debian"
publish
sign c "$d/pub/short.key"
sign e "$d/pub/debian.key"
expect_fail "verify: a key past its validity is refused" "key sha256:$(fp "$d/pub/short.pub") is valid from 20[0-9-]+ [0-9:]+ UTC to" \
    $S verify --keys "$d/keys" "$d/www/c.manifest"
check "httpfs: ... refused too" mount_fails 'is valid from' -K "$d/keys" "$U/c.manifest"
expect_fail "verify: a key may sign only the names it was certified for" 'may sign images named debian-\*, not live.iso' \
    $S verify --keys "$d/keys" "$d/www/e.manifest"
check "httpfs: ... refused too" mount_fails 'may sign images named debian-\*, not live.iso' -K "$d/keys" "$U/e.manifest"

# --- a keyring not signed by a root ----------------------------------------------------
cp "$KR" "$d/forged.keyring"
$S -q sign --key "$d/pub/new.key" "$d/forged.keyring"
expect_fail "verify: a keyring signed by a non-root key is refused" 'keyring not signed by a root key' \
    $S verify --keys "$d/keys" --keyring "$d/forged.keyring" "$d/www/b.manifest"
cp "$d/forged.keyring" "$d/www/inetboot.keyring"; cp "$d/forged.keyring.sig" "$d/www/inetboot.keyring.sig"
check "httpfs: ... refused too" mount_fails 'keyring not signed by a root key' -K "$d/keys" "$U/b.manifest"
publish

# --- an expired keyring ------------------------------------------------------------------
$S -q keyring init --root-key "$d/pub/root.key" --keyring "$d/old.keyring" --created $((now - 100 * 86400)) --expires +10
$S -q keyring certify --root-key "$d/pub/root.key" --keyring "$d/old.keyring" --created $((now - 99 * 86400)) --until +365 \
    "$d/pub/new.pub"
expect_fail "verify: an expired keyring is refused" 'keyring version 2 expired on' \
    $S verify --keys "$d/keys" --keyring "$d/old.keyring" "$d/www/b.manifest"

# --- the plain folder keeps working ----------------------------------------------------
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/plain/"
sign p "$TEST_KEY"
expect_out "a folder without roots: as before (the keyring beside is not read)" 'good signature by key sha256:[0-9a-f]+$' \
    $S verify --keys "$d/plain" "$d/www/p.manifest"
expect_fail "... and a certified key is unknown to it" 'signature made by unknown key' $S verify --keys "$d/plain" "$d/www/b.manifest"
check "httpfs with the plain folder" try_mount -K "$d/plain" "$U/p.manifest"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
expect_out "a folder with roots and plain keys: a plain key's manifest is good" 'good signature by key sha256:[0-9a-f]+$' \
    $S verify --keys "$d/keys" "$d/www/p.manifest"
check "httpfs: ... too" try_mount -K "$d/keys" --cache "$d/cache" "$U/p.manifest"

# --- the agent: fetch, verify, judge, carry into the target initrd ------------------------
expect_out "agent: the new key's manifest, certified by keyring version 6" \
    'keyring version 6 signed by root key sha256:[0-9a-f]+\.\.\. \(3 keys certified, 1 revoked\)' agent "$d/acache" "$U/b.manifest"
check "agent: the keyring's version in the cache's trust state" \
    grep -qx "keyring $(fp "$d/pub/root.pub") 6 [0-9]*" "$d/acache/trust-state"
expect_fail "agent: the old key's manifest is refused" 'was revoked by keyring version 4' agent "$d/acache" "$U/a.manifest"
out=$d/out1
hsz=$(stat -c %s "$hook")
xorriso -osirrox on -indev "$d/www/live.iso" -extract /live/initrd.img "$d/initrd.img" >/dev/null 2>&1
isz=$(stat -c %s "$d/initrd.img")
mkdir -p "$d/x"
# After the ISO's initrd (padded to 4): the hook payload as it is (padded to 4), then the cpio the agent wrote.
tail -c +$(( (isz + 3) / 4 * 4 + (hsz + 3) / 4 * 4 + 1 )) "$out/initrd" > "$d/tail.cpio"
cpio -it --quiet < "$d/tail.cpio" > "$d/tail.list" 2>/dev/null
for f in inetboot/etc/image.keyring inetboot/etc/image.keyring.sig inetboot/keys/roots/root.pub inetboot/keys/test-only-publisher.pub; do
    check "target initrd carries $f" grep -qx "$f" "$d/tail.list"
done
(cd "$d/x" && cpio -idm --quiet < "$d/tail.cpio" 2>/dev/null)
check "... the keyring as published" cmp -s "$d/x/inetboot/etc/image.keyring" "$KR"
check "hook: it passes --keyring to inetboot-httpfs" bash -c "zstd -dqc '$hook' | cpio -i --quiet --to-stdout inetboot/hook 2>/dev/null |
    grep -q -- '--keyring /inetboot/etc/image.keyring'"
# What the hook runs, on the host: the carried keys, keyring, manifest and signature.
check "the booted system's mount accepts the certified key's manifest" \
    try_mount -K "$d/x/inetboot/keys" --keyring "$d/x/inetboot/etc/image.keyring" --sig "$d/x/inetboot/etc/image.manifest.sig" \
    -m "$U/live.iso" "$d/x/inetboot/etc/image.manifest"
check "... and without the keyring it would not" \
    mount_fails "unknown key.*nor is a keyring" -K "$d/x/inetboot/keys" --sig "$d/x/inetboot/etc/image.manifest.sig" \
    "$d/x/inetboot/etc/image.manifest"
cp "$d/keyring.v2" "$d/www/inetboot.keyring"; cp "$d/keyring.v2.sig" "$d/www/inetboot.keyring.sig"
expect_fail "agent: keyring version 2 after 6 refused" 'keyring version 2 is older than version 6 seen on' agent "$d/acache" "$U/a.manifest"
publish

# --- the TPM keeps the keyring's version too: no cache is no way around it ---------------
if command -v swtpm >/dev/null && swtpm2_start "$d/tpm"; then
    expect_out "TPM: keyring version 6 accepted with no cache, its floor kept in NV" 'kept by the TPM' \
        env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=100 agent '' '$U/b.manifest'"
    cp "$d/keyring.v2" "$d/www/inetboot.keyring"; cp "$d/keyring.v2.sig" "$d/www/inetboot.keyring.sig"
    expect_fail "TPM: keyring version 2 refused with no cache" 'keyring version 2 is older than version 6 the TPM keeps' \
        env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=110 agent '' '$U/a.manifest'"
    publish
    swtpm_stop
else
    echo "skip - no swtpm: the TPM's keyring floor is not tested"
fi
nginx_stop
finish
