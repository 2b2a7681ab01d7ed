# Real HTTP servers for the integration tests (sourced after common.sh).
#
# Every server binds 127.0.0.1 only, on a free port, runs in the background
# (detached from the shell's jobs: a bare `wait` does not wait for it) with
# its PID recorded, and is stopped by that PID (never by name) through
# cleanup_add at exit, or earlier by its *_stop function.  Every wait is bounded.
#
#   free_port                     print a free 127.0.0.1 port (20000-32000)
#   nginx_start ROOTDIR           NGINX_PORT NGINX_PID NGINX_DIR NGINX_ACCESS_LOG
#                                 NGINX_ERROR_LOG; nginx_stop.  HTTPS + HTTP/2 when
#                                 NGINX_TLS_CERT and NGINX_TLS_KEY are set
#                                 /slow/PATH serves ROOTDIR/PATH at 1 MB/s a connection.
#   serve_minilive DIR            the minilive ISO built, signed (test key) and served from DIR/www
#   nginx_requests [URI_SUBSTR]   requests in the access log (whose URI contains it)
#   nginx_bytes_sent [URI_SUBSTR] sum of their body bytes ($body_bytes_sent)
#   nginx_wait_requests N [URI_SUBSTR]  wait (<= 5 s) until the log has N of them
#   busybox_httpd_start ROOTDIR   BUSYBOX_PORT BUSYBOX_PID; busybox_httpd_stop
#   pyhttp_start ROOTDIR          PYHTTP_PORT PYHTTP_PID (python3 -m http.server,
#                                 which ignores Range); pyhttp_stop
#   faultproxy_start UPSTREAM_PORT [ARGS...]   tests/lib/faultproxy.py in front of
#                                 127.0.0.1:UPSTREAM_PORT; FAULTPROXY_PORT
#                                 FAULTPROXY_PID FAULTPROXY_STATS FAULTPROXY_LOG
#                                 FAULTPROXY_DIR; ARGS are faultproxy options
#                                 (--faults, --rate, --seed, --stall-seconds, ...)
#   faultproxy_stats KEY          fresh count KEY from the stats (SIGUSR1, then
#                                 waits for the file to be rewritten): requests,
#                                 responses, faults, flip, truncate, badrange,
#                                 norange, 5xx, reset, stall, etag, connections, ...
#   faultproxy_down / faultproxy_up   SIGUSR2 "down" mode on/off (waits for it)
#   faultproxy_stop               SIGTERM; the stats file keeps the final counts
#
# Access log line (fields split on spaces; Range fields quoted, "-" if none):
#   METHOD URI STATUS BODY_BYTES "$http_range" "$sent_http_content_range" CONNECTION CONNECTION_REQUESTS REQUEST_TIME PROTOCOL
# NGINX_ACCESS_LOG is written unbuffered: a request is in it once nginx has
# sent (or given up on) the response; a client that vanished mid-body can make
# the line come a little later (nginx_wait_requests).

_SRV_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -gA _SRV_LIVE=()
_SRV_PY=${FAULTPROXY_PYTHON:-}

# _srv_dir VAR NAME: a scratch directory (removed at exit) into VAR, made in
# this shell so that its cleanup is registered here.
_srv_dir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/inetboot-$2.XXXXXX") || return 1
    cleanup_add "rm -rf '$d'"
    printf -v "$1" '%s' "$d"
}

# _srv_gone PID: the process is gone (or a zombie waiting for us).
_srv_gone() {
    local st
    [ -r "/proc/$1/stat" ] || return 0
    read -r st <"/proc/$1/stat" 2>/dev/null || return 0
    st=${st##*) }
    [ "${st%% *}" = Z ]
}

# _srv_spawn OUT ERR COMMAND...: start COMMAND in the background, detached
# from this shell's jobs (a bare `wait` in a test does not wait for servers),
# stdin from /dev/null; its PID in _SRV_SPAWNED.
_srv_spawn() {
    local out=$1 err=$2
    shift 2
    _SRV_SPAWNED=$("$@" >"$out" 2>"$err" </dev/null & echo $!)
}

# _srv_wait_for PID SECONDS TEST-ARGS...: wait until `test TEST-ARGS` holds
# (e.g. -s FILE) while PID lives; false when it dies or time runs out.
_srv_wait_for() {
    local pid=$1 n=$(($2 * 20)) i
    shift 2
    for ((i = 0; i < n; i++)); do
        test "$@" && ! _srv_gone "$pid" && return 0
        _srv_gone "$pid" && return 1
        sleep 0.05
    done
    return 1
}

# _srv_register PID NAME: remember a started server and stop it at exit.
_srv_register() {
    _SRV_LIVE[$1]=$2
    cleanup_add "_srv_kill $1"
}

# _srv_kill PID: SIGTERM, up to 5 s for it to go, then SIGKILL (and a last
# bounded wait for it to disappear).
# Only PIDs this file started (and has not stopped yet) are touched.
_srv_kill() {
    local pid=$1 i
    [ -n "${_SRV_LIVE[$pid]+x}" ] || return 0
    unset "_SRV_LIVE[$pid]"
    # Gone already (a swtpm ends when QEMU closes its socket, and a reaping PID 1 takes
    # it at once): kill fails, which must not end a caller running under set -e.
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do _srv_gone "$pid" && break; sleep 0.05; done
    if ! _srv_gone "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do _srv_gone "$pid" && break; sleep 0.05; done
    fi
    return 0
}

# _srv_answers PORT: something accepts TCP connections on 127.0.0.1:PORT.
_srv_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _srv_wait_port PORT PID SECONDS: wait until PORT answers while PID lives.
_srv_wait_port() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        _srv_gone "$2" && return 1
        _srv_answers "$1" && return 0
        sleep 0.05
    done
    return 1
}

free_port() {
    local i p hex used=
    used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    for ((i = 0; i < 200; i++)); do
        p=$(( (RANDOM * 32768 + RANDOM) % 12000 + 20000 ))   # below the ephemeral range
        printf -v hex ':%04X ' "$p"
        [[ $used == *"$hex"* ]] && continue
        _srv_answers "$p" && continue
        echo "$p"
        return 0
    done
    echo "free_port: no free port found" >&2
    return 1
}

# _srv_python: resolve python3 once to its real interpreter (a pyenv shim
# costs most of a second per start).
_srv_python() {
    [ -n "$_SRV_PY" ] && return 0
    requires python3
    _SRV_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
    [ -x "$_SRV_PY" ] || _SRV_PY=$(command -v python3)
}

# ---- nginx -------------------------------------------------------------------
# serve_minilive DIR: build the minilive ISO into DIR/www (tests/lib/mkminilive), sign it with
# the test key and serve DIR/www with nginx; on failure a not_ok and the test ends.
serve_minilive() {
    mkdir -p "$1/www"
    "$IB_SRCDIR/tests/lib/mkminilive" "$1/www/minilive.iso" >"$1/mkminilive.log" 2>&1 ||
        { not_ok "build the minilive ISO"; cat "$1/mkminilive.log"; finish; }
    inetboot-sign make -q --key "$TEST_KEY" -o "$1/www/minilive.iso.manifest" "$1/www/minilive.iso" ||
        { not_ok "sign the minilive ISO"; finish; }
    nginx_start "$1/www" || { not_ok "nginx starts"; finish; }
}

nginx_start() {
    local root pid port dir try
    command -v nginx >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    requires nginx
    root=$(cd "${1:?nginx_start ROOTDIR}" && pwd) || return 1
    # HTTPS (with HTTP/2) when NGINX_TLS_CERT and NGINX_TLS_KEY name PEM files.
    local tls_listen= tls_conf=
    if [ -n "${NGINX_TLS_CERT:-}" ]; then
        tls_listen=" ssl http2"
        tls_conf="
        ssl_certificate $NGINX_TLS_CERT;
        ssl_certificate_key $NGINX_TLS_KEY;"
    fi
    _srv_dir dir nginx || return 1
    mkdir -p "$dir/tmp"
    for try in 1 2 3 4 5; do
        port=$(free_port) || return 1
        cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 512; }
http {
    log_format inetboot '\$request_method \$request_uri \$status \$body_bytes_sent "\$http_range" "\$sent_http_content_range" \$connection \$connection_requests \$request_time \$server_protocol \$msec';
    access_log $dir/access.log inetboot;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types { application/octet-stream iso img bin; text/plain txt manifest sig; }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 10000;
    server_tokens off;
    server {
        listen 127.0.0.1:$port$tls_listen;
        server_name localhost;
        root $root;$tls_conf
        location / {
            add_header Accept-Ranges bytes always;
        }
        # The same files over a slow link: 1 MB/s a connection.
        location /slow/ {
            alias $root/;
            limit_rate 1m;
            add_header Accept-Ranges bytes always;
        }
    }
}
EOF
        : >"$dir/access.log"
        _srv_spawn "$dir/stdout" "$dir/stdout.err" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
        pid=$_SRV_SPAWNED
        _srv_register "$pid" nginx
        if _srv_wait_port "$port" "$pid" 10; then
            NGINX_PORT=$port NGINX_PID=$pid NGINX_DIR=$dir
            NGINX_ACCESS_LOG=$dir/access.log NGINX_ERROR_LOG=$dir/error.log
            return 0
        fi
        _srv_kill "$pid"
        grep -q 'Address already in use' "$dir/error.log" "$dir/stdout" "$dir/stdout.err" 2>/dev/null || break
    done
    echo "nginx_start: nginx did not come up; its error log:" >&2
    tail -n 20 "$dir/error.log" "$dir/stdout" "$dir/stdout.err" >&2 2>/dev/null
    return 1
}

nginx_stop() { [ -n "${NGINX_PID:-}" ] && _srv_kill "$NGINX_PID"; return 0; }

nginx_requests() {
    awk -v s="${1:-}" 's == "" || index($2, s) { n++ } END { print n + 0 }' "$NGINX_ACCESS_LOG"
}

nginx_bytes_sent() {
    awk -v s="${1:-}" 's == "" || index($2, s) { n += $4 } END { printf "%d\n", n }' "$NGINX_ACCESS_LOG"
}

nginx_wait_requests() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(nginx_requests "${2:-}")" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# _srv_simple PREFIX NAME ROOTDIR TRIES WAIT COMMAND... : start a server whose
# COMMAND has @PORT@ and @ROOT@ where the port and root go, on a free port
# (another one if that port was taken), and set PREFIX_PORT, _PID and _DIR.
_srv_simple() {
    local prefix=$1 name=$2 root dir pid port try tries=$4 wait=$5 a cmd
    root=$(cd "${3:?$name: ROOTDIR}" && pwd) || return 1
    shift 5
    _srv_dir dir "$name" || return 1
    for ((try = 0; try < tries; try++)); do
        port=$(free_port) || return 1
        cmd=()
        for a in "$@"; do a=${a//@PORT@/$port}; cmd+=("${a//@ROOT@/$root}"); done
        _srv_spawn "$dir/log" "$dir/log" "${cmd[@]}"
        pid=$_SRV_SPAWNED
        _srv_register "$pid" "$name"
        if _srv_wait_port "$port" "$pid" "$wait"; then
            printf -v "${prefix}_PORT" '%s' "$port"
            printf -v "${prefix}_PID" '%s' "$pid"
            printf -v "${prefix}_DIR" '%s' "$dir"
            return 0
        fi
        _srv_kill "$pid"
    done
    echo "$name: did not come up: $(tail -n 5 "$dir/log")" >&2
    return 1
}

# ---- busybox httpd -------------------------------------------------------------
busybox_httpd_start() {
    local bb conf
    if [ -x /bin/busybox ]; then bb=/bin/busybox
    else requires busybox; bb=$(command -v busybox); fi
    _srv_dir conf busybox-conf || return 1
    : >"$conf/httpd.conf"   # not /etc/httpd.conf
    _srv_simple BUSYBOX busybox "${1:?busybox_httpd_start ROOTDIR}" 5 10 \
        "$bb" httpd -f -p "127.0.0.1:@PORT@" -h @ROOT@ -c "$conf/httpd.conf"
}

busybox_httpd_stop() { [ -n "${BUSYBOX_PID:-}" ] && _srv_kill "$BUSYBOX_PID"; return 0; }

# ---- python3 -m http.server ----------------------------------------------------
pyhttp_start() {
    _srv_python
    _srv_simple PYHTTP pyhttp "${1:?pyhttp_start ROOTDIR}" 3 15 \
        "$_SRV_PY" -m http.server --bind 127.0.0.1 @PORT@ --directory @ROOT@
}

pyhttp_stop() { [ -n "${PYHTTP_PID:-}" ] && _srv_kill "$PYHTTP_PID"; return 0; }

# ---- faultproxy ------------------------------------------------------------------
faultproxy_start() {
    local up=${1:?faultproxy_start UPSTREAM_PORT [ARGS...]} pid dir i
    shift
    _srv_python
    _srv_dir dir faultproxy || return 1
    _srv_spawn "$dir/stdout" "$dir/stderr" "$_SRV_PY" "$_SRV_LIB/faultproxy.py" \
        --upstream "127.0.0.1:$up" --listen 127.0.0.1:0 \
        --port-file "$dir/port" --stats "$dir/stats.json" --log "$dir/log" "$@"
    pid=$_SRV_SPAWNED
    _srv_register "$pid" faultproxy
    if ! _srv_wait_for "$pid" 15 -s "$dir/port"; then
        _srv_kill "$pid"
        echo "faultproxy_start: the proxy did not come up: $(tail -n 5 "$dir/stderr")" >&2
        return 1
    fi
    FAULTPROXY_PORT=$(<"$dir/port") FAULTPROXY_PID=$pid FAULTPROXY_DIR=$dir
    FAULTPROXY_STATS=$dir/stats.json FAULTPROXY_LOG=$dir/log
    return 0
}

faultproxy_stop() { [ -n "${FAULTPROXY_PID:-}" ] && _srv_kill "$FAULTPROXY_PID"; return 0; }

# _fp_key KEY: KEY's value in the stats file as it is (0 if absent).
_fp_key() {
    local line v=0 re="^ *\"$1\": *([-0-9.]+),?\$"
    while IFS= read -r line; do
        if [[ $line =~ $re ]]; then v=${BASH_REMATCH[1]}; break; fi
    done <"$FAULTPROXY_STATS" 2>/dev/null
    echo "$v"
}

faultproxy_stats() {
    local before i
    before=$(_fp_key usr1)
    if [ -n "${_SRV_LIVE[${FAULTPROXY_PID:-x}]+x}" ] && kill -USR1 "$FAULTPROXY_PID" 2>/dev/null; then
        for ((i = 0; i < 100; i++)); do   # 5 s
            [ "$(_fp_key usr1)" -gt "$before" ] && break
            sleep 0.05
        done
    fi
    _fp_key "${1:?faultproxy_stats KEY}"
}

# _fp_toggle: SIGUSR2, then wait (<= 15 s) for the transition to complete.
_fp_toggle() {
    local before i
    before=$(_fp_key usr2)
    kill -USR2 "$FAULTPROXY_PID" 2>/dev/null || return 1
    for ((i = 0; i < 300; i++)); do
        [ "$(_fp_key usr2)" -gt "$before" ] && return 0
        sleep 0.05
    done
    return 1
}

faultproxy_down() { [ "$(_fp_key down)" = 1 ] || _fp_toggle; }
faultproxy_up() { [ "$(_fp_key down)" = 0 ] || _fp_toggle; }
