#!/usr/bin/env bash
# Measured boot and attestation on the host, TPM 2.0 (swtpm over its TCP
# interface): inetboot-agent --dry-run --tpm measures into swtpm exactly what
# a real boot measures; the PCRs must equal `inetboot-attest predict`'s
# offline values (tpm2_pcrread and tpm2_eventlog as independent oracles);
# a quote over them verifies; every tampering class is rejected by
# `inetboot-attest verify` and by the service inetboot-attestd.  Tampered
# boots are real dry runs of the tampered thing, measured into the TPM.
# (The same through QEMU + swtpm, and TPM 1.2: tests/integration/measured-boot*.sh.)
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/servers.sh"
. "$IB_SRCDIR/tests/lib/swtpm.sh"
requires inetboot-agent inetboot-attest inetboot-attestd inetboot-sign swtpm tpm2_pcrread tpm2_eventlog xorriso \
    mksquashfs curl openssl
[ -e /dev/fuse ] || requires /dev/fuse
hook=$BUILD/initramfs-test/hook.cpio.zst
[ -r "$hook" ] || { not_ok "the hook payload $hook (make initramfs-test builds it)"; finish; }
scratch d
mkdir -p "$d/www/other" "$d/keys"
cp "$IB_SRCDIR/keys/test-only-publisher.pub" "$d/keys/"
# The image: the minilive with a second kernel, /live/vmlinuz.old, for an entry of its own.
kernel=$(ls -1 /boot/vmlinuz-* | sort -V | tail -n 1)
{ cat "$kernel"; printf 'an older kernel'; } > "$d/vmlinuz.old"
"$IB_SRCDIR/tests/lib/mkminilive" --add "$d/vmlinuz.old=/live/vmlinuz.old" "$d/www/minilive.iso" ||
    { not_ok "build the minilive ISO"; finish; }
line="console=ttyS0 minilive.label=INETBOOT_MINILIVE"
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/minilive.iso.manifest" \
    --entry live --kernel /live/vmlinuz --initrd /live/initrd.img --cmdline "$line" \
    --entry old --kernel /live/vmlinuz.old --initrd /live/initrd.img --cmdline "$line" "$d/www/minilive.iso" ||
    { not_ok "sign the minilive ISO"; finish; }
# Another manifest of the same image (one entry): other bytes, other digest.
cp "$d/www/minilive.iso" "$d/www/other/"
inetboot-sign make -q --key "$TEST_KEY" -o "$d/www/other/minilive.iso.manifest" \
    --entry live --kernel /live/vmlinuz --initrd /live/initrd.img --cmdline "$line" "$d/www/other/minilive.iso" ||
    { not_ok "sign the other manifest"; finish; }
nginx_start "$d/www" || { not_ok "nginx starts"; finish; }
url=http://127.0.0.1:$NGINX_PORT/minilive.iso.manifest

# --- prediction, offline ---------------------------------------------------------
pred() { inetboot-attest predict -K "$d/keys" --hook "$hook" --cmdline "console=ttyS0" "$@"; }
expect_out "predict: PCRs 8 and 9 of a boot of entry 'live'" '^PCR  9 sha256 [0-9a-f]{64}$' \
    pred --entry live -o "$d/good.log" "$url"
pred --entry live "$url" > "$d/good.pcrs" 2>/dev/null
pred --entry live -o "$d/good2.log" "$url" >/dev/null 2>&1
check "predict: two runs, byte-identical logs" cmp -s "$d/good.log" "$d/good2.log"
expect_out "tpm2_eventlog reads the predicted log" 'kernel_cmdline: console=ttyS0' tpm2_eventlog "$d/good.log"
p8=$(awk '$2 == 8 { print $4 }' "$d/good.pcrs") p9=$(awk '$2 == 9 { print $4 }' "$d/good.pcrs")
check "tpm2_eventlog replays the log to the predicted PCRs" \
    bash -c "tpm2_eventlog '$d/good.log' 2>/dev/null | grep -q '8  : 0x$p8' && tpm2_eventlog '$d/good.log' 2>/dev/null | grep -q '9  : 0x$p9'"
expect_out "predict for TPM 1.2: the SHA-1 bank" '^PCR  8 sha1   [0-9a-f]{40}$' pred --tpm-version 1.2 "$url"
expect_fail "predict: an entry the manifest lacks is an error" 'no entry|unknown|entries' pred --entry nosuch "$url"
# Before publishing: the local manifest and image, no server.
expect_out "predict from a local manifest and image" '^PCR  9 sha256 [0-9a-f]{64}$' \
    pred --entry live -o "$d/local.log" "$d/www/minilive.iso.manifest" "$d/www/minilive.iso"
check "... the same event log as a boot from its URL, byte for byte" cmp -s "$d/local.log" "$d/good.log"
mkdir -p "$d/bent"
cp "$d/www/minilive.iso" "$d/bent/"
flip_byte "$d/bent/minilive.iso" 1000000
expect_fail "predict: a local image that is not the signed one is refused" 'block 3 \(byte 786432\) differs from the manifest' \
    pred --entry live "$d/www/minilive.iso.manifest" "$d/bent/minilive.iso"
expect_fail "predict: a local manifest without its signature is refused" 'cannot read its signature' \
    pred --entry live "$d/www/other/minilive.iso" "$d/www/minilive.iso"

# --- a measured boot (dry run into swtpm) ----------------------------------------
swtpm2_start "$d/tpm" || { not_ok "swtpm starts"; finish; }
tcti=${SWTPM_SPEC#tpm2:}
runs=0
boot() {  # boot OUTDIR [agent options...]: a dry run that measures into swtpm
    local out=$1
    shift
    runs=$((runs + 1))
    inetboot-agent --dry-run --out "$out" --work "$d/work$runs" -K "$d/keys" --hook "$hook" --tpm "$SWTPM_SPEC" "$@"
}
expect_out "the agent measures into the TPM" 'measured boot: 4 events into PCRs 9 and 8 of the TPM 2.0 \(sha256 bank\)' \
    boot "$d/b1" --cmdline "console=ttyS0 inetboot.url=$url inetboot.entry=live"
check "the boot's event log is the prediction, byte for byte" cmp -s "$d/b1/eventlog" "$d/good.log"
check "the initrd ends with the event log archive (inetboot/eventlog)" \
    bash -c "tail -c 2048 '$d/b1/initrd' | grep -aq 'inetboot/eventlog'"
check "tpm2_pcrread: PCR 8 is the predicted value" bash -c "tpm2_pcrread -T '$tcti' sha256:8 2>/dev/null | grep -qi '0x$p8'"
check "tpm2_pcrread: PCR 9 is the predicted value" bash -c "tpm2_pcrread -T '$tcti' sha256:9 2>/dev/null | grep -qi '0x$p9'"
check "inetboot-attest pcrread agrees" bash -c "inetboot-attest pcrread --tpm '$SWTPM_SPEC' | cmp -s - '$d/good.pcrs'"
expect_out "inetboot-attest eventlog prints the events and the replay" 'inetboot-kernel: /live/vmlinuz' \
    inetboot-attest eventlog "$d/b1/eventlog"

inetboot-attest ak --tpm "$SWTPM_SPEC" -o "$d/ak.pem"
check "the AK is an EC P-256 public key" bash -c "openssl pkey -pubin -in '$d/ak.pem' -noout -text | grep -q 'NIST CURVE: P-256'"
nonce=$(openssl rand -hex 20)
quote() {  # quote NAME BOOTDIR: a quote file over PCRs 8, 9 with the boot's log
    inetboot-attest quote --tpm "$SWTPM_SPEC" --nonce "$nonce" --eventlog "$2/eventlog" -o "$d/$1.quote"
}
quote good "$d/b1" || not_ok "quote"
check "the quote file names TPM 2.0, both PCRs and the log" \
    bash -c "grep -q '^tpm 2.0$' '$d/good.quote' && grep -q '^pcr 8 $p8$' '$d/good.quote' && grep -q '^pcr 9 $p9$' '$d/good.quote' && grep -q '^eventlog ' '$d/good.quote'"
verify() { inetboot-attest verify --ak "${AK:-$d/ak.pem}" --nonce "${NONCE:-$nonce}" --expect "${EXPECT:-$d/good.log}" "$@"; }
expect_out "verify: the honest boot is TRUSTED" '^TRUSTED: minilive.iso booted as predicted' verify "$d/good.quote"

# --- tampering: each a real, measured dry run of the tampered thing ----------------
tamper() {  # tamper NAME VERDICT-PATTERN AGENT-ARGS...: boot, quote, verify -> UNTRUSTED
    local name=$1 pat=$2
    shift 2
    boot "$d/$name" "$@" >/dev/null 2>&1 || { not_ok "$name: the dry run"; return; }
    quote "$name" "$d/$name" || { not_ok "$name: the quote"; return; }
    expect_fail "verify rejects $name" "^UNTRUSTED: .*$pat" verify "$d/$name.quote"
}
tamper "another kernel (entry 'old' of the same image)" 'the kernel differs' \
    --cmdline "console=ttyS0 inetboot.url=$url inetboot.entry=old"
cp "$hook" "$d/hook.other"; printf 'x' >> "$d/hook.other"
tamper "another initrd (another hook payload)" 'the initrd differs' \
    --cmdline "console=ttyS0 inetboot.url=$url inetboot.entry=live" --hook "$d/hook.other"
tamper "an edited command line" 'the command line differs.*loglevel=7' \
    --cmdline "console=ttyS0 loglevel=7 inetboot.url=$url inetboot.entry=live"
tamper "another manifest" 'the manifest differs' \
    --cmdline "console=ttyS0 inetboot.url=http://127.0.0.1:$NGINX_PORT/other/minilive.iso.manifest"
NONCE=$(openssl rand -hex 20) expect_fail "verify rejects a replayed quote (another nonce)" \
    '^UNTRUSTED: the quote is not over this nonce' verify "$d/good.quote"
# A forged log: the quote of the other-kernel boot, with the honest boot's log in it.
k="$d/another kernel (entry 'old' of the same image).quote"
sed "s|^eventlog .*|$(grep '^eventlog ' "$d/good.quote")|" "$k" > "$d/forged.quote"
expect_fail "verify rejects a forged event log" '^UNTRUSTED: the event log does not replay to the quoted PCR' \
    verify "$d/forged.quote"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout -out "$d/stranger.pem"
AK=$d/stranger.pem expect_fail "verify rejects a quote by another TPM's key" 'another attestation key' verify "$d/good.quote"
awk '/^signature / { $2 = (substr($2, 1, 10) == "AAAAAAAAAA" ? "BBBBBBBBBB" : "AAAAAAAAAA") substr($2, 11) } 1' \
    "$d/good.quote" > "$d/badsig.quote"
expect_fail "verify rejects a damaged signature" '^UNTRUSTED: ' verify "$d/badsig.quote"
# (PCR 9's first hex digit changed, whatever it is: the sed this replaces left a value that began
# with 0 and a digit other than 0 as it was, and passed it off as forged)
awk '$1 == "pcr" && $2 == 9 { $3 = (substr($3, 1, 1) == "0" ? "1" : "0") substr($3, 2) } 1' "$d/good.quote" > "$d/badpcr.quote"
check "the forged quote's PCR 9 differs from the quoted one" bash -c "! cmp -s '$d/good.quote' '$d/badpcr.quote'"
expect_fail "verify rejects PCR values that were not quoted" '^UNTRUSTED: the PCR values' verify "$d/badpcr.quote"
EXPECT="$d/b1/eventlog" expect_out "verify: the boot's own log is as good a prediction" '^TRUSTED' verify "$d/good.quote"

# --- policy ---------------------------------------------------------------------
closed=$(free_port)
expect_fail "inetboot.tpm=required: no TPM, no boot" 'measured boot is required \(inetboot.tpm=required\)' \
    boot "$d/p1" --cmdline "console=ttyS0 inetboot.url=$url inetboot.tpm=required" \
    --tpm "tpm2:swtpm:host=127.0.0.1,port=$closed"
expect_out "inetboot.tpm=auto: no TPM, the boot goes on and says it is not measured" \
    'warning: this boot is NOT measured: ' \
    inetboot-agent --dry-run --out "$d/p2" --work "$d/wp2" -K "$d/keys" --hook "$hook" \
    --tpm "tpm2:swtpm:host=127.0.0.1,port=$closed" --cmdline "console=ttyS0 inetboot.url=$url"
check "... and still writes the kernel, the initrd and the event log (the record of what was booted)" \
    test -s "$d/p2/kernel" -a -s "$d/p2/initrd" -a -s "$d/p2/eventlog"
expect_out "inetboot.tpm=off: nothing measured, said so" 'measured boot: off' \
    boot "$d/p3" --cmdline "console=ttyS0 inetboot.url=$url inetboot.tpm=off"
before=$(inetboot-attest pcrread --tpm "$SWTPM_SPEC")
boot "$d/p4" --cmdline "console=ttyS0 inetboot.url=$url inetboot.tpm=off" >/dev/null 2>&1
check "... and the PCRs did not move" test "$(inetboot-attest pcrread --tpm "$SWTPM_SPEC")" = "$before"

# --- the service -------------------------------------------------------------------
# A fresh TPM, one honest boot (the TPMs above have seen many boots).
swtpm_stop
swtpm2_start "$d/tpm2" || { not_ok "a second swtpm starts"; finish; }
boot "$d/s1" --cmdline "console=ttyS0 inetboot.url=$url inetboot.entry=live" >/dev/null 2>&1 || not_ok "the honest boot"
sport=$(free_port)
_srv_spawn "$d/attestd.log" "$d/attestd.log" inetboot-attestd --listen "127.0.0.1:$sport" --aks "$d/aks" --enroll \
    --expect "$d/good.log" --record "$d/record" --keep "$d/kept"
apid=$_SRV_SPAWNED
_srv_register "$apid" inetboot-attestd
_srv_wait_port "$sport" "$apid" 10 || { not_ok "inetboot-attestd listens"; cat "$d/attestd.log"; finish; }
server=http://127.0.0.1:$sport
client() { inetboot-attest attest --server "$server" --tpm "$SWTPM_SPEC" --eventlog "$1"; }
expect_out "service: the honest boot is TRUSTED, its key enrolled on first use" \
    '^TRUSTED: minilive.iso booted as predicted.*enrolled on first use' client "$d/s1/eventlog"
inetboot-attest ak --tpm "$SWTPM_SPEC" -o "$d/ak2.pem"
check "service: the AK is kept under its fingerprint" test -s "$d/aks/$(openssl pkey -pubin -in "$d/ak2.pem" -outform DER | sha256sum | cut -c1-64).pem"
expect_out "service: attested again, TRUSTED (the key is known now)" '^TRUSTED: ' client "$d/s1/eventlog"
first=$(ls "$d/kept" | head -n 1)
code=$(curl -s -o "$d/replay.out" -w '%{http_code}' --data-binary "@$d/kept/$first" "$server/attest")
check "service: a replayed quote is refused (HTTP $code: $(cat "$d/replay.out"))" \
    bash -c "[ '$code' = 403 ] && grep -q 'was used or expired' '$d/replay.out'"
boot "$d/s2" --cmdline "console=ttyS0 inetboot.url=$url inetboot.entry=old" >/dev/null 2>&1 || not_ok "the old-kernel boot"
expect_fail "service: then a boot of the other kernel is UNTRUSTED" '^UNTRUSTED: .*the kernel differs' client "$d/s2/eventlog"
code=$(curl -s -o "$d/junk.out" -w '%{http_code}' --data-binary 'hello' "$server/attest")
check "service: what is not a quote file gets 400" test "$code" = 400
check "service: every attestation is recorded (4 lines)" test "$(wc -l < "$d/record")" -ge 4
_srv_kill "$apid"
_srv_spawn "$d/attestd2.log" "$d/attestd2.log" inetboot-attestd --listen "127.0.0.1:$sport" --aks "$d/aks2" \
    --expect "$d/good.log"
apid=$_SRV_SPAWNED
_srv_register "$apid" inetboot-attestd
_srv_wait_port "$sport" "$apid" 10 || not_ok "inetboot-attestd listens again"
expect_fail "service without --enroll: an unknown key is refused" 'is not enrolled' client "$d/s2/eventlog"
swtpm_stop
finish
