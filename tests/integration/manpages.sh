#!/usr/bin/env bash
# Every man page (src/*/*.1, attest/*.1) renders without a warning from groff
# -ww (undefined macros, bad escapes, ...) and runs no words together: the
# alternating-font macros (.BR, .BI, ...) join their arguments without a space,
# and inetboot-agent(1) once read "...only with --tpm).NeedsFUSE(asanyuser,".
. "$(dirname "$0")/../lib/common.sh"
requires groff python3
scratch d
lint=$IB_SRCDIR/tests/lib/manlint.py
pages=("$IB_SRCDIR"/src/*/*.1 "$IB_SRCDIR"/attest/*.1)
check "the man pages are there (${#pages[@]})" test "${#pages[@]}" -ge 6
for p in "${pages[@]}"; do
    n=${p#"$IB_SRCDIR"/}
    warn=$(groff -ww -man -Tutf8 -z "$p" 2>&1)
    check "$n: groff -ww says nothing${warn:+ (it says: $warn)}" test -z "$warn"
    out=$(python3 "$lint" "$p")
    check "$n: no words run together${out:+ ($out)}" test -z "$out"
    text=$(groff -man -Tutf8 -P-cbou "$p" 2>/dev/null)
    check "$n: renders a NAME and a SYNOPSIS" bash -c 'grep -qx NAME <<<"$1" && grep -qx SYNOPSIS <<<"$1"' _ "$text"
done
# The lint finds what it is for (the line inetboot-agent(1) had), and leaves the macros' own uses alone.
cat > "$d/bad.1" <<'PAGE'
.TH BAD 1
.SH NAME
bad \- a page with words run together
.SH SYNOPSIS
.B bad
.SH DESCRIPTION
.BR \-\-tpm ).  Needs FUSE (as any user, through
.BR inetboot\-httpfs (1),
.BI inetboot.url= URL
.IR URL .manifest,
.BI \-K ", " \-\-keys " DIR"
PAGE
out=$(python3 "$lint" "$d/bad.1")
check "the lint: the words run together found, on that line only ($(wc -l <<<"$out") findings)" \
    bash -c '[ "$(grep -c "bad.1:7:" <<<"$1")" = 5 ] && [ "$(wc -l <<<"$1")" = 5 ]' _ "$out"
printf '.TH BAD 1\n.SH NAME\nbad \\- x\n.xx\n' > "$d/undef.1"
check "groff -ww: an undefined macro is a warning" bash -c '[ -n "$(groff -ww -man -Tutf8 -z "$1" 2>&1)" ]' _ "$d/undef.1"
finish
