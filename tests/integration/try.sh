#!/usr/bin/env bash
# run-tests: parallel
# inetboot-try: a publisher boots a published image in QEMU through the
# preboot.  The minilive, signed with the test key and served by nginx on
# 127.0.0.1, boots with --until (the URL rewritten to 10.0.2.2 for the guest)
# and a cache disk that inetboot-try makes; a URL with nothing behind it
# fails with the preboot's message and exit 1; usage errors exit 2.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
requires qemu-system-x86_64 inetboot-sign inetboot-try xorriso mksquashfs mkfs.vfat mdir
pre=$BUILD/initramfs-test
[ -r "$pre/miniroot.img" ] && [ -r "$pre/vmlinuz" ] || { not_ok "the test preboot in $pre (make initramfs-test)"; finish; }
scratch d
serve_minilive "$d"

# --- usage -----------------------------------------------------------------------------
expect_out "--help" 'inetboot-try \[OPTIONS\] URL' inetboot-try --help
expect_fail "no URL: says what it needs" 'which image\?' inetboot-try
inetboot-try >/dev/null 2>&1
check "no URL: exit 2" test $? = 2
expect_fail "not an http(s) URL" "'ftp://h/x.iso' is not an http:// or https:// URL" inetboot-try ftp://h/x.iso
expect_fail "a preboot that is not there" 'no /nonexistent/vmlinuz' inetboot-try --preboot /nonexistent http://h/x.iso
check "man page beside the code" grep -q '^\.TH INETBOOT-TRY 1' "$IB_SRCDIR/src/try/inetboot-try.1"
if command -v man >/dev/null; then
    check "man page renders without warnings" bash -c "MANWIDTH=80 man --warnings -l '$IB_SRCDIR/src/try/inetboot-try.1' 2>&1 >/dev/null | (! grep .)"
fi

# --- a boot ------------------------------------------------------------------------------
t0=$SECONDS
inetboot-try --preboot "$pre" --cache "$d/cache.img" --cache-size 64 --until 'MINILIVE-DONE' --timeout 300 \
    "http://127.0.0.1:$NGINX_PORT/minilive.iso.manifest" >"$d/boot.out" 2>"$d/boot.err"
rc=$?
check "the minilive boots (exit $rc, $((SECONDS - t0)) s)" test "$rc" = 0
check "the URL on this machine is rewritten for the guest" \
    grep -q "the guest reaches it as http://10.0.2.2:$NGINX_PORT/minilive.iso.manifest" "$d/boot.err"
check "the console is printed: the preboot verified the manifest" grep -q 'manifest signature good' "$d/boot.out"
check "the console is printed: the minilive's marker" grep -q 'INETBOOT-MINILIVE-OK' "$d/boot.out"
check "the cache disk was made, FAT labelled IBCACHE" bash -c "mdir -i '$d/cache.img' :: 2>&1 | grep -q 'Volume in drive : is IBCACHE'"
check "the preboot used it without being told" grep -q 'cache: a disk labelled IBCACHE, used as the block cache' "$d/boot.out"
check "it says it is done" grep -q 'the console said /MINILIVE-DONE/' "$d/boot.err"
check "no QEMU left behind" bash -c "! pgrep -f '[q]emu-system-x86_64.*$d/cache.img' >/dev/null"

# --- a failure -----------------------------------------------------------------------------
inetboot-try --preboot "$pre" --until 'MINILIVE-DONE' --timeout 300 \
    "http://127.0.0.1:$NGINX_PORT/missing/minilive.iso.manifest" >"$d/fail.out" 2>"$d/fail.err"
rc=$?
check "nothing at the URL: exit 1" test "$rc" = 1
check "... with the preboot's reason on the console" grep -q 'cannot fetch the manifest' "$d/fail.out"
check "... and its own word" grep -q 'the boot failed (see the console above)' "$d/fail.err"
nginx_stop
finish
