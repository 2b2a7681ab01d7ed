#!/usr/bin/env bash
# run-tests: parallel
# The boot media in QEMU (TCG): initramfs/mkmedia makes a hybrid GRUB image of
# the test preboot (build/initramfs-test) with a menu written here: a first
# entry whose image is not served, the minilive served by nginx on the host's
# 127.0.0.1 (10.0.2.2 from the guest), "type a URL" and the rescue shell.  The
# image boots (a) as a CD under SeaBIOS, (b) as a CD under OVMF (UEFI), (c) as a
# disk (written as it is, the dd-to-a-USB-stick case) under SeaBIOS and under
# OVMF.  Each time the GRUB menu shows on the serial console, the test moves to
# the wanted entry with down (the arrow under SeaBIOS, GRUB's `v` under OVMF,
# whose console races GRUB for the serial port's bytes) and Enter, and the boot
# reaches the minilive's marker.  The rescue shell runs a command, and its
# 'exit' leads to the preboot's menu, which boots the media's second entry.
# The USB image (with its IBCACHE partition) boots "type a URL", the URL typed
# on the console, then the minilive's entry again from the cache alone.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/qemu.sh"
requires qemu-system-x86_64 inetboot-sign xorriso mksquashfs grub-mkrescue mformat
pre=$BUILD/initramfs-test
[ -r "$pre/miniroot.img" ] && [ -r "$pre/vmlinuz" ] || { not_ok "the test preboot in $pre (make initramfs-test)"; finish; }
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd
scratch d
serve_minilive "$d"
url=http://10.0.2.2:$NGINX_PORT
mkmedia=$IB_SRCDIR/initramfs/mkmedia

# --- the menu file and the image --------------------------------------------------
cat > "$d/menu" <<EOF
# The media test's menu (tests/integration/media.sh)
timeout 60
options console=ttyS0 panic=-1
entry Not served (404) | $url/missing/minilive.iso.manifest
entry Minilive over HTTP | $url/minilive.iso.manifest | inetboot.mediatest=1
EOF
t=$(date +%s.%N)
if "$mkmedia" --build "$BUILD" --preboot "$pre" --menu "$d/menu" --out "$d/media.iso" --keep-tree "$d/tree" \
        --usb "$d/media-usb.img" --cache-size 64 >"$d/mkmedia.log" 2>&1; then
    ok "mkmedia builds the image ($(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
else
    not_ok "mkmedia builds the image"; cat "$d/mkmedia.log"; finish
fi
cfg=$d/tree/boot/grub/grub.cfg
check "grub.cfg: GRUB talks on the serial port" grep -qx 'serial --unit=0 --speed=115200' "$cfg"
check "grub.cfg: and reads it" grep -qx 'terminal_input console serial' "$cfg"
check "grub.cfg: a timeout" grep -qx 'set timeout=60' "$cfg"
check "grub.cfg: the entry's URL and options" \
    grep -qF "'inetboot.url=$url/minilive.iso.manifest' 'inetboot.mediatest=1'" "$cfg"
check "grub.cfg: a rescue shell without inetboot.url" \
    bash -c "sed -n '/--id rescue/,/}/p' '$cfg' | grep -q '^.linux .*inetboot.shell' && ! sed -n '/--id rescue/,/}/p' '$cfg' | grep -q inetboot.url"
check "grub.cfg: a 'type a URL' entry (inetboot.menu=url)" \
    bash -c "sed -n '/--id url/,/}/p' '$cfg' | grep -q \"^.linux .*'inetboot.menu=url'\""
check "grub.cfg: every entry loads the menu for the preboot too (4 entries)" \
    test "$(grep -c '^.initrd /boot/inetboot/miniroot.img /boot/inetboot/menu.cpio$' "$cfg")" = 4
check "menu.cpio: the menu file as /etc/inetboot/menu" \
    bash -c "cd '$d' && mkdir -p mc && cd mc && cpio -idm --quiet < '$d/tree/boot/inetboot/menu.cpio' && cmp -s etc/inetboot/menu '$d/menu'"
usbparts=$(xorriso -indev "$d/media-usb.img" -report_system_area plain 2>/dev/null)
check "USB image: the hybrid image and a FAT partition behind it (MBR type 0x0c)" \
    grep -qE '^MBR partition +: +3 +0x[0-9a-f]+ +0x0c ' <<<"$usbparts"
check "USB image: the partition is FAT, labelled IBCACHE" \
    bash -c "mdir -i '$d/media-usb.img@@$(awk '$1 == "MBR" && $2 == "partition" && $4 == 3 { print $7 * 512 }' <<<"$usbparts")' :: 2>&1 | grep -q 'Volume in drive : is IBCACHE'"
sysarea=$(xorriso -indev "$d/media.iso" -report_system_area plain 2>/dev/null)
check "as a disk, BIOS: GRUB's hybrid MBR" grep -qE '^System area summary: MBR .*grub2-mbr' <<<"$sysarea"
check "as a disk, UEFI: an EFI system partition (GPT)" grep -qE '^GPT partition path : +[0-9]+ +/efi.img$' <<<"$sysarea"
eltorito=$(xorriso -indev "$d/media.iso" -report_el_torito plain 2>/dev/null)
check "El Torito: a BIOS and a UEFI boot image" bash -c "grep -q 'El Torito boot img :   1  BIOS' <<<'$eltorito' && grep -q 'El Torito boot img :   2  UEFI' <<<'$eltorito'"
expect_fail "mkmedia refuses a URL that is not http(s)" 'not an http:// or https:// URL' \
    "$mkmedia" --preboot "$pre" --menu <(echo 'entry X | ftp://host/x.manifest') --out "$d/bad.iso"
expect_fail "mkmedia refuses an unknown keyword, with its line" ':2: unknown keyword' \
    "$mkmedia" --preboot "$pre" --menu <(printf 'timeout 5\nfoo bar\n') --out "$d/bad.iso"
expect_fail "mkmedia refuses an option with a quote" "option .*no quotes" \
    "$mkmedia" --preboot "$pre" --menu <(echo "entry X | http://h/x.manifest | a=\"b\"") --out "$d/bad.iso"

# --- boots ------------------------------------------------------------------------------
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
timings=() MENU_T=
# media NAME bios|uefi cdrom|disk: start the guest with the image
media() {
    local name=$1 fw=$2 how=$3 a=(-m 1024 -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile=)
    if [ "$fw" = uefi ]; then
        cp "$OVMF_VARS" "$d/$name.vars.fd"
        a+=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" -drive "if=pflash,format=raw,file=$d/$name.vars.fd")
    fi
    if [ "$how" = cdrom ]; then
        a+=(-cdrom "$d/media.iso" -boot d)
    elif [ "$how" = usb ]; then
        # The USB image as dd writes it to a stick, on a USB stick (xHCI), kept from boot to boot (its cache).
        [ -e "$d/usb.disk" ] || cp "$d/media-usb.img" "$d/usb.disk"
        a+=(-device qemu-xhci,id=xhci -drive "if=none,id=stick,file=$d/usb.disk,format=raw"
            -device usb-storage,bus=xhci.0,drive=stick,bootindex=0)
    else
        # The image written to a stick as it is (dd), on a writable disk.
        cp "$d/media.iso" "$d/$name.disk"
        a+=(-drive "file=$d/$name.disk,format=raw" -boot c)
    fi
    qemu_start "$d/$name.log" "${a[@]}"
}
# menu_pick NAME bios|uefi DOWNS LABEL: wait for the menu, press "down" DOWNS times, then
# Enter; the entry that starts must be LABEL's.  Down is GRUB's one-byte key for it, 'v':
# under OVMF, whose own console also reads the serial port, bytes race GRUB's serial
# terminal, and under SeaBIOS the vt100 arrow (ESC [ B) was lost now and then on a loaded
# machine (an escape sequence split across GRUB's redraws; a clean-clone CI run then started
# the first entry).
menu_pick() {
    local name=$1 fw=$2 downs=$3 label=$4 i down=v
    if qemu_wait 'Rescue shell' 120; then MENU_T=$(now); ok "$name: the GRUB menu on the serial console"
    else not_ok "$name: the GRUB menu on the serial console"; qemu_console | tail -n 20; return 1; fi
    # The countdown line comes once the menu is drawn on every terminal.
    qemu_wait 'executed automatically in' 30
    sleep 1
    for ((i = 0; i < downs; i++)); do qemu_keys "$down"; sleep 1; done
    qemu_keys '\r'
    if qemu_wait "inetboot: loading the preboot" 30 &&
       qemu_wait "$label" 1; then
        ok "$name: the keystrokes chose '$label'"
    else
        not_ok "$name: the keystrokes choose '$label'"; qemu_console | tail -n 20; return 1
    fi
}
# boot_minilive NAME bios|uefi cdrom|disk
boot_minilive() {
    local name=$1 t0 t1 tk= t2= t3 before
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    t0=$(now)
    media "$@"
    if menu_pick "$name" "$2" 1 'loading the preboot for Minilive over HTTP'; then
        t1=$(now)
        qemu_wait 'Linux version ' 120 && tk=$(now)
        if qemu_wait 'inetboot: starting ' 180; then t2=$(now); ok "$name: the preboot verified the manifest and kexecs"
        else not_ok "$name: the preboot reaches kexec"; qemu_console | tail -n 30; fi
        if [ -n "$t2" ] && qemu_wait 'MINILIVE-DONE' 180; then
            t3=$(now)
            ok "$name: the minilive booted from the URL of the menu"
            check "$name: the minilive's marker" grep -aq 'INETBOOT-MINILIVE-OK cmdline=' "$QEMU_LOG"
            check "$name: the preboot's kernel had the menu's options" \
                grep -aqF "inetboot.url=$url/minilive.iso.manifest inetboot.mediatest=1" "$QEMU_LOG"
            check "$name: the first entry's image was never asked for" \
                test "$(awk -v from="$before" 'NR > from && $2 ~ /missing/' "$NGINX_ACCESS_LOG" | wc -l)" = 0
            timings+=("$name: menu $(secs "$t0" "$MENU_T") s, entry started $(secs "$t0" "$t1") s, preboot kernel ${tk:+$(secs "$t0" "$tk")} s, kexec $(secs "$t0" "$t2") s, minilive done $(secs "$t0" "$t3") s")
        elif [ -n "$t2" ]; then
            not_ok "$name: the minilive boots"; qemu_console | tail -n 30
        fi
    fi
    cp "$QEMU_LOG" "$BUILD/test-logs/media-$name.console" 2>/dev/null || true
    qemu_stop
}
# boot_rescue NAME bios|uefi cdrom|disk: the rescue shell; on 'exit', the preboot's own menu, whose
# entry 2 (the media's menu file) boots the minilive.
boot_rescue() {
    local name=$1 t0 t1
    t0=$(now)
    media "$@"
    if menu_pick "$name" "$2" 3 'loading the preboot without an image'; then
        if qemu_wait 'a shell follows' 120; then
            ok "$name: the rescue entry opened a shell"
            check "$name: it says why" grep -aq 'the rescue shell (inetboot.shell)' "$QEMU_LOG"
            sleep 1
            qemu_send 'echo RESCUE-$((6 * 7)) $(cat /proc/cmdline)'
            if qemu_wait 'RESCUE-42' 30; then t1=$(now); ok "$name: the shell runs commands"
                timings+=("$name: menu $(secs "$t0" "$MENU_T") s, rescue shell $(secs "$t0" "$t1") s")
            else not_ok "$name: the shell runs commands"; qemu_console | tail -n 10; fi
            qemu_send exit
            if qemu_wait 'inetboot: your choice: ' 60; then
                ok "$name: 'exit' leads to the preboot's menu"
                qemu_console > "$d/$name.menu.txt"
                check "$name: the preboot's menu lists the media's entries" \
                    bash -c "grep -q '  1  Not served (404)' '$d/$name.menu.txt' && grep -q '  2  Minilive over HTTP' '$d/$name.menu.txt'"
                qemu_send 2
                if qemu_wait 'MINILIVE-DONE' 240; then ok "$name: entry 2 of the preboot's menu boots the minilive"
                else not_ok "$name: entry 2 of the preboot's menu boots the minilive"; qemu_console | tail -n 20; fi
            else
                not_ok "$name: 'exit' leads to the preboot's menu"; qemu_console | tail -n 20
            fi
        else
            not_ok "$name: the rescue shell"; qemu_console | tail -n 20
        fi
    fi
    cp "$QEMU_LOG" "$BUILD/test-logs/media-$name.console" 2>/dev/null || true
    qemu_stop
}
# boot_usb: the USB image on a disk, twice.  First GRUB's "type a URL": the preboot asks, the URL typed
# boots the minilive and fills the cache partition, found by its label; then the minilive's entry
# again, which fetches the manifest and no byte of the image.
boot_usb() {
    local before served manif
    media usb1 bios usb
    if menu_pick usb1 bios 2 'loading the preboot, which asks for a URL'; then
        if qemu_wait "the manifest's URL" 120; then
            ok "usb: the preboot asks for a URL"
            sleep 1
            qemu_send "$url/minilive.iso.manifest"
            # (the label is looked for at the start and again once the network is up: a USB disk
            # the kernel announces late is found after the URL was asked for)
            check "usb: the cache partition found by its label" qemu_wait 'cache: a disk labelled IBCACHE, used as the block cache' 120
            if qemu_wait 'MINILIVE-DONE' 240; then ok "usb: the URL typed boots the minilive"
            else not_ok "usb: the URL typed boots the minilive"; qemu_console | tail -n 20; fi
            check "usb: the minilive synced and powered off" qemu_wait_exit 60
            check "usb: the hook used the cache partition too" grep -aq 'cache: LABEL=IBCACHE on /inetboot/cache' "$QEMU_LOG"
        else
            not_ok "usb: the preboot asks for a URL"; qemu_console | tail -n 20
        fi
    fi
    cp "$QEMU_LOG" "$BUILD/test-logs/media-usb1.console" 2>/dev/null || true
    qemu_stop
    before=$(wc -l < "$NGINX_ACCESS_LOG")
    media usb2 bios usb
    if menu_pick usb2 bios 1 'loading the preboot for Minilive over HTTP' && qemu_wait 'MINILIVE-DONE' 240; then
        ok "usb: the second boot"
        served=$(awk -v from="$before" 'NR > from && $2 ~ /minilive\.iso$/ { n++ } END { print n + 0 }' "$NGINX_ACCESS_LOG")
        manif=$(awk -v from="$before" 'NR > from && $2 ~ /minilive\.iso\.manifest$/ { n++ } END { print n + 0 }' "$NGINX_ACCESS_LOG")
        check "usb: the second boot fetched the manifest ($manif) and no image byte ($served requests)" \
            test "$served" = 0 -a "$manif" -gt 0
    else
        not_ok "usb: the second boot"; qemu_console | tail -n 20
    fi
    cp "$QEMU_LOG" "$BUILD/test-logs/media-usb2.console" 2>/dev/null || true
    qemu_stop
}

boot_minilive bios-cdrom bios cdrom
if [ -r "$OVMF_CODE" ] && [ -r "$OVMF_VARS" ]; then
    boot_minilive uefi-cdrom uefi cdrom
    boot_minilive uefi-disk uefi disk
else
    not_ok "OVMF: $OVMF_CODE and $OVMF_VARS (apt-get install ovmf)"
fi
boot_rescue bios-disk bios disk
boot_usb
nginx_stop
for t in "${timings[@]}"; do echo "# $t"; done
echo "# image $(stat -c %s "$d/media.iso") bytes"
finish
