#!/usr/bin/env bash
# The TPM 1.2 backend (src/lib/trust/tpm12.c) through BUILD/tests/tpmtest against
# swtpm in TPM 1.2 mode behind tcsd: bank and digest size, PCR extends
# checked against SHA-1 computed here, the AK (RSA-2048, created once, kept
# in its blob file, the same key when loaded again), a quote checked
# independently with openssl and python3 (signature, TPM_QUOTE_INFO layout,
# composite hash, nonce), flipped bytes caught, and clear errors without a
# hang for a tcsd that is not there and for a bad AK blob.
. "$(dirname "$0")/../lib/common.sh"
. "$IB_SRCDIR/tests/lib/tcsd.sh"
requires openssl python3 timeout
T=$BUILD/tests/tpmtest
[ -x "$T" ] || { not_ok "tpmtest is built ($T; run make)"; finish; }
scratch d

tpm12_state "$d/tpm" || { not_ok "an owned TPM 1.2 state (swtpm_setup, take ownership -z)"; finish; }
ok "an owned TPM 1.2 state (swtpm_setup --createek, ownership with the well-known secrets)"
tpm12_start "$d/tpm" || { not_ok "swtpm (TPM 1.2) and tcsd start"; finish; }
ok "swtpm (TPM 1.2) and tcsd are up ($TPM12_SPEC)"
S=$TPM12_SPEC

# tpmtest with a bound: a wedged tcsd must fail the test, not hang it.
tt() { timeout 60 "$T" "$S" "$@"; }
sha1hex() { python3 -c 'import hashlib, sys; print(hashlib.sha1(bytes.fromhex(sys.argv[1])).hexdigest())' "$1"; }

# --- info, PCRs ----------------------------------------------------------------
expect_out "info: family 12, SHA-1 bank, 20-byte digests" '^12 sha1 20$' tt info
zero=0000000000000000000000000000000000000000
check "PCR 8 is zero at start" test "$(tt read 8)" = "$zero"
d1=$(printf 'inetboot one' | openssl dgst -sha1 -r | cut -c1-40)
d2=$(printf 'inetboot two' | openssl dgst -sha1 -r | cut -c1-40)
check "extend PCR 8 with d1" tt extend 8 "$d1"
check "extend PCR 8 with d2" tt extend 8 "$d2"
want=$(sha1hex "$(sha1hex "$zero$d1")$d2")
got=$(tt read 8)
check "PCR 8 = SHA1(SHA1(0^20 || d1) || d2) (the digest is extended as is, no event hashing)" test "$got" = "$want"
check "PCR 9 is still zero" test "$(tt read 9)" = "$zero"
check "extend PCR 9 once" tt extend 9 "$d1"
expect_fail "a digest of the wrong length is refused" 'must be 20 hex bytes' tt extend 8 "${d1}00"
expect_fail "PCR 24 does not exist" 'bad PCR' tt read 24

# --- the AK ------------------------------------------------------------------------
blob=$d/var/lib/sub/ak-tpm12.blob
check "ak: creates the key and its blob (parent directories too)" sh -c "timeout 60 '$T' '$S' ak '$blob' >'$d/ak1.pem'"
check "ak: the blob exists" test -s "$blob"
check "ak: the blob is mode 0600" test "$(stat -c %a "$blob")" = 600
check "ak: no temporary file is left behind" test "$(ls -A "$(dirname "$blob")" | wc -l)" = 1
cp "$blob" "$d/blob.first"
check "ak: SubjectPublicKeyInfo PEM" grep -q 'BEGIN PUBLIC KEY' "$d/ak1.pem"
expect_out "ak: RSA 2048 per openssl" 'Public-Key: \(2048 bit\)' openssl pkey -pubin -in "$d/ak1.pem" -noout -text
expect_out "ak: exponent 65537" 'Exponent: 65537' openssl pkey -pubin -in "$d/ak1.pem" -noout -text
check "ak: loaded again from the blob, the same key" sh -c "timeout 60 '$T' '$S' ak '$blob' | cmp -s - '$d/ak1.pem'"
check "ak: the blob was not rewritten" cmp -s "$blob" "$d/blob.first"

# --- a quote over PCRs 8 and 9 ----------------------------------------------------------
nonce=$(openssl rand -hex 20)
mkdir "$d/q"
check "quote PCRs 8 and 9 with a 20-byte nonce" tt quote 300 "$nonce" "$d/q" "$blob"
check "quote: the AK in the quote is the AK" cmp -s "$d/q/ak.pem" "$d/ak1.pem"
expect_out "quote: openssl verifies the signature over the TPM_QUOTE_INFO (RSA PKCS#1 v1.5, SHA-1)" 'Verified OK' \
    openssl dgst -sha1 -verify "$d/q/ak.pem" -signature "$d/q/sig" "$d/q/attest"
check "quote: the PCR values are the ones read" test "$(sed -n 's/^8 //p' "$d/q/pcrs")" = "$want" -a \
    "$(sed -n 's/^9 //p' "$d/q/pcrs")" = "$(tt read 9)"
check "quote: DIR/pcrs has PCRs 8 and 9 only" test "$(cut -d' ' -f1 "$d/q/pcrs" | tr '\n' ' ')" = "8 9 "
layout() {
    python3 - "$d/q/attest" "$d/q/pcrs" "$nonce" <<'EOF'
import hashlib, struct, sys
a = open(sys.argv[1], 'rb').read()
pcrs = [l.split() for l in open(sys.argv[2])]
nonce = bytes.fromhex(sys.argv[3])
mask = 0
vals = b''
for n, v in pcrs:
    mask |= 1 << int(n)
    vals += bytes.fromhex(v)
# TPM_PCR_COMPOSITE: TPM_PCR_SELECTION (sizeOfSelect 3, bitmap), valueSize, values
comp = struct.pack('>H', 3) + mask.to_bytes(3, 'little') + struct.pack('>I', len(vals)) + vals
errs = []
if len(a) != 48: errs.append('length %d' % len(a))
if a[0:4] != b'\x01\x01\x00\x00': errs.append('version %s' % a[0:4].hex())
if a[4:8] != b'QUOT': errs.append('fixed %r' % a[4:8])
if a[8:28] != hashlib.sha1(comp).digest(): errs.append('composite hash')
if a[28:48] != nonce: errs.append('nonce')
if errs: print('; '.join(errs)); sys.exit(1)
EOF
}
check "quote: TPM_QUOTE_INFO = 1.1.0.0, \"QUOT\", SHA1(composite rebuilt from DIR/pcrs), our nonce" layout
cp "$d/q/attest" "$d/attest.bad"; flip_byte "$d/attest.bad" 30
expect_fail "quote: a flipped byte in the attest fails openssl" 'Verification failure' \
    openssl dgst -sha1 -verify "$d/q/ak.pem" -signature "$d/q/sig" "$d/attest.bad"
cp "$d/q/sig" "$d/sig.bad"; flip_byte "$d/sig.bad" 100
expect_fail "quote: a flipped byte in the signature fails openssl" 'Verification failure' \
    openssl dgst -sha1 -verify "$d/q/ak.pem" -signature "$d/sig.bad" "$d/q/attest"
mkdir "$d/q2"
check "a second quote with another nonce" tt quote 300 "$(openssl rand -hex 20)" "$d/q2" "$blob"
check "quotes over different nonces differ" bash -c "! cmp -s '$d/q/attest' '$d/q2/attest'"
expect_fail "1.2 takes only a 20-byte nonce" '20-byte nonce' tt quote 300 "$(openssl rand -hex 32)" "$d/q2" "$blob"

# --- errors ----------------------------------------------------------------------------
head -c 100 "$d/blob.first" >"$d/short.blob"
expect_fail "a truncated AK blob: refused before libtspi parses it, naming the file" \
    "$d/short.blob is not the blob of an RSA-2048 signing key" tt ak "$d/short.blob"
cp "$d/blob.first" "$d/flipped.blob"; flip_byte "$d/flipped.blob" $(( $(stat -c %s "$d/flipped.blob") - 10 ))
expect_fail "an AK blob with a flipped byte in its private part: the TPM refuses it, a clear error" \
    "Tspi_Context_LoadKeyByBlob failed: .* for $d/flipped.blob" tt ak "$d/flipped.blob"
port=$(free_port)
t0=$(date +%s%N)
expect_fail "a port without tcsd: a clear error" "cannot reach tcsd on localhost:$port .*is tcsd running" \
    timeout 20 "$T" "tpm12:$port" info
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "... at once, no hang (${ms} ms)" test "$ms" -lt 5000
timeout 20 "$T" "tpm12:$port" info >/dev/null 2>&1
check "... exit code 3 (ENODEV: no TPM)" test $? = 3
tpm12_stop
expect_fail "after tcsd stopped: the same clear error" "cannot reach tcsd on localhost:${S#tpm12:}" timeout 20 "$T" "$S" read 8
finish
