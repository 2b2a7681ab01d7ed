#!/usr/bin/env bash
# Self-test of the test infrastructure: tests/lib/faultproxy.py in front of a
# real nginx (tests/lib/servers.sh).  At --rate 0 Range requests through it
# give exactly the right bytes and keep-alive works on both sides; at --rate 1
# each fault kind is seen by curl and counted in the stats; SIGUSR2 "down"
# mode refuses connections and closes a stalled one; --clean-first spares the
# first requests; busybox httpd and
# python3 -m http.server start too.  Everything on 127.0.0.1, under a minute.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
requires curl python3 dd cmp od
d=$(mktemp -d "${TMPDIR:-/tmp}/inetboot-test.XXXXXX")
cleanup_add "rm -rf '$d'"
SIZE=4194304
head -c "$SIZE" /dev/urandom >"$d/data.bin"
C=(curl -s --max-time 10)

# expected A B: bytes A..B (inclusive) of the original
expected() { dd if="$d/data.bin" iflag=skip_bytes,count_bytes skip="$1" count=$(($2 - $1 + 1)) bs=64K status=none; }
# range_ok A B: a Range request through the proxy gives exactly those bytes
range_ok() {
    "${C[@]}" -f -r "$1-$2" -o "$d/out" "$URL" && cmp -s "$d/out" <(expected "$1" "$2")
}
# stat_is KEY N: the proxy's stats say N
stat_is() {
    local v
    v=$(faultproxy_stats "$1")
    [ "$v" = "$2" ] || { echo "stats: $1 is $v, wanted $2" >&2; return 1; }
}
# rc_of COMMAND...: print the command's exit status
rc_of() { "$@" >/dev/null 2>&1; echo $?; }
# header NAME FILE: a header's value from a curl -D dump
header() { sed -n "s/^$1: *\(.*\)\r$/\1/Ip" "$2" | tail -n 1; }

nginx_start "$d" || { not_ok "nginx starts"; finish; }
ok "nginx listens on 127.0.0.1:$NGINX_PORT"
direct=http://127.0.0.1:$NGINX_PORT/data.bin

# --- transparent at --rate 0 ---------------------------------------------------
faultproxy_start "$NGINX_PORT" --rate 0 --seed 1 || { not_ok "faultproxy starts"; finish; }
ok "faultproxy listens on 127.0.0.1:$FAULTPROXY_PORT"
URL=http://127.0.0.1:$FAULTPROXY_PORT/data.bin
check "rate 0: first block" range_ok 0 4095
check "rate 0: second block" range_ok 4096 8191
check "rate 0: 64 KiB at 1 MiB" range_ok 1048576 1114111
check "rate 0: unaligned range" range_ok 12345 99999
check "rate 0: last block" range_ok $((SIZE - 4096)) $((SIZE - 1))
check "rate 0: suffix range" bash -c '"$@" -f -r -100 -o "'"$d/out"'" "'"$URL"'" && cmp -s "'"$d/out"'" <(tail -c 100 "'"$d/data.bin"'")' _ "${C[@]}"
check "rate 0: whole file without Range" bash -c '"$@" -f "'"$URL"'" | cmp -s - "'"$d/data.bin"'"' _ "${C[@]}"
"${C[@]}" -I -r 0-99 "$URL" >"$d/head"
check "rate 0: HEAD with Range is a 206 with its Content-Range" grep -q '^Content-Range: bytes 0-99/4194304' "$d/head"
check "rate 0: HEAD gets no body, keeps Content-Length" grep -q '^Content-Length: 100' "$d/head"

conns=$(faultproxy_stats connections)
nreq=$(nginx_requests)
"${C[@]}" -f -r 8192-12287 "$URL" -o "$d/k1" "$URL" -o "$d/k2" "$URL" -o "$d/k3"
check "keep-alive: three requests, right bytes" bash -c 'for f in k1 k2 k3; do cmp -s "'"$d"'/$f" <(dd if="'"$d/data.bin"'" iflag=skip_bytes,count_bytes skip=8192 count=4096 status=none) || exit 1; done'
check "keep-alive: one client connection for three requests" test "$(faultproxy_stats connections)" = $((conns + 1))
nginx_wait_requests $((nreq + 3))
check "keep-alive: one upstream connection for three requests" \
    test "$(tail -n 3 "$NGINX_ACCESS_LOG" | awk '{print $7}' | sort -u | wc -l)" = 1
check "rate 0: no faults counted" stat_is faults 0
check "rate 0: requests and responses counted" test "$(faultproxy_stats requests)" = "$(faultproxy_stats responses)" -a "$(faultproxy_stats requests)" -ge 11
check "nginx log: Range and Content-Range recorded" grep -q '^GET /data.bin 206 4096 "bytes=8192-12287" "bytes 8192-12287/4194304" ' "$NGINX_ACCESS_LOG"
check "nginx_bytes_sent counts the bodies" test "$(nginx_bytes_sent data.bin)" -ge $((SIZE + 4 * 4096 + 65536))
faultproxy_stop
check "the stats file keeps the final counts after SIGTERM" test "$(faultproxy_stats requests)" -ge 11

# --- one fault kind at a time, --rate 1 ---------------------------------------
fault_proxy() { faultproxy_start "$NGINX_PORT" --faults "$1" --rate 1 --seed 7 "${@:2}" || { not_ok "faultproxy --faults $1 starts"; return 1; }; URL=http://127.0.0.1:$FAULTPROXY_PORT/data.bin; }

if fault_proxy flip; then
    "${C[@]}" -f -r 0-65535 -o "$d/out" "$URL"
    diff=$(cmp -l "$d/out" <(expected 0 65535) 2>&1)
    read -r _ a b <<<"$diff"
    x=$((8#${a:-0} ^ 8#${b:-0}))
    check "flip: exactly one bit of the body differs" test "$(wc -l <<<"$diff")" = 1 -a "$x" -ne 0 -a $((x & (x - 1))) -eq 0
    check "flip: counted" stat_is flip 1
    faultproxy_stop
fi

if fault_proxy flip --clean-first 1; then
    check "--clean-first 1: the first request is relayed cleanly" range_ok 0 65535
    "${C[@]}" -f -r 0-65535 -H 'Cache-Control: no-cache' -o "$d/out" "$URL"
    if cmp -s "$d/out" <(expected 0 65535); then not_ok "--clean-first 1: the second gets its fault"; else ok "--clean-first 1: the second gets its fault"; fi
    check "the log shows a request's Cache-Control" grep -q 'range="bytes=0-65535" cache-control="no-cache" -> 206 fault=flip' "$FAULTPROXY_LOG"
    faultproxy_stop
fi

if fault_proxy truncate; then
    rc=$(rc_of "${C[@]}" -r 0-65535 -o "$d/out" "$URL")
    check "truncate: curl sees a partial body (exit 18, got $rc)" test "$rc" = 18
    check "truncate: counted" stat_is truncate 1
    faultproxy_stop
fi

if fault_proxy reset; then
    rc=$(rc_of "${C[@]}" -r 0-65535 -o "$d/out" "$URL")
    check "reset: curl gets no reply (exit 52/56, got $rc)" test "$rc" = 52 -o "$rc" = 56
    check "reset: counted" stat_is reset 1
    faultproxy_stop
fi

if fault_proxy badrange; then
    "${C[@]}" -f -D "$d/hdr" -r 4096-8191 -o "$d/out" "$URL"
    cr=$(header Content-Range "$d/hdr")
    check "badrange: Content-Range '$cr' is well-formed but wrong" \
        bash -c '[[ $1 =~ ^bytes\ [0-9]+-[0-9]+/[0-9]+$ && $1 != "bytes 4096-8191/4194304" ]]' _ "$cr"
    check "badrange: the body is kept" cmp -s "$d/out" <(expected 4096 8191)
    check "badrange: counted" stat_is badrange 1
    faultproxy_stop
fi

if fault_proxy norange; then
    before=$(nginx_bytes_sent data.bin) nreq=$(nginx_requests)
    code=$("${C[@]}" -r 0-4095 -o "$d/out" -w '%{http_code}' "$URL")
    check "norange: status 200 (got $code)" test "$code" = 200
    check "norange: the whole file" cmp -s "$d/out" "$d/data.bin"
    nginx_wait_requests $((nreq + 1))
    check "norange: asked upstream without Range" bash -c 'tail -n 1 "$1" | grep -q "^GET /data.bin 200 4194304 \"-\" "' _ "$NGINX_ACCESS_LOG"
    check "norange: nginx_bytes_sent grew by the file size" test $(($(nginx_bytes_sent data.bin) - before)) = "$SIZE"
    check "norange: counted" stat_is norange 1
    faultproxy_stop
fi

if fault_proxy 5xx; then
    nreq=$(nginx_requests)
    code=$("${C[@]}" -r 0-4095 -o "$d/out" -w '%{http_code}' "$URL")
    check "5xx: status 503 (got $code)" test "$code" = 503
    check "5xx: upstream not asked" test "$(nginx_requests)" = "$nreq"
    check "5xx: counted" stat_is 5xx 1
    faultproxy_stop
fi

if fault_proxy etag; then
    "${C[@]}" -I "$direct" -D "$d/h1" -o /dev/null
    "${C[@]}" -f -D "$d/h2" -r 0-4095 -o "$d/out" "$URL"
    e1=$(header ETag "$d/h1") e2=$(header ETag "$d/h2")
    check "etag: ETag $e2 differs from nginx's $e1" test -n "$e1" -a -n "$e2" -a "$e1" != "$e2"
    check "etag: the body is kept" cmp -s "$d/out" <(expected 0 4095)
    check "etag: counted" stat_is etag 1
    faultproxy_stop
fi

if fault_proxy stall --stall-seconds 2; then
    rc=$(rc_of "${C[@]}" --max-time 1 -r 0-65535 -o "$d/out" "$URL")
    check "stall: curl --max-time 1 times out (exit 28, got $rc)" test "$rc" = 28
    t0=$(date +%s%N)
    rc=$(rc_of "${C[@]}" --max-time 8 -r 0-65535 -o "$d/out" "$URL")
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "stall: closed after --stall-seconds (exit 18 after ${ms} ms, got $rc)" test "$rc" = 18 -a "$ms" -ge 1500 -a "$ms" -lt 6000
    check "stall: counted" stat_is stall 2
    faultproxy_stop
fi

if fault_proxy stall --stall-seconds 2 --stall-after 10000; then
    rc=$(rc_of "${C[@]}" -r 0-9999 -o "$d/out" "$URL")
    check "stall --stall-after 10000: a body of 10000 bytes is not stalled (exit $rc)" test "$rc" = 0
    check "... and is exact" cmp -s "$d/out" <(expected 0 9999)
    rc=$(rc_of "${C[@]}" --max-time 8 -r 0-65535 -o "$d/out" "$URL")
    check "stall --stall-after 10000: a longer body stops after exactly 10000 bytes (exit $rc, $(stat -c %s "$d/out") bytes)" \
        test "$rc" = 18 -a "$(stat -c %s "$d/out")" = 10000
    check "... which are the body's first" cmp -s "$d/out" <(expected 0 9999)
    check "stall --stall-after: counted once" stat_is stall 1
    faultproxy_stop
fi

# --- SIGUSR2 down mode, with a connection stalled in it --------------------------------
if fault_proxy stall --stall-seconds 30 --max-faults 1; then
    t0=$(date +%s%N)
    "${C[@]}" -r 0-65535 -o "$d/stalled" "$URL" &
    cpid=$!
    for ((i = 0; i < 100; i++)); do grep -q 'fault=stall' "$FAULTPROXY_LOG" 2>/dev/null && break; sleep 0.05; done
    check "down: SIGUSR2 takes the proxy down" faultproxy_down
    wait "$cpid"; rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "down: the stalled connection is closed at once (curl exit $rc after ${ms} ms)" test "$rc" -ne 0 -a "$ms" -lt 5000
    rc=$(rc_of "${C[@]}" -r 0-4095 -o "$d/out" "$URL")
    check "down: new connections refused (exit 7, got $rc)" test "$rc" = 7
    check "down: stats say down" stat_is down 1
    check "up: the next SIGUSR2 brings it back" faultproxy_up
    check "up: requests work again, no fault after --max-faults 1" range_ok 0 4095
    check "up: stats say up" stat_is down 0
    faultproxy_stop
fi

expect_fail "faultproxy refuses to listen beyond 127.0.0.1" 'only 127.0.0.1' \
    "${_SRV_PY:-python3}" "$IB_SRCDIR/tests/lib/faultproxy.py" --upstream 127.0.0.1:1 --listen 0.0.0.0:0
expect_fail "faultproxy refuses unknown fault kinds" 'unknown fault' \
    "${_SRV_PY:-python3}" "$IB_SRCDIR/tests/lib/faultproxy.py" --upstream 127.0.0.1:1 --faults flip,nosuch

# --- the other servers ---------------------------------------------------------------
if busybox_httpd_start "$d"; then
    URL=http://127.0.0.1:$BUSYBOX_PORT/data.bin
    check "busybox httpd serves Range requests" range_ok 4096 8191
    busybox_httpd_stop
else
    not_ok "busybox httpd starts"
fi
if pyhttp_start "$d"; then
    code=$("${C[@]}" -r 0-4095 -o "$d/out" -w '%{http_code}' "http://127.0.0.1:$PYHTTP_PORT/data.bin")
    check "python3 http.server ignores Range (status $code, whole file)" test "$code" = 200 -a "$(stat -c %s "$d/out")" = "$SIZE"
    pyhttp_stop
else
    not_ok "python3 http.server starts"
fi
nginx_stop
check "nginx stopped by its PID" _srv_gone "$NGINX_PID"
finish
