# What the real-distribution boot tests share (sourced after common.sh,
# servers.sh and qemu.sh; tests/integration/distro-*.sh):
#
#   distro_serve BUILDER NAME       build (or take from the cache) NAME.iso with
#                                   tests/lib/BUILDER, sign it, serve it with nginx;
#                                   sets D (scratch), ISO, ISOSIZE, PRE (the test preboot)
#   distro_boot MEM PROMPT SECS     boot it through the preboot in QEMU until PROMPT
#                                   (the login prompt); sets T0, LOGIN_S, BOOT_BYTES,
#                                   and $D/boot.txt (the console); false on timeout
#   distro_login USER PROMPT        log in on the serial console
#   run_in TAG COMMAND              run COMMAND in the guest; its output is between TAG
#   between TAG                     ... the lines between TAG-BEGIN and TAG-END
#   distro_check_daemon WHAT        (b) an '@' root-storage daemon is alive
#   distro_check_late               (c) a file read after boot is intact and came over HTTP
#   distro_check_poweroff           (d) poweroff ends the machine cleanly; sets POWEROFF_S
#   distro_summary LABEL            the figures as a comment line

distro_serve() {
    local builder=$1 name=$2
    requires qemu-system-x86_64 inetboot-sign debootstrap mksquashfs xorriso
    PRE=$BUILD/initramfs-test
    [ -r "$PRE/miniroot.img" ] || { not_ok "the test preboot in $PRE (make initramfs-test)"; finish; }
    scratch D
    mkdir -p "$D/www"
    ISO=$name.iso
    "$IB_SRCDIR/tests/lib/$builder" "$D/www/$ISO" || { not_ok "build (or take from the cache) $ISO ($builder)"; finish; }
    inetboot-sign make -q --key "$TEST_KEY" -o "$D/www/$ISO.manifest" "$D/www/$ISO" || { not_ok "sign $ISO"; finish; }
    nginx_start "$D/www" || { not_ok "nginx starts"; finish; }
    ISOSIZE=$(stat -c %s "$D/www/$ISO")
}

distro_boot() {
    local mem=$1 prompt=$2 secs=$3
    T0=$SECONDS
    qemu_start "$D/boot.log" -m "$mem" -kernel "$PRE/vmlinuz" -initrd "$PRE/miniroot.img" \
        -append "console=ttyS0 panic=-1 inetboot.url=http://10.0.2.2:$NGINX_PORT/$ISO.manifest" \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0
    qemu_wait "$prompt" "$secs" || { qemu_console | tail -n 40; return 1; }
    LOGIN_S=$((SECONDS - T0))
    BOOT_BYTES=$(nginx_bytes_sent "/$ISO")
    qemu_console > "$D/boot.txt"
}

distro_login() {
    qemu_send "$1"
    qemu_wait "$2" 60 || true
    sleep 2
}

run_in() {
    qemu_send "echo $1-BEGIN; $2; echo $1-END"
    qemu_wait "^$1-END" 120
}
# (qemu_console strips the escape sequences bash's bracketed-paste mode puts before the first output line)
between() { qemu_console | awk -v b="$1-BEGIN" -v e="$1-END" '$0 == b { on = 1; next } $0 == e { on = 0 } on'; }

distro_check_daemon() {
    local daemons
    run_in DAEMON 'for p in /proc/[0-9]*; do head -c 1 $p/cmdline 2>/dev/null; echo; done | grep -c "^@"'
    daemons=$(between DAEMON | grep -E '^[0-9]+$' | head -n 1)
    check "(b) the root-storage daemon ('@' argv[0]) survived $1 ($daemons)" test "${daemons:-0}" -ge 1
}

distro_check_late() {
    local before late sums
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    run_in LATE 'sha256sum /data/late.bin | cut -c1-64; cat /data/late.sha256'
    late=$(awk -v from="$before" -v iso="/$ISO" 'NR > from && $2 == iso && $3 == 206' "$NGINX_ACCESS_LOG" | wc -l)
    sums=$(between LATE | grep -E '^[0-9a-f]{64}$' | sort -u | wc -l)
    check "(c) a file read after boot is intact (one sha256 twice)" test "$sums" = 1
    check "(c) ... and was fetched over HTTP ($late Range requests)" test "$late" -gt 0
}

# Clean shutdown: QEMU runs with -no-reboot and panic=-1, so a hang shows as a timeout, a panic as no power-down line.
distro_check_poweroff() {
    local t1=$SECONDS
    qemu_send poweroff
    if qemu_wait_exit 300; then ok "(d) poweroff ends the machine: QEMU exited after $((SECONDS - t1)) s"
    else not_ok "(d) poweroff ends the machine within 300 s"; qemu_console | tail -n 30; fi
    POWEROFF_S=$((SECONDS - t1))
    check "(d) ... through the kernel's power-down (reboot: Power down on the console)" grep -aq 'reboot: Power down' "$QEMU_LOG"
    check "(d) ... with no stop job waiting and no kernel panic" \
        bash -c "! grep -aqE 'A stop job is running|Kernel panic|blocked for more than' '$QEMU_LOG'"
    qemu_stop
}

distro_summary() {
    echo "# $1 through inetboot: login: after $LOGIN_S s under this machine's load;" \
         "ISO bytes fetched to login: $BOOT_BYTES of $ISOSIZE; poweroff to QEMU exit ${POWEROFF_S:-?} s"
}
