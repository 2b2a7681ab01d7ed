# Software TPMs (swtpm) for the tests (sourced after common.sh and servers.sh).
#
#   swtpm2_start DIR        a TPM 2.0 with its state in DIR, its data and
#                           control channels on 127.0.0.1, ports P and P + 1
#                           (the swtpm TCTI of tpm2-tss insists on P + 1);
#                           already powered on and started (Startup(CLEAR)),
#                           unless SWTPM2_FLAGS says otherwise (e.g.
#                           SWTPM2_FLAGS=not-need-init: powered, never started).
#                           Sets SWTPM_PID SWTPM_PORT SWTPM_CTRL_PORT SWTPM_DIR
#                           and exports SWTPM_SPEC=tpm2:swtpm:host=127.0.0.1,port=P
#                           (the spec of src/lib/trust/tpm.h; without "tpm2:" it is
#                           the TCTI for tpm2-tools' -T).
#   swtpm_qemu_start DIR VERSION   VERSION 2 or 1.2: a TPM for a QEMU guest,
#                           its control channel on the unix socket
#                           DIR/swtpm.sock (QEMU powers it on and starts it).
#                           DIR may hold a state prepared beforehand (e.g. an
#                           owned TPM 1.2).  Sets SWTPM_PID SWTPM_DIR and
#                           exports SWTPM_QEMU_ARGS, the QEMU arguments:
#                           -chardev socket,id=chrtpm,path=DIR/swtpm.sock
#                           -tpmdev emulator,id=tpm0,chardev=chrtpm
#                           -device tpm-tis,tpmdev=tpm0
#   swtpm_stop              stop the swtpm started last (by its PID).
#
# Like the servers in servers.sh, swtpm runs detached from the shell's jobs,
# is stopped by its PID (never by name) at exit, and every wait is bounded.
# Its log is DIR/swtpm.log.

SWTPM_PID= SWTPM_DIR=

# _swtpm_requires: swtpm on PATH (Debian puts nothing of it in sbin).
_swtpm_requires() { requires swtpm; }

swtpm2_start() {
    local dir=${1:?swtpm2_start DIR} port ctrl pid try i
    _swtpm_requires
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    for try in 1 2 3 4 5; do
        # tpm2-tss' swtpm TCTI talks to the control channel on port + 1.
        port=$(free_port) || return 1
        ctrl=$((port + 1))
        _srv_answers "$ctrl" && continue
        _srv_spawn "$dir/swtpm.out" "$dir/swtpm.out" swtpm socket --tpm2 \
            --tpmstate "dir=$dir" \
            --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
            --ctrl "type=tcp,port=$ctrl,bindaddr=127.0.0.1" \
            --flags "${SWTPM2_FLAGS:-not-need-init,startup-clear}" \
            --log "file=$dir/swtpm.log,level=1"
        pid=$_SRV_SPAWNED
        _srv_register "$pid" swtpm
        # Both channels answer once swtpm has set itself up (and, with
        # startup-clear, sent TPM2_Startup): <= 10 s.
        if _srv_wait_port "$port" "$pid" 10; then
            for ((i = 0; i < 200; i++)); do
                _srv_answers "$ctrl" && break
                _srv_gone "$pid" && break
                sleep 0.05
            done
            if _srv_answers "$ctrl"; then
                SWTPM_PID=$pid SWTPM_DIR=$dir SWTPM_PORT=$port SWTPM_CTRL_PORT=$ctrl
                export SWTPM_SPEC="tpm2:swtpm:host=127.0.0.1,port=$port"
                return 0
            fi
        fi
        _srv_kill "$pid"
        grep -qi 'in use' "$dir/swtpm.out" "$dir/swtpm.log" 2>/dev/null || break
    done
    echo "swtpm2_start: swtpm did not come up: $(tail -n 5 "$dir/swtpm.out" "$dir/swtpm.log" 2>/dev/null)" >&2
    return 1
}

swtpm_qemu_start() {
    local dir=${1:?swtpm_qemu_start DIR VERSION} ver=${2:?swtpm_qemu_start DIR VERSION} pid i
    local tpm2=()
    _swtpm_requires
    case $ver in
        2|2.0) tpm2=(--tpm2) ;;
        1.2) ;;
        *) echo "swtpm_qemu_start: VERSION is 2 or 1.2, not '$ver'" >&2; return 1 ;;
    esac
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    # A unix socket path is at most 107 bytes.
    if [ ${#dir} -gt 90 ]; then
        echo "swtpm_qemu_start: '$dir' is too long for a unix socket path" >&2
        return 1
    fi
    rm -f "$dir/swtpm.sock"
    _srv_spawn "$dir/swtpm.out" "$dir/swtpm.out" swtpm socket "${tpm2[@]}" \
        --tpmstate "dir=$dir" \
        --ctrl "type=unixio,path=$dir/swtpm.sock" \
        --log "file=$dir/swtpm.log,level=1"
    pid=$_SRV_SPAWNED
    _srv_register "$pid" swtpm
    if ! _srv_wait_for "$pid" 10 -S "$dir/swtpm.sock"; then
        _srv_kill "$pid"
        echo "swtpm_qemu_start: swtpm did not come up: $(tail -n 5 "$dir/swtpm.out" "$dir/swtpm.log" 2>/dev/null)" >&2
        return 1
    fi
    SWTPM_PID=$pid SWTPM_DIR=$dir
    export SWTPM_QEMU_ARGS="-chardev socket,id=chrtpm,path=$dir/swtpm.sock -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0"
    return 0
}

swtpm_stop() {
    [ -n "${SWTPM_PID:-}" ] && _srv_kill "$SWTPM_PID"
    SWTPM_PID=
    return 0
}
