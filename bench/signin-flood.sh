#!/usr/bin/env bash
# bench/signin-flood.sh - proxied requests/s with and without a flood of wrong-password
# sign-in attempts (issue: "a flood of sign-in attempts cannot slow proxied traffic").
#
# Starts the harness's nginx upstream (bench/peers/peers.sh start) and Portcullis with a
# public route `/` to it and a local users file, then alternates REPEAT times:
#   quiet   wrk on `/` alone
#   flood   wrk on `/` while FLOOD_WORKERS (20) clients post wrong passwords to
#           /.portcullis/signin as fast as they are answered (each a bcrypt check, cost 12)
# and prints req/s per run, the medians, and the target: flood ÷ quiet >= 0.9.
#
# usage: PORTCULLIS_BIN=.build/release/portcullis bench/signin-flood.sh
# environment: PORTCULLIS_BIN | SKIP_BUILD [0] | SCRATCH [.build], REPEAT [3], WRK_DURATION [10],
#   WRK_CONNS [32], FLOOD_WORKERS [20], FLOOD_PORT [18095] (127.0.0.1 only), KEEP_TMP [0]
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[signin-flood] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
source bench/lib.sh

SCRATCH=${SCRATCH:-.build}
REPEAT=${REPEAT:-3}
WRK_DURATION=${WRK_DURATION:-10}
WRK_CONNS=${WRK_CONNS:-32}
FLOOD_WORKERS=${FLOOD_WORKERS:-20}
PORT=${FLOOD_PORT:-18095}
KEEP_TMP=${KEEP_TMP:-0}
URL=http://127.0.0.1:$PORT
command -v wrk >/dev/null || die "wrk is missing (bench/peers/install.sh)"
resolve_portcullis_binary

TMP=$(mktemp -d /tmp/pc-flood.XXXXXX)
PC=0; FLOOD=0
cleanup() {
    local rc=$?
    [[ $FLOOD -gt 0 ]] && kill "$FLOOD" 2>/dev/null || true
    [[ $PC -gt 0 ]] && kill -TERM "$PC" 2>/dev/null || true
    sleep 0.5
    "$HARNESS" stop >/dev/null 2>&1 || true
    [[ $KEEP_TMP == 1 ]] && log "kept $TMP" || rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$HARNESS" start >/dev/null 2>"$TMP/peers.log" || { cat "$TMP/peers.log" >&2; die "the peer harness did not start"; }
hash=$(printf 'right-password\n' | "$BIN" hash-password)
cat >"$TMP/users.json" <<USERS
{ "users": [ { "username": "breakglass", "passwordHash": "$hash" } ] }
USERS
cat >"$TMP/config.json" <<CONFIG
{
  "listen": { "address": "127.0.0.1", "port": $PORT },
  "admin": { "enabled": false },
  "routes": [ { "name": "bench", "pathPrefix": "/", "upstream": "http://127.0.0.1:18080", "public": true } ],
  "localUsers": { "file": "users.json" },
  "sso": { "excludedUsers": ["breakglass"] },
  "logging": { "accessLog": false, "level": "error" }
}
CONFIG
"$BIN" check-config "$TMP/config.json" >/dev/null || die "bench config rejected"
timeout -s TERM 1800 "$BIN" serve --config "$TMP/config.json" >"$TMP/portcullis.log" 2>&1 &
PC=$!
for _ in $(seq 150); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/.portcullis/healthz" || true) == 200 ]] && break
    sleep 0.2
done
log "portcullis up on $URL"

# The flood: each worker fetches the form once (CSRF cookie and token), then posts wrong
# passwords in a loop; every answer is the generic 401 page after a bcrypt check.
cat >"$TMP/flood.py" <<'PY'
import http.client, re, sys, threading, time
port, workers, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
count = [0] * workers
def worker(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/.portcullis/signin", headers={"Accept": "text/html"})
    r = c.getresponse(); page = r.read().decode()
    cookie = r.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    body = "csrf=" + token + "&rd=%2F&step=password&username=breakglass&password=wrong-" + str(i)
    end = time.time() + seconds
    while time.time() < end:
        c.request("POST", "/.portcullis/signin", body=body,
                  headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse(); r.read()
        if r.status != 401: raise SystemExit("unexpected status %d" % r.status)
        count[i] += 1
threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(count))
PY

run_wrk() { wrk -t1 -c"$WRK_CONNS" -d"${WRK_DURATION}s" "$URL/" | awk '/Requests\/sec/ {print $2}'; }
quiet=(); flood=(); attempts=()
for r in $(seq "$REPEAT"); do
    q=$(run_wrk); quiet+=("$q")
    python3 "$TMP/flood.py" "$PORT" "$FLOOD_WORKERS" "$((WRK_DURATION + 3))" >"$TMP/flood.out" &
    FLOOD=$!
    sleep 2
    f=$(run_wrk); flood+=("$f")
    wait "$FLOOD" || die "the flood failed: $(cat "$TMP/flood.out")"
    FLOOD=0
    a=$(cat "$TMP/flood.out"); attempts+=("$a")
    log "run $r: quiet $q req/s, during the flood $f req/s ($a wrong-password attempts answered)"
done
python3 - "${quiet[*]}" "${flood[*]}" "${attempts[*]}" "$WRK_DURATION" <<'PY'
import statistics, sys
quiet = [float(x) for x in sys.argv[1].split()]
flood = [float(x) for x in sys.argv[2].split()]
attempts = [int(x) for x in sys.argv[3].split()]
q, f = statistics.median(quiet), statistics.median(flood)
ratio = f / q
print(f"proxied req/s, median of {len(quiet)}: quiet {q:,.0f}, during {len(attempts) and 20} wrong-password clients {f:,.0f}")
print(f"sign-in attempts answered per run: {', '.join(map(str, attempts))} (about {statistics.median(attempts) / (float(sys.argv[4]) + 3):.1f}/s)")
print(f"target flood ÷ quiet >= 0.9: {ratio:.3f} {'PASS' if ratio >= 0.9 else 'FAIL'}")
PY
