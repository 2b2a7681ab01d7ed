# Shared by the integration tests (sourced).  nbdkit-style: `requires` skips
# cleanly (exit 77), cleanup always runs, results are "ok"/"not ok" lines.
set -u
IB_SRCDIR=${IB_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$IB_SRCDIR/build}
PATH=$BUILD/bin:$PATH
TEST_KEYS=$IB_SRCDIR/keys
TEST_KEY=$IB_SRCDIR/keys/test-only-publisher.key
_failures=0
_cleanups=()

requires() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { echo "skip - requires $c"; exit 77; }
    done
}

cleanup_add() { _cleanups+=("$*"); }
_cleanup() {
    local i
    for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" || true; done
}
trap _cleanup EXIT

# scratch VAR: a scratch directory, removed at exit, into VAR.  (Not d=$(scratch):
# the cleanup must be registered in this shell, not in a command substitution's.)
scratch() {
    local _d
    _d=$(mktemp -d "${TMPDIR:-/tmp}/inetboot-test.XXXXXX") || return 1
    cleanup_add "rm -rf '$_d'"
    printf -v "$1" '%s' "$_d"
}

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; _failures=$((_failures + 1)); }

# check NAME COMMAND...: the command succeeds.
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n (command: $*)"; fi; }

# expect_fail NAME PATTERN COMMAND...: the command fails (exit != 0) and says PATTERN (grep -E) on stderr/stdout.
expect_fail() {
    local n=$1 pat=$2 out rc
    shift 2
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne 0 ] && grep -Eq -- "$pat" <<<"$out"; then ok "$n"
    else not_ok "$n (exit $rc, wanted /$pat/, got: $(head -c 400 <<<"$out"))"; fi
}

# expect_out NAME PATTERN COMMAND...: the command succeeds and prints PATTERN.
expect_out() {
    local n=$1 pat=$2 out rc
    shift 2
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq 0 ] && grep -Eq -- "$pat" <<<"$out"; then ok "$n"
    else not_ok "$n (exit $rc, wanted /$pat/, got: $(head -c 400 <<<"$out"))"; fi
}

# flip_byte FILE OFFSET: XOR one byte with 0x01 in place (no interpreter start-up: tests call it often).
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || { echo "flip_byte: $1 has no byte at $2" >&2; return 1; }
    printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

finish() { exit $((_failures > 0)); }
