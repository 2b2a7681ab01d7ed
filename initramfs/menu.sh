# inetboot preboot menu, sourced by /init (busybox sh).  When the kernel
# command line names nothing to boot, /init shows this menu on every console
# the kernel writes to (/proc/consoles: the serial port and the screen) and
# takes the first line typed on any of them.
#   ib_menu           show the menu, wait for a choice; sets IB_CHOICE (the
#                     options the choice adds to the kernel's) and returns
#                     0 to boot, 1 for a shell, 2 to bring the network up again
#   ib_ask_url        ask for a manifest URL (inetboot.menu=url); 0 when one was given
#   ib_ask PROMPT     the first line typed on any console, in IB_REPLY
# The entries come from /etc/inetboot/menu, the menu file of the boot media
# (initramfs/mkmedia appends it to the miniroot; format in docs/media.md):
# "entry LABEL | URL... [| OPTION...]" lines; the rest of the file (timeout,
# options, rescue) was the boot loader's business.
IB_MENU_FILE=${IB_MENU_FILE:-/etc/inetboot/menu}
IB_REPLY= IB_CHOICE=

# The consoles: the devices of /proc/consoles that exist, else /dev/console.
ib_consoles() {
    local c found=
    while read -r c _; do
        [ -c "/dev/$c" ] && { echo "/dev/$c"; found=1; }
    done < /proc/consoles 2>/dev/null
    [ -n "$found" ] || echo /dev/console
}

# ib_tell TEXT...: one line on every console.
ib_tell() {
    local t
    for t in $(ib_consoles); do echo "inetboot: $*" > "$t" 2>/dev/null; done
}

ib_ask() {
    local t pids= f=/run/inetboot/menu.answer n=0
    $BB mkdir -p /run/inetboot
    $BB rm -f "$f".*
    for t in $(ib_consoles); do
        n=$((n + 1))
        printf 'inetboot: %s' "$1" > "$t" 2>/dev/null
        # One reader a console; the first line typed anywhere is the answer.
        ( IFS= read -r line < "$t" && echo "$line" > "$f.$n.tmp" && $BB mv "$f.$n.tmp" "$f.$n" ) &
        pids="$pids $!"
    done
    while :; do
        for t in "$f".[0-9]*; do
            case $t in *.tmp) continue ;; esac
            [ -e "$t" ] || continue
            IB_REPLY=$($BB tr -d '\r' < "$t")
            $BB kill $pids 2>/dev/null
            $BB rm -f "$f".*
            return 0
        done
        $BB usleep 100000
    done
}

# The addresses of the links that have one, e.g. "eth0 10.0.2.15/24".
ib_net_status() {
    local s
    s=$($BB ip -4 -o addr show 2>/dev/null | $BB awk '$2 != "lo" { printf "%s%s %s", sep, $2, $4; sep = ", " }')
    if [ -n "$s" ]; then echo "up: $s"; else echo "down (no address; 'n' tries again)"; fi
}

# The menu file's entries, as "LABEL|URLS|OPTIONS" lines (blank fields trimmed).
ib_menu_entries() {
    [ -r "$IB_MENU_FILE" ] || return 0
    $BB awk '
        function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
        { sub(/\r$/, "") }
        $1 == "entry" {
            rest = $0; sub(/^[ \t]*entry[ \t]+/, "", rest)
            n = split(rest, f, "|")
            if (n < 2 || trim(f[1]) == "" || trim(f[2]) == "") next
            print trim(f[1]) "|" trim(f[2]) "|" (n >= 3 ? trim(f[3]) : "")
        }' "$IB_MENU_FILE"
}

# ib_url_ok WORD: an http:// or https:// URL without spaces or quotes.
ib_url_ok() {
    case $1 in
        *[\ \"\'\\]*) return 1 ;;
        http://?*|https://?*) return 0 ;;
    esac
    return 1
}

ib_ask_url() {
    ib_ask "the manifest's URL (https://.../image.iso.manifest; empty: back to the menu): "
    [ -n "$IB_REPLY" ] || return 1
    if ! ib_url_ok "$IB_REPLY"; then
        ib_tell "'$IB_REPLY' is not an http:// or https:// URL"
        return 1
    fi
    IB_CHOICE="inetboot.url=$IB_REPLY"
    ib_tell "booting $IB_REPLY"
    return 0
}

ib_menu() {
    local entries n i line label urls opts u
    while :; do
        entries=$(ib_menu_entries)
        ib_tell "---- boot menu ----"
        ib_tell "network: $(ib_net_status)"
        n=0
        if [ -n "$entries" ]; then
            while IFS= read -r line; do
                n=$((n + 1))
                ib_tell "  $n  ${line%%|*}"
            done <<EOF
$entries
EOF
        fi
        ib_tell "  u  type the URL of a signed manifest"
        ib_tell "  n  bring the network up again"
        ib_tell "  s  a shell ('exit' comes back here)"
        ib_ask "your choice: "
        case $IB_REPLY in
            u|U) ib_ask_url && return 0 ;;
            n|N) return 2 ;;
            s|S) return 1 ;;
            *[!0-9]*|'') ib_tell "'$IB_REPLY': type a number from the list, u, n or s" ;;
            *)
                if [ "$IB_REPLY" -ge 1 ] && [ "$IB_REPLY" -le "$n" ]; then
                    line=$(echo "$entries" | $BB sed -n "${IB_REPLY}p")
                    label=${line%%|*} line=${line#*|}
                    urls=${line%%|*} opts=${line#*|}
                    IB_CHOICE=
                    for u in $urls; do
                        ib_url_ok "$u" && IB_CHOICE="$IB_CHOICE inetboot.url=$u"
                    done
                    IB_CHOICE="${IB_CHOICE# } $opts"
                    ib_tell "booting $label"
                    return 0
                fi
                ib_tell "'$IB_REPLY': there is no entry $IB_REPLY" ;;
        esac
    done
}
