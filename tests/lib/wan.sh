# An emulated WAN link for benchmarks (sourced after common.sh).
#
# The same link as ../shared/wan/wan-up (two network namespaces joined by its
# user-space delay line, delayline.py: this kernel has no sch_netem), but
# with namespace names of this run's own, so that several runs (or another
# user of wan-up's fixed "wan"/"wansrv") do not tear down each other's link.
#
#   wan_up DELAY_MS RATE_MBIT   one-way delay (RTT = 2 x DELAY_MS) and rate;
#                               sets WAN_NS (the client side, 10.9.0.1) and
#                               WAN_SRV_NS (the server side, 10.9.0.2);
#                               torn down at exit
#   wan_relay PORT TARGET_PORT  10.9.0.2:PORT in WAN_SRV_NS relays to the
#                               host's 127.0.0.1:TARGET_PORT (tests/lib/nsrelay.py)
#   wan_in CMD...               run CMD in WAN_NS (nsenter --net: the mount
#                               namespace stays the host's, FUSE mounts too)
#   wan_down                    undo (also done at exit)
WAN_SHARED=${WAN_SHARED:-$IB_SRCDIR/../shared/wan}

wan_up() {
    local delay=$1 rate=$2 ns i
    [ -r "$WAN_SHARED/delayline.py" ] || { echo "wan_up: no $WAN_SHARED/delayline.py" >&2; return 1; }
    WAN_NS=ibwan-c$$ WAN_SRV_NS=ibwan-s$$
    scratch _wan_dir
    cleanup_add wan_down
    for ns in "$WAN_NS" "$WAN_SRV_NS"; do
        ip netns add "$ns" && ip netns exec "$ns" ip link set lo up || return 1
    done
    ip netns exec "$WAN_NS" ip tuntap add dev tA mode tun &&
        ip netns exec "$WAN_SRV_NS" ip tuntap add dev tB mode tun &&
        ip netns exec "$WAN_NS" ip addr add 10.9.0.1/24 dev tA &&
        ip netns exec "$WAN_NS" ip link set tA up mtu 1500 &&
        ip netns exec "$WAN_SRV_NS" ip addr add 10.9.0.2/24 dev tB &&
        ip netns exec "$WAN_SRV_NS" ip link set tB up mtu 1500 || return 1
    python3 "$WAN_SHARED/delayline.py" "$WAN_NS" tA "$WAN_SRV_NS" tB "$delay" "$rate" 1000 >"$_wan_dir/delayline.log" 2>&1 &
    _WAN_PIDS=$!
    for i in $(seq 50); do grep -q ready "$_wan_dir/delayline.log" 2>/dev/null && return 0; sleep 0.1; done
    echo "wan_up: the delay line did not start:" >&2
    cat "$_wan_dir/delayline.log" >&2
    return 1
}

wan_relay() {
    local i ready=$_wan_dir/relay-$1.ready
    python3 "$IB_SRCDIR/tests/lib/nsrelay.py" "$WAN_SRV_NS" 10.9.0.2 "$1" "$2" "$ready" &
    _WAN_PIDS="$_WAN_PIDS $!"
    for i in $(seq 50); do [ -e "$ready" ] && return 0; sleep 0.1; done
    echo "wan_relay: the relay did not start" >&2
    return 1
}

wan_in() { nsenter --net="/var/run/netns/$WAN_NS" "$@"; }

wan_down() {
    local p
    for p in ${_WAN_PIDS:-}; do kill "$p" 2>/dev/null; done
    _WAN_PIDS=
    [ -n "${WAN_NS:-}" ] && ip netns del "$WAN_NS" 2>/dev/null
    [ -n "${WAN_SRV_NS:-}" ] && ip netns del "$WAN_SRV_NS" 2>/dev/null
    return 0
}
