#!/usr/bin/env bash
# bench/tls.sh - authenticated throughput and CPU per request over TLS, HTTP/1.1 and HTTP/2,
# through Portcullis terminating TLS, against nginx terminating TLS as a plain proxy, in one run
# (issue 12).
#
# One run:
#   * makes a throwaway self-signed certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1;
#     ECDSA P-256 by default, TLS_KEY=rsa for RSA 2048), used by both servers;
#   * starts the peers (bench/peers/peers.sh start: nginx upstream on :18080, oidc-provider-mock
#     IdP on :9400, and nginx-plain/apache-oidc, which are not measured here);
#   * starts "nginx-tls" (bench/peers/conf/nginx-tls.conf.in): nginx-plain's proxy with a TLS
#     listener on 127.0.0.1:$NGINX_TLS_PORT, HTTP/2 through ALPN (`listen ... ssl http2` before
#     nginx 1.25.1, `http2 on;` from it), same keep-alive pool to the same upstream;
#   * starts Portcullis with `listen.tls` (the same certificate, `http2` true) on
#     127.0.0.1:$TLS_PC_PORT and one PROTECTED route `/` -> the harness's upstream, signing in
#     at the harness's IdP exactly like bench/auth.sh (client portcullis-bench, a random client
#     secret file, a keys file from `portcullis keys generate`, the memory store), and checks
#     the config with `portcullis check-config`;
#   * signs in as alice through the gateway over HTTPS with bench/peers/login.py, as the harness
#     does for auth.sh (see "Signing in over TLS" below);
#   * checks correctness over both protocols with curl (--http1.1 and --http2 must negotiate
#     what they ask for; `/` -> 200 "ok", `/16k` -> 16384 bytes, `/headers` shows alice at the
#     upstream; an unauthenticated `GET /` at the gateway -> 401);
#   * measures, for each path in PATHS (`/`, `/16k`), each protocol and each target, back to
#     back (nginx-tls then portcullis-tls, per path and protocol):
#       h1  wrk --latency -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION (keep-alive; wrk sends no
#           ALPN, so both servers speak HTTP/1.1)
#       h2  h2load -t$WRK_THREADS -c$WRK_CONNS -m$H2_STREAMS -D $WRK_DURATION (ALPN h2; the
#           run is invalid unless h2load reports "Application protocol: h2")
#     each after an unrecorded warm-up of WARMUP seconds with the same tool and the same
#     session cookie, sent to both targets (identical requests; nginx passes it on);
#   * prints a table (target, protocol, path, req/s, mean latency, server CPU µs/req, upstream
#     hits/req, new upstream connections, errors, foreign CPU, ALPN and cipher), the servers'
#     RSS, Portcullis' access-log status/outcome counts and warning/error lines, and, per path
#     and protocol, the ratios portcullis ÷ nginx for req/s and CPU/req, per repetition and as
#     the median, with PASS/FAIL against the seams issue's bounds, shown for information
#     (issue 12 asks for the measurement; the exit code does not depend on them):
#         portcullis-tls req/s ÷ nginx-tls req/s            >= 0.75
#         portcullis-tls CPU µs/req ÷ nginx-tls CPU µs/req  <= 1.5
#   * stops everything it started (trap on EXIT): Portcullis, nginx-tls, the load tool, and the
#     peers unless they were already running when it started (then it leaves them as found).
#
# Server CPU per request is measured as bench/auth.sh and the harness do: utime+stime of the
# server's process tree (nginx master and workers; the Portcullis process) over the measured run,
# from /proc/PID/stat (bench/peers/pbtool.py cpu), ÷ the requests the load tool completed. TLS
# record encryption is user CPU in both servers, so it is counted. Upstream hits come from the
# upstream's stub_status: a row whose hits/req is below 0.99, or with errors, did not measure
# authenticated proxying and is listed as INVALID. "Foreign CPU" is the user CPU of every
# process other than the load tool, the server and the upstream, in % of one core; rows above
# OTHER_WARN_PCT (5) are flagged `!` and should be rerun on a quiet machine.
#
# Signing in over TLS. login.py drives the authorization-code flow with `requests`, which
# verifies certificates; it has no "insecure" switch and is not changed for this script. Instead
# the script runs it with REQUESTS_CA_BUNDLE=<the self-signed certificate>, so `requests` trusts
# exactly that certificate (the IdP is plain http and unaffected), and the sign-in is the real
# one: through the TLS listener, with the `__Host-`/Secure cookies an https publicURL implies.
# The alternatives were worse: a session from a second, plain-HTTP Portcullis would not exist
# in this one's memory store (a memory-store session lives in the process that created it;
# the keys file only seals the cookie), and a public route would not measure authenticated
# requests. Every measured request is therefore a signed-in one answered from the in-process
# session cache, like bench/auth.sh's memory store.
#
# h2load comes from Debian's nghttp2-client (bench/peers/install.sh installs it):
#   apt-get install -y nghttp2-client
# The script stops with that message when h2load is missing.
#
# usage: bench/tls.sh            (from anywhere; it works from the project root)
#
# environment (defaults in brackets):
#   SCRATCH [.build]          SwiftPM scratch path for `swift build -c release`
#   PORTCULLIS_BIN            use this binary and skip the build
#   SKIP_BUILD [0]            1 = use $SCRATCH/release/portcullis without building
#   TLS_PC_PORT [18443]       Portcullis' TLS listener   (127.0.0.1 only)
#   NGINX_TLS_PORT [18444]    nginx-tls' TLS listener    (127.0.0.1 only)
#   NGINX_TLS_WORKERS [2]     nginx-tls worker_processes (nginx-plain's default)
#   TLS_KEY [ec]              certificate key: ec (P-256) or rsa (2048 bits)
#   PROTOCOLS ["h1 h2"]       which protocols to measure
#   PATHS ["/ /16k"]          paths (the upstream serves "ok" at / and 16 KiB at /16k)
#   WRK_THREADS [2] WRK_CONNS [32] WRK_DURATION [8] (s) WARMUP [2] (s) REPEAT [1]
#                             the load, the same for wrk (h1) and h2load (h2)
#   H2_STREAMS [1]            h2load -m: concurrent streams per connection. 1 = as many requests
#                             in flight as with HTTP/1.1 keep-alive (WRK_CONNS); raise it to
#                             measure multiplexing (then h2 and h1 rows differ in concurrency)
#   PC_ACCESS_LOG [true]      logging.accessLog (nginx-tls logs nothing; false = like-for-like)
#   PC_MAX_IDLE [64]          upstreamPool.maxIdlePerUpstream
#   TLS_MAX_LIFETIME [1800]   Portcullis and nginx-tls run under `timeout` and die after this
#   WAIT_IDLE [60]            before each row wait up to this many seconds for the machine to
#                             be idle (<= IDLE_MAX_PCT [5] % busy over 1 s; 0 = don't wait)
#   OTHERS_WAIT [600]         at the start wait (bounded) while another benchmark runs (a
#                             peers.sh, wrk or h2load process not ours)
#   OTHER_WARN_PCT [5]        flag rows with more foreign CPU than this (% of one core)
#   RESULTS_DIR [/tmp/peerbench/results]  results go to <it>/<timestamp>-tls-t<threads>c<conns>/
#   KEEP_TMP [0]              1 = keep the temp dir (certificate, configs, logs)
#   passed to the harness for the peers: UP_PORT [18080] IDP_PORT [9400] UP_WORKERS PB_RUN
#   PB_MAX_LIFETIME [1800]
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# HARNESS (bench/peers/peers.sh), PBTOOL, LOGIN_PY, PEERS_DIR, resolve_portcullis_binary,
# port_open, start_portcullis
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

SCRATCH=${SCRATCH:-.build}
SKIP_BUILD=${SKIP_BUILD:-0}
TLS_PC_PORT=${TLS_PC_PORT:-18443}
NGINX_TLS_PORT=${NGINX_TLS_PORT:-18444}
NGINX_TLS_WORKERS=${NGINX_TLS_WORKERS:-2}
TLS_KEY=${TLS_KEY:-ec}
PROTOCOLS=${PROTOCOLS:-"h1 h2"}
PATHS=${PATHS:-"/ /16k"}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
WRK_DURATION=${WRK_DURATION:-8}; WRK_DURATION=${WRK_DURATION%s}
WARMUP=${WARMUP:-2}; WARMUP=${WARMUP%s}
REPEAT=${REPEAT:-1}
H2_STREAMS=${H2_STREAMS:-1}
PC_ACCESS_LOG=${PC_ACCESS_LOG:-true}
PC_MAX_IDLE=${PC_MAX_IDLE:-64}
TLS_MAX_LIFETIME=${TLS_MAX_LIFETIME:-1800}
WAIT_IDLE=${WAIT_IDLE:-60}
IDLE_MAX_PCT=${IDLE_MAX_PCT:-5}
OTHERS_WAIT=${OTHERS_WAIT:-600}
export OTHER_WARN_PCT=${OTHER_WARN_PCT:-5}
KEEP_TMP=${KEEP_TMP:-0}
RESULTS_ROOT=${RESULTS_DIR:-/tmp/peerbench/results}
UP_PORT=${UP_PORT:-18080}
UPSTREAM="http://127.0.0.1:$UP_PORT"
IDP="http://127.0.0.1:${IDP_PORT:-9400}"
PC_URL="https://127.0.0.1:$TLS_PC_PORT"
NG_URL="https://127.0.0.1:$NGINX_TLS_PORT"

log() { printf '[tls %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ preflight
[[ -x $HARNESS ]] || die "harness not found: $HARNESS"
command -v h2load >/dev/null \
    || die "h2load is missing: it is in Debian's nghttp2-client (bench/peers/install.sh, or apt-get install -y nghttp2-client)"
for c in openssl nginx wrk curl timeout python3 pgrep; do
    command -v "$c" >/dev/null || die "missing command: $c (run bench/peers/install.sh)"
done
python3 -c 'import requests' 2>/dev/null || die "python3 lacks requests (run bench/peers/install.sh)"
curl -V | grep -q 'HTTP2' || die "this curl has no HTTP/2 support (needed for the correctness checks)"
for p in $PROTOCOLS; do [[ $p == h1 || $p == h2 ]] || die "unknown protocol in PROTOCOLS: $p (h1, h2)"; done
[[ $TLS_KEY == ec || $TLS_KEY == rsa ]] || die "TLS_KEY must be ec or rsa, got $TLS_KEY"
for v in WRK_THREADS WRK_CONNS WRK_DURATION WARMUP REPEAT H2_STREAMS; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive whole number, got ${!v}"
done
((WRK_CONNS >= WRK_THREADS)) || die "WRK_CONNS ($WRK_CONNS) must be at least WRK_THREADS ($WRK_THREADS)"

resolve_portcullis_binary


# ------------------------------------------------------------------ state and cleanup
TMP=$(mktemp -d /tmp/portcullis-tls.XXXXXX)
PC_WRAPPER=0
PC_PID=0
NG_WRAPPER=0
LOAD_PID=0
PEERS_OURS=0

stop_wrapped() {   # stop_wrapped NAME WRAPPER_PID MAIN_PID: TERM through `timeout`, KILL after 5 s
    local name=$1 w=$2 m=$3 i
    [[ $w -gt 0 ]] && kill -0 "$w" 2>/dev/null || return 0
    kill -TERM "$w" 2>/dev/null || true          # timeout forwards TERM to the server
    for ((i = 0; i < 50; i++)); do kill -0 "$w" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$w" 2>/dev/null; then
        log "$name did not stop on TERM - KILL"
        [[ $m -gt 0 ]] && kill -KILL "$m" 2>/dev/null || true
        kill -KILL "$w" 2>/dev/null || true
    fi
    log "$name stopped"
}

nginx_master() { [[ -s $TMP/nginx/nginx.pid ]] && cat "$TMP/nginx/nginx.pid" || echo 0; }

cleanup() {
    local rc=$?
    trap - EXIT
    if [[ $LOAD_PID -gt 0 ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
        kill -TERM "$LOAD_PID" 2>/dev/null || true   # the load tool's `timeout` wrapper
        wait "$LOAD_PID" 2>/dev/null || true
    fi
    stop_wrapped portcullis "$PC_WRAPPER" "$PC_PID"
    stop_wrapped nginx-tls "$NG_WRAPPER" "$(nginx_master)"
    if [[ $PEERS_OURS == 1 ]]; then "$HARNESS" stop >/dev/null 2>&1 || log "peers.sh stop failed"; log "peers stopped"; fi
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Another benchmark (a peers.sh, wrk or h2load not started by us) would share the two cores
# and the harness's ports: wait, bounded, until there is none.

# ------------------------------------------------------------------ certificate
CERT=$TMP/tls/cert.pem
KEY=$TMP/tls/key.pem
mkdir -p "$TMP/tls"
if [[ $TLS_KEY == ec ]]; then newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); else newkey=(-newkey rsa:2048); fi
openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -addext "keyUsage=critical,digitalSignature,keyCertSign" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "$KEY" -out "$CERT" >"$TMP/tls/openssl.log" 2>&1 || { cat "$TMP/tls/openssl.log" >&2; die "openssl could not make the certificate"; }
chmod 600 "$KEY"
log "self-signed certificate for 127.0.0.1 ($(openssl x509 -in "$CERT" -noout -text | sed -n 's/.*Public Key Algorithm: //p' | head -1), $CERT)"
CURL=(curl -sS --noproxy '*' --max-time 5 --cacert "$CERT")

# ------------------------------------------------------------------ peers
wait_for_others
if "$HARNESS" status 2>/dev/null | grep -q ': running'; then
    log "peers already running (left by someone's KEEP=1) - reusing them, leaving them running"
else
    PEERS_OURS=1
fi
PB_MAX_LIFETIME=${PB_MAX_LIFETIME:-$TLS_MAX_LIFETIME} "$HARNESS" start 2> >(sed -u 's/^/  /' >&2) >/dev/null \
    || die "peers.sh start failed"
sleep 0.2
UP_PID=$(cat "${PB_RUN:-/tmp/peerbench}/upstream/nginx.pid" 2>/dev/null || echo 0)
[[ $UP_PID =~ ^[0-9]+$ && $UP_PID -gt 0 && -d /proc/$UP_PID ]] || die "cannot find the upstream nginx's pid"

# ------------------------------------------------------------------ nginx-tls
start_nginx_tls() {
    local ver listen_opts http2 i code=000 dir=$TMP/nginx
    port_open "$NGINX_TLS_PORT" && die "port $NGINX_TLS_PORT (nginx-tls) is already in use"
    ver=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
    # `http2 on;` replaced `listen ... http2` in nginx 1.25.1
    if [[ $(printf '%s\n1.25.1\n' "$ver" | sort -V | head -1) == 1.25.1 ]]; then
        listen_opts="ssl" http2="http2 on;"
    else
        listen_opts="ssl http2" http2="# HTTP/2 through the listen directive (nginx $ver < 1.25.1)"
    fi
    mkdir -p "$dir/tmp"
    chmod 755 "$TMP" "$dir" "$dir/tmp"      # the workers (www-data when run as root) use tmp/
    PB_DIR=$dir PB_WORKERS=$NGINX_TLS_WORKERS PB_UP_PORT=$UP_PORT PB_PORT=$NGINX_TLS_PORT \
        PB_LISTEN_OPTS=$listen_opts PB_HTTP2=$http2 PB_CERT=$CERT PB_KEY=$KEY \
        python3 "$PBTOOL" render "$PEERS_DIR/conf/nginx-tls.conf.in" "$dir/nginx-tls.conf"
    nginx -t -q -p "$dir/" -c "$dir/nginx-tls.conf" >"$dir/stdout.log" 2>&1 || { cat "$dir/stdout.log" >&2; die "nginx -t failed for nginx-tls"; }
    timeout -s TERM "$TLS_MAX_LIFETIME" nginx -p "$dir/" -c "$dir/nginx-tls.conf" >>"$dir/stdout.log" 2>&1 &
    NG_WRAPPER=$!
    for ((i = 0; i < 150; i++)); do        # bounded: ~30 s
        code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$NG_URL/" 2>/dev/null || true)
        [[ $code == 200 ]] && break
        kill -0 "$NG_WRAPPER" 2>/dev/null || { cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null; die "nginx-tls exited during startup"; }
        sleep 0.2
    done
    [[ $code == 200 ]] || { cat "$dir/error.log" >&2 2>/dev/null; die "nginx-tls did not answer $NG_URL/"; }
    NGINX_VERSION=$ver
    log "nginx-tls $ver up on $NG_URL (master pid $(nginx_master), $NGINX_TLS_WORKERS workers, listen $listen_opts)"
}

# ------------------------------------------------------------------ Portcullis
write_config() {   # write_config FILE
    local file=$1
    head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$TMP/client-secret"     # the mock accepts any secret
    chmod 600 "$TMP/client-secret"
    "$BIN" keys generate --file "$TMP/session-keys" >/dev/null || die "portcullis keys generate failed"
    cat >"$file" <<EOF
{
  "listen": {
    "address": "127.0.0.1", "port": $TLS_PC_PORT,
    "tls": { "certificateFile": "$CERT", "keyFile": "$KEY", "http2": true }
  },
  "admin": { "enabled": false },
  "publicURL": "$PC_URL",
  "routes": [ { "name": "bench", "pathPrefix": "/", "upstream": "$UPSTREAM" } ],
  "upstreamPool": { "maxIdlePerUpstream": $PC_MAX_IDLE },
  "logging": { "accessLog": $PC_ACCESS_LOG },
  "entra": {
    "discoveryURL": "$IDP/.well-known/openid-configuration",
    "clientId": "portcullis-bench",
    "clientSecretFile": "$TMP/client-secret",
    "scopes": ["openid", "profile", "email", "offline_access"]
  },
  "session": { "keysFile": "$TMP/session-keys", "store": { "type": "memory" } }
}
EOF
    "$BIN" check-config "$file" >"$TMP/check-config.log" 2>&1 || { cat "$TMP/check-config.log" >&2; die "bench config rejected: $file"; }
}

start_nginx_tls
write_config "$TMP/portcullis.json"
start_portcullis "$TMP/portcullis.json" "$PC_URL" "$TMP/portcullis.log" "$TLS_MAX_LIFETIME" --cacert "$CERT"
log "portcullis up on $PC_URL (pid $PC_PID, TLS + HTTP/2, memory store, binary $BIN)"

# ------------------------------------------------------------------ sign in (login.py over HTTPS)
if ! COOKIE=$(REQUESTS_CA_BUNDLE=$CERT python3 "$LOGIN_PY" --gateway "$PC_URL" --path / --idp "$IDP" -v 2>"$TMP/login.log"); then
    cat "$TMP/login.log" >&2
    die "login through portcullis-tls ($PC_URL) failed"
fi
log "logged in through portcullis-tls as alice: $(grep -c ' -> ' "$TMP/login.log") HTTP hops, cookie ${COOKIE:0:48}..."
CH="Cookie: $COOKIE"

# ------------------------------------------------------------------ correctness
FAILS=0
ok()  { log "  ok   $*"; }
bad() { log "  FAIL $*"; FAILS=$((FAILS + 1)); }
fetch() {   # fetch URL [curl args...] -> CODE SIZE VER, body in $BODY
    local url=$1 meta; shift
    BODY=$TMP/check.body
    meta=$("${CURL[@]}" -o "$BODY" -w '%{http_code} %{size_download} %{http_version}' "$@" "$url" 2>"$TMP/check.err") || meta="000 0 -"
    read -r CODE SIZE VER <<<"$meta"
}
log "correctness checks"
for target in nginx-tls portcullis-tls; do
    base=$NG_URL; [[ $target == portcullis-tls ]] && base=$PC_URL
    for p in $PROTOCOLS; do
        if [[ $p == h1 ]]; then popt=--http1.1 want=1.1; else popt=--http2 want=2; fi
        fetch "$base/" "$popt" -H "$CH"
        [[ $CODE == 200 && $VER == "$want" && $(cat "$BODY") == ok ]] && ok "$target $p GET / -> 200 'ok' over HTTP/$VER" \
            || bad "$target $p GET / -> $CODE over HTTP/$VER (want HTTP/$want) body=$(head -c 80 "$BODY") $(head -c 200 "$TMP/check.err")"
        fetch "$base/16k" "$popt" -H "$CH"
        [[ $CODE == 200 && $VER == "$want" && $SIZE == 16384 ]] && ok "$target $p GET /16k -> 200, $SIZE bytes" \
            || bad "$target $p GET /16k -> $CODE, $SIZE bytes over HTTP/$VER"
        if [[ $target == portcullis-tls ]]; then
            fetch "$base/" "$popt"
            [[ $CODE == 401 ]] && ok "$target $p unauthenticated GET / -> 401" || bad "$target $p unauthenticated GET / -> $CODE (want 401)"
            fetch "$base/headers" "$popt" -H "$CH"
            if [[ $CODE == 200 ]] && grep -qi alice "$BODY"; then
                ok "$target $p: the upstream saw alice's identity ($(grep -i -m2 alice "$BODY" | cut -c1-60 | tr '\n' ' '))"
            else
                bad "$target $p: no 'alice' in the headers the upstream received (GET /headers -> $CODE)"
            fi
        fi
    done
done
[[ $FAILS -eq 0 ]] || die "$FAILS correctness check(s) failed - not benchmarking"

# ------------------------------------------------------------------ measurement
run_load() {   # run_load PROTO SECONDS URL OUTFILE: the load tool in the background, waited for
    local proto=$1 secs=$2 url=$3 out=$4 rc=0
    if [[ $proto == h1 ]]; then
        timeout $((secs + 30)) wrk --latency -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${secs}s" -H "$CH" "$url" >"$out" 2>&1 &
    else
        timeout $((secs + 30)) h2load -t"$WRK_THREADS" -c"$WRK_CONNS" -m"$H2_STREAMS" -D "$secs" -H "$CH" "$url" >"$out" 2>&1 &
    fi
    LOAD_PID=$!
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=0
    return "$rc"
}

# parse_load PROTO FILE -> "rps mean_ms requests non2xx sock_err alpn cipher"
parse_load() {
    python3 - "$1" "$2" <<'PY'
import re, sys
proto, text = sys.argv[1], open(sys.argv[2], errors="replace").read()
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
def ms(v, u): return float(v) * UNIT[u]
rps = mean = float("nan"); req = non2xx = sock = 0; alpn = cipher = "-"
if proto == "h1":
    m = re.search(r"Requests/sec:\s+([\d.]+)", text); rps = float(m.group(1)) if m else rps
    m = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s|m)\b", text, re.M); mean = ms(*m.groups()) if m else mean
    m = re.search(r"(\d+) requests in", text); req = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text); non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    sock = sum(map(int, m.groups())) if m else 0
    alpn = "http/1.1"
else:
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text); rps = float(m.group(1)) if m else rps
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        req = int(m.group(3)); sock = int(m.group(5)) + int(m.group(6)) + int(m.group(7))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        non2xx = int(m.group(2)) + int(m.group(3)) + int(m.group(4))
    m = re.search(r"^time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\b", text, re.M); mean = ms(*m.groups()) if m else mean
    m = re.search(r"Application protocol: (\S+)", text); alpn = m.group(1) if m else "none"
    m = re.search(r"Cipher: (\S+)", text); cipher = m.group(1) if m else "-"
print(rps, mean, req, non2xx, sock, alpn, cipher)
PY
}

STAMP=$(date +%Y%m%d-%H%M%S)
OUT="$RESULTS_ROOT/$STAMP-tls-t${WRK_THREADS}c${WRK_CONNS}"
mkdir -p "$OUT"
{
    echo "date: $(date -Is)"; echo "host: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "nginx: $NGINX_VERSION ($NGINX_TLS_WORKERS workers)"; echo "portcullis: $BIN"
    echo "wrk: $(dpkg-query -W -f '${Version}' wrk 2>/dev/null)"; echo "h2load: $(h2load --version | head -1)"
    echo "certificate: $TLS_KEY, self-signed for 127.0.0.1"; echo "openssl: $(openssl version)"
    echo "load: -t$WRK_THREADS -c$WRK_CONNS ${WRK_DURATION}s (warm-up ${WARMUP}s), h2load -m$H2_STREAMS, repeat $REPEAT, paths: $PATHS, protocols: $PROTOCOLS"
    echo "portcullis: accessLog=$PC_ACCESS_LOG maxIdlePerUpstream=$PC_MAX_IDLE memory store, signed in as alice"
} >"$OUT/meta.txt"
cp "$TMP/portcullis.json" "$TMP/nginx/nginx-tls.conf" "$OUT/"
TSV=$OUT/results.tsv
printf 'rep\ttarget\tproto\tpath\tthreads\tconns\tstreams\tduration\trps\tmean_ms\trequests\tnon2xx\tsock_err\talpn\tcipher\tup_hits\tup_conns\tgw_ticks\tup_ticks\twall_s\tsys_user_ticks\tload_user_ticks\tgw_user_ticks\tup_user_ticks\n' >"$TSV"

STUB="$UPSTREAM/__status"
log "measuring: protocols $PROTOCOLS, paths $PATHS, -t$WRK_THREADS -c$WRK_CONNS ${WRK_DURATION}s (warm-up ${WARMUP}s), h2 -m$H2_STREAMS, repeat $REPEAT"
for ((rep = 1; rep <= REPEAT; rep++)); do
    for path in $PATHS; do
        for proto in $PROTOCOLS; do
            for target in nginx-tls portcullis-tls; do
                if [[ $target == nginx-tls ]]; then base=$NG_URL gpid=$(nginx_master); else base=$PC_URL gpid=$PC_PID; fi
                kill -0 "$gpid" 2>/dev/null || die "$target (pid $gpid) is gone"
                url=$base$path
                raw="$OUT/$proto-$target${path//\//_}-r$rep.txt"
                wait_idle
                run_load "$proto" "$WARMUP" "$url" "$OUT/warmup.txt" || true
                read -r a0 h0 <<<"$(python3 "$PBTOOL" stub "$STUB")"
                read -r gu0 gs0 <<<"$(python3 "$PBTOOL" cpu "$gpid")"; read -r uu0 us0 <<<"$(python3 "$PBTOOL" cpu "$UP_PID")"
                snap_sys; s0=$SYS_USER; snap_self; w0=$SELF_CUTIME; t0=$EPOCHREALTIME
                run_load "$proto" "$WRK_DURATION" "$url" "$raw" || log "$proto load tool exited non-zero for $target $path (see $raw)"
                snap_sys; s1=$SYS_USER; snap_self; w1=$SELF_CUTIME; t1=$EPOCHREALTIME
                sleep 0.3
                read -r a1 h1 <<<"$(python3 "$PBTOOL" stub "$STUB")"
                read -r gu1 gs1 <<<"$(python3 "$PBTOOL" cpu "$gpid")"; read -r uu1 us1 <<<"$(python3 "$PBTOOL" cpu "$UP_PID")"
                read -r rps mean req non2xx sock alpn cipher <<<"$(parse_load "$proto" "$raw")"
                # stub_status counts its own request/connection too, hence the -1
                hits=-;  [[ $h0 != - && $h1 != - ]] && hits=$((h1 - h0 - 1))
                conns=-; [[ $a0 != - && $a1 != - ]] && conns=$((a1 - a0 - 1))
                gt=-; gu=-; [[ $gu0 != - && $gu1 != - ]] && { gt=$((gu1 + gs1 - gu0 - gs0)); gu=$((gu1 - gu0)); }
                ut=-; uu=0; [[ $uu0 != - && $uu1 != - ]] && { ut=$((uu1 + us1 - uu0 - us0)); uu=$((uu1 - uu0)); }
                wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                    "$rep" "$target" "$proto" "$path" "$WRK_THREADS" "$WRK_CONNS" "$([[ $proto == h2 ]] && echo "$H2_STREAMS" || echo 1)" \
                    "$WRK_DURATION" "$rps" "$mean" "$req" "$non2xx" "$sock" "$alpn" "$cipher" "$hits" "$conns" "$gt" "$ut" \
                    "$wall" $((s1 - s0)) $((w1 - w0)) "$gu" "$uu" >>"$TSV"
                cpu_us=-; [[ $gt != - && $req -gt 0 ]] && cpu_us=$(awk -v t="$gt" -v r="$req" -v c="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t * 1e6 / c / r}')
                log "rep $rep $(printf '%-14s %-2s %-4s' "$target" "$proto" "$path") $(printf '%8.0f' "$rps") req/s  CPU $cpu_us µs/req  requests $req  errors $((non2xx + sock))  upstream hits $hits, new upstream conns $conns  ($alpn$([[ $cipher != - ]] && echo " $cipher"))"
            done
        done
    done
done
rm -f "$OUT/warmup.txt"
kill -0 "$PC_PID" 2>/dev/null || { tail -n 30 "$TMP/portcullis.log" >&2; die "portcullis died during the run"; }

# memory after the runs, and what the gateway logged
MEM=$OUT/mem.tsv
python3 "$PBTOOL" mem "nginx-tls (nginx)" "$(nginx_master)" >"$MEM"
python3 "$PBTOOL" mem "portcullis-tls" "$PC_PID" >>"$MEM"
python3 - "$TMP/portcullis.log" >"$OUT/portcullis-log.txt" <<'PY'
import re, sys
from collections import Counter
status, outcome, bad = Counter(), Counter(), []
with open(sys.argv[1], errors="replace") as fh:
    for line in fh:
        if "portcullis.access" in line:
            m = re.search(r"\bstatus=(\d+)", line); status[m.group(1) if m else "?"] += 1
            m = re.search(r"\boutcome=(\S+)", line); outcome[m.group(1) if m else "?"] += 1
        elif re.search(r" (WARNING|ERROR|CRITICAL) ", line):
            bad.append(line.rstrip()[:300])
print("access log: " + (", ".join(f"status {k}: {v}" for k, v in sorted(status.items())) or "no lines"))
print("outcomes:   " + (", ".join(f"{k}: {v}" for k, v in sorted(outcome.items())) or "-"))
print(f"warning/error lines: {len(bad)}")
for line in bad[:10]:
    print("  " + line)
PY
[[ $KEEP_TMP == 1 ]] && cp "$TMP/portcullis.log" "$OUT/"

# ------------------------------------------------------------------ report
python3 - "$TSV" "$MEM" "$OUT/portcullis-log.txt" <<'PY' | tee "$OUT/report.txt"
import os, statistics, sys

CLK = os.sysconf("SC_CLK_TCK")
WARN = float(os.environ.get("OTHER_WARN_PCT", "5"))
tsv, memf, pclog = sys.argv[1:4]

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")

with open(tsv) as fh:
    head = fh.readline().rstrip("\n").split("\t")
    rows = [dict(zip(head, l.rstrip("\n").split("\t"))) for l in fh if l.strip()]
for r in rows:
    req = num(r["requests"])
    r["gw_us"] = num(r["gw_ticks"]) * 1e6 / CLK / req if req else float("nan")
    r["hits_per"] = num(r["up_hits"]) / req if req else float("nan")
    r["errors"] = num(r["non2xx"]) + num(r["sock_err"])
    other = num(r["sys_user_ticks"]) - num(r["load_user_ticks"]) - num(r["gw_user_ticks"]) - num(r["up_user_ticks"])
    r["other"] = max(other, 0) / (num(r["wall_s"]) * CLK) * 100 if num(r["wall_s"]) > 0 else float("nan")

def f(x, fmt="{:.0f}"):
    return "-" if x is None or x != x else fmt.format(x)

def table(hdr, lines, left):
    w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(hdr)]
    fmt = lambda cells: "  ".join(c.ljust(w[i]) if i < left else c.rjust(w[i]) for i, c in enumerate(cells))
    print(fmt(hdr)); print("  ".join("-" * x for x in w))
    for l in lines: print(fmt(l))

r0 = rows[0]
PNAME = {"h1": "h1-TLS", "h2": "h2"}
print("\n== TLS throughput: figures (h1-TLS: wrk, h2: h2load -m%s; -t%s -c%s, %ss per row) ==" % (
    next((r["streams"] for r in rows if r["proto"] == "h2"), "-"), r0["threads"], r0["conns"], r0["duration"]))
hdr = ["target", "protocol", "path", "rep", "req/s", "mean ms", "server CPU µs/req", "up hits/req", "up new conns", "errors", "foreign %", "ALPN / cipher"]
lines = []
for r in rows:
    lines.append([r["target"], PNAME[r["proto"]], r["path"], r["rep"], f(num(r["rps"])), f(num(r["mean_ms"]), "{:.3f}"),
                  f(r["gw_us"], "{:.1f}"), f(r["hits_per"], "{:.3f}"), r["up_conns"], f(r["errors"]),
                  f(r["other"], "{:.1f}") + (" !" if r["other"] > WARN else ""),
                  r["alpn"] + ("" if r["cipher"] == "-" else " " + r["cipher"])])
table(hdr, lines, 4)

print("\nRSS after the runs (MiB; ΣVmHWM = peak):")
for line in open(memf):
    p = line.rstrip("\n").split("\t")
    if len(p) == 5:
        print(f"  {p[0]:<20} processes {p[1]:>2}  RSS {int(p[2])/1024:6.1f}  peak {int(p[3])/1024:6.1f}")
print("\nportcullis-tls, from its own log:")
for line in open(pclog):
    print("  " + line.rstrip("\n"))

invalid = []
for r in rows:
    want = "h2" if r["proto"] == "h2" else "http/1.1"
    why = []
    if r["errors"] > 0: why.append(f"{f(r['errors'])} errors (non-2xx, failed, timeouts)")
    if not (r["hits_per"] >= 0.99): why.append(f"upstream hits/req {f(r['hits_per'], '{:.3f}')}")
    if r["alpn"] != want: why.append(f"protocol {r['alpn']} (want {want})")
    if not num(r["requests"]) > 0: why.append("no requests completed")
    if why:
        invalid.append(f"{r['target']} {PNAME[r['proto']]} {r['path']} rep {r['rep']}: " + ", ".join(why))

by = {(r["rep"], r["target"], r["proto"], r["path"]): r for r in rows}
reps = sorted({r["rep"] for r in rows}, key=int)
combos = []
for r in rows:
    if (r["proto"], r["path"]) not in combos: combos.append((r["proto"], r["path"]))

def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")

checks = [("req/s  portcullis ÷ nginx", ">=", 0.75, lambda p, k: ratio(num(p["rps"]), num(k["rps"]))),
          ("CPU/req portcullis ÷ nginx", "<=", 1.5, lambda p, k: ratio(p["gw_us"], k["gw_us"]))]
print("\n== portcullis-tls ÷ nginx-tls (targets for information: the seams issue's >= 0.75x req/s and"
      " <= 1.5x CPU per request against nginx; verdict on the median over repetitions) ==")
hdr = ["protocol", "path", "ratio", "target"] + [f"rep {k}" for k in reps] + ["median", "verdict"]
lines, verdicts = [], []
for proto, path in combos:
    for name, op, bound, fn in checks:
        vals = []
        for k in reps:
            p, n = by.get((k, "portcullis-tls", proto, path)), by.get((k, "nginx-tls", proto, path))
            vals.append(fn(p, n) if p and n else float("nan"))
        good = [v for v in vals if v == v]
        med = statistics.median(good) if good else float("nan")
        ok = med == med and (med >= bound if op == ">=" else med <= bound)
        verdicts.append(ok)
        lines.append([PNAME[proto], path, name, f"{op} {bound:g}"] + [f(v, "{:.3f}") for v in vals] + [f(med, "{:.3f}"), "PASS" if ok else "FAIL"])
table(hdr, lines, 4)
if invalid:
    print("\nINVALID rows (they do not measure authenticated proxying over the protocol named):")
    for s in invalid: print("  " + s)
print("\noverall (for information): " + ("all targets met" if verdicts and all(verdicts) and not invalid else "targets NOT all met"))
PY
log "results: $OUT"
