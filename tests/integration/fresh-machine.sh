#!/usr/bin/env bash
# The README's set-up, on fresh machines: a Debian 12 and a Debian 13 system made
# with `debootstrap --variant=minbase` plus git and make (no compiler, no
# pkg-config, no -dev package), a copy of this tree in it, and there what a
# newcomer types:
#   bookworm  make demo (the README's first command: make deps, the build, the
#             demo's signed ISO served over HTTP and booted in QEMU, TRUSTED),
#             then make unit (the unit tests)
#   trixie    make (the build packages only), make demo (the rest), make unit;
#             its kernel's modules are .ko.xz, so the demo's preboot and the
#             modules the agent carries are decompressed ones
# Each step runs in a chroot with /dev, /proc and /sys, inside mount and PID
# namespaces of its own: nothing it mounts or starts outlives the step.
#
# Base systems are cached in ${INETBOOT_FIXTURES:-/var/cache/inetboot-fixtures}
# as fresh-<suite>-<key12>.tar.zst, key = the debootstrap recipe and the mirror,
# like the live-ISO fixtures; the .debs that apt downloads into a fresh system
# are kept in fresh-apt-<suite>/ (bound to its /var/cache/apt/archives), so a
# later run installs the same packages without downloading them again.
#   FRESH_SUITES="bookworm trixie" (default) picks the systems; each step's whole
#   output is kept in $BUILD/test-logs/fresh-machine/SUITE-N.log.
#   FRESH_KEEP=1 keeps the systems (their paths are printed) to look into a failure.
. "$(dirname "$0")/../lib/common.sh"
requires debootstrap unshare chroot zstd tar git flock timeout
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (debootstrap, chroot, mounts)"; exit 77; }

cache=${INETBOOT_FIXTURES:-/var/cache/inetboot-fixtures}
mkdir -p "$cache" || { not_ok "create the fixture cache $cache"; finish; }
# The Debian mirror apt uses (tests/lib/live-common.sh's rule; INETBOOT_DEBIAN_MIRROR overrides);
# the host may list no trixie source, so both suites come from bookworm's mirror.
mirror=${INETBOOT_DEBIAN_MIRROR:-$(suite=bookworm; LIVE_TOOL=fresh-machine; . "$IB_SRCDIR/tests/lib/live-common.sh"; mirror)}
[ -n "$mirror" ] || { not_ok "a 'deb' source for bookworm in /etc/apt (or INETBOOT_DEBIAN_MIRROR)"; finish; }
scratch d
logs=$BUILD/test-logs/fresh-machine
rm -rf "$logs" && mkdir -p "$logs" || { not_ok "create $logs"; finish; }

# base SUITE: the cached minbase system's tarball into BASE (built on a miss).
base() {
    local suite=$1 recipe key tmp
    recipe="debootstrap --variant=minbase --include=git,make $suite $mirror (fresh-machine base 1)"
    key=$(printf '%s\n' "$recipe" | sha256sum)
    BASE=$cache/fresh-$suite-${key:0:12}.tar.zst
    [ -f "$BASE" ] && return 0
    exec 9>>"$cache/.lock" && flock 9 || return 1      # one fixture build at a time (live-common.sh's lock)
    if [ ! -f "$BASE" ]; then
        tmp=$d/debootstrap-$suite
        echo "# building the $suite base system: $recipe"
        debootstrap --variant=minbase --include=git,make "$suite" "$tmp" "$mirror" > "$d/debootstrap-$suite.log" 2>&1 ||
            { tail -n 20 "$d/debootstrap-$suite.log"; exec 9>&-; return 1; }
        rm -rf "$tmp/var/cache/apt/archives/"*.deb
        tar -C "$tmp" --numeric-owner -cf - . | zstd -q -T0 -3 > "$BASE.tmp" && mv -f "$BASE.tmp" "$BASE" ||
            { rm -f "$BASE.tmp"; exec 9>&-; return 1; }
        rm -rf --one-file-system "$tmp"
        find "$cache" -maxdepth 1 -name "fresh-$suite-*.tar.zst" ! -name "${BASE##*/}" -delete
    fi
    exec 9>&-
}

# in_fresh ROOT APTCACHE SECONDS COMMAND: COMMAND (bash) in the tree's copy inside ROOT,
# as root in a clean environment, in fresh mount and PID namespaces, killed after SECONDS.
in_fresh() {
    timeout -k 10 "$3" unshare --mount --pid --fork --kill-child --propagation private -- bash -c '
        set -e
        r=$1
        mount --rbind /dev "$r/dev"
        mount -t proc proc "$r/proc"
        mount --rbind /sys "$r/sys"
        mount -t tmpfs tmpfs "$r/run"
        mount --bind "$2" "$r/var/cache/apt/archives"
        exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            /bin/bash -c "cd /root/inetboot && $3"' fresh "$1" "$2" "$4"
}

# step SUITE NAME SECONDS COMMAND: one step of the set-up, its output in $d/SUITE-N.log;
# a failure names the step, its exit status and the end of its output, and ends the suite.
step() {
    local suite=$1 name=$2 secs=$3 cmd=$4 log t0 rc=0
    STEP_N=$((STEP_N + 1))
    log=$logs/$suite-$STEP_N.log
    t0=$SECONDS
    in_fresh "$FRESH_ROOT" "$cache/fresh-apt-$suite" "$secs" "$cmd" > "$log" 2>&1 || rc=$?
    STEP_LOG=$log STEP_S=$((SECONDS - t0))
    if [ "$rc" -ne 0 ]; then
        [ "$rc" -ne 124 ] || echo "(killed after $secs s)" >> "$log"
        not_ok "$suite: '$name' failed on a fresh system (exit $rc after $STEP_S s): $(grep -aE 'error:|\*\*\* |^not ok|^[a-z-]+: ' "$log" |
            grep -avE '^(cc|clang) ' | tail -n 3 | tr '\n' ' ')"
        echo "# ---- the end of '$name' ($log) ----"
        tail -n 40 "$log" | sed 's/^/# /'
        return 1
    fi
    ok "$suite: '$name' on a fresh system ($STEP_S s)"
}

# suite SUITE STEP...: a fresh system of SUITE, the tree copied in, then each "NAME|SECONDS|CHECK-PATTERN".
suite() {
    local suite=$1 s name secs pat r=$d/$1
    shift
    [ -z "${FRESH_KEEP:-}" ] || r=$(mktemp -d "/var/tmp/fresh-$suite.XXXXXX")
    STEP_N=0 FRESH_ROOT=$r
    base "$suite" || { not_ok "$suite: debootstrap --variant=minbase (the base system)"; return 1; }
    mkdir -p "$r" "$cache/fresh-apt-$suite/partial" &&
        zstd -q -dc "$BASE" | tar -C "$r" --numeric-owner -xf - ||
        { not_ok "$suite: unpack $BASE"; return 1; }
    if [ -n "${FRESH_KEEP:-}" ]; then echo "# $suite: the system is kept in $r (FRESH_KEEP)"
    else cleanup_add "rm -rf --one-file-system '$r'"; fi
    # As on a new machine: the host's resolver; no daemon started by a package's postinst
    # (nginx would listen on the host's port 80: the chroot shares its network).
    cp /etc/resolv.conf "$r/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d" && chmod 0755 "$r/usr/sbin/policy-rc.d"
    # The tree as a clone has it: the files git tracks and the new ones it does not ignore.
    mkdir -p "$r/root/inetboot"
    (cd "$IB_SRCDIR" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -C "$r/root/inetboot" -xf - ||
        { not_ok "$suite: copy the tree into the fresh system"; return 1; }
    step "$suite" "the system is fresh: no cc, pkg-config, libfuse3-dev, qemu" 60 \
        '! command -v cc && ! command -v pkg-config && ! command -v qemu-system-x86_64 &&
         ! dpkg-query -W -f="\${db:Status-Abbrev}" libfuse3-dev 2>/dev/null | grep -q ^ii &&
         command -v git && command -v make && . /etc/os-release && echo "$PRETTY_NAME" &&
         dpkg-query -W -f=. | wc -c' || return 1
    echo "# $suite: $(tail -n 2 "$STEP_LOG" | head -n 1), $(tail -n 1 "$STEP_LOG") packages"
    for s in "$@"; do
        IFS='|' read -r name secs pat <<<"$s"
        step "$suite" "$name" "$secs" "$name" || return 1
        if [ -n "$pat" ]; then
            check "$suite: '$name' printed /$pat/" grep -aqE -- "$pat" "$STEP_LOG"
        fi
        case $name in
            make|*demo*|*deps*)
                echo "# $suite: $(grep -aoE '^deps: installing .*' "$STEP_LOG" | head -n 1 | wc -w | awk '{ print $1 - 2 }') packages named by make deps:" \
                    "$(grep -aoE '^deps: installing .*' "$STEP_LOG" | head -n 1 | cut -d' ' -f3-)" ;;
        esac
    done
    echo "# $suite: $(in_fresh "$r" "$cache/fresh-apt-$suite" 60 'dpkg-query -W -f=. | wc -c') packages installed in the end"
    # Keep the downloaded .debs of current versions only.
    in_fresh "$r" "$cache/fresh-apt-$suite" 120 'apt-get -qq autoclean' >/dev/null 2>&1 || true
}

for s in ${FRESH_SUITES:-bookworm trixie}; do
    case $s in
        bookworm)
            suite bookworm \
                "make demo|1800|MINILIVE-VERDICT TRUSTED" \
                "make unit|900|^[0-9]+ passed, 0 failed" ;;
        trixie)
            suite trixie \
                "make|1200|^deps: installing build-essential" \
                "make demo|1800|MINILIVE-VERDICT TRUSTED" \
                "make unit|900|^[0-9]+ passed, 0 failed" ;;
        *) not_ok "FRESH_SUITES: unknown suite $s" ;;
    esac
done
finish
