#!/usr/bin/env bash
# Golden dry runs of the live families inetboot cannot build here (issue 23):
# for each, an ISO laid out like its release ISO (tests/lib/mkfamilyiso:
# Ubuntu 24.04's layered casper, Arch's archiso, Manjaro's miso, openSUSE's
# kiwi, NixOS, Alpine) is signed, served by nginx and given to
# inetboot-agent --dry-run with a virtio NIC.  Checked, as exact strings:
# the family inetboot-sign make and show find, the entry's command line as
# the agent rewrites it (the family's medium hint, whole-image readers
# dropped with their console line, Ubuntu's words after ---, NixOS' init=),
# the initrds in order (Arch's microcode first) before the hook, the image
# file the agent took the target kernel's modules from, and the modules the
# hook gets (modules.order), each carried one byte-identical to the module
# decompressed from that file of the ISO.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
requires inetboot-agent inetboot-sign inetboot-httpfs xorriso mksquashfs unsquashfs cpio zstd xz gzip depmod mkfs.ext4 debugfs
[ -e /dev/fuse ] || requires /dev/fuse
hook=$BUILD/initramfs-test/hook.cpio.zst
[ -r "$hook" ] || { not_ok "the hook payload $hook (make initramfs-test builds it)"; finish; }
[ "$(id -u)" = 0 ] || { echo "skip - kiwi's rootfs.img is loop-mounted: root needed"; exit 77; }
scratch d
mkdir -p "$d/www" "$d/keys"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
rel=$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1); rel=${rel#/boot/vmlinuz-}
nic=(--modalias virtio:d00000001v00001AF4 --modalias pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00)
families="casper arch miso kiwi nixos alpine slax"
for f in $families; do
    "$IB_SRCDIR/tests/lib/mkfamilyiso" "$f" "$d/www/$f.iso" || { not_ok "mkfamilyiso $f"; finish; }
done
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
base=http://127.0.0.1:$NGINX_PORT

extract() { xorriso -osirrox on -indev "$1" -extract "$2" "$3" >/dev/null 2>&1; }
pad4() { cat "$1"; head -c $(( (4 - $(stat -c %s "$1") % 4) % 4 )) /dev/zero; }
# What every family's hook gets: its initrd's modules are all compressed
# (the hook's busybox insmod loads plain .ko), so all are carried, decompressed.
order="/inetboot/modules/fuse.ko
/inetboot/modules/loop.ko
/inetboot/modules/virtio_ring.ko
/inetboot/modules/virtio.ko
/inetboot/modules/failover.ko
/inetboot/modules/net_failover.ko
/inetboot/modules/virtio_net.ko
/inetboot/modules/virtio_pci_modern_dev.ko
/inetboot/modules/virtio_pci_legacy_dev.ko
/inetboot/modules/virtio_pci.ko"

# family F LABEL FAMILY KERNEL: sign F.iso; inetboot-sign make and show name the family of its entry LABEL.
family() {
    local f=$1 label=$2 want=$3 kernel=$4 out
    out=$(inetboot-sign make --key "$TEST_KEY" -o "$d/www/$f.iso.manifest" "$d/www/$f.iso" 2>&1) ||
        { not_ok "$f: inetboot-sign make ($out)"; return; }
    check "$f: inetboot-sign make: entry '$label' ($want): $kernel" grep -qxF "  entry '$label' ($want): $kernel" <<<"$out"
    check "$f: inetboot-sign show: entry $label [$want]" \
        grep -qxF "entry      $label [$want]" <(inetboot-sign show "$d/www/$f.iso.manifest" 2>&1)
}

# dryrun F ENTRY: the agent's dry run (--verbose) of entry ENTRY (a number) of F.iso into $d/F.out; its messages in $d/F.log.
dryrun() {
    local f=$1 entry=$2
    inetboot-agent --verbose --dry-run --out "$d/$f.out" --work "$d/$f.work" -K "$d/keys" --hook "$hook" "${nic[@]}" \
        --cmdline "inetboot.url=$base/$f.iso.manifest inetboot.entry=$entry" > "$d/$f.log" 2>&1
}

# golden F ENTRY CMDLINE SOURCE INITRD... -- MODULE=SRCFILE...: the checks of one dry run.
#   CMDLINE  the target command line, exactly
#   SOURCE   the agent's line naming where the modules came from
#   INITRD   the ISO's initrds, in order, before the hook payload
#   MODULE=SRCFILE  a carried module (its modules.order name) and the file
#            (in $d/src/F) it must equal once decompressed
golden() {
    local f=$1 entry=$2 cmd=$3 src=$4 i n=0
    shift 4
    local initrds=() mods=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do initrds+=("$1"); shift; done
    shift
    mods=("$@")
    dryrun "$f" "$entry" || { not_ok "$f: the dry run ($(tail -n 3 "$d/$f.log"))"; return; }
    check "$f: command line" test "$(cat "$d/$f.out/cmdline")" = "$cmd"
    check "$f: modules from $src" grep -qxF "inetboot: $src" "$d/$f.log"
    # The ISO's initrds, each padded to 4 bytes, in the entry's order, then the hook payload.
    for i in "${initrds[@]}"; do extract "$d/www/$f.iso" "$i" "$d/$f.initrd.$n" && pad4 "$d/$f.initrd.$n"; n=$((n + 1)); done > "$d/$f.want"
    pad4 "$hook" >> "$d/$f.want"
    check "$f: initrds in order (${initrds[*]}), then the hook" cmp -s -n "$(stat -c %s "$d/$f.want")" "$d/$f.out/initrd" "$d/$f.want"
    mkdir -p "$d/$f.x"
    tail -c +$(($(stat -c %s "$d/$f.want") + 1)) "$d/$f.out/initrd" | (cd "$d/$f.x" && cpio -idm --quiet 2>/dev/null)
    check "$f: the hook's modules, in load order" test "$(cat "$d/$f.x/inetboot/modules.order" 2>/dev/null)" = "$order"
    check "$f: the console names the carried modules, in load order" \
        test "$(grep -o '^inetboot: carried: .*' "$d/$f.log")" = \
             "inetboot: carried: $(sed -n 's|^/inetboot/modules/\(.*\)\.ko$|\1|p' "$d/$f.x/inetboot/modules.order" | tr '\n' ' ' | sed 's/ $//')"
    for i in "${mods[@]}"; do
        check "$f: ${i%%=*} is ${i#*=} decompressed, byte for byte" cmp -s "$d/$f.x/inetboot/modules/${i%%=*}" "$d/src/$f/${i#*=}"
    done
}

# unpack F DIR PATH...: the module files PATH... (compressed as the family ships them) of the root image of F
# decompressed into $d/src/F/, by name (fuse.ko.zst -> fuse.ko).
decompress_into() {
    local f=$1 p
    shift
    mkdir -p "$d/src/$f"
    for p in "$@"; do
        case $p in
            *.zst) zstd -qdc "$p" ;;
            *.xz) xz -dc "$p" ;;
            *.gz) gzip -dc "$p" ;;
        esac > "$d/src/$f/$(basename "${p%.*}")"
    done
}
# from_squashfs F ISOPATH TREE: fuse and virtio_net of the module tree TREE (…/modules/REL) of the squashfs ISOPATH.
from_squashfs() {
    local f=$1 sq=$2 tree=$3
    extract "$d/www/$f.iso" "$sq" "$d/$f.sq"
    unsquashfs -q -n -d "$d/$f.sqx" "$d/$f.sq" "$tree/kernel/fs/fuse" "$tree/kernel/drivers/net" >/dev/null 2>&1
    decompress_into "$f" "$d/$f.sqx"/$tree/kernel/fs/fuse/fuse.ko.* "$d/$f.sqx"/$tree/kernel/drivers/net/virtio_net.ko.*
}
carried=(fuse.ko=fuse.ko virtio_net.ko=virtio_net.ko)

t0=$SECONDS
# --- Ubuntu 24.04: layered casper -------------------------------------------------
family casper "Try or Install Ubuntu" casper /casper/vmlinuz
from_squashfs casper /casper/minimal.squashfs "usr/lib/modules/$rel"
golden casper 1 "live-media=/dev/loop0 fsck.mode=skip rdinit=/inetboot/hook --- quiet splash" \
    "kernel modules for $rel: from the image's /casper/minimal.squashfs" /casper/initrd -- "${carried[@]}"
# (the layer named by the initrd's LAYERFS_PATH and those below it, top first)
check "casper: the layers asked top first, from the initrd's LAYERFS_PATH" \
    test "$(sed -n "s/^inetboot: looking for the modules of $rel in \([^ ]*\) at byte [0-9]*$/\1/p" "$d/casper.log" | tr '\n' ' ')" = \
    "/casper/minimal.standard.live.squashfs /casper/minimal.standard.squashfs /casper/minimal.squashfs "

# --- Arch: archiso, microcode first ----------------------------------------------------
family arch "Arch Linux install medium (x86_64, BIOS)" arch /arch/boot/x86_64/vmlinuz-linux
from_squashfs arch /arch/x86_64/airootfs.sfs "usr/lib/modules/$rel"
golden arch 1 "archisobasedir=arch archisosearchuuid=2024-12-01-08-00-00-00 archisodevice=/dev/loop0 copytoram=n rdinit=/inetboot/hook" \
    "kernel modules for $rel: from the image's /arch/x86_64/airootfs.sfs" \
    /arch/boot/intel-ucode.img /arch/boot/amd-ucode.img /arch/boot/x86_64/initramfs-linux.img -- "${carried[@]}"

# --- Manjaro: miso ------------------------------------------------------------------------
family miso "Boot with open source drivers" miso /boot/vmlinuz-x86_64
from_squashfs miso /manjaro/x86_64/rootfs.sfs "usr/lib/modules/$rel"
golden miso 1 "misobasedir=manjaro misolabel=MANJARO_KDE_2421 quiet splash udev.log_priority=3 driver=free nouveau.modeset=1 i915.modeset=1 radeon.modeset=1 misodevice=/dev/loop0 rdinit=/inetboot/hook" \
    "kernel modules for $rel: from the image's /manjaro/x86_64/rootfs.sfs" \
    /boot/intel_ucode.img /boot/amd_ucode.img /boot/initramfs-x86_64.img -- "${carried[@]}"

# --- openSUSE Tumbleweed: kiwi, an ext4 rootfs.img inside the squashfs ---------------------------
family kiwi "openSUSE-Tumbleweed-KDE-Live" opensuse /boot/x86_64/loader/linux
extract "$d/www/kiwi.iso" /LiveOS/squashfs.img "$d/kiwi.sq"
unsquashfs -q -n -d "$d/kiwi.sqx" "$d/kiwi.sq" LiveOS/rootfs.img >/dev/null 2>&1
mkdir -p "$d/kiwi.ext"
debugfs -R "dump /usr/lib/modules/$rel/kernel/fs/fuse/fuse.ko.zst $d/kiwi.ext/fuse.ko.zst" "$d/kiwi.sqx/LiveOS/rootfs.img" >/dev/null 2>&1
debugfs -R "dump /usr/lib/modules/$rel/kernel/drivers/net/virtio_net.ko.zst $d/kiwi.ext/virtio_net.ko.zst" "$d/kiwi.sqx/LiveOS/rootfs.img" >/dev/null 2>&1
decompress_into kiwi "$d/kiwi.ext/fuse.ko.zst" "$d/kiwi.ext/virtio_net.ko.zst"
sent0=$(nginx_bytes_sent /kiwi.iso)
golden kiwi 1 "splash=silent root=live:CDLABEL=openSUSE_Tumbleweed_KDE_Live rd.live.image rd.live.overlay.persistent rd.live.overlay.cowfs=ext4 plymouth.enable=0 quiet rdinit=/inetboot/hook" \
    "kernel modules for $rel: from the image's /LiveOS/squashfs.img, its LiveOS/rootfs.img mounted read-only" \
    /boot/x86_64/loader/initrd -- "${carried[@]}"
sent=$(( $(nginx_bytes_sent /kiwi.iso) - sent0 ))
check "kiwi: rootfs.img is not read whole ($sent bytes of the $(stat -c %s "$d/www/kiwi.iso")-byte ISO, 24 MiB of it filler)" \
    test "$sent" -lt $(( $(stat -c %s "$d/www/kiwi.iso") - (16 << 20) ))
check "kiwi: nothing left mounted" bash -c "! grep -q ' $d/' /proc/mounts"
dryrun kiwi 3
check "kiwi: its Mediacheck entry without mediacheck=1" test "$(cat "$d/kiwi.out/cmdline")" = \
    "plymouth.enable=0 root=live:CDLABEL=openSUSE_Tumbleweed_KDE_Live rd.live.image rd.live.overlay.persistent rd.live.overlay.cowfs=ext4 rdinit=/inetboot/hook"
check "kiwi: ... said on the console" \
    grep -qxF "inetboot: opensuse: 'mediacheck=1' dropped: it would read the whole image over the network" "$d/kiwi.log"

# --- NixOS: the store's linux-*-modules ---------------------------------------------------------
family nixos "NixOS 24.11.710905.a0f3e10d9435 Installer" nixos /boot/bzImage
from_squashfs nixos /nix-store.squashfs "0mr9d0v6dyp2ypq4c1kqfcz1a5q3azfy-linux-$rel-modules/lib/modules/$rel"
init=/nix/store/sv6cm9pbzsnlk3vmpsaqjsaz0xvc5m4b-nixos-system-nixos-24.11.710905.a0f3e10d9435/init
golden nixos 1 "init=$init boot.shell_on_fail nohibernate loglevel=4 root=/dev/loop0 rdinit=/inetboot/hook" \
    "kernel modules for $rel: from the image's /nix-store.squashfs" /boot/initrd -- "${carried[@]}"
dryrun nixos 3
check "nixos: its (copytoram) entry without copytoram" test "$(cat "$d/nixos.out/cmdline")" = \
    "init=$init boot.shell_on_fail nohibernate loglevel=4 root=/dev/loop0 rdinit=/inetboot/hook"
check "nixos: ... said on the console" \
    grep -qxF "inetboot: nixos: 'copytoram' dropped: it would read the whole image over the network" "$d/nixos.log"
check "nixos: root= replaced, said" \
    grep -qxF "inetboot: nixos: 'root=LABEL=nixos-minimal-24.11-x86_64' replaced by 'root=/dev/loop0': the image is on /dev/loop0" "$d/nixos.log"

# --- Alpine: the modloop beside the kernel ------------------------------------------------------------
family alpine "Linux lts" alpine /boot/vmlinuz-lts
from_squashfs alpine /boot/modloop-lts "modules/$rel"
golden alpine 1 "modules=loop,squashfs,sd-mod,usb-storage quiet rdinit=/inetboot/hook" \
    "kernel modules for $rel: from the image's /boot/modloop-lts" /boot/initramfs-lts -- "${carried[@]}"
# A hostile image: its modloop's fuse.ko.gz a link to the preboot's /etc/passwd.  The
# link resolves inside the image's tree (openat2 RESOLVE_IN_ROOT), where there is no such file.
extract "$d/www/alpine.iso" /boot/modloop-lts "$d/ml.sq"
unsquashfs -q -n -d "$d/ml" "$d/ml.sq" >/dev/null 2>&1
ln -sf /etc/passwd "$d/ml/modules/$rel/kernel/fs/fuse/fuse.ko.gz"
mksquashfs "$d/ml" "$d/evil.sq" -quiet -no-progress -all-root -noappend >/dev/null
xorriso -indev "$d/www/alpine.iso" -outdev "$d/www/evil.iso" -map "$d/evil.sq" /boot/modloop-lts >/dev/null 2>&1
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/evil.iso.manifest" "$d/www/evil.iso" >/dev/null 2>&1
if dryrun evil 1; then not_ok "a module linked out of the image: the dry run stops"; else ok "a module linked out of the image: the dry run stops"; fi
check "... and says which module and why" grep -qxF \
    "inetboot: error: module kernel/fs/fuse/fuse.ko.gz: cannot read modules/$rel/kernel/fs/fuse/fuse.ko.gz: No such file or directory" "$d/evil.log"
check "... writing nothing" test ! -e "$d/evil.out/initrd"
# --- Slax (Linux Live Kit): from=/dev/loop0/slax, its initrd has fuse and loop ------------------
family slax "Run Slax from CD" slax /slax/boot/vmlinuz
if dryrun slax 1; then
    check "slax: command line" test "$(cat "$d/slax.out/cmdline")" = \
        "vga=normal load_ramdisk=1 prompt_ramdisk=0 rw printk.time=0 consoleblank=0 automount from=/dev/loop0/slax rdinit=/inetboot/hook"
    check "slax: fuse and loop from its initrd (plain .ko), the NIC's drivers carried from /slax/01-core.sb" \
        grep -qxF "inetboot: carried: virtio_ring virtio failover net_failover virtio_net virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci" "$d/slax.log"
    check "slax: ... found in its first bundle" grep -qxF "inetboot: kernel modules for $rel: from the image's /slax/01-core.sb" "$d/slax.log"
else
    not_ok "slax: the dry run ($(tail -n 3 "$d/slax.log"))"
fi
dryrun slax 2
check "slax: its toram entry without toram" test "$(cat "$d/slax.out/cmdline")" = \
    "vga=normal load_ramdisk=1 prompt_ramdisk=0 rw printk.time=0 consoleblank=0 automount from=/dev/loop0/slax rdinit=/inetboot/hook"
check "slax: ... said on the console" \
    grep -qxF "inetboot: slax: 'toram' dropped: it would read the whole image over the network" "$d/slax.log"
# The same without its first bundle: no tree in the image for the NIC's driver; the initrd's modules serve.
xorriso -indev "$d/www/slax.iso" -outdev "$d/www/slaxbare.iso" -rm /slax/01-core.sb -- >/dev/null 2>&1
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/slaxbare.iso.manifest" "$d/www/slaxbare.iso" >/dev/null 2>&1
if dryrun slaxbare 1; then
    check "slax without a module tree: the initrd's modules, said so" grep -qxF \
        "inetboot: no driver in the image's initrd for a network device, and no module tree in the image: the hook takes what the initrd has" \
        "$d/slaxbare.log"
    check "... fuse and loop from the initrd, nothing carried" \
        grep -qE "^inetboot: 2 kernel modules for the hook: 2 from the image's initrd, 0 carried$" "$d/slaxbare.log"
else
    not_ok "slax without a module tree: the dry run ($(tail -n 3 "$d/slaxbare.log"))"
fi
ok "seven families' dry runs in $((SECONDS - t0)) s"
nginx_stop
finish
