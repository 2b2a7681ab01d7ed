# QEMU under TCG with the serial console on a pair of FIFOs (sourced after
# common.sh).  One guest at a time per test shell:
#   qemu_start LOG [qemu args...]   start; the console goes to LOG
#   qemu_wait PATTERN SECONDS       wait until LOG matches PATTERN (grep -E); false on timeout or exit
#   qemu_send TEXT                  type TEXT and Enter on the console
#   qemu_keys BYTES                 type BYTES (printf %b escapes: '\e[B' down, '\r' Enter), no Enter
#   qemu_wait_exit SECONDS          wait until the guest ends by itself (poweroff); false on timeout
#   qemu_stop                       end the guest (by PID)
# The guest reaches the host's 127.0.0.1 as 10.0.2.2 (user networking).
# QEMU_NETNS=NAME runs QEMU in that network namespace (ip netns exec, which
# execs: QEMU_PID is still QEMU's); its 127.0.0.1 is then the guest's 10.0.2.2.
QEMU_PID= QEMU_LOG= QEMU_FIFO=

qemu_start() {
    local log=$1 dir
    shift
    requires qemu-system-x86_64
    scratch dir
    QEMU_FIFO=$dir/serial
    mkfifo "$QEMU_FIFO.in" "$QEMU_FIFO.out"
    QEMU_LOG=$log
    : > "$log"
    # The reader first: QEMU opens the FIFOs at start and blocks until both ends are open.
    if [ -n "${QEMU_STAMPS:-}" ]; then
        # QEMU_STAMPS=FILE: also each console line with the host's seconds since QEMU's start (where a boot's time goes).
        cat "$QEMU_FIFO.out" | tee -a "$log" | python3 -c '
import sys, time
t0 = time.monotonic()
out = open(sys.argv[1], "w")
for line in sys.stdin.buffer:
    out.write("%8.2f %s\n" % (time.monotonic() - t0, line.rstrip(b"\r\n").decode("utf-8", "replace")))
    out.flush()' "$QEMU_STAMPS" &
    else
        cat "$QEMU_FIFO.out" >> "$log" &
    fi
    cleanup_add "kill $! 2>/dev/null"
    exec {QEMU_IN}<>"$QEMU_FIFO.in"
    ${QEMU_NETNS:+ip netns exec "$QEMU_NETNS"} qemu-system-x86_64 -accel tcg -nographic -no-reboot -display none -monitor none \
        -serial "pipe:$QEMU_FIFO" "$@" >"$dir/qemu.stdout" 2>&1 &
    QEMU_PID=$!
    cleanup_add "qemu_stop"
}

qemu_wait() {
    local pattern=$1 limit=$2 t=0
    while [ "$t" -lt $((limit * 5)) ]; do
        grep -aqE "$pattern" "$QEMU_LOG" 2>/dev/null && return 0
        kill -0 "$QEMU_PID" 2>/dev/null || { grep -aqE "$pattern" "$QEMU_LOG"; return; }
        sleep 0.2
        t=$((t + 1))
    done
    return 1
}

qemu_send() { printf '%s\r' "$1" >&"$QEMU_IN"; }

# qemu_wait_exit SECONDS: QEMU exited (or is a zombie, reaped by qemu_stop) within SECONDS.
qemu_wait_exit() {
    local i st
    for ((i = 0; i < $1 * 5; i++)); do
        [ -r "/proc/$QEMU_PID/stat" ] || return 0
        read -r st < "/proc/$QEMU_PID/stat" || return 0
        st=${st##*) }
        [ "${st%% *}" = Z ] && return 0
        sleep 0.2
    done
    return 1
}

qemu_stop() {
    [ -n "$QEMU_PID" ] || return 0
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
    # (braces: a bare `exec {fd}>&- 2>/dev/null` would send the shell's stderr to /dev/null for good)
    if [ -n "${QEMU_IN:-}" ]; then { exec {QEMU_IN}>&-; } 2>/dev/null || true; fi
    QEMU_IN=
    return 0
}

# The console text without kernel log lines and control sequences.
qemu_console() { tr -d '\r' < "$QEMU_LOG" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | grep -avE '^\[ *[0-9]+\.[0-9]{6}\]'; }

# qemu_keys BYTES: type BYTES on the console as they are, with printf's
# backslash escapes and no Enter: qemu_keys '\e[B' is the down arrow (vt100),
# qemu_keys '\r' is Enter.
qemu_keys() { printf '%b' "$1" >&"$QEMU_IN"; }
