#!/usr/bin/env bash
# Old and expired manifests (docs/signatures.md): inetboot-sign make
# --expires writes a version 2 manifest that verify, show, inetboot-httpfs
# and the agent refuse once expired; a client with a cache keeps the highest
# serial per publisher and image in DIR/trust-state and refuses a lower one
# (httpfs and agent alike, the agent before its cached copy is replaced),
# unless the owner says --allow-rollback / inetboot.allow-rollback.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/swtpm.sh"
requires inetboot-httpfs inetboot-sign inetboot-agent fusermount3 nginx xorriso cpio swtpm tpm2_nvread
[ -e /dev/fuse ] || { echo "skip - no /dev/fuse"; exit 77; }
scratch d
S=inetboot-sign
mkdir -p "$d/www" "$d/keys" "$d/cache" "$d/acache"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
hook=$BUILD/initramfs-test/hook.cpio.zst
[ -r "$hook" ] || { not_ok "the hook payload $hook (make initramfs-test builds it)"; finish; }
"$IB_SRCDIR/tests/lib/mkminilive" "$d/www/live.iso" || { not_ok "build the minilive ISO"; finish; }
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
U=http://127.0.0.1:$NGINX_PORT
now=$(date +%s)

sign() {  # sign NAME ARGS...: www/NAME.manifest of live.iso
    local n=$1
    shift
    $S -q make --key "$TEST_KEY" --block-size 64K --url "$U/live.iso" --name live.iso "$@" "$d/www/live.iso" \
        -o "$d/www/$n.manifest"
}
# try_mount MNT ARGS...: inetboot-httpfs in the foreground; 0 once mounted (then unmounted), else its exit
try_mount() {
    local mnt=$1 pid i
    shift
    mkdir -p "$mnt"
    : > "$d/httpfs.err"
    inetboot-httpfs -f --keys "$d/keys" "$@" "$mnt" 2>"$d/httpfs.err" &
    pid=$!
    for i in $(seq 100); do
        if mountpoint -q "$mnt"; then fusermount3 -u "$mnt"; wait $pid; return 0; fi
        kill -0 $pid 2>/dev/null || { wait $pid; return $(( $? ? $? : 1 )); }
        sleep 0.1
    done
    kill $pid; wait $pid; return 1
}
runs=0
agent() {  # agent CACHE URL [WORDS...]: a dry run, with the cache DIR
    local cache=$1 url=$2
    shift 2
    runs=$((runs + 1))
    inetboot-agent --dry-run --out "$d/out$runs" --work "$d/work$runs" -K "$d/keys" --hook "$hook" \
        ${cache:+--cache "$cache"} ${TPM:+--tpm "$TPM"} --modalias virtio:d00000001v00001AF4 --cmdline "inetboot.url=$url $*"
}

# --- expiry ------------------------------------------------------------------------
sign fresh --expires +30
check "--expires writes a version 2 manifest" grep -qx 'inetboot-manifest 2' <(head -n 1 "$d/www/fresh.manifest")
check "... with its expiry after created" \
    test "$(sed -n 's/^expires //p' "$d/www/fresh.manifest")" = $(( $(sed -n 's/^created //p' "$d/www/fresh.manifest") + 30 * 86400 ))
sign plain
check "without --expires it stays version 1" grep -qx 'inetboot-manifest 1' <(head -n 1 "$d/www/plain.manifest")
sign dated --created 1767225600 --expires 2030-01-01
check "--expires DATE: midnight UTC" grep -qx 'expires 1893456000' "$d/www/dated.manifest"
expect_fail "--expires before the creation is refused" 'is not after the creation time' \
    $S make --key "$TEST_KEY" --created 1767225600 --expires 2025-01-01 "$d/www/live.iso" -o "$d/x.manifest"
expect_fail "--expires nonsense is refused" "bad --expires 'soon'" \
    $S make --key "$TEST_KEY" --expires soon "$d/www/live.iso" -o "$d/x.manifest"
expect_out "a past expiry: make warns" 'expires on 2020-01-31 00:00:00 UTC, which has passed' \
    $S make --key "$TEST_KEY" --block-size 64K --url "$U/live.iso" --name live.iso --created 1577836800 --expires +30 \
    "$d/www/live.iso" -o "$d/www/old.manifest"
expect_out "verify: a valid expiry is fine" 'good signature' $S verify --keys "$d/keys" "$d/www/fresh.manifest"
expect_out "show: the expiry" 'expires +20[0-9-]+ [0-9:]+ UTC$' $S show "$d/www/fresh.manifest"
expect_out "show: an expired manifest says so" 'expires +2020-01-31 00:00:00 UTC \(expired: clients refuse it\)' \
    $S show "$d/www/old.manifest"
expect_fail "verify: an expired manifest is refused" 'manifest of live.iso expired on 2020-01-31 00:00:00 UTC' \
    $S verify --keys "$d/keys" "$d/www/old.manifest"
check "httpfs mounts a manifest that has not expired" try_mount "$d/m" "$U/fresh.manifest"
try_mount "$d/m" "$U/old.manifest"
check "httpfs refuses an expired manifest (exit 1)" test $? = 1
check "... saying when it expired" grep -q 'manifest of live.iso expired on 2020-01-31 00:00:00 UTC (the time now is' "$d/httpfs.err"
check "... and not mounted" bash -c "! mountpoint -q '$d/m'"
expect_fail "agent: an expired manifest stops the boot" 'expired on 2020-01-31 00:00:00 UTC' agent "$d/acache" "$U/old.manifest"
check "agent: the expired manifest was not kept in the cache" bash -c "! grep -rqs 'created 1577836800' '$d/acache/manifests'"

# --- rollback: httpfs with a cache -------------------------------------------------------
sign new --serial 200 --created "$now"
sign older --serial 100 --created $((now - 86400))
check "httpfs with a cache: serial 200 mounts" try_mount "$d/m" --cache "$d/cache" "$U/new.manifest"
check "... and the cache's trust state holds its floor" \
    grep -qE "^serial [0-9a-f]{64} 200 [0-9]+ live.iso$" "$d/cache/trust-state"
try_mount "$d/m" --cache "$d/cache" "$U/older.manifest"
check "httpfs refuses serial 100 after 200 (exit 1)" test $? = 1
check "... naming both serials and when the higher was seen" \
    grep -qE 'serial 100, older than serial 200 accepted on 20[0-9-]+ [0-9:]+ UTC: refusing a rollback' "$d/httpfs.err"
check "... and the owner's way out" grep -q -- '--allow-rollback' "$d/httpfs.err"
cp "$d/cache/trust-state" "$d/state.before"
expect_fail "verify --cache: serial 100 refused against the cache's floor" \
    'serial 100, older than serial 200 accepted on 20[0-9-]+ [0-9:]+ UTC: refusing a rollback' \
    $S verify --keys "$d/keys" --cache "$d/cache" "$d/www/older.manifest"
expect_out "verify --cache: serial 200 is fine" 'good signature' $S verify --keys "$d/keys" --cache "$d/cache" "$d/www/new.manifest"
check "verify --cache reads the trust state, never writes it" cmp -s "$d/cache/trust-state" "$d/state.before"
check "httpfs without the cache has no floor: serial 100 mounts" try_mount "$d/m" "$U/older.manifest"
check "the same serial again mounts" try_mount "$d/m" --cache "$d/cache" "$U/new.manifest"
check "--allow-rollback takes serial 100" try_mount "$d/m" --cache "$d/cache" --allow-rollback "$U/older.manifest"
check "... says so" grep -q 'serial 100 accepted below serial 200' "$d/httpfs.err"
check "... and lowers the floor" grep -qE "^serial [0-9a-f]{64} 100 [0-9]+ live.iso$" "$d/cache/trust-state"
cp "$d/cache/trust-state" "$d/state.good"
echo "serial nonsense" >> "$d/cache/trust-state"
try_mount "$d/m" --cache "$d/cache" "$U/new.manifest"
check "a damaged trust state stops the mount (exit 1)" test $? = 1
check "... naming the file and the line" grep -q "$d/cache/trust-state: damaged trust state, line 4" "$d/httpfs.err"
cp "$d/state.good" "$d/cache/trust-state"

# --- rollback: the agent (dry run) with a cache ----------------------------------------
expect_out "agent: serial 200 accepted" 'manifest signature good' agent "$d/acache" "$U/new.manifest"
check "agent: its floor in the cache's trust state" grep -qE "^serial [0-9a-f]{64} 200 [0-9]+ live.iso$" "$d/acache/trust-state"
kept=$(grep -l '^serial 200$' "$d/acache"/manifests/*.manifest 2>/dev/null | head -n 1)
check "agent: the manifest kept in the cache" test -n "$kept"
# The older manifest at the same URL, as a mirror replaying it would serve it.
cp "$d/www/new.manifest" "$d/new.manifest.saved"; cp "$d/www/new.manifest.sig" "$d/new.manifest.sig.saved"
cp "$d/www/older.manifest" "$d/www/new.manifest"; cp "$d/www/older.manifest.sig" "$d/www/new.manifest.sig"
expect_fail "agent: serial 100 after 200 refused" \
    'serial 100, older than serial 200 accepted on 20[0-9-]+ [0-9:]+ UTC: refusing a rollback' agent "$d/acache" "$U/new.manifest"
check "agent: the cached manifest is still serial 200" grep -qx 'serial 200' "$kept"
expect_out "agent: inetboot.allow-rollback takes it" 'inetboot.allow-rollback: serial 100 accepted below serial 200' \
    agent "$d/acache" "$U/new.manifest" inetboot.allow-rollback
check "agent: ... and the cache now holds it" grep -qx 'serial 100' "$kept"
cp "$d/new.manifest.saved" "$d/www/new.manifest"; cp "$d/new.manifest.sig.saved" "$d/www/new.manifest.sig"

# --- the TPM keeps the floor: wiping the cache does not reset it -----------------------
swtpm2_start "$d/tpm" || { not_ok "start swtpm 2.0"; finish; }
nvidx=0x01494200
expect_out "TPM: serial 200 accepted, its floor kept in NV" "rollback floor of live.iso: serial 200, kept by the TPM \(NV $nvidx\)" \
    env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=100 agent '$d/tcache' '$U/new.manifest'"
check "TPM: the NV index holds inetboot's floors" \
    test "$(tpm2_nvread -T "${SWTPM_SPEC#tpm2:}" -s 4 $nvidx 2>/dev/null)" = IBF1
rm -rf "$d/tcache"
expect_fail "TPM: with the cache wiped, serial 100 is still refused" \
    'serial 100, older than serial 200 the TPM keeps as accepted before: refusing a rollback' \
    env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=110 agent '$d/tcache' '$U/older.manifest'"
expect_fail "TPM: ... and without any cache" 'the TPM keeps as accepted before' \
    env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=120 agent '' '$U/older.manifest'"
expect_out "without the TPM and the cache wiped nothing remembers serial 200" 'manifest signature good' \
    agent "$d/tcache2" "$U/older.manifest"
expect_out "TPM: the owner's override lowers the TPM's floor" 'serial 100 accepted below serial 200' \
    env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=130 agent '' '$U/older.manifest' inetboot.allow-rollback"
expect_out "TPM: serial 100 is then the floor" 'manifest signature good' \
    env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=140 agent '' '$U/older.manifest'"
printf 'garbage' > "$d/garbage"
tpm2_nvwrite -T "${SWTPM_SPEC#tpm2:}" -i "$d/garbage" $nvidx 2>/dev/null
expect_fail "TPM: a damaged NV index stops the boot and says how to reset it" "tpm2_nvundefine $nvidx" \
    env TPM="$SWTPM_SPEC" bash -c "$(declare -f agent); d='$d' hook='$hook' runs=150 agent '' '$U/older.manifest'"
swtpm_stop
nginx_stop
finish
