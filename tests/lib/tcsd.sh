# A TPM 1.2 for the host tests: swtpm (TPM 1.2 mode) behind tcsd, the
# TrouSerS daemon that libtspi talks to (sourced after common.sh).
#
#   tpm12_state DIR   an owned TPM 1.2 state in DIR/state: swtpm_setup creates
#                     the EK, then ownership is taken the way `tpm_takeownership
#                     -z` takes it (owner and SRK secret: the well-known secret,
#                     20 zero bytes), through tcsd.  Nothing outside DIR.
#   tpm12_start DIR   swtpm on that state (TCP, 127.0.0.1) and tcsd in front of
#                     it, each on a free port; exports TPM12_SPEC=tpm12:PORT
#                     (also TPM12_SWTPM_PID, TPM12_TCSD_PID, TPM12_TCSD_PORT).
#                     Stopped at exit (cleanup_add), by PID.
#   tpm12_stop        stop them now.
#   tpm12_seed_ps FILE  write a tcsd system persistent storage that holds only
#                     the SRK's entry (initramfs/lib.sh's ib_tcsd_seed_ps, which
#                     the preboot runs).
#
# Why swtpm_setup does not take ownership itself: its --owner-well-known and
# --srk-well-known use SHA1(20 zero bytes) as the secrets, not the 20 zero
# bytes themselves (TSS_WELL_KNOWN_SECRET) that tpm_takeownership -z and
# inetboot use; the SRK would answer TPM_AUTHFAIL.
#
# tcsd (TrouSerS 0.3.15 on Debian 12) insists that its config file is owned
# by root:tss with mode 0640 (not tss/0600), refuses to start otherwise, and
# drops to user tss: its data directory belongs to tss.  It listens on
# 127.0.0.1 and ::1 only (remote_ops unset).  Its TDDL talks to a TCP TPM when
# run with -e and TCSD_USE_TCP_DEVICE=1 TCSD_TCP_DEVICE_PORT=PORT
# (TCSD_TCP_DEVICE_HOSTNAME, default localhost); it reconnects for every
# command, so swtpm runs with `disconnect`.  swtpm: --flags
# not-need-init,startup-clear gives a TPM that is initialised and started
# (the state from swtpm_setup is enabled and activated).
. "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

# _tcsd_need: tcsd and swtpm present, and root (tcsd's config must be root:tss).
_tcsd_need() {
    command -v tcsd >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    requires swtpm swtpm_setup tcsd
    [ "$(id -u)" = 0 ] || { echo "skip - tcsd must start as root (its config must be root:tss)"; exit 77; }
    getent passwd tss >/dev/null || { echo "skip - no user tss (install trousers)"; exit 77; }
}

tpm12_seed_ps() {
    # The preboot's own function (initramfs/lib.sh), run with the host's static busybox.
    (BB=/bin/busybox; . "$IB_SRCDIR/initramfs/lib.sh"; ib_tcsd_seed_ps "$1")
}

# _tcsd_up DIR PSFILE: start swtpm on DIR/state and tcsd (config and data in
# DIR/tcsd) with that system PS; sets _T12_SWTPM_PID _T12_TCSD_PID _T12_TCSD_PORT.
_tcsd_up() {
    local dir=$1 ps=$2 try sport tport spid tpid
    mkdir -p "$dir/tcsd"
    chown tss:tss "$dir/tcsd" && chmod 0700 "$dir/tcsd" || return 1
    chown tss:tss "$ps" 2>/dev/null; chmod 0600 "$ps" 2>/dev/null
    for try in 1 2 3; do
        sport=$(free_port) && tport=$(free_port) || return 1
        [ "$sport" != "$tport" ] || continue
        _srv_spawn "$dir/swtpm.out" "$dir/swtpm.out" swtpm socket --tpmstate dir="$dir/state" \
            --server type=tcp,port="$sport",bindaddr=127.0.0.1,disconnect \
            --flags not-need-init,startup-clear --log file="$dir/swtpm.log"
        spid=$_SRV_SPAWNED
        _srv_register "$spid" swtpm
        if ! _srv_wait_port "$sport" "$spid" 10; then
            _srv_kill "$spid"
            continue
        fi
        printf 'port = %s\nsystem_ps_file = %s\n' "$tport" "$ps" >"$dir/tcsd/tcsd.conf"
        chown root:tss "$dir/tcsd/tcsd.conf" && chmod 0640 "$dir/tcsd/tcsd.conf" || return 1
        _srv_spawn "$dir/tcsd.log" "$dir/tcsd.log" env TCSD_USE_TCP_DEVICE=1 TCSD_TCP_DEVICE_PORT="$sport" \
            TCSD_TCP_DEVICE_HOSTNAME=127.0.0.1 tcsd -f -e -c "$dir/tcsd/tcsd.conf"
        tpid=$_SRV_SPAWNED
        _srv_register "$tpid" tcsd
        if _srv_wait_port "$tport" "$tpid" 15; then
            _T12_SWTPM_PID=$spid _T12_TCSD_PID=$tpid _T12_TCSD_PORT=$tport
            return 0
        fi
        _srv_kill "$tpid"
        _srv_kill "$spid"
    done
    echo "tcsd.sh: swtpm and tcsd did not come up:" >&2
    tail -n 5 "$dir/swtpm.out" "$dir/swtpm.log" "$dir/tcsd.log" >&2 2>/dev/null
    return 1
}

_tcsd_down() {
    [ -n "${_T12_TCSD_PID:-}" ] && _srv_kill "$_T12_TCSD_PID"
    [ -n "${_T12_SWTPM_PID:-}" ] && _srv_kill "$_T12_SWTPM_PID"
    _T12_TCSD_PID= _T12_SWTPM_PID=
    return 0
}

# The TPM owner's part of tpm_takeownership -z, through tcsd (tpm-tools is
# not a dependency): a few lines of tspi, compiled into DIR.
_tcsd_takeown_src='
#include <stdio.h>
#include <trousers/tss.h>
#include <trousers/trousers.h>
int main(void)
{
        TSS_HCONTEXT c; TSS_HTPM tpm; TSS_HKEY srk; TSS_HPOLICY tp, sp;
        BYTE wk[20] = TSS_WELL_KNOWN_SECRET;
        TSS_RESULT r;
        if ((r = Tspi_Context_Create(&c)) || (r = Tspi_Context_Connect(c, NULL)) ||
            (r = Tspi_Context_GetTpmObject(c, &tpm)) || (r = Tspi_GetPolicyObject(tpm, TSS_POLICY_USAGE, &tp)) ||
            (r = Tspi_Policy_SetSecret(tp, TSS_SECRET_MODE_SHA1, 20, wk)) ||
            (r = Tspi_Context_CreateObject(c, TSS_OBJECT_TYPE_RSAKEY, TSS_KEY_TSP_SRK | TSS_KEY_AUTHORIZATION, &srk)) ||
            (r = Tspi_GetPolicyObject(srk, TSS_POLICY_USAGE, &sp)) ||
            (r = Tspi_Policy_SetSecret(sp, TSS_SECRET_MODE_SHA1, 20, wk)) ||
            (r = Tspi_TPM_TakeOwnership(tpm, srk, 0))) {
                fprintf(stderr, "takeown: %s\n", Trspi_Error_String(r));
                return 1;
        }
        Tspi_Context_FreeMemory(c, NULL);
        Tspi_Context_Close(c);
        return 0;
}'

tpm12_state() {
    local dir=${1:?tpm12_state DIR} rc=0
    _tcsd_need
    requires cc
    mkdir -p "$dir/state" || return 1
    : >"$dir/swtpm_setup.conf"      # no certificates, no /etc/swtpm_setup.conf
    if ! swtpm_setup --tpm-state "$dir/state" --createek --config "$dir/swtpm_setup.conf" \
            --logfile "$dir/swtpm_setup.log" >/dev/null 2>&1; then
        echo "tpm12_state: swtpm_setup failed: $(tail -n 5 "$dir/swtpm_setup.log")" >&2
        return 1
    fi
    printf '%s\n' "$_tcsd_takeown_src" | cc -x c -o "$dir/takeown" - -ltspi || return 1
    mkdir -p "$dir/tcsd"    # tcsd makes the directory of its PS file mode 0700
    : >"$dir/tcsd/takeown.ps"
    _tcsd_up "$dir" "$dir/tcsd/takeown.ps" || return 1
    TSS_TCSD_PORT=$_T12_TCSD_PORT TSS_TCSD_HOSTNAME=localhost timeout 60 "$dir/takeown" || rc=1
    _tcsd_down
    rm -f "$dir/tcsd/takeown.ps" "$dir/takeown"
    [ "$rc" = 0 ] || echo "tpm12_state: taking ownership failed: $(tail -n 5 "$dir/tcsd.log")" >&2
    return "$rc"
}

tpm12_start() {
    local dir=${1:?tpm12_start DIR}
    _tcsd_need
    # tcsd's own record of the SRK is not kept: start from the seeded PS, as the preboot does.
    mkdir -p "$dir/tcsd"
    [ -s "$dir/tcsd/system.data" ] || tpm12_seed_ps "$dir/tcsd/system.data" || return 1
    _tcsd_up "$dir" "$dir/tcsd/system.data" || return 1
    TPM12_SWTPM_PID=$_T12_SWTPM_PID TPM12_TCSD_PID=$_T12_TCSD_PID TPM12_TCSD_PORT=$_T12_TCSD_PORT
    export TPM12_SPEC=tpm12:$_T12_TCSD_PORT
}

tpm12_stop() { _tcsd_down; }
