#!/usr/bin/env bash
# run-tests: parallel
# inetboot from iPXE in QEMU (TCG): initramfs/mkipxe makes the iPXE folder
# (inetboot.ipxe + the test preboot of build/initramfs-test) from a menu written
# here: a first entry whose image is not served, the minilive served by nginx
# on the host's 127.0.0.1 (10.0.2.2 from the guest), the URL prompt and the
# rescue shell.  nginx serves the folder as /ipxe/; QEMU's user network hands
# out http://10.0.2.2:PORT/ipxe/inetboot.ipxe as the DHCP boot file name, and
# the virtio-net card's option ROM (iPXE, Debian's ipxe-qemu: efi-virtio.rom
# holds the BIOS and the UEFI driver) boots from the network (-boot n), DHCP,
# and chains that http:// URL.  iPXE draws its menu on the serial console and
# reads keys from it under SeaBIOS (sercon) and under OVMF (its console):
#   (a) SeaBIOS: down arrow + Enter choose the minilive's entry;
#   (b) OVMF: down arrows to "Type the URL of a manifest", Enter, the minilive's
#       manifest URL typed at the prompt, Enter.
# Both reach the minilive's marker, and nginx's log shows the script, vmlinuz
# and miniroot.img fetched from /ipxe/ (relative to the script's URL).
# (c) UEFI HTTP Boot without iPXE: OVMF's own HTTP Boot fetches the hybrid
#     image of mkmedia (the same menu file) from DHCP's boot file name into a
#     RAM disk; its GRUB menu, v + Enter, the minilive.
# And under SeaBIOS, a folder without miniroot.img: the script's failure path
# (its message, a key, the menu again), Escape (the iPXE shell) and `exit`.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
requires qemu-system-x86_64 inetboot-sign xorriso mksquashfs grub-mkrescue mformat
pre=$BUILD/initramfs-test
[ -r "$pre/miniroot.img" ] && [ -r "$pre/vmlinuz" ] || { not_ok "the test preboot in $pre (make initramfs-test)"; finish; }
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd
# QEMU's virtio-net-pci loads this ROM by default.  (Named with romfile=, it is
# not patched to the card's PCI ids and SeaBIOS finds no network boot device.)
ROM=/usr/lib/ipxe/qemu/efi-virtio.rom
[ -r "$ROM" ] || { not_ok "iPXE's virtio-net option ROM $ROM (apt-get install ipxe-qemu)"; finish; }
scratch d
serve_minilive "$d"
url=http://10.0.2.2:$NGINX_PORT
mkipxe=$IB_SRCDIR/initramfs/mkipxe

# --- the menu file and the folder ---------------------------------------------------
cat > "$d/menu" <<EOF
# The iPXE test's menu (tests/integration/ipxe.sh)
timeout 60
options console=ttyS0 panic=-1
entry Not served (404) | $url/missing/minilive.iso.manifest
entry Minilive over HTTP | $url/minilive.iso.manifest | inetboot.ipxetest=1
EOF
if "$mkipxe" --build "$BUILD" --preboot "$pre" --menu "$d/menu" --out "$d/www/ipxe" >"$d/mkipxe.log" 2>&1; then
    ok "mkipxe makes the folder: $(cat "$d/mkipxe.log")"
else
    not_ok "mkipxe makes the folder"; cat "$d/mkipxe.log"; finish
fi
s=$d/www/ipxe/inetboot.ipxe
check "the script starts with #!ipxe" test "$(head -n 1 "$s")" = '#!ipxe'
check "the preboot's kernel beside it" cmp -s "$pre/vmlinuz" "$d/www/ipxe/vmlinuz"
check "the preboot's miniroot beside it" cmp -s "$pre/miniroot.img" "$d/www/ipxe/miniroot.img"
check "menu.cpio beside it: the menu file for the preboot's own menu" \
    bash -c "mkdir -p '$d/mc' && cd '$d/mc' && cpio -idm --quiet < '$d/www/ipxe/menu.cpio' && cmp -s etc/inetboot/menu '$d/menu'"
check "every boot of the preboot loads it after the miniroot" \
    test "$(grep -c '^initrd miniroot.img || goto failed$' "$s")" = "$(grep -c '^initrd menu.cpio || goto failed$' "$s")"
check "the menu: the timeout (ms) and the default entry" grep -qx 'choose --timeout 60000 --default entry1 target || goto shell' "$s"
check "the menu: an item per entry, the URL prompt, the rescue shell" \
    bash -c "grep -x '^item .*' '$s' | cut -d' ' -f2- | tr '\n' '|' | grep -qx 'entry1 Not served (404)|entry2 Minilive over HTTP|--gap|url Type the URL of a manifest|rescue Rescue shell|'"
check "the entry: relative names, the options, the URL, the entry's option" \
    grep -qx "kernel vmlinuz initrd=miniroot.img initrd=menu.cpio console=ttyS0 panic=-1 inetboot.url=$url/minilive.iso.manifest inetboot.ipxetest=1 || goto failed" "$s"
check "the rescue shell: the options and inetboot.shell" \
    bash -c "sed -n '/^:rescue\$/,/^\$/p' '$s' | grep -qx 'kernel vmlinuz initrd=miniroot.img initrd=menu.cpio console=ttyS0 panic=-1 inetboot.shell || goto failed'"
check "the URL prompt boots inetboot.url=\${url}" grep -qxF 'kernel vmlinuz initrd=miniroot.img initrd=menu.cpio console=ttyS0 panic=-1 inetboot.url=${url} || goto failed' "$s"
# timeout 0: no menu first; -1: a menu without a timeout; default 4 (after 2 entries and "type a URL"): the rescue shell.
"$mkipxe" --preboot "$pre" --menu <(printf 'timeout 0\ndefault 4\nentry A | http://h/a.manifest\nentry B | http://h/b.manifest\n') \
    --out "$d/t0" >/dev/null 2>&1
check "timeout 0: straight to the default entry (the rescue shell, default 4)" \
    bash -c "grep -v '^#' '$d/t0/inetboot.ipxe' | grep -v '^\$' | head -n 1 | grep -qx 'goto rescue'"
"$mkipxe" --preboot "$pre" --menu <(printf 'timeout -1\ndefault 2\nrescue off\nentry A | http://h/a.manifest\n') --out "$d/t1" >/dev/null 2>&1
check "timeout -1: the menu waits; default 2: type a URL; rescue off: no rescue item" \
    bash -c "grep -qx 'choose --default url target || goto shell' '$d/t1/inetboot.ipxe' && ! grep -q '^item rescue' '$d/t1/inetboot.ipxe'"
"$mkipxe" --preboot "$pre" --menu <(printf 'url off\nrescue Shell\nentry A | http://h/a.manifest\n') --out "$d/t2" >/dev/null 2>&1
check "url off: no URL item or label; rescue LABEL: its label" \
    bash -c "! grep -q '^item url' '$d/t2/inetboot.ipxe' && ! grep -q '^:url' '$d/t2/inetboot.ipxe' && grep -qx 'item rescue Shell' '$d/t2/inetboot.ipxe'"
# Mistakes: the file and line, and nothing written.
printf 'timeout 5\n# a comment\nentry A | http://h/a.manifest\nfoo bar\n' > "$d/bad.menu"
expect_fail "mkipxe refuses an unknown keyword, with the file and line" "^mkipxe: $d/bad.menu:4: unknown keyword 'foo'" \
    "$mkipxe" --preboot "$pre" --menu "$d/bad.menu" --out "$d/bad"
check "and writes nothing" test ! -e "$d/bad"
expect_fail "mkipxe refuses a URL that is not http(s), with its line" ":2: entry 'X': 'ftp://h/x.manifest' is not an http:// or https:// URL" \
    "$mkipxe" --preboot "$pre" --menu <(printf 'timeout 5\nentry X | ftp://h/x.manifest\n') --out "$d/bad"
expect_fail "mkipxe refuses \${ (iPXE would expand it)" ":1: entry 'X': option: 'a=\\\$\{b\}': iPXE would expand" \
    "$mkipxe" --preboot "$pre" --menu <(echo 'entry X | http://h/x.manifest | a=${b}') --out "$d/bad"
expect_fail "mkipxe refuses a label word starting with # (a comment to iPXE)" ":3: entry: label 'Debian #2': a word starting with # is a comment to iPXE" \
    "$mkipxe" --preboot "$pre" --menu <(printf '\n\nentry Debian #2 | http://h/x.manifest\n') --out "$d/bad"
expect_fail "mkipxe refuses an iPXE operator as an option" ":1: options: '&&': '&&' is an operator" \
    "$mkipxe" --preboot "$pre" --menu <(printf 'options a && b\nentry X | http://h/x.manifest\n') --out "$d/bad"
expect_fail "mkipxe refuses a default beyond the menu" "default 5, but the menu has 4 entries" \
    "$mkipxe" --preboot "$pre" --menu <(printf 'default 5\nentry A | http://h/a.manifest\nentry B | http://h/b.manifest\n') --out "$d/bad"
check "the shared parser: mkmedia still refuses the same unknown keyword" \
    bash -c "'$IB_SRCDIR/initramfs/mkmedia' --preboot '$pre' --menu '$d/bad.menu' --out '$d/bad.iso' 2>&1 | grep -q '^mkmedia: $d/bad.menu:4: unknown keyword'"

# --- boots --------------------------------------------------------------------------------
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
timings=()
# netboot NAME bios|uefi: start the guest, booting from the network: DHCP gives iPXE the script's URL.
netboot() {
    local name=$1 fw=$2 a=(-m 1024 -boot n -netdev "user,id=n0,bootfile=$url/ipxe/inetboot.ipxe"
                         -device virtio-net-pci,netdev=n0)
    if [ "$fw" = uefi ]; then
        cp "$OVMF_VARS" "$d/$name.vars.fd"
        a+=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" -drive "if=pflash,format=raw,file=$d/$name.vars.fd")
    fi
    qemu_start "$d/$name.log" "${a[@]}"
}
# boot NAME bios|uefi DOWNS [URL]: the menu, DOWNS down arrows, Enter (and URL + Enter at the
# prompt); the chosen entry must load the preboot from /ipxe/, which must boot the minilive.
boot() {
    local name=$1 fw=$2 downs=$3 typed=${4:-} t0 tm= t1= tk= t2= t3 i before want
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    t0=$(now)
    netboot "$name" "$fw"
    if qemu_wait 'Type the URL of a manifest' 180; then
        tm=$(now); ok "$name: iPXE chained the script from DHCP's boot file name and shows the menu on the serial console"
        check "$name: the card's option ROM is iPXE, with DHCP's boot file name" \
            bash -c "grep -aq 'iPXE' '$QEMU_LOG' && grep -aqF 'Filename: $url/ipxe/inetboot.ipxe' '$QEMU_LOG'"
    else
        not_ok "$name: iPXE shows the script's menu on the serial console"; qemu_console | tail -n 20
    fi
    if [ -n "$tm" ]; then
        check "$name: the menu's countdown (60 s)" qemu_wait '\((60|59|58|57|56|55)\)' 5
        sleep 1
        for ((i = 0; i < downs; i++)); do qemu_keys '\e[B'; sleep 0.5; done
        qemu_keys '\r'
        if [ -n "$typed" ]; then
            want="inetboot: loading the preboot for $typed"
            if qemu_wait 'inetboot: the manifest URL' 30; then
                sleep 1; qemu_send "$typed"
            fi
        else
            want='inetboot: loading the preboot for Minilive over HTTP'
        fi
        if qemu_wait "$want" 30; then t1=$(now); ok "$name: the keystrokes chose '${want#inetboot: }'"
        else not_ok "$name: the keystrokes choose '${want#inetboot: }'"; qemu_console | tail -n 20; fi
    fi
    if [ -n "$t1" ]; then
        qemu_wait 'Linux version ' 300 && tk=$(now)
        if qemu_wait 'inetboot: starting ' 300; then t2=$(now); ok "$name: the preboot verified the manifest and kexecs"
        else not_ok "$name: the preboot reaches kexec"; qemu_console | tail -n 30; fi
    fi
    if [ -n "$t2" ] && qemu_wait 'MINILIVE-DONE' 180; then
        t3=$(now)
        ok "$name: the minilive booted from the URL of the menu"
        check "$name: the minilive's marker" grep -aq 'INETBOOT-MINILIVE-OK cmdline=' "$QEMU_LOG"
        if [ -n "$typed" ]; then
            check "$name: the preboot's kernel had the options and the typed URL" \
                grep -aqE "Command line: (vmlinuz )?initrd=miniroot.img initrd=menu.cpio console=ttyS0 panic=-1 inetboot.url=$typed\s*\$" "$QEMU_LOG"
        else
            check "$name: the preboot's kernel had the menu's options" \
                grep -aqE "Command line: (vmlinuz )?initrd=miniroot.img initrd=menu.cpio console=ttyS0 panic=-1 inetboot.url=$url/minilive.iso.manifest inetboot.ipxetest=1\s*\$" "$QEMU_LOG"
        fi
        for f in inetboot.ipxe vmlinuz miniroot.img menu.cpio; do
            check "$name: nginx served /ipxe/$f whole (200)" \
                test "$(awk -v from="$before" -v f="/ipxe/$f" 'NR > from && $2 == f && $3 == 200' "$NGINX_ACCESS_LOG" | wc -l)" -ge 1
        done
        check "$name: the first entry's image was never asked for" \
            test "$(awk -v from="$before" 'NR > from && $2 ~ /missing/' "$NGINX_ACCESS_LOG" | wc -l)" = 0
        timings+=("$name: menu $(secs "$t0" "$tm") s, entry chosen $(secs "$t0" "$t1") s, preboot kernel ${tk:+$(secs "$t0" "$tk")} s, kexec $(secs "$t0" "$t2") s, minilive done $(secs "$t0" "$t3") s")
    elif [ -n "$t2" ]; then
        not_ok "$name: the minilive boots"; qemu_console | tail -n 30
    fi
    mkdir -p "$BUILD/test-logs"
    cp "$QEMU_LOG" "$BUILD/test-logs/ipxe-$name.console" 2>/dev/null || true
    qemu_stop
}

# httpboot: UEFI HTTP Boot of the hybrid image (mkmedia, the same menu file), by OVMF's own
# network stack (no option ROM): DHCP's boot file name is the image's URL; the firmware
# tries PXE over IPv4 (TFTP of that name fails) and IPv6 first, then HTTP over IPv4,
# downloads the image into a RAM disk and starts its EFI/BOOT/BOOTX64.EFI (GRUB).
httpboot() {
    local name=uefi-httpboot t0 tf= tm= t1= t3 before size
    "$IB_SRCDIR/initramfs/mkmedia" --build "$BUILD" --preboot "$pre" --menu "$d/menu" --out "$d/www/inetboot.iso" >"$d/mkmedia.log" 2>&1 ||
        { not_ok "$name: mkmedia builds the image from the same menu"; cat "$d/mkmedia.log"; return 1; }
    size=$(stat -c %s "$d/www/inetboot.iso")
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    cp "$OVMF_VARS" "$d/$name.vars.fd"
    t0=$(now)
    qemu_start "$d/$name.log" -m 1024 -boot n -netdev "user,id=n0,bootfile=$url/inetboot.iso" \
        -device virtio-net-pci,netdev=n0,romfile= \
        -drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" -drive "if=pflash,format=raw,file=$d/$name.vars.fd"
    if qemu_wait 'Start HTTP Boot over IPv4' 300 && qemu_wait "URI: $url/inetboot.iso" 10; then
        tf=$(now); ok "$name: the firmware's HTTP Boot took the image's URL from DHCP"
    else
        not_ok "$name: the firmware's HTTP Boot takes the image's URL from DHCP"; qemu_console | tail -n 20
    fi
    if [ -n "$tf" ] && qemu_wait 'Rescue shell' 180; then
        tm=$(now); ok "$name: GRUB's menu from the image in a RAM disk"
    elif [ -n "$tf" ]; then
        not_ok "$name: GRUB's menu from the image in a RAM disk"; qemu_console | tail -n 20
    fi
    if [ -n "$tm" ]; then
        # GRUB's one-byte down key: OVMF's console races GRUB's serial terminal for the port (media.md).
        qemu_wait 'executed automatically in' 30
        sleep 1; qemu_keys 'v'; sleep 0.5; qemu_keys '\r'
        if qemu_wait 'inetboot: loading the preboot for Minilive over HTTP' 30; then t1=$(now); ok "$name: the keystrokes chose the minilive's entry"
        else not_ok "$name: the keystrokes choose the minilive's entry"; qemu_console | tail -n 20; fi
    fi
    if [ -n "$t1" ] && qemu_wait 'MINILIVE-DONE' 300; then
        t3=$(now)
        ok "$name: the minilive booted from the URL of the menu"
        check "$name: the minilive's marker" grep -aq 'INETBOOT-MINILIVE-OK cmdline=' "$QEMU_LOG"
        check "$name: nginx served the whole image (200, $size bytes)" \
            test "$(awk -v from="$before" -v s="$size" 'NR > from && $1 == "GET" && $2 == "/inetboot.iso" && $3 == 200 && $4 == s' "$NGINX_ACCESS_LOG" | wc -l)" = 1
        timings+=("$name: HTTP Boot $(secs "$t0" "$tf") s, GRUB menu $(secs "$t0" "$tm") s, entry chosen $(secs "$t0" "$t1") s, minilive done $(secs "$t0" "$t3") s")
    elif [ -n "$t1" ]; then
        not_ok "$name: the minilive boots"; qemu_console | tail -n 30
    fi
    mkdir -p "$BUILD/test-logs"
    cp "$QEMU_LOG" "$BUILD/test-logs/ipxe-$name.console" 2>/dev/null || true
    qemu_stop
}

# broken: the folder without miniroot.img (a 404): the script says it could not load
# the preboot, a key brings the menu back, Escape opens the iPXE shell, `exit` there
# returns to the menu.
broken() {
    local name=bios-broken n0
    mkdir -p "$d/www/broken"
    cp "$d/www/ipxe/inetboot.ipxe" "$d/www/ipxe/vmlinuz" "$d/www/broken/"
    qemu_start "$d/$name.log" -m 1024 -boot n -netdev "user,id=n0,bootfile=$url/broken/inetboot.ipxe" \
        -device virtio-net-pci,netdev=n0
    # menus COUNT SECONDS: the menu has been drawn COUNT times
    menus() { local i; for ((i = 0; i < $2 * 5; i++)); do
        [ "$(grep -ao 'Type the URL of a manifest' "$QEMU_LOG" | wc -l)" -ge "$1" ] && return 0; sleep 0.2; done; return 1; }
    if qemu_wait 'Type the URL of a manifest' 180; then
        qemu_wait '\((60|59|58|57|56|55)\)' 5; sleep 1
        qemu_keys '\e[B'; sleep 0.5; qemu_keys '\r'
        if qemu_wait 'inetboot: could not load the preboot' 120; then
            ok "$name: a missing miniroot.img: the script says it could not load the preboot"
            check "$name: iPXE asked for it beside the script" \
                test "$(awk '$2 == "/broken/miniroot.img" && $3 == 404' "$NGINX_ACCESS_LOG" | wc -l)" -ge 1
            n0=$(grep -ao 'Type the URL of a manifest' "$QEMU_LOG" | wc -l)
            qemu_wait 'Press a key for the menu' 10; sleep 0.5; qemu_keys ' '
            check "$name: a key brings the menu back" menus $((n0 + 1)) 20
            sleep 1; qemu_keys '\e'
            if qemu_wait 'inetboot: the iPXE shell' 20; then
                ok "$name: Escape in the menu opens the iPXE shell"
                n0=$(grep -ao 'Type the URL of a manifest' "$QEMU_LOG" | wc -l)
                sleep 1; qemu_send 'exit'
                check "$name: exit in the shell returns to the menu" menus $((n0 + 1)) 20
            else
                not_ok "$name: Escape in the menu opens the iPXE shell"; qemu_console | tail -n 10
            fi
        else
            not_ok "$name: a missing miniroot.img: the script says it could not load the preboot"; qemu_console | tail -n 20
        fi
    else
        not_ok "$name: iPXE shows the script's menu"; qemu_console | tail -n 20
    fi
    mkdir -p "$BUILD/test-logs"
    cp "$QEMU_LOG" "$BUILD/test-logs/ipxe-$name.console" 2>/dev/null || true
    qemu_stop
}

boot bios bios 1
broken
if [ -r "$OVMF_CODE" ] && [ -r "$OVMF_VARS" ]; then
    # Down: entry 2, (the gap is skipped) the URL prompt.
    boot uefi-url uefi 2 "$url/minilive.iso.manifest"
    httpboot
else
    not_ok "OVMF: $OVMF_CODE and $OVMF_VARS (apt-get install ovmf)"
fi
nginx_stop
for t in "${timings[@]}"; do echo "# $t"; done
finish
