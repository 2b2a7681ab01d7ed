# The boot menu file of inetboot's boot media (docs/media.md), read by
# initramfs/mkmedia (GRUB) and initramfs/mkipxe (iPXE) when they build;
# sourced, bash.  (initramfs/menu.sh is the preboot's own menu, at boot.)
#
#   menu_parse FILE   read FILE (a copy made by the caller: the caller's
#                     $menu is the name in messages) or die with
#                     "$prog: $menu:LINE: what is wrong" (the caller's die)
#
# One directive a line; blank lines and lines starting with # are skipped:
#   timeout SECONDS                       default 10; 0 boots the default at once, -1 waits
#   default N                             the Nth entry (from 1) is highlighted first; default 1
#   options OPTION...                     kernel options of every entry, the rescue shell's too
#   entry LABEL | URL [URL...] [| OPTION...]
#   url LABEL | off                       the "type a URL" entry's label (default "Type the URL
#                                         of a manifest"), or none
#   rescue LABEL | off                    the rescue shell's label (default "Rescue shell"), or none
#
# It sets: timeout, default, options (array of words), urlentry and rescue
# (labels, or empty: none), for each entry i from 0: labels[i], urls[i] and
# extras[i] (space-separated words), n (the number of entries), total (n, plus
# 1 with a URL entry, plus 1 with a rescue shell: the menu's order).
# The caller runs with set -f: the words of the file are never globbed.
#
# A tool whose output language is stricter adds its rules by defining
#   menu_check label|word WHERE VALUE
# before menu_parse: it is called for every label and every word (option or
# URL) and calls `bad "WHERE: ..."` for one it cannot write; WHERE is how the
# message names the place ("options", "entry 'X'", "entry 'X': option", ...).

# word_ok WORD: a kernel option a boot loader passes on as it is.
word_ok() { [[ $1 =~ ^[^[:space:][:cntrl:]\'\"\\]+$ ]]; }
label_ok() { [[ $1 =~ ^[^-[:cntrl:]][^[:cntrl:]]*$ ]] && [ ${#1} -le 70 ]; }
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }
bad() { die "$menu:$lineno: $*"; }
_menu_check() { if declare -F menu_check >/dev/null; then menu_check "$@"; fi; }

menu_parse() {
    local file=$1 line key rest l u x extra w
    timeout=10 default=1 options=() rescue="Rescue shell" urlentry="Type the URL of a manifest"
    labels=() urls=() extras=()
    lineno=0
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        line=${line%$'\r'}
        line=$(trim "$line")
        case $line in ''|'#'*) continue ;; esac
        key=${line%%[[:space:]]*}
        rest=$(trim "${line#"$key"}")
        case $key in
            timeout) [[ $rest =~ ^(-1|[0-9]{1,4})$ ]] || bad "timeout: seconds (0 to 9999) or -1"; timeout=$rest ;;
            default) [[ $rest =~ ^[1-9][0-9]{0,2}$ ]] || bad "default: an entry number, from 1"; default=$rest ;;
            options)
                for w in $rest; do
                    word_ok "$w" || bad "options: '$w': no quotes, backslashes or control characters"
                    _menu_check word options "$w"
                    options+=("$w")
                done ;;
            rescue)
                [ -n "$rest" ] && label_ok "$rest" || bad "rescue: a label (1 to 70 printable characters, not starting with -) or off"
                rescue=$rest
                if [ "$rescue" = off ]; then rescue=; else _menu_check label rescue "$rescue"; fi ;;
            url)
                [ -n "$rest" ] && label_ok "$rest" || bad "url: a label (1 to 70 printable characters, not starting with -) or off"
                urlentry=$rest
                if [ "$urlentry" = off ]; then urlentry=; else _menu_check label url "$urlentry"; fi ;;
            entry)
                IFS='|' read -r l u x extra <<<"$rest"
                [ -z "${extra:-}" ] || bad "entry: LABEL | URL... [| OPTION...] (three fields at most)"
                l=$(trim "$l") u=$(trim "${u:-}") x=$(trim "${x:-}")
                [ -n "$l" ] && label_ok "$l" || bad "entry: a label of 1 to 70 printable characters first (not starting with -)"
                _menu_check label entry "$l"
                [ -n "$u" ] || bad "entry '$l': no manifest URL (entry LABEL | URL [| OPTION...])"
                for w in $u; do
                    [[ $w =~ ^https?://[^/[:space:]]+ ]] && word_ok "$w" || bad "entry '$l': '$w' is not an http:// or https:// URL"
                    _menu_check word "entry '$l'" "$w"
                done
                for w in $x; do
                    word_ok "$w" || bad "entry '$l': option '$w': no quotes, backslashes or control characters"
                    _menu_check word "entry '$l': option" "$w"
                done
                labels+=("$l") urls+=("$u") extras+=("$x") ;;
            *) bad "unknown keyword '$key' (timeout, default, options, entry, url, rescue)" ;;
        esac
    done < "$file"
    n=${#labels[@]}
    [ "$n" -gt 0 ] || [ -n "$rescue" ] || die "$menu: no entry and no rescue shell: nothing to boot"
    total=$((n + (${#urlentry} > 0 ? 1 : 0) + (${#rescue} > 0 ? 1 : 0)))
    [ "$default" -le "$total" ] || die "$menu: default $default, but the menu has $total entries"
    return 0
}

# menu_cpio FILE OUT: the menu file for the preboot's own menu (initramfs/menu.sh): a newc
# archive holding etc/inetboot/menu (owner 0, mtime 0: reproducible), loaded as a second
# initrd after miniroot.img.
menu_cpio() {
    local dir
    dir=$(mktemp -d) || die "mktemp failed"
    mkdir -p "$dir/etc/inetboot" && cp -- "$1" "$dir/etc/inetboot/menu" &&
        (cd "$dir" && find etc | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) > "$2"
    local rc=$?
    rm -rf -- "$dir"
    [ "$rc" = 0 ] || die "cpio failed (apt-get install cpio)"
}
