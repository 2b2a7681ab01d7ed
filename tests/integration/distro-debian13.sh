#!/usr/bin/env bash
# run-tests: parallel
# A real Debian 13 live ISO (tests/lib/mkdebian13live: debootstrap trixie +
# live-boot + systemd 257, kernel 6.12 whose modules are all .ko.xz, cached by
# recipe) boots through inetboot to login: with every check of
# distro-debian.sh; the hook's modules (loop, the NIC's driver) are carried
# from the image's squashfs, decompressed.
DEBIAN_LIVE_SUITE=trixie exec bash "$(dirname "$0")/distro-debian.sh"
