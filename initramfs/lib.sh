# inetboot shell library, shared by the preboot's /init and the hook in the
# booted image's initramfs.  Plain busybox sh; every command goes through
# $BB so that nothing depends on the PATH of the initramfs it runs in.
#   ib_mount_kernel_fs  mount /proc, /sys, /dev
#   ib_netup            bring the network up (ip= from /proc/cmdline, else DHCP)
#   ib_mount_cache SPEC DIR   mount a cache device (LABEL=, UUID=, /dev/...) or bind a directory
#   ib_cmdline_value KEY      the value of KEY= on /proc/cmdline (last one wins)
: "${BB:=/bin/busybox}"
: "${IB_UDHCPC_SCRIPT:=/usr/lib/inetboot/udhcpc.script}"

ib_say() { echo "inetboot: $*"; }

# /proc, /sys and /dev (devtmpfs), which every initramfs mounts first.
ib_mount_kernel_fs() {
    $BB mkdir -p /proc /sys /dev /run
    $BB mount -t proc -o nosuid,nodev,noexec proc /proc
    $BB mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
    $BB mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev 2>/dev/null
}

ib_cmdline_value() {
    local v= w
    for w in $($BB cat /proc/cmdline); do
        case $w in "$1"=*) v=${w#"$1"=} ;; esac
    done
    echo "$v"
}

# Links that are up and have a carrier, waiting up to $1 seconds for the first one.
ib_links() {
    local t=0 i found
    for i in /sys/class/net/*; do
        i=${i##*/}
        [ "$i" = lo ] || $BB ip link set "$i" up 2>/dev/null
    done
    while [ "$t" -lt "$(( $1 * 10 ))" ]; do
        found=
        for i in /sys/class/net/*; do
            i=${i##*/}
            [ "$i" = lo ] && continue
            [ "$($BB cat "/sys/class/net/$i/carrier" 2>/dev/null)" = 1 ] && found="$found $i"
        done
        [ -n "$found" ] && { echo $found; return 0; }
        $BB usleep 100000
        t=$((t + 1))
    done
    return 1
}

# ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0> (the kernel's nfsroot form)
ib_static() {
    local IFS=: client server gw mask host dev auto dns
    set -- $1
    client=$1 gw=$3 mask=$4 dev=$6 dns=$8
    IFS=' '
    [ -n "$dev" ] || dev=$(ib_links 10 | $BB cut -d' ' -f1)
    [ -n "$client" ] && [ -n "$dev" ] || return 1
    $BB ip link set "$dev" up
    $BB ifconfig "$dev" "$client" netmask "${mask:-255.255.255.0}" || return 1
    [ -n "$gw" ] && $BB route add default gw "$gw" dev "$dev"
    [ -n "$dns" ] && echo "nameserver $dns" > /etc/resolv.conf
    ib_say "network: $dev $client (static, ip=)"
}

ib_netup() {
    local ip links i
    $BB ip link set lo up 2>/dev/null
    ip=$(ib_cmdline_value ip)
    case $ip in
        ''|dhcp|on|any|both) ;;
        off|none) ib_say "network: ip=$ip, not configured"; return 0 ;;
        *) ib_static "$ip"; return ;;
    esac
    links=$(ib_links 10) || { ib_say "error: no network link with a carrier (cable? driver?)"; return 1; }
    for i in $links; do
        if $BB udhcpc -i "$i" -n -q -f -t 4 -T 2 -s "$IB_UDHCPC_SCRIPT" >/dev/null 2>&1; then
            ib_say "network: $i $($BB ip -4 -o addr show dev "$i" | $BB awk '{print $4}') (DHCP)"
            return 0
        fi
    done
    ib_say "error: no DHCP answer on: $links"
    return 1
}

ib_mount_cache() {
    local spec=$1 dir=$2 dev
    $BB mkdir -p "$dir"
    case $spec in
        /dev/*) dev=$spec ;;
        LABEL=*|UUID=*) dev=$($BB findfs "$spec" 2>/dev/null) ;;
        /*) $BB mount --bind "$spec" "$dir" && return 0; return 1 ;;
        *) ib_say "warning: inetboot.cache=$spec: use LABEL=, UUID=, /dev/... or a directory"; return 1 ;;
    esac
    [ -n "$dev" ] && $BB mount "$dev" "$dir" 2>/dev/null && { ib_say "cache: $spec on $dir"; return 0; }
    ib_say "warning: inetboot.cache=$spec: cannot mount it; booting without a persistent cache"
    return 1
}
