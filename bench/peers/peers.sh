#!/usr/bin/env bash
# bench/peers/peers.sh - loopback benchmark of reverse-proxy + OIDC-authentication peers.
#
#   upstream     nginx      127.0.0.1:18080   GET / -> "ok", GET /16k -> 16 KiB, GET /headers -> echo
#   idp          oidc-provider-mock 127.0.0.1:9400
#   nginx-plain  nginx      127.0.0.1:18081   reverse proxy, keepalive pool, no auth (the floor)
#   apache-oidc  Apache 2.4 127.0.0.1:18082   mod_auth_openidc (code flow) + mod_proxy_http
#   extra        optional, from EXTRA_URL (see below)
#
# usage: bench/peers/peers.sh [all|check|start|stop|status|login [GATEWAY_URL]]
#   all (default)  start what is not running, log in, check correctness, run wrk,
#                  print the table, then stop what this invocation started
#   check          same, without the wrk runs
#   start / stop / status / login
#
# environment (defaults in brackets):
#   WRK_THREADS [2] WRK_CONNS [32] WRK_DURATION [8] (seconds) WARMUP [2] (seconds, not recorded)
#   REPEAT [1] (repetitions of the whole matrix)   PATHS ["/ /16k"]
#   UP_WORKERS [2] PLAIN_WORKERS [2] (nginx worker_processes)
#   WRK_CPUS / SERVER_CPUS [unset]  optional taskset CPU lists for wrk / for the servers
#   KEEP [0]       1 = leave the servers running after `all`/`check`
#   WAIT_IDLE [60] before each measurement wait up to this many seconds for the machine to be
#                  idle (<= IDLE_MAX_PCT [5] % busy over 1 s; 0 = don't wait); every row also
#                  records the "foreign" CPU (user time of processes other than
#                  wrk/gateway/upstream) and flags rows above OTHER_WARN_PCT [5] % of a core
#   PB_RUN [/tmp/peerbench]  runtime dir (rendered configs, pids, logs)
#   RESULTS_DIR [/tmp/peerbench/results]  one sub-directory per invocation
#   PB_MAX_LIFETIME [1800]  every server runs under `timeout` and dies by itself after this
#   UP_PORT [18080] PLAIN_PORT [18081] APACHE_PORT [18082] IDP_PORT [9400] PYTHON [python3]
#   APACHE_PLAIN [0]  1 = also benchmark "apache-plain" (same Apache, vhost on APACHE_PLAIN_PORT
#                     [18083] without auth) to split Apache+mod_proxy cost from mod_auth_openidc
#   extra target (benchmarked exactly like apache-oidc; loopback URLs only):
#     EXTRA_URL        base URL, e.g. http://127.0.0.1:8080 (its upstream should be 127.0.0.1:18080)
#     EXTRA_NAME [extra]   EXTRA_LOGIN [0]  1 = log in through it with login.py (same IdP, user alice)
#     EXTRA_LOGIN_PATH [/]  EXTRA_HEADER  with EXTRA_LOGIN=0: a fixed request header to send,
#                      e.g. "Authorization: Bearer x"
#     EXTRA_PID        optional pid of its main process (for CPU/RSS columns)
#     EXTRA_STRICT [0] 1 = fail (not warn) when /headers through it does not show alice's identity
set -Eeuo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
RUN=${PB_RUN:-/tmp/peerbench}
PY=${PYTHON:-python3}
UP_PORT=${UP_PORT:-18080}
PLAIN_PORT=${PLAIN_PORT:-18081}
APACHE_PORT=${APACHE_PORT:-18082}
APACHE_PLAIN_PORT=${APACHE_PLAIN_PORT:-18083}
APACHE_PLAIN=${APACHE_PLAIN:-0}
IDP_PORT=${IDP_PORT:-9400}
IDP_URL="http://127.0.0.1:${IDP_PORT}"
UP_WORKERS=${UP_WORKERS:-2}
PLAIN_WORKERS=${PLAIN_WORKERS:-2}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
WRK_DURATION=${WRK_DURATION:-8}; WRK_DURATION=${WRK_DURATION%s}
WARMUP=${WARMUP:-2}; WARMUP=${WARMUP%s}
REPEAT=${REPEAT:-1}
PATHS=${PATHS:-"/ /16k"}
KEEP=${KEEP:-0}
MAX_LIFETIME=${PB_MAX_LIFETIME:-1800}
RESULTS_ROOT=${RESULTS_DIR:-/tmp/peerbench/results}
EXTRA_NAME=${EXTRA_NAME:-extra}
EXTRA_URL=${EXTRA_URL:-}
EXTRA_LOGIN=${EXTRA_LOGIN:-0}
EXTRA_LOGIN_PATH=${EXTRA_LOGIN_PATH:-/}
EXTRA_HEADER=${EXTRA_HEADER:-}
EXTRA_PID=${EXTRA_PID:-}
EXTRA_STRICT=${EXTRA_STRICT:-0}
WAIT_IDLE=${WAIT_IDLE:-60}
IDLE_MAX_PCT=${IDLE_MAX_PCT:-5}
PIN_WRK=(); [[ -n ${WRK_CPUS:-} ]] && PIN_WRK=(taskset -c "$WRK_CPUS")
PIN_SRV=(); [[ -n ${SERVER_CPUS:-} ]] && PIN_SRV=(taskset -c "$SERVER_CPUS")

SERVICES=(idp upstream nginx-plain apache)
STARTED=()
MODE=${1:-all}
CURL=(curl -sS --max-time 5 --noproxy '*')

log()  { printf '[peers %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
tool() { "$PY" "$HERE/pbtool.py" "$@"; }
# snap_sys, snap_self, busy_pct, wait_idle (and wait_for_others, unused here)
# shellcheck source=bench/peers/measure.sh
source "$HERE/measure.sh"
trap 'rc=$?; log "failed at line $LINENO (rc=$rc): $BASH_COMMAND"' ERR

# ------------------------------------------------------------------ preflight
preflight() {
    local c
    for c in nginx apache2 wrk curl timeout "$PY"; do
        command -v "$c" >/dev/null || die "missing command: $c (run $HERE/install.sh, or apt-get install nginx apache2 libapache2-mod-auth-openidc wrk curl)"
    done
    [[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ]] || die "mod_auth_openidc missing (run $HERE/install.sh, or apt-get install libapache2-mod-auth-openidc)"
    "$PY" -c 'import oidc_provider_mock, requests' 2>/dev/null \
        || die "$PY lacks oidc_provider_mock/requests (run $HERE/install.sh, or pip install oidc-provider-mock==0.3.4 authlib==1.9.9 requests)"
    if [[ -n $EXTRA_URL ]]; then
        [[ $EXTRA_URL =~ ^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/.*)?$ ]] \
            || die "EXTRA_URL must be a plain-http loopback URL, got: $EXTRA_URL"
        EXTRA_URL=${EXTRA_URL%/}
        if [[ -n $EXTRA_PID ]]; then
            [[ $EXTRA_PID =~ ^[0-9]+$ && -d /proc/$EXTRA_PID ]] || die "EXTRA_PID=$EXTRA_PID is not a running process id"
        fi
    fi
}

# ------------------------------------------------------------------- helpers
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
svc_port()  { case $1 in idp) echo "$IDP_PORT";; upstream) echo "$UP_PORT";; nginx-plain) echo "$PLAIN_PORT";; apache) echo "$APACHE_PORT";; esac; }
svc_mark()  { case $1 in idp) echo "oidc_provider_mock";; upstream) echo "$RUN/conf/upstream.conf";; nginx-plain) echo "$RUN/conf/nginx-plain.conf";; apache) echo "$RUN/conf/apache-oidc.conf";; esac; }
wrapper_pid() { local f="$RUN/$1/wrapper.pid"; [[ -s $f ]] && cat "$f" || echo 0; }

# the `timeout` wrapper we started for this service, if it is still alive
owned() {
    local pid; pid=$(wrapper_pid "$1")
    [[ $pid -gt 0 && -r /proc/$pid/cmdline ]] || return 1
    local cmd; cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == timeout* && $cmd == *"$(svc_mark "$1")"* ]]
}

# main server pid (nginx/apache master, python process of the IdP)
main_pid() {
    case $1 in
        upstream|nginx-plain) [[ -s $RUN/$1/nginx.pid ]] && cat "$RUN/$1/nginx.pid" || echo 0 ;;
        apache) [[ -s $RUN/apache/apache.pid ]] && cat "$RUN/apache/apache.pid" || echo 0 ;;
        idp) local w; w=$(wrapper_pid idp); [[ $w -gt 0 ]] && { ps -o pid= --ppid "$w" | head -1 | tr -d ' '; } || echo 0 ;;
    esac
}

render_configs() {
    mkdir -p "$RUN"/{conf,www,idp,upstream/tmp,nginx-plain/tmp,apache/run}
    chmod 755 "$RUN" "$RUN/www"
    printf 'ok' >"$RUN/www/index.txt"
    # 16 KiB deterministic static file
    if [[ ! -f $RUN/www/16k || $(stat -c %s "$RUN/www/16k") -ne 16384 ]]; then
        "$PY" -c 'import sys; l=b"peerbench 16 KiB static body 0123456789abcdefghijklmnopqrstuvwxyz\n"; sys.stdout.buffer.write((l*300)[:16384])' >"$RUN/www/16k"
    fi
    chmod 644 "$RUN/www/"*
    export PB_RUN="$RUN" PB_UP_PORT="$UP_PORT" PB_PLAIN_PORT="$PLAIN_PORT" PB_APACHE_PORT="$APACHE_PORT"
    export PB_APACHE_PLAIN_PORT="$APACHE_PLAIN_PORT"
    export PB_IDP_URL="$IDP_URL" PB_UP_WORKERS="$UP_WORKERS" PB_PLAIN_WORKERS="$PLAIN_WORKERS"
    local echo_so=/usr/lib/nginx/modules/ngx_http_echo_module.so
    if [[ -f $echo_so ]]; then
        export PB_ECHO_LOAD="load_module $echo_so;"
        export PB_ECHO_HEADERS='echo $echo_client_request_headers;'
    else   # fallback without libnginx-mod-http-echo: a fixed list of identity headers
        export PB_ECHO_LOAD="# (ngx_http_echo_module not installed: /headers shows selected headers only)"
        export PB_ECHO_HEADERS='return 200 "X-Remote-User: $http_x_remote_user\nOIDC_CLAIM_email: $http_oidc_claim_email\nOIDC_CLAIM_roles: $http_oidc_claim_roles\nOIDC_CLAIM_groups: $http_oidc_claim_groups\nX-Forwarded-User: $http_x_forwarded_user\nX-Forwarded-Email: $http_x_forwarded_email\nX-Auth-Request-Email: $http_x_auth_request_email\nRemote-User: $http_remote_user\nAuthorization: $http_authorization\n";'
    fi
    # per-runtime-dir random passphrase (benchmark only; stable across restarts)
    [[ -s $RUN/conf/oidc-passphrase ]] || head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$RUN/conf/oidc-passphrase"
    chmod 600 "$RUN/conf/oidc-passphrase"
    export PB_OIDC_PASSPHRASE; PB_OIDC_PASSPHRASE=$(cat "$RUN/conf/oidc-passphrase")
    tool render "$HERE/conf/upstream.nginx.conf.in"    "$RUN/conf/upstream.conf"
    tool render "$HERE/conf/nginx-plain.conf.in"       "$RUN/conf/nginx-plain.conf"
    tool render "$HERE/conf/apache-oidc.conf.in"       "$RUN/conf/apache-oidc.conf"
    chmod 600 "$RUN/conf/apache-oidc.conf"
}

launch() {   # launch SVC: start it in the foreground under `timeout`, in the background
    local svc=$1 out="$RUN/$1/stdout.log"
    case $svc in
        idp)
            ( cd "$RUN/idp" && NO_COLOR=1 PYTHONWARNINGS=ignore exec timeout -s TERM "$MAX_LIFETIME" \
                "$PY" -m oidc_provider_mock --host 127.0.0.1 --port "$IDP_PORT" ) >>"$out" 2>&1 & ;;
        upstream|nginx-plain)
            nginx -t -q -p "$RUN/$svc/" -c "$RUN/conf/$svc.conf" >>"$out" 2>&1 || { cat "$out" >&2; die "nginx -t failed for $svc"; }
            timeout -s TERM "$MAX_LIFETIME" "${PIN_SRV[@]}" nginx -p "$RUN/$svc/" -c "$RUN/conf/$svc.conf" >>"$out" 2>&1 & ;;
        apache)
            apache2 -t -d "$RUN/apache" -f "$RUN/conf/apache-oidc.conf" >>"$out" 2>&1 || { cat "$out" >&2; die "apache2 -t failed"; }
            timeout -s TERM "$MAX_LIFETIME" "${PIN_SRV[@]}" apache2 -d "$RUN/apache" -f "$RUN/conf/apache-oidc.conf" -D FOREGROUND >>"$out" 2>&1 & ;;
    esac
    echo $! >"$RUN/$svc/wrapper.pid"
}

ready() {
    local svc=$1 port; port=$(svc_port "$1")
    case $svc in
        idp) [[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "$IDP_URL/.well-known/openid-configuration" 2>/dev/null) == 200 ]] ;;
        upstream|nginx-plain) [[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null) == 200 ]] ;;
        apache) [[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null) != 000 ]] ;;
    esac
}

start_svc() {
    local svc=$1 port i; port=$(svc_port "$svc")
    if owned "$svc"; then
        if ready "$svc"; then
            log "$svc already running (wrapper pid $(wrapper_pid "$svc"), main pid $(main_pid "$svc")) - reusing"
            return 0
        fi
        log "$svc: our earlier instance does not answer - restarting it"
        stop_svc "$svc"
    fi
    if port_open "$port"; then
        if [[ $svc == idp ]] && ready idp; then
            log "idp: something else already serves $IDP_URL (an oidc-provider-mock?) - reusing it"
            return 0
        fi
        die "port $port ($svc) is already in use by a process this script did not start"
    fi
    : >"$RUN/$svc/stdout.log"
    launch "$svc"
    STARTED+=("$svc")
    for ((i = 0; i < 150; i++)); do          # bounded wait: ~30 s
        ready "$svc" && { log "$svc up on 127.0.0.1:$port (main pid $(main_pid "$svc"))"; return 0; }
        kill -0 "$(wrapper_pid "$svc")" 2>/dev/null || break
        sleep 0.2
    done
    tail -n 30 "$RUN/$svc/stdout.log" >&2 || true
    [[ $svc == apache ]] && tail -n 30 "$RUN/apache/error.log" >&2 || true
    die "$svc did not come up"
}

stop_svc() {
    local svc=$1 w m i
    owned "$svc" || { rm -f "$RUN/$svc/wrapper.pid"; return 0; }
    w=$(wrapper_pid "$svc"); m=$(main_pid "$svc")
    kill -TERM "$w" 2>/dev/null || true      # timeout forwards TERM to the server
    for ((i = 0; i < 75; i++)); do           # bounded wait: ~15 s
        kill -0 "$w" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$w" 2>/dev/null; then
        log "$svc did not stop on TERM, sending KILL to pids $m $w"
        [[ $m -gt 0 ]] && kill -KILL "$m" 2>/dev/null || true
        kill -KILL "$w" 2>/dev/null || true
    fi
    rm -f "$RUN/$svc/wrapper.pid"
    log "$svc stopped"
}

start_all() {
    render_configs
    local s
    for s in "${SERVICES[@]}"; do start_svc "$s"; done
}

stop_started() {
    local i
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_svc "${STARTED[$i]}"; done
    STARTED=()
}

on_exit() {
    local rc=$?
    trap - ERR
    if [[ ${#STARTED[@]} -gt 0 ]]; then
        if [[ $KEEP == 1 || ($MODE == start && $rc -eq 0) ]]; then
            log "leaving running: ${STARTED[*]} (stop with: $0 stop; they exit by themselves after ${MAX_LIFETIME}s)"
        else
            stop_started
        fi
    fi
    exit "$rc"
}

# ----------------------------------------------------------------- login/check
gw_login() {   # gw_login NAME BASE_URL PATH -> prints Cookie header value
    local name=$1 base=$2 path=$3 cookie
    if ! cookie=$("$PY" "$HERE/login.py" --gateway "$base" --path "$path" --idp "$IDP_URL" -v 2>"$RUN/login-$name.log"); then
        cat "$RUN/login-$name.log" >&2
        die "login through $name ($base) failed"
    fi
    log "logged in through $name as alice: $(grep -c ' -> ' "$RUN/login-$name.log") HTTP hops, cookie ${cookie:0:48}..."
    printf '%s' "$cookie"
}

FAILS=0
ok()   { log "  ok   $*"; }
bad()  { log "  FAIL $*"; FAILS=$((FAILS + 1)); }
warn() { log "  warn $*"; }

# fetch URL [curl-args...] -> sets CODE, LOC, BODY (file), SIZE
fetch() {
    local url=$1; shift
    local meta
    BODY="$RUN/check.body"
    meta=$("${CURL[@]}" -o "$BODY" -w '%{http_code} %{size_download} %{redirect_url}' "$@" "$url" 2>/dev/null) || meta="000 0 "
    CODE=${meta%% *}; meta=${meta#* }; SIZE=${meta%% *}; LOC=${meta#* }
}

check_proxy() {   # check_proxy NAME BASE [curl header args...]
    local name=$1 base=$2; shift 2
    fetch "$base/" "$@"
    [[ $CODE == 200 && $(cat "$BODY") == ok ]] && ok "$name GET / -> 200 'ok'" || bad "$name GET / -> $CODE body=$(head -c 80 "$BODY")"
    fetch "$base/16k" "$@"
    [[ $CODE == 200 && $SIZE == 16384 ]] && ok "$name GET /16k -> 200, $SIZE bytes" || bad "$name GET /16k -> $CODE, $SIZE bytes"
}

identity_lines() { grep -i -E 'alice|remote-user|oidc_claim_(email|roles|groups|sub)|x-forwarded-(user|email)|x-auth-request' "$BODY" | cut -c1-110 | sed 's/^/           | /' >&2 || true; }

check_all() {
    log "correctness checks"
    check_proxy direct-upstream "http://127.0.0.1:$UP_PORT"
    check_proxy nginx-plain "http://127.0.0.1:$PLAIN_PORT"
    if [[ $APACHE_PLAIN == 1 ]]; then check_proxy apache-plain "http://127.0.0.1:$APACHE_PLAIN_PORT"; fi

    local ap="http://127.0.0.1:$APACHE_PORT"
    fetch "$ap/"
    if [[ $CODE == 302 && $LOC == "$IDP_URL/oauth2/authorize"* ]]; then
        ok "apache-oidc unauthenticated GET / -> 302 to the IdP (${LOC:0:60}...)"
    else
        bad "apache-oidc unauthenticated GET / -> $CODE location=$LOC"
    fi
    check_proxy apache-oidc "$ap" -H "Cookie: $APACHE_COOKIE"
    fetch "$ap/headers" -H "Cookie: $APACHE_COOKIE"
    if [[ $CODE == 200 ]] && grep -qi '^x-remote-user: alice@example.com' "$BODY" \
        && grep -qi '^oidc_claim_email: alice@example.com' "$BODY" && grep -qi '^oidc_claim_roles: .*Staff.Read' "$BODY"; then
        ok "apache-oidc: upstream saw identity headers:"; identity_lines
    else
        bad "apache-oidc: upstream did not see alice's identity headers (GET /headers -> $CODE)"; identity_lines
    fi

    if [[ -n $EXTRA_URL ]]; then
        if [[ $EXTRA_LOGIN == 1 ]]; then
            fetch "$EXTRA_URL/"
            case $CODE in
                30[1237]) [[ $LOC == "$IDP_URL"* ]] && ok "$EXTRA_NAME unauthenticated GET / -> $CODE to the IdP" \
                                                   || ok "$EXTRA_NAME unauthenticated GET / -> $CODE to ${LOC:0:70}" ;;
                401|403) ok "$EXTRA_NAME unauthenticated GET / -> $CODE" ;;
                *) bad "$EXTRA_NAME unauthenticated GET / -> $CODE (expected a redirect to log in or 401)" ;;
            esac
        fi
        check_proxy "$EXTRA_NAME" "$EXTRA_URL" "${EXTRA_ARGS[@]}"
        fetch "$EXTRA_URL/headers" "${EXTRA_ARGS[@]}"
        if [[ $CODE == 200 ]] && grep -qi 'alice' "$BODY"; then
            ok "$EXTRA_NAME: upstream saw alice's identity:"; identity_lines
        elif [[ $EXTRA_STRICT == 1 ]]; then
            bad "$EXTRA_NAME: no 'alice' in the headers the upstream received (GET /headers -> $CODE)"
        else
            warn "$EXTRA_NAME: no 'alice' in the headers the upstream received (GET /headers -> $CODE)"
        fi
    fi
    [[ $FAILS -eq 0 ]] || die "$FAILS correctness check(s) failed - not benchmarking"
}

# ---------------------------------------------------------------------- bench
# CPU accounting snapshots with bash builtins only (no fork inside the window)

bench_all() {
    local stamp outdir
    stamp=$(date +%Y%m%d-%H%M%S)
    outdir="$RESULTS_ROOT/$stamp-t${WRK_THREADS}c${WRK_CONNS}"
    mkdir -p "$outdir"
    local run_id; run_id=$(basename "$outdir")
    {
        echo "date: $(date -Is)"; echo "host: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
        echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2)"; echo "apache: $(apache2 -v | head -1 | cut -d: -f2-)"
        echo "mod_auth_openidc: $(dpkg-query -W -f '${Version}' libapache2-mod-auth-openidc 2>/dev/null)"
        echo "wrk: $(dpkg-query -W -f '${Version}' wrk 2>/dev/null)"
        echo "oidc-provider-mock: $("$PY" -c 'import importlib.metadata as m; print(m.version("oidc-provider-mock"))')"
        echo "wrk args: --latency -t$WRK_THREADS -c$WRK_CONNS -d${WRK_DURATION}s (warmup ${WARMUP}s), repeat $REPEAT, paths: $PATHS"
        echo "workers: upstream=$UP_WORKERS nginx-plain=$PLAIN_WORKERS apache=2x32 threads; WRK_CPUS=${WRK_CPUS:-} SERVER_CPUS=${SERVER_CPUS:-}"
        if [[ -n $EXTRA_URL ]]; then echo "extra: $EXTRA_NAME $EXTRA_URL login=$EXTRA_LOGIN pid=${EXTRA_PID:-}"; fi
    } >"$outdir/meta.txt"

    # name|base|gateway-main-pid|header
    local targets=(
        "direct-upstream|http://127.0.0.1:$UP_PORT||"
        "nginx-plain|http://127.0.0.1:$PLAIN_PORT|$(main_pid nginx-plain)|"
    )
    if [[ $APACHE_PLAIN == 1 ]]; then targets+=("apache-plain|http://127.0.0.1:$APACHE_PLAIN_PORT|$(main_pid apache)|"); fi
    targets+=("apache-oidc|http://127.0.0.1:$APACHE_PORT|$(main_pid apache)|Cookie: $APACHE_COOKIE")
    if [[ -n $EXTRA_URL ]]; then targets+=("$EXTRA_NAME|$EXTRA_URL|$EXTRA_PID|$EXTRA_HDR_VALUE"); fi
    local up_pid; up_pid=$(main_pid upstream)
    local stub="http://127.0.0.1:$UP_PORT/__status"
    local tsv="$outdir/results.tsv"
    printf 'run\trep\ttarget\tpath\tthreads\tconns\tduration\trps\tp50_ms\tp99_ms\trequests\tsecs\tnon2xx\tsock_err\tup_hits\tup_conns\tgw_ticks\tup_ticks\twall_s\tsys_user_ticks\twrk_user_ticks\tgw_user_ticks\tup_user_ticks\tsteal_ticks\n' >"$tsv"

    local rep path t name base gpid hdr url slug a0 a1 h0 h1 parsed hits conns gt ut gu uu
    local gu0 gs0 gu1 gs1 uu0 us0 uu1 us1 s0 s1 st0 st1 w0 w1 t0 t1
    for ((rep = 1; rep <= REPEAT; rep++)); do
        for path in $PATHS; do
            for t in "${targets[@]}"; do
                IFS='|' read -r name base gpid hdr <<<"$t"
                url="$base$path"
                local hargs=(); [[ -n $hdr ]] && hargs=(-H "$hdr")
                slug=${path//\//_}
                wait_idle
                timeout $((WARMUP + 20)) "${PIN_WRK[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WARMUP}s" "${hargs[@]}" "$url" >/dev/null 2>&1 || true
                read -r a0 h0 <<<"$(tool stub "$stub")"
                read -r gu0 gs0 <<<"$(tool cpu $gpid)"; read -r uu0 us0 <<<"$(tool cpu "$up_pid")"
                snap_sys; s0=$SYS_USER; st0=$SYS_STEAL; snap_self; w0=$SELF_CUTIME; t0=$EPOCHREALTIME
                timeout $((WRK_DURATION + 30)) "${PIN_WRK[@]}" wrk --latency -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WRK_DURATION}s" \
                    "${hargs[@]}" "$url" >"$outdir/wrk-$name$slug-r$rep.txt" 2>&1 || log "wrk exited non-zero for $name $path"
                snap_sys; s1=$SYS_USER; st1=$SYS_STEAL; snap_self; w1=$SELF_CUTIME; t1=$EPOCHREALTIME
                sleep 0.3
                read -r a1 h1 <<<"$(tool stub "$stub")"
                read -r gu1 gs1 <<<"$(tool cpu $gpid)"; read -r uu1 us1 <<<"$(tool cpu "$up_pid")"
                parsed=$(tool wrk "$outdir/wrk-$name$slug-r$rep.txt")
                # stub_status counts its own request/connection too, hence the -1
                hits=-;  [[ $h0 != - && $h1 != - ]] && hits=$((h1 - h0 - 1))
                conns=-; [[ $a0 != - && $a1 != - ]] && conns=$((a1 - a0 - 1))
                # gateway CPU; unknown for an extra target without EXTRA_PID (then the
                # foreign-CPU figure cannot be separated either: gu=- makes it n/a)
                gt=-; gu=-; [[ $name == direct-upstream ]] && gu=0
                [[ $gu0 != - && $gu1 != - ]] && { gt=$((gu1 + gs1 - gu0 - gs0)); gu=$((gu1 - gu0)); }
                ut=-; uu=0; [[ $uu0 != - && $uu1 != - ]] && { ut=$((uu1 + us1 - uu0 - us0)); uu=$((uu1 - uu0)); }
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%ss\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run_id" "$rep" "$name" "$path" \
                    "$WRK_THREADS" "$WRK_CONNS" "$WRK_DURATION" "$parsed" "$hits" "$conns" "$gt" "$ut" \
                    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')" $((s1 - s0)) $((w1 - w0)) "$gu" "$uu" $((st1 - st0)) >>"$tsv"
                log "rep $rep $(printf '%-16s %-5s' "$name" "$path") $(tool row "$tsv")"
            done
        done
    done

    local mem="$outdir/mem.tsv"; : >"$mem"
    tool mem "upstream (nginx)" "$(main_pid upstream)" >>"$mem"
    tool mem "nginx-plain (nginx)" "$(main_pid nginx-plain)" >>"$mem"
    tool mem "apache-oidc (apache2)" "$(main_pid apache)" >>"$mem"
    tool mem "idp (oidc-provider-mock)" "$(main_pid idp)" >>"$mem"
    if [[ -n $EXTRA_PID ]]; then tool mem "$EXTRA_NAME" "$EXTRA_PID" >>"$mem"; fi

    tool report "$tsv" "$mem" | tee "$outdir/report.txt"
    log "results: $outdir"
}

# ----------------------------------------------------------------------- main
case $MODE in
    all|check)
        preflight
        trap on_exit EXIT
        trap 'exit 130' INT TERM
        start_all
        APACHE_COOKIE=$(gw_login apache-oidc "http://127.0.0.1:$APACHE_PORT" /)
        EXTRA_ARGS=(); EXTRA_HDR_VALUE=
        if [[ -n $EXTRA_URL ]]; then
            if [[ $EXTRA_LOGIN == 1 ]]; then
                EXTRA_HDR_VALUE="Cookie: $(gw_login "$EXTRA_NAME" "$EXTRA_URL" "$EXTRA_LOGIN_PATH")"
            elif [[ -n $EXTRA_HEADER ]]; then
                EXTRA_HDR_VALUE=$EXTRA_HEADER
            fi
            [[ -n $EXTRA_HDR_VALUE ]] && EXTRA_ARGS=(-H "$EXTRA_HDR_VALUE")
        fi
        check_all
        if [[ $MODE == all ]]; then bench_all; fi
        ;;
    start)
        preflight
        trap on_exit EXIT
        start_all
        ;;
    stop)
        for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_svc "${SERVICES[$i]}"; done
        ;;
    status)
        for s in "${SERVICES[@]}"; do
            if owned "$s"; then echo "$s: running, wrapper pid $(wrapper_pid "$s"), main pid $(main_pid "$s"), port $(svc_port "$s")"
            else echo "$s: not running (by this harness)"; fi
        done
        ;;
    login)
        preflight
        "$PY" "$HERE/login.py" --gateway "${2:-http://127.0.0.1:$APACHE_PORT}" --idp "$IDP_URL"
        ;;
    *)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
