# What the live-ISO fixture builders share (sourced by tests/lib/mkdebianlive
# and tests/lib/mkdracutlive after `set -euo pipefail`).  The caller sets
#   LIVE_TOOL     its name, for messages and usage
#   LIVE_PREFIX   the cached ISO's name: $LIVE_PREFIX-<key12>.iso
#   suite         the Debian suite to debootstrap
#   packages      debootstrap's --include list
# and then calls, in this order:
#   live_args "$@"          cache= out= from [--cache DIR] OUT.iso
#   live_cache_key [MORE...]   url= key12= iso=; key = sha256 of the caller's
#                           bytes, this file's bytes, $packages, the mirror URL
#                           and MORE
#   live_take_cached        a cached ISO: publish it to OUT.iso and exit 0
#   live_build_begin TOOL:PACKAGE...   needs root and the tools; holds flock
#                           DIR/.lock (shared by every builder: one build at a
#                           time), removes leftovers of builds that died,
#                           sets work= root= tree= log= tmpiso= and the traps
#   live_debootstrap        debootstrap --variant=minbase --include=$packages
#   live_chroot_mounts / live_chroot_unmount   /proc /sys /dev in the chroot
#   live_system HOSTNAME MARKER   root without password, hostname, the
#                           serial getty, /etc/issue with MARKER above
#                           "login:", /data/late.bin + /data/late.sha256
#   live_clean              apt caches, logs, /tmp
#   live_squashfs DEST      mksquashfs xz of the chroot without /boot /proc /sys
#   live_iso LABEL          xorriso the tree into the cache, drop the cached
#                           ISOs of other keys, publish, one summary line
# plus run, fail, in_root and die for the caller's own steps.
# The cache is ${INETBOOT_FIXTURES:-/var/cache/inetboot-fixtures}; a cached
# ISO is hard-linked (or copied across file systems) to OUT.iso.  Builds write
# to a temporary file in the cache and rename it into place on success.  The
# mirror is the first "$suite" deb source in /etc/apt/sources.list and
# /etc/apt/sources.list.d/*.{list,sources}; INETBOOT_DEBIAN_MIRROR overrides.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LC_ALL=C
LIVE_COMMON=$(readlink -f -- "${BASH_SOURCE[0]}")

usage() { echo "usage: $LIVE_TOOL [--cache DIR] OUT.iso" >&2; exit 2; }
die() { echo "$LIVE_TOOL: $*" >&2; exit 1; }

live_args() {
    cache=${INETBOOT_FIXTURES:-/var/cache/inetboot-fixtures}
    while [ $# -gt 0 ]; do
        case $1 in
            --cache) [ $# -ge 2 ] || usage; cache=$2; shift 2 ;;
            --cache=*) cache=${1#--cache=}; shift ;;
            -h|--help) echo "usage: $LIVE_TOOL [--cache DIR] OUT.iso"; exit 0 ;;
            --) shift; break ;;
            -*) echo "$LIVE_TOOL: unknown option $1" >&2; usage ;;
            *) break ;;
        esac
    done
    [ $# -eq 1 ] || usage
    out=$1
    [ -n "$cache" ] || die "empty cache directory"
    case $out in ''|*/) die "OUT.iso '$out' is a directory name" ;; esac
    [ -d "$(dirname -- "$out")" ] || die "the directory of $out does not exist"
    [ ! -d "$out" ] || die "OUT.iso '$out' is a directory"
}

# mirror: the URI of the first enabled deb source for $suite that apt uses
# (one-line .list format and deb822 .sources), without a trailing slash.
mirror() {
    local f u
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        u=$(case $f in
            *.sources)
                awk -v suite="$suite" '
                    function flush() {
                        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ")) {
                            split(uris, u, " "); if (u[1] != "") { print u[1]; found = 1; exit }
                        }
                        types = uris = suites = ""; enabled = "yes"
                    }
                    BEGIN { enabled = "yes" }
                    /^[ \t]*#/ { next }
                    /^[ \t]*$/ { flush(); next }
                    { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                      if (key == "types") types = $0; else if (key == "uris") uris = $0
                      else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0) }
                    END { if (!found) flush() }' "$f" ;;
            *)
                awk -v suite="$suite" '
                    $1 != "deb" { next }
                    { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                      if ($(i + 1) == suite) { print $i; exit } }' "$f" ;;
        esac) || u=
        u=${u%%$'\n'*}
        [ -z "$u" ] || { while [ "${u%/}" != "$u" ]; do u=${u%/}; done; echo "$u"; return 0; }
    done
}

live_cache_key() {
    local self selfsum libsum key
    url=${INETBOOT_DEBIAN_MIRROR:-$(mirror)}
    [ -n "$url" ] || die "no 'deb' source for $suite in /etc/apt/sources.list or /etc/apt/sources.list.d/ (set INETBOOT_DEBIAN_MIRROR)"
    self=$(readlink -f -- "$0")
    selfsum=$(sha256sum < "$self") || die "cannot read $self"
    libsum=$(sha256sum < "$LIVE_COMMON") || die "cannot read $LIVE_COMMON"
    key=$(printf '%s\n' "${selfsum%% *}" "${libsum%% *}" "$packages" "$url" "$@" | sha256sum)
    key12=${key:0:12}
    iso=$cache/$LIVE_PREFIX-$key12.iso
}

# publish: OUT.iso becomes a hard link to (or, across file systems, a copy of) the cached ISO.
publish() {
    [ "$iso" -ef "$out" ] && return 0
    ln -f -- "$iso" "$out" 2>/dev/null && return 0
    local tmp
    tmp=$(mktemp "$out.XXXXXX") || die "cannot create a temporary file beside $out"
    cp -- "$iso" "$tmp" && chmod 0644 "$tmp" && mv -f -- "$tmp" "$out" ||
        { rm -f -- "$tmp"; die "cannot copy $iso to $out"; }
}

live_take_cached() {
    if [ -f "$iso" ]; then
        publish
        exit 0
    fi
}

# mounts_under DIR: mount points at or below DIR, deepest first.
mounts_under() {
    awk -v d="$1" '{ m = $2; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' /proc/self/mounts |
        sort -r
}
# unmount_all DIR: unmount everything below DIR; fails if something stays.
unmount_all() {
    local m
    while read -r m; do
        [ -n "$m" ] || continue
        umount -- "$m" 2>/dev/null || umount -l -- "$m" 2>/dev/null ||
            echo "$LIVE_TOOL: warning: cannot unmount $m" >&2
    done < <(mounts_under "$1")
    [ -z "$(mounts_under "$1")" ]
}
# remove_tree DIR: rm -rf, but never across a mount point still in place.
remove_tree() {
    [ -e "$1" ] || return 0
    if unmount_all "$1"; then
        rm -rf --one-file-system -- "$1"
    else
        echo "$LIVE_TOOL: warning: $1 left in place: something is still mounted below it" >&2
    fi
}

# run CMD...: the long steps run in their own session, waited for in the
# background, so that a signal to the builder stops them at once (bash runs a
# trap only after the foreground command ends) and its trap kills their group.
child=
run() {
    local rc=0
    setsid "$@" &
    child=$!
    wait "$child" || rc=$?
    child=
    return $rc
}
on_signal() {
    trap - INT TERM HUP
    exec 2>&8    # the trap runs inside run's "> $log 2>&1"
    if [ -n "$child" ]; then
        kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null || true
    fi
    echo "$LIVE_TOOL: interrupted" >&2
    exit "$1"
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    remove_tree "$work"
    rm -f -- "$tmpiso"
    [ $rc -eq 0 ] || echo "$LIVE_TOOL: build of $iso failed (exit $rc)" >&2
    exit $rc
}
# fail STEP: the end of the step's log, then die.
fail() { tail -n 40 "$log" >&2; die "$1 failed (the log's end is above)"; }
in_root() { DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }

live_build_begin() {
    local t stale
    [ "$(id -u)" -eq 0 ] || die "building $iso needs root (debootstrap, chroot, mounts); it is not cached yet"
    for t in debootstrap:debootstrap mksquashfs:squashfs-tools xorriso:xorriso flock:util-linux \
             chroot:coreutils sha256sum:coreutils "$@"; do
        command -v "${t%%:*}" >/dev/null 2>&1 || die "${t%%:*} not found (apt-get install ${t#*:})"
    done
    mkdir -p -- "$cache" || die "cannot create the cache directory $cache"
    cache=$(cd -- "$cache" && pwd -P) || die "cannot enter $cache"
    iso=$cache/$LIVE_PREFIX-$key12.iso
    exec 9>>"$cache/.lock" || die "cannot open $cache/.lock"
    if ! flock -n 9; then
        echo "$LIVE_TOOL: waiting for another build holding $cache/.lock" >&2
        flock 9 || die "flock $cache/.lock failed"
    fi
    live_take_cached        # built by whoever held the lock before us

    # Leftovers of a build that died (we hold the lock: no build is running).
    for stale in "$cache"/.build.* "$cache"/.*-live-*.tmp; do
        [ -e "$stale" ] || continue
        echo "$LIVE_TOOL: removing the leftover $stale" >&2
        remove_tree "$stale"
    done

    work= tmpiso=
    exec 8>&2
    trap cleanup EXIT
    trap 'on_signal 130' INT
    trap 'on_signal 143' TERM
    trap 'on_signal 129' HUP
    work=$(mktemp -d "$cache/.build.XXXXXX") || die "cannot create a build directory in $cache"
    tmpiso=$(mktemp "$cache/.$LIVE_PREFIX-$key12.XXXXXX.tmp") || die "cannot create a temporary file in $cache"
    root=$work/chroot tree=$work/iso log=$work/log
    mkdir -p "$root" "$tree"
    start=$(date +%s)
}

live_debootstrap() {
    echo "$LIVE_TOOL: debootstrap $suite from $url (a few minutes) -> $iso" >&2
    run debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$url" > "$log" 2>&1 ||
        fail "debootstrap --variant=minbase --include=$packages $suite $url"
    unmount_all "$root" || die "cannot unmount what debootstrap left mounted in $root"
}

live_chroot_mounts() {
    mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" && mount --bind /dev "$root/dev" ||
        die "cannot mount /proc /sys /dev in the chroot"
}
live_chroot_unmount() { unmount_all "$root" || die "cannot unmount /proc /sys /dev from the chroot"; }

# live_system HOSTNAME MARKER
live_system() {
    local hostname=$1 marker=$2
    in_root passwd -d root > "$log" 2>&1 || fail "passwd -d root in the chroot"
    echo "$hostname" > "$root/etc/hostname"
    cat > "$root/etc/hosts" <<HOSTS
127.0.0.1	localhost
127.0.1.1	$hostname
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
HOSTS
    printf 'Debian GNU/Linux 12 \\n \\l\n\n%s\n\n' "$marker" > "$root/etc/issue"
    # systemd's getty generator starts serial-getty@ttyS0 for console=ttyS0;
    # enable it too so a getty runs on ttyS0 whatever the console= is.
    [ -f "$root/lib/systemd/system/serial-getty@.service" ] || die "no serial-getty@.service in the chroot (systemd-sysv?)"
    mkdir -p "$root/etc/systemd/system/getty.target.wants"
    ln -sf /lib/systemd/system/serial-getty@.service "$root/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
    # Host files debootstrap copies in, and per-machine identity: made at boot.
    : > "$root/etc/resolv.conf"
    : > "$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    mkdir -p "$root/data"
    head -c $((4 * 1024 * 1024)) /dev/urandom > "$root/data/late.bin"
    sha256sum < "$root/data/late.bin" | cut -c1-64 > "$root/data/late.sha256"
}

live_clean() {
    in_root apt-get clean > "$log" 2>&1 || fail "apt-get clean in the chroot"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
        "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/root/.bash_history
}

# live_kernel: kernel= (the newest /boot/vmlinuz-*) and ver= (its release).
live_kernel() {
    kernel=$(ls -1 "$root"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$kernel" ] && [ -f "$kernel" ] || die "no /boot/vmlinuz-* in the chroot (linux-image-amd64 not installed?)"
    ver=${kernel##*/vmlinuz-}
}

# live_squashfs DEST
live_squashfs() {
    echo "$LIVE_TOOL: mksquashfs (xz, a minute or two)" >&2
    mkdir -p "$(dirname -- "$1")"
    run nice -n 10 mksquashfs "$root" "$1" -comp xz -noappend -no-progress \
        -wildcards -e 'boot/*' 'proc/*' 'sys/*' > "$log" 2>&1 || fail "mksquashfs"
}

# live_iso LABEL [SUMMARY]: the ISO of $tree, into the cache and to OUT.iso.
live_iso() {
    local old end size
    run xorriso -as mkisofs -R -J -V "$1" -o "$tmpiso" "$tree" > "$log" 2>&1 || fail "xorriso"
    chmod 0644 "$tmpiso"
    mv -f -- "$tmpiso" "$iso" || die "cannot rename $tmpiso to $iso"
    for old in "$cache"/$LIVE_PREFIX-*.iso; do
        [ "$old" = "$iso" ] || [ ! -e "$old" ] || { rm -f -- "$old" && echo "$LIVE_TOOL: removed the old $old" >&2; }
    done
    publish
    end=$(date +%s)
    size=$(stat -c %s "$iso")
    echo "$LIVE_TOOL: built $iso in $((end - start)) s: $((size / 1048576)) MiB ($size bytes; ${2:-})" >&2
}
