# What the real-distribution boot tests share (sourced after common.sh,
# servers.sh and qemu.sh; tests/integration/distro-*.sh):
#
#   distro_serve BUILDER NAME       build (or take from the cache) NAME.iso with
#                                   tests/lib/BUILDER, sign it, serve it with nginx, make
#                                   the block cache's disk ($D/cache.img, FAT labelled IBCACHE);
#                                   sets D (scratch), ISO, ISOSIZE, PRE (the test preboot)
#   distro_boot MEM PROMPT SECS     boot it through the preboot in QEMU until PROMPT
#                                   (the login prompt), with the cache disk (virtio) and
#                                   inetboot.cache=LABEL=IBCACHE; sets T0, LOGIN_S, LOG_MARK
#                                   (the access log's lines before the boot), BOOT_BYTES (of
#                                   the ISO itself) and $D/boot.txt (the console); false on timeout
#   distro_iso_bytes                bytes of the ISO itself nginx sent since LOG_MARK
#   distro_login USER PROMPT        log in on the serial console
#   run_in TAG COMMAND              run COMMAND in the guest; its output is between TAG
#   between TAG                     ... the lines between TAG-BEGIN and TAG-END
#   distro_check_daemon WHAT        (b) an '@' root-storage daemon is alive
#   distro_check_late               (c) a file read after boot is intact and came through the
#                                   daemon; a block not fetched before comes over HTTP
#   distro_check_late_cached        (e) the late file read again is intact (from the cache)
#   distro_cache_stats [WHEN]       the hook's inetboot-httpfs' figures into STAT[] (SIGUSR1 to its
#                                   log, /dev/kmsg); with WHEN, as a comment line
#   distro_fill_wait SECS           wait (at most SECS) for the cache fill of the hook's
#                                   inetboot-httpfs to end; sets FILL_STATE (done, full, ...), FILL_S
#   distro_wait_fill                (e) the first boot, left idle, fetches the rest of the image
#                                   into the cache (inetboot-httpfs --cache-fill); sets FILL_S
#   distro_check_poweroff [WHICH]   (d) poweroff ends the machine cleanly; sets POWEROFF_S, SHUTDOWN_REQS
#   distro_check_modules initrd|carried   where the hook's modules came from (first boot)
#   distro_outage SECS              before distro_boot: the next boot's server goes away for SECS s
#                                   after kexec, while the booted system reads its squashfs
#                                   (the fault proxy, DISTRO_PORT, refuses every connection)
#   distro_check_outage             (f) after login: the outage came while the squashfs was read,
#                                   the system read it on afterwards, and no I/O error in its log
#   distro_check_cache_filled       (e) after the first boot: the hook used the cache, block
#                                   files are on the FAT disk; sets FIRST_BYTES, LOGIN1_S
#   distro_check_cache_only         (e) the second boot asked the network for the manifest
#                                   (and its signature) only: not one byte of the ISO
#   distro_summary LABEL            the figures as a comment line

distro_serve() {
    local builder=$1 name=$2
    requires qemu-system-x86_64 inetboot-sign debootstrap mksquashfs xorriso mkfs.vfat mdir
    PRE=$BUILD/initramfs-test
    [ -r "$PRE/miniroot.img" ] || { not_ok "the test preboot in $PRE (make initramfs-test)"; finish; }
    scratch D
    mkdir -p "$D/www"
    ISO=$name.iso
    "$IB_SRCDIR/tests/lib/$builder" "$D/www/$ISO" || { not_ok "build (or take from the cache) $ISO ($builder)"; finish; }
    inetboot-sign make -q --key "$TEST_KEY" -o "$D/www/$ISO.manifest" "$D/www/$ISO" || { not_ok "sign $ISO"; finish; }
    nginx_start "$D/www" || { not_ok "nginx starts"; finish; }
    # DISTRO_KEEP=DIR keeps the consoles and nginx's access log there (the scratch goes at exit).
    [ -z "${DISTRO_KEEP:-}" ] ||
        cleanup_add "mkdir -p '$DISTRO_KEEP' && cp '$D'/*.log '$D'/*.txt '$NGINX_ACCESS_LOG' '$DISTRO_KEEP'/ 2>/dev/null"
    ISOSIZE=$(stat -c %s "$D/www/$ISO")
    # Room for every block a boot reads (about 130 MB) and then some; sparse.
    truncate -s 512M "$D/cache.img"
    mkfs.vfat -n IBCACHE "$D/cache.img" >/dev/null || { not_ok "mkfs.vfat the cache disk"; finish; }
    BOOTS=0
}

distro_boot() {
    local mem=$1 prompt=$2 secs=$3
    BOOTS=$((BOOTS + 1))
    LOG_MARK=$(wc -l < "$NGINX_ACCESS_LOG")
    T0=$SECONDS
    qemu_start "$D/boot$BOOTS.log" -m "$mem" -kernel "$PRE/vmlinuz" -initrd "$PRE/miniroot.img" \
        -append "console=ttyS0 panic=-1 inetboot.url=http://10.0.2.2:${DISTRO_PORT:-$NGINX_PORT}/$ISO.manifest inetboot.cache=LABEL=IBCACHE" \
        -drive "file=$D/cache.img,if=virtio,format=raw" -netdev user,id=n0 -device virtio-net-pci,netdev=n0
    qemu_wait "$prompt" "$secs" || { qemu_console | tail -n 40; return 1; }
    LOGIN_S=$((SECONDS - T0))
    BOOT_BYTES=$(distro_iso_bytes)
    qemu_console > "$D/boot.txt"
}

# The body bytes of the ISO's own path (not its manifest's) since LOG_MARK.
distro_iso_bytes() {
    awk -v from="$LOG_MARK" -v iso="/$ISO" 'NR > from && $2 == iso { n += $4 } END { printf "%d\n", n }' "$NGINX_ACCESS_LOG"
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

# The late read comes through the daemon at run time: over HTTP, or, in a boot with the disk
# cache, from blocks that readahead fetched during the boot and the cache kept (the RAM cache
# alone would have dropped them by then).  The daemon's disk-hits tell which.  Then a block
# of the image that this boot has not fetched yet (the access log says which), read from
# /dev/loop0: it must come over HTTP, intact, whatever the cache holds.
distro_check_late() {
    local before late sums hits0 hits1 bs b want got reqs
    distro_cache_stats; hits0=${STAT[disk-hits]:-0}
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    run_in LATE 'sha256sum /data/late.bin | cut -c1-64; cat /data/late.sha256'
    late=$(awk -v from="$before" -v iso="/$ISO" 'NR > from && $2 == iso && $3 == 206' "$NGINX_ACCESS_LOG" | wc -l)
    sums=$(between LATE | grep -E '^[0-9a-f]{64}$' | sort -u | wc -l)
    distro_cache_stats; hits1=${STAT[disk-hits]:-0}
    check "(c) a file read after boot is intact (one sha256 twice)" test "$sums" = 1
    check "(c) ... and came through inetboot-httpfs at run time ($late Range requests, $((hits1 - hits0)) blocks from the disk cache)" \
        test "$late" -gt 0 -o "$hits1" -gt "$hits0"
    bs=${STAT[block-size]:-0} b=
    [ "$bs" -gt 0 ] && b=$(awk -v from="$LOG_MARK" -v iso="/$ISO" -v bs="$bs" -v n="$(( (ISOSIZE + bs - 1) / bs ))" '
        NR > from && $2 == iso && split($5, r, /[=-]/) == 3 { for (i = int(r[2] / bs); i <= int(r[3] / bs); i++) got[i] = 1 }
        END { for (i = n - 1; i >= 0; i--) if (!(i in got)) { print i; exit } }' "$NGINX_ACCESS_LOG")
    if [ "$bs" -gt 0 ] && [ -n "$b" ]; then
        want=$(dd if="$D/www/$ISO" bs="$bs" skip="$b" count=1 2>/dev/null | sha256sum | cut -c1-64)
        before=$(wc -l < "$NGINX_ACCESS_LOG")
        run_in RAW "dd if=/dev/loop0 bs=$bs skip=$b count=1 2>/dev/null | sha256sum | cut -c1-64"
        got=$(between RAW | grep -E '^[0-9a-f]{64}$' | head -n 1)
        reqs=$(awk -v from="$before" -v iso="/$ISO" -v o=$((b * bs)) \
               'NR > from && $2 == iso && $3 == 206 && split($5, r, /[=-]/) == 3 && r[2] + 0 <= o && o <= r[3] + 0' "$NGINX_ACCESS_LOG" | wc -l)
        check "(c) block $b, not fetched before, read from /dev/loop0 after boot came over HTTP ($reqs Range requests) intact" \
            test "$reqs" -gt 0 -a "$got" = "$want"
    else
        not_ok "(c) a block not fetched before (block size '$bs' from the daemon's statistics)"
    fi
}

distro_check_late_cached() {
    run_in LATE2 'sha256sum /data/late.bin | cut -c1-64; cat /data/late.sha256'
    check "(e) the late file read again is intact (one sha256 twice)" \
        test "$(between LATE2 | grep -E '^[0-9a-f]{64}$' | sort -u | wc -l)" = 1
}

# The daemon's statistics (SIGUSR1: to its log, /dev/kmsg) into STAT[name]; with WHEN, as a comment line.
declare -gA STAT=()
STATS_N=0
# (in the guest: the daemon writes its figures to the kernel log)
DISTRO_USR1='for p in /proc/[0-9]*; do grep -qx inetboot-httpfs $p/comm 2>/dev/null && kill -USR1 ${p#/proc/}; done; sleep 1'
distro_cache_stats() {
    local tag=STATS$((STATS_N += 1)) k v
    run_in "$tag" "$DISTRO_USR1"'; dmesg | grep -oE "inetboot-httpfs: (block-size|disk-hits|cache-[a-z-]+) [0-9a-z]+" | tail -n 16'
    STAT=()
    while read -r k v; do STAT[$k]=$v; done < <(between "$tag" | grep -oE '(block-size|disk-hits|cache-[a-z-]+) [0-9a-z]+')
    [ -z "${1:-}" ] || echo "# $1: $(between "$tag" | grep -oE '(disk-hits|cache-[a-z-]+) [0-9a-z]+' |
        awk '!($1 in v) { k[++n] = $1 } { v[$1] = $2 } END { for (i = 1; i <= n; i++) printf "%s %s ", k[i], v[k[i]] }')"
}

# Left idle (no test reads meanwhile), the daemon of a boot with a cache fetches the rest of
# the image into it once nothing was read for 30 s (its --cache-fill default): poll its state
# (SIGUSR1) until the fill has ended, at most 300 s.  Then the next boot needs no network
# whatever it reads, not only what this boot happened to read.
FILL_N=0
distro_fill_wait() {
    local t1=$SECONDS tag
    FILL_STATE=
    while [ $((SECONDS - t1)) -lt "$1" ]; do
        tag=FILL$((FILL_N += 1))
        run_in "$tag" 'sleep 5; '"$DISTRO_USR1"'; dmesg | grep -oE "inetboot-httpfs: cache-fill [a-z]+" | tail -n 1'
        FILL_STATE=$(between "$tag" | grep -oE 'cache-fill [a-z]+' | tail -n 1)
        FILL_STATE=${FILL_STATE#cache-fill }
        case $FILL_STATE in waiting|filling) ;; *) break ;; esac
    done
    FILL_S=$((SECONDS - t1))
}
distro_wait_fill() {
    distro_fill_wait 300
    distro_cache_stats "after the fill"
    check "(e) left idle, the first boot fetched the rest of the image into the cache (fill ${FILL_STATE:-?} after $FILL_S s: ${STAT[cache-fill-bytes]:-?} bytes; ${STAT[cache-missing]:-?} blocks missing)" \
        test "$FILL_STATE" = done -a "${STAT[cache-missing]:-1}" = 0
}

# Clean shutdown: QEMU runs with -no-reboot and panic=-1, so a hang shows as a timeout, a panic as no power-down line.
# With WHICH (e.g. "second boot: "), the checks' names say it; SHUTDOWN_REQS: the ISO's requests meanwhile.
distro_check_poweroff() {
    local t1=$SECONDS mark w=${1:-}
    mark=$(wc -l < "$NGINX_ACCESS_LOG")
    qemu_send poweroff
    if qemu_wait_exit 300; then ok "(d) ${w}poweroff ends the machine: QEMU exited after $((SECONDS - t1)) s"
    else not_ok "(d) ${w}poweroff ends the machine within 300 s"; qemu_console | tail -n 30; fi
    SHUTDOWN_REQS=$(awk -v from="$mark" -v iso="/$ISO" 'NR > from && $2 == iso' "$NGINX_ACCESS_LOG" | wc -l)
    [ -n "$w" ] || POWEROFF_S=$((SECONDS - t1))
    check "(d) ${w}... through the kernel's power-down (reboot: Power down on the console)" grep -aq 'reboot: Power down' "$QEMU_LOG"
    check "(d) ${w}... with no stop job waiting and no kernel panic" \
        bash -c "! grep -aqE 'A stop job is running|Kernel panic|blocked for more than' '$QEMU_LOG'"
    qemu_stop
}

# distro_check_modules initrd|carried: where the hook's modules came from, by the agent's
# line in the first boot's console: all from the image's initrd (Debian 12's .ko), or
# carried from its squashfs (Debian 13's .ko.xz, decompressed) and loaded into 6.12.
distro_check_modules() {
    local carried
    if [ "$1" = initrd ]; then
        check "the image's initrd had the hook's modules (none carried)" \
            grep -qE 'kernel modules for the hook: [0-9]+ from the image.s initrd, 0 carried' "$D/boot.txt"
        return
    fi
    carried=$(grep -aoE 'kernel modules for the hook: [0-9]+ from the image.s initrd, [0-9]+ carried from the image.s squashfs' "$D/boot.txt" | head -n 1)
    check "its .ko.xz modules were carried from the squashfs, decompressed (${carried:-no such line})" \
        test -n "$carried" -a "${carried##*initrd, }" != "0 carried from the image's squashfs"
    check "... and the hook loaded them into Linux 6.12 ($(grep -aoE 'hook: [0-9]+ modules loaded for Linux [^ ]+' "$D/boot.txt" | head -n 1))" \
        grep -aqE 'hook: [1-9][0-9]* modules loaded for Linux 6\.12' "$D/boot.txt"
    # (the NIC is virtio-net: its driver is a module of Debian 13's kernel that the initrds lack)
    check "... the NIC's driver among them ($(grep -aoE 'inetboot: carried: .*' "$D/boot.txt" | head -n 1 | tr -d '\r'))" \
        grep -aqE 'inetboot: carried: (.* )?virtio_net( |$)' "$D/boot.txt"
}

# After the first boot's poweroff: the preboot and the hook mounted the cache, and block files are on it.
distro_check_cache_filled() {
    local nfiles
    FIRST_BYTES=$(distro_iso_bytes) LOGIN1_S=$LOGIN_S BOOT1_BYTES=$BOOT_BYTES SHUTDOWN1_REQS=$SHUTDOWN_REQS LOG_MARK1=$LOG_MARK
    qemu_console > "$D/boot1.txt"
    check "(e) the preboot mounted the cache disk" grep -q 'cache: LABEL=IBCACHE on /run/inetboot/cache' "$D/boot1.txt"
    check "(e) the hook mounted it too" grep -q 'cache: LABEL=IBCACHE on /inetboot/cache' "$D/boot1.txt"
    check "(e) the first boot fetched the ISO over HTTP ($FIRST_BYTES bytes of it)" test "$FIRST_BYTES" -gt 0
    nfiles=$(mdir -/ -b -i "$D/cache.img" ::/blocks 2>/dev/null | grep -c '/[0-9a-f]\{64\}$' || true)
    CACHE_FILES=$nfiles
    check "(e) block files on the FAT cache disk ($nfiles)" test "$nfiles" -gt 0
}

# After the second boot's checks: since LOG_MARK nginx was asked for the manifest (and its
# signature) and nothing else; not one byte, not one request of the ISO itself.
distro_check_cache_only() {
    local others manif bytes
    bytes=$(distro_iso_bytes)
    manif=$(awk -v from="$LOG_MARK" -v m="/$ISO.manifest" 'NR > from && $2 == m' "$NGINX_ACCESS_LOG" | wc -l)
    others=$(awk -v from="$LOG_MARK" -v m="/$ISO.manifest" 'NR > from && $2 != m && $2 != m ".sig" { print $1, $2, $3, $4 }' \
             "$NGINX_ACCESS_LOG" | sort | uniq -c | head -n 5)
    check "(e) the second boot asked the network for the manifest ($manif requests)" test "$manif" -gt 0
    check "(e) ... and for nothing else but its signature (${others:-nothing else})" test -z "$others"
    check "(e) ... so not one byte of the ISO: $bytes (the first boot: $FIRST_BYTES)" test "$bytes" = 0 -a "$FIRST_BYTES" -gt 0
    [ "$bytes" = 0 ] || distro_explain_fetches
    check "(e) the hook mounted the cache disk" grep -q 'cache: LABEL=IBCACHE on /inetboot/cache' "$D/boot.txt"
}

# Why the second boot fetched: each of its requests of the ISO, its blocks, how long after the
# boot's first request it came, and whether the first boot had fetched those blocks too.
distro_explain_fetches() {
    awk -v m1="$LOG_MARK1" -v m2="$LOG_MARK" -v iso="/$ISO" -v bs="${STAT[block-size]:-262144}" '
        NR > m1 && NR <= m2 && $2 == iso && split($5, r, /[=-]/) == 3 { for (i = int(r[2] / bs); i <= int(r[3] / bs); i++) first[i] = 1 }
        NR > m2 && !t0 { t0 = $NF }
        NR > m2 && $2 == iso && split($5, r, /[=-]/) == 3 {
            a = int(r[2] / bs); b = int(r[3] / bs); f = ""
            for (i = a; i <= b; i++) f = f ((i in first) ? "y" : "n")
            printf "# second boot fetched blocks %d-%d (%s) %.1f s after its first request; the first boot fetched them: %s\n", a, b, $5, $NF - t0, f
        }' "$NGINX_ACCESS_LOG"
}

distro_summary() {
    echo "# $1 through inetboot: login: after ${LOGIN1_S:-$LOGIN_S} s under this machine's load${OUTAGE_S:+ (a $OUTAGE_S s server outage included)};" \
         "ISO bytes fetched to login: ${BOOT1_BYTES:-$BOOT_BYTES} of $ISOSIZE, in all ${FIRST_BYTES:-?};" \
         "poweroff to QEMU exit ${POWEROFF_S:-?} s, ${SHUTDOWN1_REQS:-?} requests of the ISO meanwhile"
    [ -z "${FIRST_BYTES:-}" ] ||
        echo "# $1, second boot from the cache disk (${CACHE_FILES:-?} block files): login: after $LOGIN_S s, ISO bytes $(distro_iso_bytes)"
}

# distro_outage SECS: the server goes away for SECS seconds in the middle of the next boot, after
# kexec, while the booted system reads its squashfs: the boot goes through the fault proxy
# (DISTRO_PORT, started here in front of nginx, no faults), and a watcher in the background waits
# for the hook's hand-over line on the console, then for 8 Range requests inside
# /live/filesystem.squashfs since (the booted system reading it through the daemon), then takes
# the proxy down (every connection closed, every new one refused, as a server gone) for SECS s.
# $D/outage: the access log's line counts when it went down and came back.
distro_outage() {
    local secs=$1 log=$D/boot$((BOOTS + 1)).log
    read -r SQ_FROM SQ_TO < <(xorriso -indev "$D/www/$ISO" -find /live/filesystem.squashfs -exec report_lba 2>/dev/null |
        awk -F' *, *' '/filesystem.squashfs/ { printf "%d %d\n", $2 * 2048, $2 * 2048 + $4 }')
    [ -n "$SQ_TO" ] || { not_ok "(f) where /live/filesystem.squashfs lies in $ISO"; return 1; }
    faultproxy_start "$NGINX_PORT" --rate 0 || { not_ok "(f) the fault proxy starts"; return 1; }
    DISTRO_PORT=$FAULTPROXY_PORT OUTAGE_S=$secs
    rm -f "$D/outage"
    (
        for i in $(seq 3000); do grep -aq 'hook: .* is /dev/loop0' "$log" 2>/dev/null && break; sleep 0.2; done
        mark=$(wc -l < "$NGINX_ACCESS_LOG")
        for i in $(seq 3000); do [ "$(distro_squashfs_reads "$mark")" -ge 8 ] && break; sleep 0.1; done
        down=$(wc -l < "$NGINX_ACCESS_LOG")
        faultproxy_down || exit 1
        sleep "$secs"
        faultproxy_up || exit 1
        echo "$mark $down $(wc -l < "$NGINX_ACCESS_LOG")" > "$D/outage"
    ) &
    cleanup_add "kill $! 2>/dev/null"
}

# distro_squashfs_reads MARK [END]: the Range requests inside the squashfs after access-log line
# MARK (up to line END).
distro_squashfs_reads() {
    awk -v from="$1" -v to="${2:-0}" -v iso="/$ISO" -v a="$SQ_FROM" -v b="$SQ_TO" \
        'NR > from && (to == 0 || NR <= to) && $2 == iso && split($5, r, /[=-]/) == 3 && r[2] + 0 >= a && r[2] + 0 < b' \
        "$NGINX_ACCESS_LOG" | wc -l
}

distro_check_outage() {
    local mark down up before after errs waits
    read -r mark down up < "$D/outage" 2>/dev/null
    before=$( [ -n "$down" ] && distro_squashfs_reads "$mark" "$down")
    check "(f) the server went away for $OUTAGE_S s after kexec, while the booted system read its squashfs (${before:-no} Range requests in it just before)" \
        test -n "$up" -a "${before:-0}" -ge 8
    [ -n "$up" ] || return 0
    after=$(distro_squashfs_reads "$up")
    check "(f) ... and the booted system read on from it once the server was back ($after Range requests in the squashfs)" test "$after" -gt 0
    run_in OUTAGE "dmesg | grep -ciE 'I/O error|SQUASHFS error|read fails with EIO'; dmesg | grep -c 'inetboot-httpfs: mirror .*retrying'"
    errs=$(between OUTAGE | grep -E '^[0-9]+$' | sed -n 1p) waits=$(between OUTAGE | grep -E '^[0-9]+$' | sed -n 2p)
    check "(f) ... its daemon waited for the server meanwhile (${waits:-?} retries in the kernel log)" test "${waits:-0}" -gt 0
    check "(f) ... and no I/O error in the guest's kernel log (${errs:-?} lines)" test "${errs:-1}" = 0
    [ "${errs:-1}" = 0 ] || { run_in OUTERR "dmesg | grep -iE 'I/O error|SQUASHFS error|read fails with EIO' | head -n 5"; between OUTERR | sed 's/^/# /'; }
}
