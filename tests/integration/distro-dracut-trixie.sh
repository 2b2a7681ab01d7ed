#!/usr/bin/env bash
# run-tests: parallel
# A Fedora-style live ISO made with Debian 13's dracut-ng (tests/lib/mkdracut13live:
# dmsquash-live with systemd 257 in its initrd, kernel 6.12 whose modules are
# .ko.xz, cached by recipe) boots through inetboot to login: with every check
# of distro-dracut.sh; the hook's modules are carried from the image's
# squashfs, decompressed.
DRACUT_LIVE_SUITE=trixie exec bash "$(dirname "$0")/distro-dracut.sh"
