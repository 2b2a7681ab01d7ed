#!/usr/bin/env bash
# inetboot-httpfs on the host: real nginx (and busybox httpd, python's
# http.server), real FUSE mounts, the project's fault-injecting proxy.
# Every read returns the signed bytes or fails with EIO.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/servers.sh"
requires inetboot-httpfs inetboot-sign fusermount3 nginx xorriso cpio curl
[ -e /dev/fuse ] || { echo "skip - no /dev/fuse"; exit 77; }
scratch d
S=inetboot-sign

# mount_fs MNT ARGS...: run inetboot-httpfs -f in the background (PID in FS_PID),
# wait (bounded) until MNT is mounted, unmount at exit.
mount_fs() {
    local mnt=$1 i
    shift
    mkdir -p "$mnt"
    inetboot-httpfs -f --log "$d/httpfs.log" "$@" "$mnt" 2>>"$d/httpfs.err" &
    FS_PID=$!
    disown $FS_PID  # its end (even by kill -9) is checked, not reported by the shell
    cleanup_add "fusermount3 -u -z '$mnt' 2>/dev/null; kill $FS_PID 2>/dev/null"
    for i in $(seq 100); do
        mountpoint -q "$mnt" && return 0
        kill -0 $FS_PID 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
ranges_with() {  # ranges_with FROM-LINE BLOCK: the requests of live.iso after FROM-LINE that hold BLOCK (64 KiB)
    awk -v from="$1" -v o=$(($2 * 65536)) 'NR > from && $2 == "/live.iso" && split($5, r, /[=-]/) == 3 && r[2] + 0 <= o && o <= r[3] + 0' \
        "$NGINX_ACCESS_LOG" | wc -l
}
umount_fs() {
    fusermount3 -u "$1"
    local i
    for i in $(seq 50); do kill -0 "$FS_PID" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}

mkdir -p "$d/www" "$d/bad" "$d/keys"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
"$IB_SRCDIR/tests/lib/mkiso" "$d/www/live.iso"
nginx_start "$d/www"
U=http://127.0.0.1:$NGINX_PORT
$S -q make --key "$TEST_KEY" --block-size 64K --url "$U/live.iso" "$d/www/live.iso" -o "$d/www/live.iso.manifest"
size=$(stat -c %s "$d/www/live.iso")

# --- the basics ----------------------------------------------------------------
check "mount from a manifest URL" mount_fs "$d/m1" --keys "$d/keys" "$U/live.iso.manifest"
check "the image appears under its name" test "$(stat -c %s "$d/m1/live.iso")" = "$size"
check "read-only" bash -c "! touch '$d/m1/live.iso' 2>/dev/null"
before=$(nginx_bytes_sent live.iso)
dd if="$d/m1/live.iso" of="$d/piece" bs=4096 skip=1000 count=1 status=none
after=$(nginx_bytes_sent live.iso)
check "a 4 KiB read is lazy: $((after - before)) bytes fetched (<= 4 blocks: the kernel reads ahead 128 KiB; of $size)" \
    test $((after - before)) -le $((4 * 65536))
check "the bytes read are the image's" cmp -s "$d/piece" <(dd if="$d/www/live.iso" bs=4096 skip=1000 count=1 status=none)
check "the whole image reads back exactly" cmp -s "$d/m1/live.iso" "$d/www/live.iso"
total=$(nginx_bytes_sent live.iso)
check "no block fetched twice in a whole read ($total bytes for $size)" test "$total" -le $((size + 65536 * 2))
if [ "$(id -u)" = 0 ]; then
    check "the kernel reads ahead 1 MiB on the mount (its bdi)" \
        test "$(cat "/sys/class/bdi/$(mountpoint -d "$d/m1")/read_ahead_kb")" = 1024
fi
expect_out "statistics file under the mount" "bytes-read [0-9]+" cat "$d/m1/.inetboot-stats"
expect_out "statistics name the mirror" "mirror $U/live.iso bytes=[0-9]+" cat "$d/m1/.inetboot-stats"
kill -USR1 $FS_PID; sleep 0.5
check "SIGUSR1 writes statistics to the log" grep -q 'verify-failures' "$d/httpfs.log"
check "unmount ends the daemon" umount_fs "$d/m1"

# --- signatures ----------------------------------------------------------------------
mkdir -p "$d/other"; $S -q keygen "$d/other/stranger"; rm "$d/other/stranger.key"
expect_fail "manifest signed by an unknown key: refused" 'unknown key' \
    inetboot-httpfs -f --keys "$d/other" "$U/live.iso.manifest" "$d/m2"
cp "$d/www/live.iso.manifest" "$d/www/edited.manifest"; cp "$d/www/live.iso.manifest.sig" "$d/www/edited.manifest.sig"
sed -i 's/^serial .*/serial 1/' "$d/www/edited.manifest"
expect_fail "an edited manifest: refused" 'changed after signing' \
    inetboot-httpfs -f --keys "$d/keys" "$U/edited.manifest" "$d/m2"
expect_fail "no signature: refused" 'cannot read the manifest.s signature .*HTTP status 404' \
    inetboot-httpfs -f --keys "$d/keys" --sig "$U/none.sig" "$U/live.iso.manifest" "$d/m2"
check "--insecure mounts an unsigned manifest, loudly" mount_fs "$d/m2" --insecure "$U/edited.manifest"
check "--insecure says so" grep -q 'NOT checked' "$d/httpfs.err"
umount_fs "$d/m2"

# --- servers ------------------------------------------------------------------------------
cp "$d/www/live.iso" "$d/bad/live.iso"
pyhttp_start "$d/bad"
expect_fail "a server that ignores Range: a clear error, no hang" 'ignores Range requests' \
    timeout 60 inetboot-httpfs -f --keys "$d/keys" --no-manifest-mirrors --mirror "http://127.0.0.1:$PYHTTP_PORT/live.iso" \
    "$d/www/live.iso.manifest" "$d/m3"
busybox_httpd_start "$d/www"
check "busybox httpd (Connection: close on every answer)" mount_fs "$d/m3" --keys "$d/keys" --no-manifest-mirrors \
    --mirror "http://127.0.0.1:$BUSYBOX_PORT/live.iso" "$d/www/live.iso.manifest"
check "busybox httpd: the whole image reads back exactly" cmp -s "$d/m3/live.iso" "$d/www/live.iso"
umount_fs "$d/m3"

# --- mirrors: failover on bad data, EIO when no copy is good ---------------------------------
mkdir -p "$d/corrupt"
nginx_port1=$NGINX_PORT
cp "$d/www/live.iso" "$d/corrupt/live.iso"
flip_byte "$d/corrupt/live.iso" $((65536 * 40 + 5))
flip_byte "$d/corrupt/live.iso" $((65536 * 90 + 7))
python3 -m http.server --help >/dev/null 2>&1 # warm
busybox_httpd_stop; busybox_httpd_start "$d/corrupt"
C=http://127.0.0.1:$BUSYBOX_PORT/live.iso
check "mount with a corrupt mirror first" mount_fs "$d/m4" --keys "$d/keys" --mirror "$C" "$d/www/live.iso.manifest"
# Nothing measured yet, so the first mirror is preferred: these blocks come from the liar first.
check "failover: a bad block from the preferred mirror is fetched again from the other" cmp -s \
    <(dd if="$d/m4/live.iso" bs=65536 skip=40 count=1 status=none) <(dd if="$d/www/live.iso" bs=65536 skip=40 count=1 status=none)
check "failover: every byte right although the preferred mirror lies" cmp -s "$d/m4/live.iso" "$d/www/live.iso"
expect_out "the lying mirror's bad blocks are counted" "mirror $C .*verify-failures=[1-9]" cat "$d/m4/.inetboot-stats"
check "the log names block, mirror and reason" grep -q "block 40 from $C: SHA-256 does not match" "$d/httpfs.log"
umount_fs "$d/m4"
check "only the corrupt mirror" mount_fs "$d/m5" --keys "$d/keys" --no-manifest-mirrors --mirror "$C" "$d/www/live.iso.manifest"
check "blocks that verify read exactly until the mirror is caught" cmp -s \
    <(dd if="$d/m5/live.iso" bs=65536 skip=41 count=10 status=none) <(dd if="$d/www/live.iso" bs=65536 skip=41 count=10 status=none)
expect_fail "block 40 has no good copy anywhere: EIO" 'Input/output error' \
    dd if="$d/m5/live.iso" of=/dev/null bs=65536 skip=40 count=1 status=none
check "the EIO is logged with block and reason" grep -q 'block 40 (offset 2621440): every mirror has failed for good' "$d/httpfs.log"
# One bad block, the same bytes when fetched again past any cache: its copy is not the signed image.
check "... its mirror distrusted: the same wrong bytes twice" \
    grep -q "mirror $C serves bytes the publisher did not sign (block 40 came twice" "$d/httpfs.log"
expect_fail "... so a block not fetched yet fails at once (EIO)" 'Input/output error' \
    timeout 30 dd if="$d/m5/live.iso" of=/dev/null bs=65536 skip=120 count=1 status=none
umount_fs "$d/m5"

# --- a lying mirror: the same size, ETag and Last-Modified, other bytes -------------------------------
# Changed in place once mounted (the probe pinned its validators), its timestamp put back: only the
# bytes tell.  Bad bytes are not a network error (no back-off loop): a bad block is fetched once more
# from the same mirror past any cache, and the same wrong bytes again (or a run of bad blocks)
# distrust the mirror for the image, said once.  Alone, every read of a block not fetched yet then
# fails at once.  Bounds, not benchmarks: twice the stall timeout (15 s).
cp "$d/www/live.iso" "$d/www/liar.iso"
L=$U/liar.iso
validators() { curl -sfI "$L" | grep -iE '^(etag|last-modified|content-length):' | tr -d '\r' | sort; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
check "a mirror that will lie, alone" mount_fs "$d/m7" --keys "$d/keys" --no-manifest-mirrors --mirror "$L" \
    "$d/www/live.iso.manifest"
check "blocks 0-3 read before it lies" cmp -s <(dd if="$d/m7/live.iso" bs=65536 count=4 status=none) \
    <(dd if="$d/www/live.iso" bs=65536 count=4 status=none)
v0=$(validators)
touch -r "$d/www/liar.iso" "$d/liar.stamp"
head -c $((100 * 65536)) /dev/urandom | dd of="$d/www/liar.iso" bs=65536 seek=40 conv=notrunc status=none
touch -r "$d/liar.stamp" "$d/www/liar.iso"
check "its size, ETag and Last-Modified unchanged ($(echo $v0))" test "$(validators)" = "$v0" -a -n "$v0"
t0=$(date +%s%N)
timeout 120 dd if="$d/m7/live.iso" of=/dev/null bs=65536 skip=60 count=1 status=none 2>"$d/lie.err"
rc=$? ms=$(ms_since "$t0")
check "a read of a block it lies about fails with EIO in $ms ms (bound: 30000)" \
    bash -c "[ $ms -lt 30000 ] && grep -q 'Input/output error' '$d/lie.err'"
t0=$(date +%s%N) n=0
for b in 65 75 85 95 105 115 125 135; do
    timeout 120 dd if="$d/m7/live.iso" of=/dev/null bs=65536 skip=$b count=1 status=none 2>"$d/lie.err"
    grep -q 'Input/output error' "$d/lie.err" && n=$((n + 1))
done
ms=$(ms_since "$t0")
check "8 more reads of blocks not fetched yet: $n EIO, in $ms ms together (bound: 30000)" test "$n" = 8 -a "$ms" -lt 30000
check "the log says once that the mirror serves bytes the publisher did not sign ($(grep -c "mirror $L serves bytes" "$d/httpfs.log"))" \
    test "$(grep -c "mirror $L serves bytes the publisher did not sign" "$d/httpfs.log")" = 1
check "... why: the same wrong bytes twice, or a run of bad blocks" \
    grep -qE "mirror $L serves bytes the publisher did not sign \((block 60 came twice|[0-9]+ blocks in a row)" "$d/httpfs.log"
check "... and no back-off for its bad bytes" bash -c "! grep -q 'mirror $L: .*retrying it in' '$d/httpfs.log'"
expect_out "its statistics say distrusted" "mirror $L .*verify-failures=[1-9][0-9]* .*state=distrusted" cat "$d/m7/.inetboot-stats"
check "blocks verified before the lie still read exactly" cmp -s <(dd if="$d/m7/live.iso" bs=65536 count=4 status=none) \
    <(dd if="$d/www/live.iso" bs=65536 count=4 status=none)
umount_fs "$d/m7"
mark=$(wc -l < "$d/httpfs.log")
check "the liar first, an honest mirror second" mount_fs "$d/m7" --keys "$d/keys" --no-manifest-mirrors --mirror "$L" \
    --mirror "$U/live.iso" "$d/www/live.iso.manifest"
t0=$(date +%s%N)
check "every byte right: the honest mirror serves what the liar does not" timeout 120 cmp -s "$d/m7/live.iso" "$d/www/live.iso"
ms=$(ms_since "$t0")
check "... in $ms ms (bound: 30000)" test "$ms" -lt 30000
check "... the liar distrusted, said once" test "$(tail -n +$((mark + 1)) "$d/httpfs.log" | grep -c "mirror $L serves bytes the publisher did not sign")" = 1
expect_out "... the honest one still in use" "mirror $U/live.iso bytes=[1-9][0-9]* .*state=ok" cat "$d/m7/.inetboot-stats"
umount_fs "$d/m7"

# --- persistent cache ------------------------------------------------------------------------------
check "mount with a cache" mount_fs "$d/m6" --keys "$d/keys" --cache "$d/cache" "$U/live.iso.manifest"
cat "$d/m6/live.iso" > /dev/null
umount_fs "$d/m6"
nfiles=$(find "$d/cache/blocks" -type f | wc -l)
check "the cache holds the image's blocks ($nfiles)" test "$nfiles" -ge $(( (size + 65535) / 65536 - 5 ))
bad_entries=0
for f in $(find "$d/cache/blocks" -type f); do
    [ "$(sha256sum < "$f" | cut -c1-64)" = "${f##*/}" ] || bad_entries=$((bad_entries + 1))
done
check "every cache entry is named by its hash" test "$bad_entries" = 0
nginx_stop
check "server gone: mount from the cache" mount_fs "$d/m7" --keys "$d/keys" --cache "$d/cache" "$d/www/live.iso.manifest"
check "server gone: every byte from the cache" cmp -s "$d/m7/live.iso" "$d/www/live.iso"
umount_fs "$d/m7"
nginx_start "$d/www"; U=http://127.0.0.1:$NGINX_PORT
victim=$(find "$d/cache/blocks" -type f | sort | head -n 1)
flip_byte "$victim" 100
check "mount with a corrupted cache entry" mount_fs "$d/m8" --keys "$d/keys" --cache "$d/cache" --mirror "$U/live.iso" "$d/www/live.iso.manifest"
check "a corrupted cache entry is caught and refetched" cmp -s "$d/m8/live.iso" "$d/www/live.iso"
check "the corrupt entry was dropped and is now right" test "$(sha256sum < "$victim" | cut -c1-64)" = "${victim##*/}"
check "the log says so" grep -q 'is corrupt' "$d/httpfs.log"
umount_fs "$d/m8"
# A bounded cache: a 2 MiB bound for a 9 MiB image.
check "mount with --cache-size 2" mount_fs "$d/m8b" --keys "$d/keys" --cache "$d/cache-small" --cache-size 2 \
    --mirror "$U/live.iso" "$d/www/live.iso.manifest"
check "bounded cache: the image still reads exactly" cmp -s "$d/m8b/live.iso" "$d/www/live.iso"
# The cache writer works behind the reads: wait (bounded) until its queue is empty before counting.
for i in $(seq 100); do grep -qx 'cache-queued-bytes 0' "$d/m8b/.inetboot-stats" && break; sleep 0.1; done
expect_out "bounded cache: evictions counted" 'cache-evictions [1-9]' cat "$d/m8b/.inetboot-stats"
umount_fs "$d/m8b"
cbytes=$(find "$d/cache-small/blocks" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
check "bounded cache: $cbytes bytes on disk <= 2 MiB" test "$cbytes" -le $((2 * 1024 * 1024))

# --- the cache fill: once the readers are quiet, the rest of the image goes into the cache --------------
stat_of() {  # stat_of MNT NAME: a line of the mount's statistics
    awk -v k="$2" '$1 == k { print $2 }' "$1/.inetboot-stats"
}
wait_fill() {  # wait_fill MNT: until the fill has ended (bounded: 30 s)
    local i
    for i in $(seq 300); do
        case $(stat_of "$1" cache-fill) in waiting|filling) sleep 0.1 ;; *) return 0 ;; esac
    done
    return 1
}
rm -rf "$d/cache-fill"
check "mount with a cache, filled after 3 s without a read" mount_fs "$d/m8c" --keys "$d/keys" --cache "$d/cache-fill" \
    --cache-fill 3 --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
# a reader that reads every 0.3 s for 3 s (RAM hits after the first): the fill waits for it
for i in $(seq 10); do dd if="$d/m8c/live.iso" of=/dev/null bs=65536 skip=10 count=2 iflag=direct status=none; sleep 0.3; done
check "while a reader reads, the fill waits ($(stat_of "$d/m8c" cache-fill), $(stat_of "$d/m8c" cache-fill-blocks) blocks)" \
    test "$(stat_of "$d/m8c" cache-fill)" = waiting -a "$(stat_of "$d/m8c" cache-fill-blocks)" = 0
check "the fill ends within 30 s of the last read" wait_fill "$d/m8c"
check "... having cached the whole image ($(stat_of "$d/m8c" cache-fill), $(stat_of "$d/m8c" cache-missing) blocks missing)" \
    test "$(stat_of "$d/m8c" cache-fill)" = done -a "$(stat_of "$d/m8c" cache-missing)" = 0
fbytes=$(awk -v from="$before" 'NR > from && $2 == "/live.iso" { n += $4 } END { print n + 0 }' "$NGINX_ACCESS_LOG")
check "... fetching each block once ($fbytes bytes for $size)" test "$fbytes" -le "$size"
check "... and the log says so" grep -q 'the whole image is in the cache; the fill fetched' "$d/httpfs.log"
umount_fs "$d/m8c"
nginx_stop
check "server gone: mount with the filled cache" mount_fs "$d/m8d" --keys "$d/keys" --cache "$d/cache-fill" \
    --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
check "server gone: every byte from the filled cache" cmp -s "$d/m8d/live.iso" "$d/www/live.iso"
umount_fs "$d/m8d"
nginx_start "$d/www"; U=http://127.0.0.1:$NGINX_PORT
# bounded: the fill stops where the cache would have to evict, never evicting
rm -rf "$d/cache-fill2"
check "mount with a 2 MiB cache, filled at once" mount_fs "$d/m8e" --keys "$d/keys" --cache "$d/cache-fill2" --cache-size 2 \
    --cache-fill 0 --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
check "the bounded fill ends" wait_fill "$d/m8e"
check "... at the bound ($(stat_of "$d/m8e" cache-fill), $(stat_of "$d/m8e" cache-bytes) bytes, $(stat_of "$d/m8e" cache-evictions) evictions)" \
    test "$(stat_of "$d/m8e" cache-fill)" = full -a "$(stat_of "$d/m8e" cache-evictions)" = 0 -a \
    "$(stat_of "$d/m8e" cache-bytes)" -le $((2 << 20)) -a "$(stat_of "$d/m8e" cache-bytes)" -gt $((1 << 20))
umount_fs "$d/m8e"
# off: only what is read is cached
rm -rf "$d/cache-fill3"
check "mount with --cache-fill off" mount_fs "$d/m8f" --keys "$d/keys" --cache "$d/cache-fill3" --cache-fill off \
    --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
dd if="$d/m8f/live.iso" of=/dev/null bs=65536 skip=10 count=1 iflag=direct status=none
sleep 1.5
check "--cache-fill off: after the read, nothing more is fetched ($(awk -v from="$before" 'NR > from' "$NGINX_ACCESS_LOG" | wc -l) requests, fill $(stat_of "$d/m8f" cache-fill))" \
    test "$(awk -v from="$before" 'NR > from' "$NGINX_ACCESS_LOG" | wc -l)" = 1 -a "$(stat_of "$d/m8f" cache-fill)" = off
umount_fs "$d/m8f"
expect_fail "--cache-fill takes seconds or off" "bad --cache-fill 'soon'" inetboot-httpfs --cache-fill soon "$d/www/live.iso.manifest" "$d/m8f"
# A daemon killed while it fills the cache leaves no partial entry.
rm -rf "$d/cache2"
mount_fs "$d/m9" --keys "$d/keys" --cache "$d/cache2" --mirror "$U/live.iso" "$d/www/live.iso.manifest"
( cat "$d/m9/live.iso" > /dev/null 2>&1 & ); sleep 0.2
kill -9 $FS_PID; sleep 0.2; fusermount3 -u -z "$d/m9" 2>/dev/null
bad_entries=0
for f in $(find "$d/cache2/blocks" -type f -name '[0-9a-f]*' ! -name '*.tmp-*'); do
    [ "$(sha256sum < "$f" | cut -c1-64)" = "${f##*/}" ] || bad_entries=$((bad_entries + 1))
done
check "killed mid-fill: no corrupt cache entry" test "$bad_entries" = 0

# --- daemon mode, root-storage daemon ---------------------------------------------------------------
mkdir -p "$d/m10"
inetboot-httpfs --keys "$d/keys" --log "$d/daemon.log" --root-daemon --mirror "$U/live.iso" "$U/live.iso.manifest" "$d/m10"
cleanup_add "fusermount3 -u -z '$d/m10' 2>/dev/null"
check "daemonized: the mount is ready when the command returns" cmp -s "$d/m10/live.iso" "$d/www/live.iso"
dpid=$(for p in /proc/[0-9]*; do { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q "$d/m10" && echo "${p#/proc/}"; done | head -n 1)
check "--root-daemon: argv[0] starts with '@'" bash -c "head -c 1 /proc/$dpid/cmdline | grep -q @"
check "--root-daemon: memory locked" grep -q 'VmLck:[[:space:]]*[1-9]' "/proc/$dpid/status"
fusermount3 -u "$d/m10"

# --- faults: a long randomised run through the fault-injecting proxy ------------------------------------
# 96 MiB of random data in 64 KiB blocks, so that most reads go to the network.
head -c $((96 * 1024 * 1024)) /dev/urandom > "$d/www/random.img"
$S -q make --key "$TEST_KEY" --block-size 64K --no-scan "$d/www/random.img" -o "$d/www/random.img.manifest"
# At least 1000 faults a run: 3800 reads (each from the file system: randread.py drops the page
# cache) at a fault rate of 0.25, about 50 s; flipped bits among them are damage on the way, which
# costs a second fetch and never distrusts the mirror.
faultproxy_start "$NGINX_PORT" --faults flip,truncate,badrange,5xx,reset --rate 0.25 --seed 7
FPU=http://127.0.0.1:$FAULTPROXY_PORT/random.img
mount_fs "$d/m11" --keys "$d/keys" --mirror "$FPU" --ram-cache 1 --readahead 0 "$d/www/random.img.manifest"
t0=$SECONDS
out=$(python3 "$IB_SRCDIR/tests/lib/randread.py" "$d/m11/random.img" "$d/www/random.img" 3800 11 200000 2>&1)
rc=$?
faults=$(faultproxy_stats faults) flips=$(faultproxy_stats flip)
check "randomised reads through injected faults: exact bytes or EIO ($out, $faults faults, $((SECONDS - t0)) s)" test "$rc" = 0
check "at least 1000 faults injected ($faults, $flips flipped bits)" test "$faults" -ge 1000
exact=$(grep -oE 'exact=[0-9]+' <<<"$out"); exact=${exact#exact=}
check "... and nearly every read exact ($exact of 3800): the mirror was never distrusted for a flipped bit" \
    bash -c "[ '${exact:-0}' -ge 3700 ] && ! grep -q 'mirror $FPU serves bytes' '$d/httpfs.log'"
umount_fs "$d/m11"
# Requests receive into RAM-cache slots; an image of three blocks has three slots, fewer than a
# request of all three may reserve (half), so that one is received into its own buffer instead.
head -c $((3 * 65536 - 1000)) /dev/urandom > "$d/www/tiny.img"
$S -q make --key "$TEST_KEY" --block-size 64K --no-scan "$d/www/tiny.img" -o "$d/www/tiny.img.manifest"
mount_fs "$d/m11" --keys "$d/keys" --no-manifest-mirrors --mirror "$U/tiny.img" "$d/www/tiny.img.manifest"
check "an image with fewer RAM-cache slots than a request has blocks reads exactly" cmp -s "$d/m11/tiny.img" "$d/www/tiny.img"
umount_fs "$d/m11"
# A server that goes away for a while: reads block, then complete.
mount_fs "$d/m12" --keys "$d/keys" --no-manifest-mirrors --mirror "http://127.0.0.1:$FAULTPROXY_PORT/live.iso" \
    --readahead 0 "$d/www/live.iso.manifest"
faultproxy_stop
faultproxy_start "$NGINX_PORT" --rate 0
mount_fs "$d/m13" --keys "$d/keys" --no-manifest-mirrors --mirror "http://127.0.0.1:$FAULTPROXY_PORT/live.iso" \
    --readahead 0 "$d/www/live.iso.manifest"
faultproxy_down
( dd if="$d/m13/live.iso" of="$d/during-outage" bs=65536 skip=100 count=4 status=none; echo $? > "$d/outage.rc" ) &
sleep 30
check "while the server is down the read waits" test ! -e "$d/outage.rc"
faultproxy_up
for i in $(seq 100); do [ -e "$d/outage.rc" ] && break; sleep 0.2; done
check "server back after 30 s: the read completes without error" test "$(cat "$d/outage.rc" 2>/dev/null)" = 0
check "and returns the right bytes" cmp -s "$d/during-outage" <(dd if="$d/www/live.iso" bs=65536 skip=100 count=4 status=none)
umount_fs "$d/m13"
# A block damaged on the way once (a bit flipped by the proxy, not the mirror's copy): fetched again
# from the same mirror, past any cache, it verifies, and the mirror stays trusted.
faultproxy_stop
faultproxy_start "$NGINX_PORT" --faults flip --rate 1 --max-faults 1 --clean-first 1
FPU=http://127.0.0.1:$FAULTPROXY_PORT/live.iso
mount_fs "$d/m14" --keys "$d/keys" --no-manifest-mirrors --mirror "$FPU" --readahead 0 --kernel-readahead 0 \
    "$d/www/live.iso.manifest"
mark=$(wc -l < "$d/httpfs.log")
check "a block damaged on the way once reads exactly" cmp -s \
    <(dd if="$d/m14/live.iso" bs=65536 skip=40 count=1 iflag=direct status=none) <(dd if="$d/www/live.iso" bs=65536 skip=40 count=1 status=none)
check "... the proxy flipped one bit ($(faultproxy_stats flip))" test "$(faultproxy_stats flip)" = 1
check "... it was fetched again past any cache (Cache-Control: no-cache)" \
    grep -q 'range="bytes=2621440-2686975" cache-control="no-cache"' "$FAULTPROXY_LOG"
check "... which the log explains" grep -q "block 40 from $FPU: matches the manifest when fetched again" "$d/httpfs.log"
check "... the mirror still trusted: every byte reads exactly" cmp -s "$d/m14/live.iso" "$d/www/live.iso"
check "... and never said to lie" bash -c "! tail -n +$((mark + 1)) '$d/httpfs.log' | grep -q 'serves bytes the publisher did not sign'"
umount_fs "$d/m14"
# A block is served once it is verified, not when its whole request ends: one direct read of blocks
# 40-47 is one request, which the proxy stalls for 20 s after 2.5 blocks (the probe's one block
# passes).  Blocks 40 and 41 read at once meanwhile; after the stall, one request fetches 42-47.
faultproxy_stop
faultproxy_start "$NGINX_PORT" --faults stall --rate 1 --max-faults 1 --stall-after $((5 * 32768)) --stall-seconds 20
mount_fs "$d/m13" --keys "$d/keys" --no-manifest-mirrors --mirror "http://127.0.0.1:$FAULTPROXY_PORT/live.iso" \
    --readahead 0 --kernel-readahead 0 "$d/www/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
( dd if="$d/m13/live.iso" of="$d/stalled" bs=512K skip=5 count=1 iflag=direct status=none; echo $? > "$d/stalled.rc" ) &
for i in $(seq 100); do grep -q 'fault=stall' "$FAULTPROXY_LOG" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s%N)
timeout 10 dd if="$d/m13/live.iso" of="$d/early" bs=64K skip=40 count=2 iflag=direct status=none
ms=$((($(date +%s%N) - t0) / 1000000))
check "blocks of a stalled request read once verified (40-41 in $ms ms, the request still stalled)" \
    bash -c "[ $ms -lt 5000 ] && [ ! -e '$d/stalled.rc' ]"
check "... exactly" cmp -s "$d/early" <(dd if="$d/www/live.iso" bs=64K skip=40 count=2 status=none)
for i in $(seq 300); do [ -e "$d/stalled.rc" ] && break; sleep 0.1; done
check "the stalled read completes after the stall, exactly" \
    bash -c "[ \"\$(cat '$d/stalled.rc' 2>/dev/null)\" = 0 ] && cmp -s '$d/stalled' <(dd if='$d/www/live.iso' bs=512K skip=5 count=1 status=none)"
retry=$(awk -v from="$before" 'NR > from && $2 == "/live.iso" { gsub(/"/, "", $5); print $5 }' "$NGINX_ACCESS_LOG" | tail -n 1)
check "... by one request for the blocks not yet served, 42-47 ($retry)" test "$retry" = "bytes=$((42 * 65536))-$((48 * 65536 - 1))"
umount_fs "$d/m13"

# --- boot profile: recorded from reads, signed into the manifest, prefetched -------------------------
check "mount recording a boot profile" mount_fs "$d/m21" --keys "$d/keys" --record-profile "$d/profile" --kernel-readahead 0 \
    --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
# Blocks 30-49 in order (1.25 MiB: inetboot-httpfs reads ahead past 49, which is not a read), then
# 100, then 5, then 30-39 again.  Direct reads, one at a time: the kernel's readahead would send
# its requests in parallel, and the profile records them in the order they come.
ra_from=$(wc -l < "$NGINX_ACCESS_LOG")
dd if="$d/m21/live.iso" of=/dev/null bs=65536 skip=30 count=20 iflag=direct status=none
for i in $(seq 50); do [ "$(ranges_with "$ra_from" 50)" -gt 0 ] && break; sleep 0.1; done
dd if="$d/m21/live.iso" of=/dev/null bs=65536 skip=100 count=1 iflag=direct status=none
dd if="$d/m21/live.iso" of=/dev/null bs=65536 skip=5 count=1 iflag=direct status=none
dd if="$d/m21/live.iso" of=/dev/null bs=65536 skip=30 count=10 iflag=direct status=none
umount_fs "$d/m21"
prof=$(tr '\n' ' ' < "$d/profile")
check "the profile is the blocks read, first-asked order, once each: 30-49, 100, 5 ($prof)" \
    test "$prof" = "$(echo $(seq 30 49) 100 5) "
check "inetboot-httpfs read ahead past 49 ($(ranges_with "$ra_from" 50) requests hold block 50), and that is not in it" \
    test "$(ranges_with "$ra_from" 50)" -gt 0
$S -q make --key "$TEST_KEY" --block-size 64K --url "$U/live.iso" --profile "$d/profile" "$d/www/live.iso" -o "$d/www/profiled.manifest"
n_prof=$(wc -l < "$d/profile")
check "inetboot-sign puts it in the manifest" grep -qE '^profile 30-49 ' "$d/www/profiled.manifest"
expect_out "inetboot-sign show counts it" "profile +$n_prof blocks to prefetch" $S show "$d/www/profiled.manifest"
before=$(nginx_bytes_sent live.iso)
# (no readahead, its own or the kernel's beyond 128 KiB, so that every block fetched is the profile's)
check "mount the profiled manifest" mount_fs "$d/m22" --keys "$d/keys" --readahead 0 --kernel-readahead 0 "$U/profiled.manifest"
for i in $(seq 50); do
    [ $(( $(nginx_bytes_sent live.iso) - before )) -ge $(( (n_prof + 1) * 65536 )) ] && break
    sleep 0.1
done
fetched=$(( $(nginx_bytes_sent live.iso) - before ))
check "the profile's $n_prof blocks are fetched before anything is read ($fetched bytes)" \
    bash -c "[ $fetched -ge $(( n_prof * 65536 )) ] && grep -qx 'bytes-read 0' '$d/m22/.inetboot-stats'"
check "... and no more than them and the probe's block 0" test "$fetched" -le $(( (n_prof + 1) * 65536 ))
before=$(nginx_bytes_sent live.iso)
check "the profiled blocks read exactly" cmp -s <(dd if="$d/m22/live.iso" bs=65536 skip=30 count=10 status=none) \
    <(dd if="$d/www/live.iso" bs=65536 skip=30 count=10 status=none)
dd if="$d/m22/live.iso" of=/dev/null bs=65536 skip=100 count=1 status=none
dd if="$d/m22/live.iso" of=/dev/null bs=65536 skip=5 count=1 status=none
check "... and so do 100 and 5, all from RAM: nothing more fetched" test "$(nginx_bytes_sent live.iso)" = "$before"
umount_fs "$d/m22"
before=$(nginx_bytes_sent live.iso)
check "--no-profile" mount_fs "$d/m23" --keys "$d/keys" --no-profile "$U/profiled.manifest"
sleep 1
check "--no-profile: only the probe's block 0 fetched" test $(( $(nginx_bytes_sent live.iso) - before )) -le 65536
umount_fs "$d/m23"
# Within the profile nothing is read ahead: a profile of blocks 50-69, read in order with readahead on,
# fetches no block after 69 (readahead alone would fetch up to 8 more).
seq 50 69 > "$d/profile-run"
mkdir -p "$d/www/run" && ln -sf ../live.iso "$d/www/run/live.iso"
$S -q make --key "$TEST_KEY" --block-size 64K --url "$U/run/live.iso" --profile "$d/profile-run" "$d/www/live.iso" -o "$d/www/run/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
check "mount a manifest whose profile is blocks 50-69, with readahead" mount_fs "$d/m24" --keys "$d/keys" --kernel-readahead 0 "$U/run/live.iso.manifest"
check "a sequential read of the profile's blocks is exact" cmp -s <(dd if="$d/m24/live.iso" bs=65536 skip=50 count=20 iflag=direct status=none) \
    <(dd if="$d/www/live.iso" bs=65536 skip=50 count=20 status=none)
sleep 0.5
ahead=$(for b in 70 71 72 73 74 75 76 77; do awk -v from="$before" -v o=$((b * 65536)) \
    'NR > from && $2 == "/run/live.iso" && split($5, r, /[=-]/) == 3 && r[2] + 0 <= o && o <= r[3] + 0' "$NGINX_ACCESS_LOG"; done | wc -l)
check "... and nothing after it was read ahead ($ahead requests hold 70-77)" test "$ahead" = 0
umount_fs "$d/m24"
expect_fail "a profile file that cannot be written: a clear error" 'cannot record the boot profile in /nonexistent/p' \
    inetboot-httpfs -f --keys "$d/keys" --record-profile /nonexistent/p "$d/www/live.iso.manifest" "$d/m23"

# --- block stores: content-addressed zstd block files ----------------------------------------------
$S -q make --key "$TEST_KEY" --block-size 64K --store "$U/store/" --blocks "$d/www/store" \
    "$d/www/live.iso" -o "$d/www/stored.manifest"
nblk=$(grep -c '^[0-9a-f]\{64\}$' "$d/www/stored.manifest")
nfiles=$(find "$d/www/store" -name '*.zst' | wc -l)
check "--blocks: one file per distinct block ($nfiles for $nblk blocks)" \
    test "$nfiles" = "$(grep '^[0-9a-f]\{64\}$' "$d/www/stored.manifest" | sort -u | wc -l)"
f=$(find "$d/www/store" -name '*.zst' | head -n 1)
check "a block file is zstd of the block its name hashes" test "$(zstd -dc "$f" | sha256sum | cut -c1-64).zst" = "${f##*/}"
check "a store as the only source" mount_fs "$d/m18" --keys "$d/keys" "$U/stored.manifest"
check "block store: exact bytes" cmp -s "$d/m18/live.iso" "$d/www/live.iso"
check "block store: fetched as block files" test "$(nginx_requests /store/)" -ge 10
expect_out "block store: shown as such" "mirror $U/store/ .*kind=store" cat "$d/m18/.inetboot-stats"
umount_fs "$d/m18"
# A store with a damaged and a missing block, beside a raw mirror: both are fetched right from the mirror.
cp -r "$d/www/store" "$d/www/store2"
b0=$(grep -m1 '^[0-9a-f]\{64\}$' "$d/www/stored.manifest")   # block 0 is what the start-up probe reads: spare it
victims=$(find "$d/www/store2" -name '*.zst' | grep -v "$b0" | sort | head -n 2)
v1=$(echo "$victims" | head -n 1) v2=$(echo "$victims" | tail -n 1)
printf 'garbage' > "$v1"; rm "$v2"
check "a damaged store first, a raw mirror second" mount_fs "$d/m19" --keys "$d/keys" --no-manifest-mirrors \
    --store "$U/store2" --mirror "$U/live.iso" "$d/www/stored.manifest"
# Read the two victims first, while the store (first given) is still the preferred source.
for v in "$v1" "$v2"; do
    h=${v##*/}; h=${h%.zst}
    idx=$(grep '^[0-9a-f]\{64\}$' "$d/www/stored.manifest" | grep -nx "$h" | head -n 1 | cut -d: -f1)
    dd if="$d/m19/live.iso" of=/dev/null bs=65536 skip=$((idx - 1)) count=1 status=none
done
check "damaged and missing block files: exact bytes from the other mirror" cmp -s "$d/m19/live.iso" "$d/www/live.iso"
check "the damaged block file was caught" grep -q "from $U/store2: SHA-256 does not match" "$d/httpfs.log"
umount_fs "$d/m19"
check "the damaged store alone" mount_fs "$d/m20" --keys "$d/keys" --no-manifest-mirrors --store "$U/store2" \
    "$d/www/stored.manifest"
h=${v2##*/}; h=${h%.zst}
idx=$(grep '^[0-9a-f]\{64\}$' "$d/www/stored.manifest" | grep -nx "$h" | head -n 1 | cut -d: -f1)
expect_fail "a block missing from the only store: EIO" 'Input/output error' \
    dd if="$d/m20/live.iso" of=/dev/null bs=65536 skip=$((idx - 1)) count=1 status=none
check "the missing block file is named in the log" grep -q 'the block store has no such block' "$d/httpfs.log"
umount_fs "$d/m20"

# --- a mirror that goes away mid-read: the read completes from another ---------------------------------
faultproxy_stop
faultproxy_start "$NGINX_PORT" --rate 0
FP1=$FAULTPROXY_PORT FP1_PID=$FAULTPROXY_PID
mount_fs "$d/m15" --keys "$d/keys" --no-manifest-mirrors --mirror "http://127.0.0.1:$FP1/random.img" \
    --mirror "$U/random.img" --readahead 0 "$d/www/random.img.manifest"
# One open file, read in two parts; the preferred mirror (the proxy, measured first) vanishes in between.
exec 9<"$d/m15/random.img"
dd bs=65536 count=200 status=none <&9 > "$d/midread"
faultproxy_down
dd bs=65536 count=400 status=none <&9 >> "$d/midread"
echo $? > "$d/midread.rc"
exec 9<&-
check "a mirror gone mid-read: the read completes from the other" test "$(cat "$d/midread.rc" 2>/dev/null)" = 0
check "a mirror gone mid-read: exact bytes" cmp -s "$d/midread" <(dd if="$d/www/random.img" bs=65536 count=600 status=none)
expect_out "the other mirror served the rest" "mirror $U/random.img bytes=[1-9]" cat "$d/m15/.inetboot-stats"
umount_fs "$d/m15"
faultproxy_up

# --- HTTPS with CA verification, HTTP/2 ------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$d/tls.key" -out "$d/tls.crt" 2>/dev/null
plain_port=$NGINX_PORT plain_pid=$NGINX_PID plain_log=$NGINX_ACCESS_LOG
NGINX_TLS_CERT=$d/tls.crt NGINX_TLS_KEY=$d/tls.key nginx_start "$d/www"
T=https://127.0.0.1:$NGINX_PORT
check "HTTPS mirror with the server's CA" mount_fs "$d/m16" --keys "$d/keys" --ca-file "$d/tls.crt" \
    --no-manifest-mirrors --mirror "$T/live.iso" "$T/live.iso.manifest"
check "HTTPS: exact bytes" cmp -s "$d/m16/live.iso" "$d/www/live.iso"
check "HTTPS: spoken over HTTP/2" grep -q ' HTTP/2.0 [0-9.]*$' "$NGINX_ACCESS_LOG"
umount_fs "$d/m16"
# Daemonized (no -f), it runs in /: relative paths are taken before that (a relative --ca-file
# made every fetch fail with EIO, a relative --cache cached nothing).
mkdir -p "$d/rel/m"
rel_blocks() { find "$d/rel/cache/blocks" -type f 2>/dev/null | wc -l; }
check "daemonized, with relative --keys, --cache, --ca-file, --record-profile and MANIFEST" \
    bash -c 'cd "$1/rel" && cp ../www/live.iso.manifest ../www/live.iso.manifest.sig . && cp ../tls.crt ca.crt &&
             inetboot-httpfs --log "$1/httpfs.log" --timeout 10 --cache-fill off --keys ../keys --cache cache --ca-file ca.crt \
                 --record-profile profile --no-manifest-mirrors --mirror "$2/live.iso" live.iso.manifest m' _ "$d" "$T"
cleanup_add "fusermount3 -u -z '$d/rel/m' 2>/dev/null"
check "daemonized, relative paths: exact bytes over HTTPS" timeout 60 cmp -s "$d/rel/m/live.iso" "$d/www/live.iso"
for i in $(seq 100); do [ "$(rel_blocks)" -ge $(( (size + 65535) / 65536 - 5 )) ] && break; sleep 0.1; done
check "daemonized, relative paths: the cache fills ($(rel_blocks) blocks)" test "$(rel_blocks)" -ge $(( (size + 65535) / 65536 - 5 ))
check "daemonized, relative paths: the profile is recorded ($(wc -l < "$d/rel/profile" 2>/dev/null) blocks)" \
    test "$(wc -l < "$d/rel/profile" 2>/dev/null || echo 0)" -ge $(( (size + 65535) / 65536 - 5 ))
fusermount3 -u "$d/rel/m"
expect_fail "HTTPS without the CA: refused (certificate verification)" 'certificate|SSL' \
    inetboot-httpfs -f --keys "$d/keys" --sig "$d/www/live.iso.manifest.sig" --no-manifest-mirrors --mirror "$T/live.iso" \
    "$d/www/live.iso.manifest" "$d/m17"
nginx_stop
NGINX_PORT=$plain_port NGINX_PID=$plain_pid NGINX_ACCESS_LOG=$plain_log

# --- an image over 4 GiB (sparse) ----------------------------------------------------------------------
cp "$d/www/live.iso" "$d/www/big.iso"
truncate -s $((4 * 1024 * 1024 * 1024 + 256 * 1024 * 1024 + 999)) "$d/www/big.iso"
head -c 3000000 /dev/urandom | dd of="$d/www/big.iso" bs=1M oflag=seek_bytes seek=$((4 * 1024 * 1024 * 1024 + 100 * 1024 * 1024)) conv=notrunc status=none iflag=fullblock
$S -q make --key "$TEST_KEY" --block-size 1M --url "$U/big.iso" "$d/www/big.iso" -o "$d/www/big.iso.manifest"
check "mount a 4.25 GiB image" mount_fs "$d/m14" --keys "$d/keys" "$U/big.iso.manifest"
out=$(python3 "$IB_SRCDIR/tests/lib/randread.py" "$d/m14/big.iso" "$d/www/big.iso" 60 5 300000 $((4 * 1024 * 1024 * 1024 + 90 * 1024 * 1024)) 2>&1)
check "reads above 4 GiB are exact ($out)" bash -c "[[ '$out' == exact=60* ]]"
umount_fs "$d/m14"

# --- a warm cache: readahead goes no further than the cache does -----------------------------------------
# (iflag=direct: no page cache, so no readahead of the kernel's; the daemon sees exactly these reads)
check "fill a cache with blocks 100-109 (no readahead)" mount_fs "$d/m30" --keys "$d/keys" --cache "$d/cache-ra" --cache-fill off --readahead 0 \
    --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
dd if="$d/m30/live.iso" of=/dev/null bs=65536 skip=100 count=10 iflag=direct status=none
umount_fs "$d/m30"
check "mount again with that cache and readahead (8 blocks)" mount_fs "$d/m31" --keys "$d/keys" --cache "$d/cache-ra" --cache-fill off \
    --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
check "a sequential read of what the cache holds is exact" \
    cmp -s <(dd if="$d/m31/live.iso" bs=65536 skip=100 count=10 iflag=direct status=none) <(dd if="$d/www/live.iso" bs=65536 skip=100 count=10 status=none)
sleep 0.5
check "... and fetched nothing: readahead stopped where the cache does ($(awk -v from="$before" 'NR > from' "$NGINX_ACCESS_LOG" | wc -l) requests)" \
    test "$(awk -v from="$before" 'NR > from' "$NGINX_ACCESS_LOG" | wc -l)" = 0
# (readahead starts once a stream has read 1 MiB in order: 16 blocks, 100-115; its window then grows)
dd if="$d/m31/live.iso" of=/dev/null bs=65536 skip=110 count=7 iflag=direct status=none
for i in $(seq 50); do [ "$(ranges_with "$before" 118)" -gt 0 ] && break; sleep 0.1; done
check "read on past the cache: block 110 is fetched and readahead goes on over the network (118: $(ranges_with "$before" 118) requests)" \
    test "$(ranges_with "$before" 110)" -gt 0 -a "$(ranges_with "$before" 118)" -gt 0
umount_fs "$d/m31"

# --- scattered short runs (a booted system's squashfs) read nothing ahead ------------------------------
check "mount with readahead (8 blocks)" mount_fs "$d/m32" --keys "$d/keys" --kernel-readahead 0 \
    --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
runs_ok=0
for b in 60 61 80 81 82 120 121; do  # (the image has 147 blocks of 64 KiB)
    cmp -s <(dd if="$d/m32/live.iso" bs=65536 skip=$b count=1 iflag=direct status=none) \
        <(dd if="$d/www/live.iso" bs=65536 skip=$b count=1 status=none) && runs_ok=$((runs_ok + 1))
done
check "seven reads in runs of 2, 3 and 2 blocks are exact ($runs_ok of 7)" test "$runs_ok" = 7
sleep 0.5
ahead=$(for b in 62 63 83 84 122 123; do ranges_with "$before" $b; done | awk '{ n += $1 } END { print n + 0 }')
check "runs of two and three blocks fetch only those blocks, nothing after them ($ahead requests hold 62-63, 83-84, 122-123)" \
    test "$ahead" = 0
before=$(wc -l < "$NGINX_ACCESS_LOG")
check "a run of 24 blocks (1.5 MiB) is exact" cmp -s <(dd if="$d/m32/live.iso" bs=65536 skip=20 count=24 iflag=direct status=none) \
    <(dd if="$d/www/live.iso" bs=65536 skip=20 count=24 status=none)
for i in $(seq 50); do [ "$(ranges_with "$before" 45)" -gt 0 ] && break; sleep 0.1; done
check "a run of 24 blocks (1.5 MiB, 20-43) is read ahead of ($(ranges_with "$before" 45) requests hold block 45)" \
    test "$(ranges_with "$before" 45)" -gt 0
# the first 32 KiB of each of blocks 90-109: in order and in adjacent blocks (a span of 1.25 MiB),
# with gaps between the reads as a squashfs's have; never 1 MiB in order, so nothing is read ahead
half_block_reads() {  # MOUNTPOINT: prints how many of the twenty reads were exact
    local n=0 b
    for b in $(seq 90 109); do
        cmp -s <(dd if="$1/live.iso" bs=32768 skip=$((2 * b)) count=1 iflag=direct status=none) \
            <(dd if="$d/www/live.iso" bs=32768 skip=$((2 * b)) count=1 status=none) && n=$((n + 1))
    done
    echo "$n"
}
before=$(wc -l < "$NGINX_ACCESS_LOG")
runs_ok=$(half_block_reads "$d/m32")
check "twenty reads of half a block, gaps between them, are exact ($runs_ok of 20)" test "$runs_ok" = 20
sleep 0.5
ahead=$(for b in 110 111 112 113; do ranges_with "$before" $b; done | awk '{ n += $1 } END { print n + 0 }')
check "reads with gaps across 1.25 MiB fetch nothing after them ($ahead requests hold 110-113)" test "$ahead" = 0
umount_fs "$d/m32"
# filling a cache, the same reads are a stream by the blocks they touch: what is read ahead is kept
# for the next runs, whose reads differ a little from this one's
check "mount with readahead (8 blocks), filling a cache" mount_fs "$d/m33" --keys "$d/keys" --kernel-readahead 0 \
    --cache "$d/cache-gaps" --cache-fill off --no-manifest-mirrors --mirror "$U/live.iso" "$d/www/live.iso.manifest"
before=$(wc -l < "$NGINX_ACCESS_LOG")
runs_ok=$(half_block_reads "$d/m33")
check "the twenty reads with gaps are exact ($runs_ok of 20)" test "$runs_ok" = 20
for i in $(seq 50); do [ "$(ranges_with "$before" 111)" -gt 0 ] && break; sleep 0.1; done
check "filling a cache, reads with gaps across 1.25 MiB are read ahead of ($(ranges_with "$before" 111) requests hold block 111)" \
    test "$(ranges_with "$before" 111)" -gt 0
umount_fs "$d/m33"

# --- help, man page ------------------------------------------------------------------------------------
expect_out "--help" 'Usage: inetboot-httpfs \[OPTIONS\] MANIFEST MOUNTPOINT' inetboot-httpfs --help
expect_fail "missing arguments: usage error" 'expected MANIFEST and MOUNTPOINT' inetboot-httpfs
check "man page beside the code" grep -q '^\.TH INETBOOT-HTTPFS 1' "$IB_SRCDIR/src/httpfs/inetboot-httpfs.1"
finish
