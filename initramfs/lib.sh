# inetboot shell library, shared by the preboot's /init and the hook in the
# booted image's initramfs.  Plain busybox sh; every command goes through
# $BB so that nothing depends on the PATH of the initramfs it runs in.
#   ib_mount_kernel_fs  mount /proc, /sys, /dev
#   ib_netup            bring the network up (ip= from /proc/cmdline, else DHCP)
#   ib_mount_cache SPEC DIR   mount a cache device (LABEL=, UUID=, /dev/...) or bind a directory
#   ib_wait_usb_disks   wait until the USB sticks found have their disks
#   ib_mounted DIR      whether something is mounted on DIR
#   ib_cmdline_value KEY      the value of KEY= on /proc/cmdline, then $IB_EXTRA_CMDLINE (last one wins)
#   ib_start_tcsd       start tcsd (TrouSerS) when the machine has a TPM 1.2
: "${BB:=/bin/busybox}"
: "${IB_UDHCPC_SCRIPT:=/usr/lib/inetboot/udhcpc.script}"

# With IB_TIMESTAMPS set (the preboot's init), each line starts with the
# seconds since boot, as inetboot-agent --timestamps and the kernel's lines.
ib_say() {
    local up
    if [ -n "${IB_TIMESTAMPS:-}" ] && read -r up _ </proc/uptime 2>/dev/null; then
        printf '[%9s] inetboot: %s\n' "$up" "$*"
    else
        echo "inetboot: $*"
    fi
}

# ib_load_modules FILE: insmod the modules FILE lists (paths under
# /lib/modules/RELEASE, in load order), if FILE is there; counts those
# loaded in IB_MODULES_LOADED.
IB_MODULES_LOADED=0
ib_load_modules() {
    local m rel
    [ -r "$1" ] || return 0
    rel=$($BB uname -r)
    while read -r m; do
        $BB insmod "/lib/modules/$rel/$m" 2>/dev/null && IB_MODULES_LOADED=$((IB_MODULES_LOADED + 1))
    done < "$1"
    return 0
}

# /proc, /sys and /dev (devtmpfs), which every initramfs mounts first.
ib_mount_kernel_fs() {
    $BB mkdir -p /proc /sys /dev /run
    $BB mount -t proc -o nosuid,nodev,noexec proc /proc
    $BB mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
    $BB mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev 2>/dev/null
}

ib_cmdline_value() {
    local v= w
    for w in $($BB cat /proc/cmdline) ${IB_EXTRA_CMDLINE:-}; do
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
    local ip links i addr
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
            # udhcpc says yes when it got a lease, even if its script could not apply it.
            addr=$($BB ip -4 -o addr show dev "$i" | $BB awk '{print $4}')
            if [ -n "$addr" ]; then
                ib_say "network: $i $addr (DHCP)"
                return 0
            fi
            ib_say "warning: $i: a DHCP lease, but $IB_UDHCPC_SCRIPT did not configure it"
        fi
    done
    ib_say "error: no DHCP answer on: $links"
    return 1
}

# ib_mounted DIR: something is mounted on DIR (busybox-static has no mountpoint).
ib_mounted() { $BB awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts 2>/dev/null; }

# USB mass storage that the kernel has found but not yet attached as a disk
# (usb-storage waits a second before it scans, then the partitions are read):
# wait, 10 s at most, until every such interface has its block device.  A
# disk's block device appears a moment before its partitions: after a wait,
# /proc/partitions is watched until it holds still for 0.1 s (2 s at most).
ib_wait_usb_disks() {
    local t=0 i pending waited= now prev=
    while [ "$t" -lt 100 ]; do
        pending=
        for i in /sys/bus/usb/drivers/usb-storage/*:* /sys/bus/usb/drivers/uas/*:*; do
            [ -e "$i" ] || continue
            set -- "$i"/host*/target*/*/block/*
            [ -e "$1" ] || pending=1
        done
        [ -z "$pending" ] && break
        waited=1
        $BB usleep 100000
        t=$((t + 1))
    done
    [ -z "$pending" ] || return 1
    [ -n "$waited" ] || return 0
    for t in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        now=$($BB cat /proc/partitions)
        [ "$now" = "$prev" ] && return 0
        prev=$now
        $BB usleep 100000
    done
    return 0
}

# A disk named by the user is waited for (10 s at most): a USB stick appears
# a second or two after its driver is loaded.
ib_mount_cache() {
    local spec=$1 dir=$2 dev= t=0
    $BB mkdir -p "$dir"
    case $spec in
        /dev/*|LABEL=*|UUID=*) ;;
        /*) $BB mount --bind "$spec" "$dir" && return 0; return 1 ;;
        *) ib_say "warning: inetboot.cache=$spec: use LABEL=, UUID=, /dev/... or a directory"; return 1 ;;
    esac
    while [ "$t" -lt 100 ]; do
        case $spec in
            /dev/*) [ -b "$spec" ] && dev=$spec ;;
            *) dev=$($BB findfs "$spec" 2>/dev/null) ;;
        esac
        [ -n "$dev" ] && break
        [ "$t" = 0 ] && ib_say "cache: waiting for $spec"
        $BB usleep 100000
        t=$((t + 1))
    done
    # The preboot loads its file systems' modules (FAT, ext4) only now; the hook has them already.
    [ -n "$dev" ] && ib_load_modules /etc/inetboot/modules.cache
    [ -n "$dev" ] && $BB mount "$dev" "$dir" 2>/dev/null && { ib_say "cache: $spec on $dir"; return 0; }
    ib_say "warning: inetboot.cache=$spec: cannot mount it; booting without a persistent cache"
    return 1
}

# tcsd's system persistent storage holding only the SRK's entry, as tcsd
# itself writes it when ownership is taken through it (the SRK's public key
# zeroed, so the same bytes for every TPM).  Without it tcsd does not hand out
# the SRK (Tspi_Context_LoadKeyByUUID: key not found), and a machine whose
# owner was set elsewhere (firmware, another OS) could not use its AK.
# Format (src/tcs/ps/tcsps.c): version 1, 1 key; SRK UUID, NULL parent UUID,
# pub size 256, blob size 303, no vendor data, flags 3; 256 zero bytes; the
# SRK's TPM_KEY (1.1.0.0, storage, auth always, RSA-2048 OAEP, zero key).
ib_tcsd_seed_ps() {
    {
        $BB printf '\001\001\000\000\000'; $BB head -c 15 /dev/zero; $BB printf '\001'; $BB head -c 16 /dev/zero
        $BB printf '\000\001\057\001\000\000\000\000\003\000'; $BB head -c 256 /dev/zero
        $BB printf '\001\001\000\000\000\021\000\000\000\000\001\000\000\000\001\000\003\000\001'
        $BB printf '\000\000\000\014\000\000\010\000\000\000\000\002\000\000\000\000\000\000\000\000\000\000\001\000'
        $BB head -c 260 /dev/zero
    } > "$1"
}

# tcsd, when /sys/class/tpm/tpm0 is a TPM 1.2 (tpm_version_major missing, as
# before Linux 5.6, or "1"; the agent's libtspi needs the daemon, a TPM 2.0 is
# used directly).  Waits (<= 5 s) until it listens on 127.0.0.1:30003.  Never
# fatal: a failure says why and the boot goes on (unmeasured, if the agent
# accepts that).
ib_start_tcsd() {
    local major i pid conf=/etc/tcsd.conf ps=/var/lib/tpm/system.data
    [ -e /sys/class/tpm/tpm0 ] || return 0
    major=$($BB cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)
    [ -z "$major" ] || [ "$major" = 1 ] || return 0
    if [ ! -x /usr/sbin/tcsd ] || [ ! -e "$conf" ]; then
        ib_say "warning: TPM 1.2 found, but this preboot has no tcsd: boot measurements are off"
        return 1
    fi
    # tcsd's demands: config root:tss 0640, data directory owned by tss (it
    # drops to tss); the device is opened as tss too (no udev here).
    $BB mkdir -p /var/lib/tpm
    [ -s "$ps" ] || ib_tcsd_seed_ps "$ps"
    $BB chown root:tss "$conf" && $BB chmod 0640 "$conf" &&
        $BB chown -R tss:tss /var/lib/tpm && $BB chmod 0700 /var/lib/tpm && $BB chmod 0600 "$ps" ||
        { ib_say "warning: cannot prepare tcsd's files (user tss?): boot measurements are off"; return 1; }
    [ -e /dev/tpm0 ] && $BB chown tss:tss /dev/tpm0
    $BB mkdir -p /run/inetboot
    /usr/sbin/tcsd -f -c "$conf" > /run/inetboot/tcsd.log 2>&1 < /dev/null &
    pid=$!
    i=0
    while [ "$i" -lt 50 ]; do
        # 7533 = port 30003, 0A = LISTEN
        if $BB grep -q '^ *[0-9]*: 0100007F:7533 [0-9A-F:]* 0A' /proc/net/tcp 2>/dev/null; then
            ib_say "TPM 1.2 ($($BB cat /sys/class/tpm/tpm0/device/description 2>/dev/null || echo tpm0)," \
                "tpm_version_major ${major:-absent}): tcsd started (pid $pid, listening on 127.0.0.1:30003 after $((i * 100)) ms)"
            return 0
        fi
        $BB kill -0 "$pid" 2>/dev/null || break
        $BB usleep 100000
        i=$((i + 1))
    done
    ib_say "warning: TPM 1.2 found, but tcsd did not start: $($BB tail -n 3 /run/inetboot/tcsd.log 2>/dev/null | $BB tr '\n' ' ')"
    $BB kill "$pid" 2>/dev/null
    return 1
}
