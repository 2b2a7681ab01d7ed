# inetboot: the one build entry.  GNU make, pkg-config, C11 (gnu11).
#
#   make            build the library, the programs and the tests into build/
#   make deps       install every Debian package the project needs (idempotent)
#   make check      deps + build + unit tests (also under ASan/UBSan) + fuzz
#                   smoke runs + host integration tests; closing line "N passed, N failed"
#   make check-e2e  only the QEMU boots through the preboot (part of make check)
#   make check-distros  only the real distributions' boots (Debian 12 and 13 live,
#                   dracut; part of make check)
#   make initramfs  the preboot: build/initramfs/{vmlinuz,miniroot.img,hook/}
#   make iso        boot media (BIOS + UEFI, CD or dd to USB): build/inetboot.iso from
#                   make initramfs and manifests/menu (else manifests/menu.example)
#   make usb        the same for a USB stick, with a block cache partition (IBCACHE,
#                   USB_CACHE_MIB, default 1024): build/inetboot-usb.img
#   make ipxe       the same menu for iPXE: build/ipxe/{inetboot.ipxe,vmlinuz,miniroot.img},
#                   to upload and start with chain http://SERVER/PATH/inetboot.ipxe
#   make demo       build a small live ISO, sign it, serve it, boot it in QEMU through the boot media
#   make fuzz       build the libFuzzer targets (clang) into build/fuzz/
#   make bench      run the benchmarks in tests/bench/ (reports, not tests)
#   make bench-boot the boot benchmark (root, QEMU, ../shared/wan): Debian live to login:
#                   from a virtual CD, live-boot fetch=/httpfs=, inetboot cold/profile/warm,
#                   over emulated WAN links; a report (docs/performance.md), not in make check
#   make install    PREFIX=/usr/local DESTDIR=
#
# Objects go under $(BUILD) (default build/); nothing is written into the tree.

PREFIX   ?= /usr/local
BUILD    ?= build
# One spelling of every build path: the compiler's dependency files (*.d) name
# their targets as make saw them, so "build/x.o" and "/abs/build/x.o" would be
# two targets and a header change would not rebuild the other's objects.
override BUILD := $(abspath $(BUILD))
CC       ?= cc
PKG_CONFIG ?= pkg-config

# libbz2 and TrouSerS' libtspi have no pkg-config file on Debian: by hand.
PKGS       := openssl libarchive libcurl fuse3 libzstd zlib liblzma liblz4 \
              tss2-esys tss2-mu tss2-tctildr tss2-rc libmicrohttpd
# The flags are computed the first time a recipe uses them, not when make reads
# this file: on a fresh machine the -dev packages are installed by this very make
# (deps-build runs before any compile, see below), so a value taken at parse time
# would be empty and the first build would fail on a missing header.  The `eval`
# keeps the value, so pkg-config runs once per make, not once per object.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell $$(PKG_CONFIG) --cflags $$(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell $$(PKG_CONFIG) --libs $$(PKGS)) -lbz2 -ltspi)$(PKG_LIBS)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
           -Wstrict-prototypes -Wno-unused-parameter -Wvla
# SAN (sanitizers) and FORTIFY do not mix well; the sanitizer builds drop FORTIFY.
ifeq ($(SAN),)
HARDEN  := -D_FORTIFY_SOURCE=2
endif
HARDEN  += -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(LIB_INCS) $(PKG_CFLAGS) \
              -DIB_KEYS_DIR='"$(PREFIX)/share/inetboot/keys"' \
              -DIB_DATA_DIR='"$(PREFIX)/lib/inetboot"' $(CFLAGS) $(SAN) -MMD -MP
ALL_LDFLAGS = -pie -pthread -Wl,-z,relro,-z,now,--as-needed $(LDFLAGS) $(SAN)

# The library by concern (docs/architecture.md): datapath/ (the block engine and its
# caches), boot/ (ISO, boot configs, initrds, modules, command lines), trust/
# (manifests, signatures, measurements, TPMs, attestation); util.c serves all.
# Each folder is on the include path, so sources include "name.h" wherever it lives.
LIB_DIRS  := src/lib src/lib/datapath src/lib/boot src/lib/trust
LIB_INCS  := $(LIB_DIRS:%=-I%)
LIB_SRCS  := $(wildcard $(LIB_DIRS:%=%/*.c) src/lib/*/*/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libinetboot.a
PROG_NAMES := inetboot-sign inetboot-httpfs inetboot-agent
ATTEST_NAMES := inetboot-attest inetboot-attestd
PROGS     := $(PROG_NAMES:%=$(BUILD)/bin/%) $(ATTEST_NAMES:%=$(BUILD)/bin/%)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNITS     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps deps-build check check-e2e check-distros unit demo fuzz install clean asan bench bench-boot initramfs initramfs-test iso usb ipxe
.DELETE_ON_ERROR:
.SECONDARY:

SCRIPT_NAMES := inetboot-try
SCRIPTS   := $(SCRIPT_NAMES:%=$(BUILD)/bin/%)

all: $(LIB) $(PROGS) $(SCRIPTS) $(UNITS) $(BUILD)/tests/tpmtest

# Programs that are scripts (src/<name>/<name>, man page beside it), copied as they are.
$(BUILD)/bin/inetboot-try: src/try/inetboot-try
	@mkdir -p $(@D)
	cp $< $@

# Every compile waits for deps-build (order-only: it never makes an object stale).
$(BUILD)/%.o: %.c | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# What was compiled before BUILD was made absolute (its *.d named relative
# targets, so no header change reached it) is removed once, and rebuilt.
ifeq ($(wildcard $(BUILD)/.deps-abs),)
$(shell find $(BUILD) \( -name '*.o' -o -name '*.a' -o -name '*.d' \) -delete 2>/dev/null; \
        rm -rf $(BUILD)/bin $(BUILD)/tests $(BUILD)/fuzz; mkdir -p $(BUILD) && touch $(BUILD)/.deps-abs)
endif

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# Programs live in src/<name>/ (one folder each, man page beside the code), built
# from every .c file there; main() is in main.c or inetboot-<name>.c.
define program
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/$(1:inetboot-%=%)/*.c)) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach p,$(PROG_NAMES),$(eval $(call program,$(p))))
# Unit tests of the agent's steps (tests/unit/test-agent-*.c) see its internal header
# (agent.h) and link its objects but main.o.
AGENT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out src/agent/main.c,$(wildcard src/agent/*.c)))
$(BUILD)/tests/unit/test-agent-%.o: ALL_CFLAGS += -Isrc/agent
$(BUILD)/tests/test-agent-%: $(BUILD)/tests/unit/test-agent-%.o $(AGENT_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
# Remote attestation lives in attest/ (the design card's layout).
$(BUILD)/bin/inetboot-%: $(BUILD)/attest/inetboot-%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/test-%: $(BUILD)/tests/unit/test-%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# A thin driver of src/lib/trust/tpm.c for the host tests against swtpm (not installed).
$(BUILD)/tests/tpmtest: $(BUILD)/tests/lib/tpmtest.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- sanitizer and fuzz builds: the same sources, other flags, other dirs ----
asan:
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan CC=$(CC) \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		CFLAGS="-O1 -g" all

# libFuzzer targets: clang, library built with fuzzer-no-link instrumentation.
fuzz:
	$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzzlib CC=clang \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		CFLAGS="-O1 -g" FUZZ_OUT=$(abspath $(BUILD)/fuzz) fuzzers

fuzzers: $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_OUT)/%)

$(FUZZ_OUT)/fuzz-%: tests/fuzz/fuzz-%.c $(LIB) | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(PKG_LIBS)

# ---- the preboot: Debian kernel + miniroot + the hook payload ------------------
# initramfs: trusts keys/*.pub but the test-only key; initramfs-test trusts it too.
INITRAMFS_SRCS := $(filter-out initramfs/mkmedia initramfs/mkipxe initramfs/menufile.sh,$(wildcard initramfs/*))
$(BUILD)/initramfs/miniroot.img: $(PROGS) $(INITRAMFS_SRCS) $(wildcard keys/*.pub keys/roots/*.pub)
	initramfs/mkminiroot --build $(BUILD) --out $(BUILD)/initramfs
$(BUILD)/initramfs-test/miniroot.img: $(PROGS) $(INITRAMFS_SRCS) $(wildcard keys/*.pub keys/roots/*.pub)
	initramfs/mkminiroot --build $(BUILD) --out $(BUILD)/initramfs-test --test-keys
initramfs: $(BUILD)/initramfs/miniroot.img
initramfs-test: $(BUILD)/initramfs-test/miniroot.img

# ---- boot media: GRUB (BIOS and UEFI) + the preboot + a menu (docs/media.md) ----
MENU ?= $(firstword $(wildcard manifests/menu) manifests/menu.example)
$(BUILD)/inetboot.iso: $(BUILD)/initramfs/miniroot.img $(MENU) initramfs/mkmedia initramfs/menufile.sh
	initramfs/mkmedia --build $(BUILD) --preboot $(BUILD)/initramfs --menu $(MENU) --out $@
iso: $(BUILD)/inetboot.iso
USB_CACHE_MIB ?= 1024
$(BUILD)/inetboot-usb.img: $(BUILD)/initramfs/miniroot.img $(MENU) initramfs/mkmedia initramfs/menufile.sh
	initramfs/mkmedia --build $(BUILD) --preboot $(BUILD)/initramfs --menu $(MENU) --out $(BUILD)/inetboot.iso \
		--usb $@ --cache-size $(USB_CACHE_MIB)
usb: $(BUILD)/inetboot-usb.img

# ---- iPXE: a script with the same menu + the preboot, for any web server ---------
$(BUILD)/ipxe/inetboot.ipxe: $(BUILD)/initramfs/miniroot.img $(MENU) initramfs/mkipxe initramfs/menufile.sh
	initramfs/mkipxe --build $(BUILD) --preboot $(BUILD)/initramfs --menu $(MENU) --out $(BUILD)/ipxe
ipxe: $(BUILD)/ipxe/inetboot.ipxe

# ---- packages --------------------------------------------------------------
# Build, test and run dependencies, from the Debian archive.  Debian 12 (bookworm)
# and 13 (trixie) name them alike but for the few in DEPS_<release>: 13 renamed
# the tss2 TCTI libraries (64-bit time_t) and dropped httpfs2, a benchmark peer
# that tests/bench/httpfs then leaves out.  IB_RELEASE=bookworm|trixie overrides
# what /etc/os-release says.
ifeq ($(origin IB_RELEASE),undefined)
IB_RELEASE := $(shell . /etc/os-release 2>/dev/null && [ "$$ID" = debian ] && echo "$$VERSION_CODENAME")
endif
DEPS_BUILD := build-essential pkg-config clang libssl-dev libarchive-dev libcurl4-openssl-dev libfuse3-dev libzstd-dev \
              zlib1g-dev liblzma-dev liblz4-dev libbz2-dev libtss2-dev libtspi-dev \
              libmicrohttpd-dev
DEPS_TEST  := xorriso grub-pc-bin grub-efi-amd64-bin grub-common mtools busybox-static \
              cpio linux-image-amd64 openssl python3 ca-certificates fuse3 nginx curl \
              squashfs-tools strace xz-utils zstd lz4 kexec-tools qemu-system-x86 ipxe-qemu ovmf file dosfstools debootstrap patchelf \
              swtpm swtpm-tools tpm2-tools trousers groff-base
DEPS_BENCH := nbdkit libnbd-bin
DEPS_bookworm := libtss2-tcti-swtpm0 libtss2-tcti-device0 httpfs2
DEPS_trixie   := libtss2-tcti-swtpm0t64 libtss2-tcti-device0t64
DEPS       := $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_BENCH) $(DEPS_$(IB_RELEASE))

# install_pkgs LIST: a subshell that installs what LIST lacks (one dpkg-query; apt-get
# only when something is missing).  Anywhere but Debian 12 or 13 it installs nothing
# and names what is missing: the Debian packages where dpkg exists, else the
# pkg-config modules and commands the build and the tests use.
define install_pkgs
( pkgs="$(strip $(1))"; \
if command -v dpkg-query >/dev/null 2>&1; then \
    have=" $$(dpkg-query -W -f='$${db:Status-Abbrev}$${Package}\n' $$pkgs 2>/dev/null | sed -n 's/^ii *//p' | tr '\n' ' ') "; \
    missing=$$(for p in $$pkgs; do case $$have in *" $$p "*) ;; *) printf '%s ' $$p;; esac; done); \
else \
    missing=$$(for m in $(PKGS); do $(PKG_CONFIG) --exists $$m 2>/dev/null || printf 'pkg-config:%s ' $$m; done; \
               for c in cc clang qemu-system-x86_64 nginx xorriso grub-mkrescue mksquashfs swtpm kexec busybox; do \
                   command -v $$c >/dev/null 2>&1 || printf 'command:%s ' $$c; done); \
fi; \
if [ -z "$$missing" ]; then echo "deps: all $(words $(1)) packages present"; exit 0; fi; \
case "$(IB_RELEASE)" in bookworm|trixie) ;; *) \
    echo "deps: make deps installs packages on Debian 12 (bookworm) and 13 (trixie) only;" \
         "this is $$(. /etc/os-release 2>/dev/null && echo "$${PRETTY_NAME:-$$ID}" || uname -sr)." >&2; \
    echo "deps: missing here (Debian's names): $$missing" >&2; \
    echo "deps: install those (or your system's equivalents), or set IB_RELEASE=bookworm|trixie on a Debian derivative." >&2; \
    exit 1;; \
esac; \
echo "deps: installing $$missing(Debian $(IB_RELEASE))"; \
sudo=; if [ "$$(id -u)" != 0 ]; then \
    command -v sudo >/dev/null 2>&1 || { echo "deps: installing packages needs root: run make as root, or install sudo" >&2; exit 1; }; \
    sudo=sudo; fi; \
$$sudo apt-get update -qq && \
DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing || \
    { echo "deps: apt-get install failed for: $$missing" >&2; exit 1; } )
endef

deps:
	@$(call install_pkgs,$(DEPS))

# What compiling needs, checked before every build (a prerequisite of each object):
# where pkg-config finds every library and the two headers without a .pc file
# are there, nothing is done, on any system; else the build packages are installed.
BUILD_READY = $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && \
              printf '\043include <bzlib.h>\n\043include <trousers/tss.h>\n' | $(CC) -E -x c - >/dev/null 2>&1
deps-build:
	@if ! { $(BUILD_READY); }; then \
	    $(call install_pkgs,$(DEPS_BUILD)) && \
	    if ! { $(BUILD_READY); }; then \
	        echo "deps: the build still lacks a library after installing the packages:" >&2; \
	        $(PKG_CONFIG) --print-errors --exists $(PKGS); \
	        printf '\043include <bzlib.h>\n\043include <trousers/tss.h>\n' | $(CC) -E -x c - >/dev/null; exit 1; \
	    fi; \
	fi

# ---- tests -----------------------------------------------------------------
# Targets that need the test packages run `deps` first and build in a second make,
# so that nothing they build starts before the packages are in (also under -j).
check: deps
	$(MAKE) --no-print-directory all initramfs-test
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz
	BUILD=$(abspath $(BUILD)) tests/run-tests

unit: all
	BUILD=$(abspath $(BUILD)) tests/run-tests --unit

# The QEMU boots alone (also part of make check).
check-e2e: deps
	$(MAKE) --no-print-directory all initramfs-test
	BUILD=$(abspath $(BUILD)) tests/run-tests --integration boot

# The real distributions' boots alone (tests/integration/distro-*.sh; part of make check).
check-distros: deps
	$(MAKE) --no-print-directory all initramfs-test
	BUILD=$(abspath $(BUILD)) tests/run-tests --integration distro-

# Benchmarks print reports (figures and ratios), never pass/fail on timings.
bench: deps
	@$(MAKE) --no-print-directory all
	@for b in tests/bench/*; do [ -x "$$b" ] && { echo "== $$b"; BUILD=$(abspath $(BUILD)) "$$b" || exit 1; }; done

# The boot benchmark: minutes per case (tests/bench-boot/debian-live says which variables
# change it: LINKS, RUNS, CASES, RAM=1, LARGE=1).
bench-boot: deps
	$(MAKE) --no-print-directory all initramfs-test
	BUILD=$(abspath $(BUILD)) tests/bench-boot/debian-live

demo: deps
	$(MAKE) --no-print-directory all initramfs-test
	BUILD=$(abspath $(BUILD)) tests/demo

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/inetboot/keys
	install -m 0755 $(PROGS) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin/
	for p in $(PROG_NAMES) $(SCRIPT_NAMES); do \
		install -m 0644 src/$${p#inetboot-}/$$p.1 $(DESTDIR)$(PREFIX)/share/man/man1/; done
	for p in $(ATTEST_NAMES); do install -m 0644 attest/$$p.1 $(DESTDIR)$(PREFIX)/share/man/man1/; done
	for k in keys/*.pub; do case $$k in *test-only*) ;; *) [ -e "$$k" ] && \
		install -m 0644 $$k $(DESTDIR)$(PREFIX)/share/inetboot/keys/;; esac; done; true
	for k in keys/roots/*.pub; do case $$k in *test-only*) ;; *) [ -e "$$k" ] && \
		install -D -m 0644 $$k $(DESTDIR)$(PREFIX)/share/inetboot/keys/roots/$${k##*/};; esac; done; true
	# The hook payload inetboot-agent appends (make initramfs builds it).
	if [ -e $(BUILD)/initramfs/hook.cpio.zst ]; then install -d $(DESTDIR)$(PREFIX)/lib/inetboot && \
		install -m 0644 $(BUILD)/initramfs/hook.cpio.zst $(DESTDIR)$(PREFIX)/lib/inetboot/; fi
	# The preboot, for inetboot-try (make initramfs builds it).
	if [ -e $(BUILD)/initramfs/miniroot.img ]; then install -d $(DESTDIR)$(PREFIX)/lib/inetboot/preboot && \
		install -m 0644 $(BUILD)/initramfs/vmlinuz $(BUILD)/initramfs/miniroot.img \
		$(DESTDIR)$(PREFIX)/lib/inetboot/preboot/; fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
