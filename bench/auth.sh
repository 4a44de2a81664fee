#!/usr/bin/env bash
# bench/auth.sh - authenticated requests/s through Portcullis, memory and PostgreSQL session
# stores, against nginx (plain proxy) and Apache mod_auth_openidc, in one run.
#
# Starts the peers (bench/peers/peers.sh: nginx upstream, oidc-provider-mock IdP,
# nginx-plain, apache-oidc), then for each session store in STORES:
#   * (postgres only) a throwaway PostgreSQL cluster on 127.0.0.1:$PG_PORT (fsync off)
#   * Portcullis with one PROTECTED route `/` -> the harness's upstream, signing in at the
#     harness's IdP (entra.discoveryURL), with a keys file and that session store
#   * the harness once (`all`, KEEP=1) with Portcullis as its extra target, logged in as
#     alice through the gateway (login.py): direct-upstream, nginx-plain, apache-oidc and
#     portcullis-<store> measured back to back on `/` and `/16k`
# and finally stops what it started. Prints both harness reports, then the issue-4 targets
# per path (per repetition and the median over REPEAT):
#
#   memory gw CPU µs/req ÷ apache-oidc's             <= 0.25   (same harness invocation)
#   memory req/s ÷ nginx-plain req/s                 >= 0.75   (same harness invocation)
#   memory gw CPU µs/req ÷ nginx-plain's             <= 1.5    (same harness invocation)
#   postgres req/s ÷ memory req/s                    >= 0.9    (the two invocations)
#
# The comparison with Apache mod_auth_openidc is judged by CPU per request, not req/s: the
# gateway process tree's utime+stime ÷ completed requests (the harness's `gw CPU µs/req`, from
# the gw_ticks and requests columns of results.tsv), Portcullis' against apache-oidc's from the
# same invocation. memory req/s ÷ apache-oidc req/s is still printed, for information only.
#
# The harness takes one extra target per invocation, so the PostgreSQL variant is measured in
# a second invocation against the still-running peers; its nginx-plain row is shown next to
# the first one's as a drift check.
#
# usage: bench/auth.sh            (from anywhere; it works from the project root)
#
# environment (defaults in brackets):
#   SCRATCH [.build]          SwiftPM scratch path for `swift build -c release`
#   PORTCULLIS_BIN            use this binary and skip the build
#   SKIP_BUILD [0]            1 = use $SCRATCH/release/portcullis without building
#   STORES ["memory postgres"]  which variants to run (the ratios need both)
#   AUTH_MEM_PORT [18092]     Portcullis port, memory store   (127.0.0.1 only)
#   AUTH_PG_PORT [18093]      Portcullis port, postgres store (127.0.0.1 only)
#   PG_PORT [15432]           the throwaway PostgreSQL server's port
#   PG_BIN [/usr/lib/postgresql/15/bin]   initdb/postgres/pg_isready/psql
#   PC_ACCESS_LOG [true]      logging.accessLog
#   PC_MAX_IDLE [64]          upstreamPool.maxIdlePerUpstream
#   AUTH_AUTHZ [0]            1 = the route also carries issue 13's authorization: allow and
#                             deny rules, a permission map, per-route headers with a static one,
#                             and the signed assertion (ES256, cached per loop)
#   AUTH_MAX_LIFETIME [3600]  Portcullis and PostgreSQL run under `timeout` and die after this
#   OTHERS_WAIT [600]         before each harness invocation wait (bounded) while another
#                             benchmark runs (a peers.sh or wrk process not ours)
#   KEEP_TMP [0]              1 = keep the temp dirs (configs, Portcullis/PostgreSQL logs)
#   PC_ADMIN_LINE             the config's admin line (default: the admin listener disabled);
#                             bench/baseline.sh sets it empty for binaries that predate it
#   passed through to the harness (see the header of bench/peers/peers.sh):
#   WRK_THREADS WRK_CONNS WRK_DURATION WARMUP REPEAT PATHS UP_WORKERS PLAIN_WORKERS WRK_CPUS
#   SERVER_CPUS WAIT_IDLE IDLE_MAX_PCT APACHE_PLAIN PB_RUN RESULTS_DIR PB_MAX_LIFETIME [3600 here]
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# HARNESS (bench/peers/peers.sh), PBTOOL, LOGIN_PY, located next to lib.sh,
# resolve_portcullis_binary, port_open and start_portcullis
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

SCRATCH=${SCRATCH:-.build}
SKIP_BUILD=${SKIP_BUILD:-0}
STORES=${STORES:-"memory postgres"}
AUTH_MEM_PORT=${AUTH_MEM_PORT:-18092}
AUTH_PG_PORT=${AUTH_PG_PORT:-18093}
PG_PORT=${PG_PORT:-15432}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PC_ACCESS_LOG=${PC_ACCESS_LOG:-true}
PC_MAX_IDLE=${PC_MAX_IDLE:-64}
AUTH_MAX_LIFETIME=${AUTH_MAX_LIFETIME:-3600}
OTHERS_WAIT=${OTHERS_WAIT:-600}
KEEP_TMP=${KEEP_TMP:-0}
AUTH_AUTHZ=${AUTH_AUTHZ:-0}
# The config's admin line; bench/baseline.sh empties it for binaries older than the admin listener.
ADMIN_LINE=${PC_ADMIN_LINE-'  "admin": { "enabled": false },'}
ROUTE_EXTRA="" TOP_EXTRA=""
if [[ $AUTH_AUTHZ == 1 ]]; then
    ROUTE_EXTRA=', "allow": [{ "name": "sso-users", "authMethods": ["sso"] }], "deny": { "name": "no-deletes", "methods": ["DELETE"] },
    "permissions": { "Repairs.Write": ["JobEdit"], "Repairs.Read": ["Reports"] },
    "headers": { "send": ["user", "email", "name", "roles", "permissions", "authMethod", "assertion"], "static": { "X-Bench-Site": "north" } }'
    TOP_EXTRA=', "assertion": { "lifetime": 60 }'
fi
export PB_MAX_LIFETIME=${PB_MAX_LIFETIME:-3600}
UPSTREAM="http://127.0.0.1:${UP_PORT:-18080}"
IDP="http://127.0.0.1:${IDP_PORT:-9400}"
RESULTS_ROOT=${RESULTS_DIR:-/tmp/peerbench/results}

log() { printf '[auth %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $HARNESS ]] || die "harness not found: $HARNESS"
for c in curl timeout python3 pgrep; do command -v "$c" >/dev/null || die "missing command: $c"; done
for s in $STORES; do
    case $s in
        memory) ;;
        postgres)
            for p in initdb postgres pg_isready psql; do
                [[ -x $PG_BIN/$p ]] || die "$PG_BIN/$p missing (apt-get install postgresql, or set PG_BIN)"
            done
            if [[ $(id -u) -eq 0 ]]; then
                id postgres >/dev/null 2>&1 || die "running as root, but there is no postgres user to run PostgreSQL as"
                command -v runuser >/dev/null || die "running as root, but runuser is missing"
            fi ;;
        *) die "unknown store in STORES: $s (memory, postgres)" ;;
    esac
done

resolve_portcullis_binary

# ------------------------------------------------------------------ state and cleanup
TMP=$(mktemp -d /tmp/portcullis-auth.XXXXXX)
PGDIR=
PG_WRAPPER=0
PG_PID=0
PC_WRAPPER=0
PC_PID=0
PEERS_OURS=0

stop_portcullis() {
    local i
    if [[ $PC_WRAPPER -gt 0 ]] && kill -0 "$PC_WRAPPER" 2>/dev/null; then
        kill -TERM "$PC_WRAPPER" 2>/dev/null || true     # timeout forwards TERM to portcullis
        for ((i = 0; i < 50; i++)); do kill -0 "$PC_WRAPPER" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$PC_WRAPPER" 2>/dev/null; then
            [[ $PC_PID -gt 0 ]] && kill -KILL "$PC_PID" 2>/dev/null || true
            kill -KILL "$PC_WRAPPER" 2>/dev/null || true
        fi
        log "portcullis stopped"
    fi
    PC_WRAPPER=0; PC_PID=0
}

stop_postgres() {
    local i sig
    if [[ $PG_WRAPPER -gt 0 ]] && kill -0 "$PG_WRAPPER" 2>/dev/null; then
        # SIGINT = fast shutdown; then SIGQUIT (immediate), then KILL: bounded either way
        for sig in INT QUIT KILL; do
            [[ $PG_PID -gt 0 ]] && kill -"$sig" "$PG_PID" 2>/dev/null || true
            [[ $sig == KILL ]] && kill -KILL "$PG_WRAPPER" 2>/dev/null
            for ((i = 0; i < 75; i++)); do kill -0 "$PG_WRAPPER" 2>/dev/null || break 2; sleep 0.2; done
        done
        log "postgresql stopped"
    fi
    PG_WRAPPER=0; PG_PID=0
    if [[ -n $PGDIR ]]; then
        if [[ $KEEP_TMP == 1 ]]; then log "kept $PGDIR"; else rm -rf "$PGDIR"; fi
        PGDIR=
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT
    stop_portcullis
    stop_postgres
    if [[ $PEERS_OURS == 1 ]]; then "$HARNESS" stop >/dev/null 2>&1 || log "peers.sh stop failed"; log "peers stopped"; fi
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Another engineer's benchmark (a peers.sh or a wrk not started by us) would share the two
# cores and the harness's ports: wait, bounded, until there is none.

# ------------------------------------------------------------------ PostgreSQL
start_postgres() {
    local i as_pg=()
    port_open "$PG_PORT" && die "port $PG_PORT (PostgreSQL) is already in use"
    PGDIR=$(mktemp -d /tmp/portcullis-auth-pg.XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then          # PostgreSQL refuses to run as root
        chown postgres: "$PGDIR"
        as_pg=(runuser -u postgres --)
    fi
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U portcullis --auth=trust -E UTF8 --no-sync --no-instructions \
        >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; die "initdb failed"; }
    cat >>"$PGDIR/data/postgresql.conf" <<EOF

# bench/auth.sh: throwaway loopback cluster
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    "${as_pg[@]}" timeout -s INT "$AUTH_MAX_LIFETIME" "$PG_BIN/postgres" -D "$PGDIR/data" >"$PGDIR/server.log" 2>&1 &
    PG_WRAPPER=$!
    for ((i = 0; i < 150; i++)); do          # bounded: ~30 s
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        kill -0 "$PG_WRAPPER" 2>/dev/null || { tail -n 30 "$PGDIR/server.log" >&2; die "postgresql exited during startup"; }
        sleep 0.2
    done
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { tail -n 30 "$PGDIR/server.log" >&2; die "postgresql did not start"; }
    PG_PID=$(head -1 "$PGDIR/data/postmaster.pid")
    log "postgresql $("$PG_BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PG_PORT (postmaster pid $PG_PID, $PGDIR)"
}

pg_sql() { "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U portcullis -d postgres -c "$1" 2>/dev/null; }

# ------------------------------------------------------------------ Portcullis
head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$TMP/client-secret"     # the mock accepts any secret
chmod 600 "$TMP/client-secret"
"$BIN" keys generate --file "$TMP/session-keys" >/dev/null || die "portcullis keys generate failed"

write_config() {   # write_config STORE PORT FILE
    local store=$1 port=$2 file=$3 store_json='{ "type": "memory" }'
    [[ $store == postgres ]] && store_json="{ \"type\": \"postgres\", \"url\": \"postgres://portcullis@127.0.0.1:$PG_PORT/postgres\" }"
    cat >"$file" <<EOF
{
  "listen": { "address": "127.0.0.1", "port": $port },
$ADMIN_LINE
  "publicURL": "http://127.0.0.1:$port",
  "routes": [ { "name": "bench", "pathPrefix": "/", "upstream": "$UPSTREAM"$ROUTE_EXTRA } ],
  "upstreamPool": { "maxIdlePerUpstream": $PC_MAX_IDLE },
  "logging": { "accessLog": $PC_ACCESS_LOG },
  "entra": {
    "discoveryURL": "$IDP/.well-known/openid-configuration",
    "clientId": "portcullis-bench",
    "clientSecretFile": "$TMP/client-secret",
    "scopes": ["openid", "profile", "email", "offline_access"]
  },
  "session": { "keysFile": "$TMP/session-keys", "store": $store_json }$TOP_EXTRA
}
EOF
    "$BIN" check-config "$file" >/dev/null || die "bench config rejected: $file"
}

vmrss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ------------------------------------------------------------------ peers
wait_for_others
if "$HARNESS" status 2>/dev/null | grep -q ': running'; then
    log "peers already running (left by someone's KEEP=1) - reusing them, leaving them running"
else
    PEERS_OURS=1
fi
"$HARNESS" start 2> >(sed 's/^/  /' >&2) >/dev/null || die "peers.sh start failed"
sleep 0.2

# ------------------------------------------------------------------ one harness invocation per store
SUMMARY_ARGS=()
FAILED=()
for store in $STORES; do
    name=portcullis-$store
    port=$AUTH_MEM_PORT; [[ $store == postgres ]] && port=$AUTH_PG_PORT
    url="http://127.0.0.1:$port"
    config=$TMP/$store.json
    pclog=$TMP/portcullis-$store.log
    peerslog=$TMP/peers-$store.stderr
    log "=== $name ==="
    [[ $store == postgres ]] && start_postgres
    write_config "$store" "$port" "$config"
    start_portcullis "$config" "$url" "$pclog" "$AUTH_MAX_LIFETIME"
    idle_kib=$(vmrss_kib "$PC_PID")
    log "portcullis up on $url (pid $PC_PID, store $store, idle RSS $((idle_kib / 1024)) MiB, binary $BIN)"

    pg_before="- -"; pg_x0=
    if [[ $store == postgres ]]; then
        pg_before=$(python3 "$PBTOOL" cpu "$PG_PID")
        pg_x0=$(pg_sql "select xact_commit + xact_rollback from pg_stat_database where datname = 'postgres'" || true)
    fi

    wait_for_others
    set +e
    KEEP=1 EXTRA_NAME=$name EXTRA_URL=$url EXTRA_PID=$PC_PID EXTRA_LOGIN=1 EXTRA_STRICT=1 \
        "$HARNESS" all >"$TMP/harness-$store.stdout" 2> >(tee "$peerslog" >&2)
    hrc=$?
    set -e
    sleep 0.3   # let tee finish

    alive=1; kill -0 "$PC_PID" 2>/dev/null || alive=0
    outdir=$(sed -n 's/.*] results: //p' "$peerslog" | tail -1)
    pg_note=""
    if [[ $store == postgres ]]; then
        sleep 1   # PostgreSQL publishes its statistics with a delay: the count is approximate
        read -r pu0 ps0 <<<"$pg_before"; read -r pu1 ps1 <<<"$(python3 "$PBTOOL" cpu "$PG_PID")"
        pg_x1=$(pg_sql "select xact_commit + xact_rollback from pg_stat_database where datname = 'postgres'" || true)
        rows=$(pg_sql "select count(*) from portcullis_sessions" || true)
        if [[ $pu0 =~ ^[0-9]+$ && $pu1 =~ ^[0-9]+$ ]]; then
            pg_note="postgresql during the invocation: $(( (pu1 + ps1 - pu0 - ps0) * 1000 / $(getconf CLK_TCK) )) ms CPU (postmaster and backends)"
        else
            pg_note="postgresql during the invocation: CPU unknown (server gone?)"
        fi
        if [[ $pg_x0 =~ ^[0-9]+$ && $pg_x1 =~ ^[0-9]+$ ]]; then pg_note+=", ~$((pg_x1 - pg_x0)) transactions"; fi
        pg_note+=", ${rows:-?} row(s) in portcullis_sessions"
    fi
    # what the gateway itself logged: warnings/errors, and the status of every access-log line
    python3 - "$pclog" "$TMP/logstats-$store.txt" <<'PY'
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
with open(sys.argv[2], "w") as out:
    out.write("access log: " + (", ".join(f"status {k}: {v}" for k, v in sorted(status.items())) or "no lines") + "\n")
    out.write("outcomes:   " + (", ".join(f"{k}: {v}" for k, v in sorted(outcome.items())) or "-") + "\n")
    out.write(f"warning/error lines: {len(bad)}\n")
    for line in bad[:10]:
        out.write("  " + line + "\n")
PY
    [[ -n $pg_note ]] && echo "$pg_note" >>"$TMP/logstats-$store.txt"
    echo "idle RSS before the invocation: $idle_kib KiB" >>"$TMP/logstats-$store.txt"

    if [[ $alive == 0 ]]; then
        tail -n 30 "$pclog" >&2
        log "ERROR: portcullis ($store) died during the run"
        FAILED+=("$store: portcullis died")
    elif [[ $hrc -ne 0 ]]; then
        log "ERROR: harness failed for $name (rc=$hrc); portcullis log tail:"
        tail -n 20 "$pclog" | cut -c1-300 >&2
        FAILED+=("$store: harness rc=$hrc")
    fi
    if [[ -n $outdir && -f $outdir/results.tsv ]]; then
        cp "$TMP/logstats-$store.txt" "$outdir/portcullis-$store.txt"
        SUMMARY_ARGS+=("$store=$outdir")
    fi
    [[ $KEEP_TMP == 1 ]] || rm -f "$pclog"
    stop_portcullis
    [[ $store == postgres ]] && stop_postgres
done

if [[ $PEERS_OURS == 1 ]]; then "$HARNESS" stop 2> >(sed 's/^/  /' >&2) >/dev/null || true; PEERS_OURS=0; sleep 0.2; fi

# ------------------------------------------------------------------ reports and summary
for a in "${SUMMARY_ARGS[@]}"; do
    store=${a%%=*}; outdir=${a#*=}
    echo
    echo "################ harness report: portcullis-$store ($outdir) ################"
    cat "$outdir/report.txt"
    echo
    echo "portcullis-$store, from its own log:"
    sed 's/^/  /' "$outdir/portcullis-$store.txt"
done

python3 - "${SUMMARY_ARGS[@]}" <<'PY'
import os, statistics, sys
from collections import defaultdict

CLK = os.sysconf("SC_CLK_TCK")
OTHER_WARN = float(os.environ.get("OTHER_WARN_PCT", "5"))

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")

def load(path):
    with open(path) as fh:
        head = fh.readline().rstrip("\n").split("\t")
        return [dict(zip(head, l.rstrip("\n").split("\t"))) for l in fh if l.strip()]

def derive(r):
    req = num(r["requests"])
    r["gw_us"] = num(r["gw_ticks"]) * 1e6 / CLK / req if req else float("nan")
    r["hits"] = num(r["up_hits"]) / req if req else float("nan")
    r["errors"] = num(r["non2xx"]) + num(r["sock_err"])
    try:
        other = num(r["sys_user_ticks"]) - num(r["wrk_user_ticks"]) - num(r["gw_user_ticks"]) - num(r["up_user_ticks"])
        r["other"] = max(other, 0) / (num(r["wall_s"]) * CLK) * 100
    except KeyError:
        r["other"] = float("nan")
    return r

runs = {}      # store -> {"rows": {(path, rep, target): row}, "mem": {label: rss_kib}, "dir": outdir}
for arg in sys.argv[1:]:
    store, outdir = arg.split("=", 1)
    rows = {}
    for r in load(os.path.join(outdir, "results.tsv")):
        rows[(r["path"], int(r["rep"]), r["target"])] = derive(r)
    mem = {}
    mp = os.path.join(outdir, "mem.tsv")
    if os.path.exists(mp):
        for line in open(mp):
            f = line.rstrip("\n").split("\t")
            if len(f) == 5:
                mem[f[0]] = (int(f[2]), int(f[3]))
    runs[store] = {"rows": rows, "mem": mem, "dir": outdir}

if "memory" not in runs:
    print("\nno results for the memory store - no ratios")
    sys.exit(0)

paths, reps = [], []
for (p, rep, _t) in runs["memory"]["rows"]:
    if p not in paths: paths.append(p)
    if rep not in reps: reps.append(rep)
reps.sort()

def row(store, path, rep, target):
    return runs.get(store, {}).get("rows", {}).get((path, rep, target))

def f(x, fmt="{:.0f}"):
    return "-" if x is None or x != x else fmt.format(x)

# ---- figures
print("\n== authenticated throughput: figures (wrk -t%s -c%s -d%s) ==" % tuple(
    next(iter(runs["memory"]["rows"].values()))[k] for k in ("threads", "conns", "duration")))
hdr = ["target", "invocation", "path", "rep", "req/s", "p50 ms", "p99 ms", "gw CPU µs/req", "up hits/req", "errors", "foreign %"]
lines = []
order = [("nginx-plain", "memory"), ("apache-oidc", "memory"), ("portcullis-memory", "memory"),
         ("nginx-plain", "postgres"), ("apache-oidc", "postgres"), ("portcullis-postgres", "postgres")]
for path in paths:
    for rep in reps:
        for target, store in order:
            r = row(store, path, rep, target)
            if r is None:
                continue
            lines.append([target, "1 (memory)" if store == "memory" else "2 (postgres)", path, str(rep),
                          f(num(r["rps"])), f(num(r["p50_ms"]), "{:.3f}"), f(num(r["p99_ms"]), "{:.3f}"),
                          f(r["gw_us"], "{:.1f}"), f(r["hits"], "{:.3f}"), f(r["errors"]),
                          f(r["other"], "{:.1f}") + (" !" if r["other"] > OTHER_WARN else "")])
w = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(hdr)]
fmt = lambda cells: "  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(cells))
print(fmt(hdr)); print("  ".join("-" * x for x in w))
for l in lines: print(fmt(l))

print("\nRSS after the runs (MiB; ΣVmHWM = peak):")
for store, run in runs.items():
    for label, (rss, hwm) in run["mem"].items():
        if label.startswith(("portcullis", "nginx-plain", "apache-oidc")):
            print(f"  invocation {store:<8}  {label:<24} RSS {rss/1024:6.1f}  peak {hwm/1024:6.1f}")

# ---- validity of the gateway rows: a redirect or an error page is not an authenticated request
invalid = []
for store in runs:
    for (p, rep, t), r in runs[store]["rows"].items():
        if t.startswith("portcullis-") or t in ("nginx-plain", "apache-oidc"):
            if r["errors"] > 0 or not (r["hits"] >= 0.99):
                invalid.append(f"{t} {p} rep {rep}: {f(r['errors'])} non-2xx/3xx or socket errors, "
                               f"upstream hits/req {f(r['hits'], '{:.3f}')}")

# ---- ratios
def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")

checks = [  # name, target, op, bound, function(path, rep) -> value
    ("memory CPU/req ÷ apache-oidc", "<=", 0.25,
     lambda p, k: ratio(row("memory", p, k, "portcullis-memory")["gw_us"], row("memory", p, k, "apache-oidc")["gw_us"])),
    ("memory req/s ÷ nginx-plain", ">=", 0.75,
     lambda p, k: ratio(num(row("memory", p, k, "portcullis-memory")["rps"]), num(row("memory", p, k, "nginx-plain")["rps"]))),
    ("memory CPU/req ÷ nginx-plain", "<=", 1.5,
     lambda p, k: ratio(row("memory", p, k, "portcullis-memory")["gw_us"], row("memory", p, k, "nginx-plain")["gw_us"])),
    ("postgres req/s ÷ memory", ">=", 0.9,
     lambda p, k: ratio(num(row("postgres", p, k, "portcullis-postgres")["rps"]), num(row("memory", p, k, "portcullis-memory")["rps"]))),
]
infos = [
    ("memory req/s ÷ apache-oidc", lambda p, k: ratio(num(row("memory", p, k, "portcullis-memory")["rps"]), num(row("memory", p, k, "apache-oidc")["rps"]))),
    ("postgres CPU/req ÷ memory", lambda p, k: ratio(row("postgres", p, k, "portcullis-postgres")["gw_us"], row("memory", p, k, "portcullis-memory")["gw_us"])),
    ("nginx-plain req/s, 2nd ÷ 1st", lambda p, k: ratio(num(row("postgres", p, k, "nginx-plain")["rps"]), num(row("memory", p, k, "nginx-plain")["rps"]))),
    ("postgres÷nginx₂ ÷ memory÷nginx₁", lambda p, k: ratio(
        ratio(num(row("postgres", p, k, "portcullis-postgres")["rps"]), num(row("postgres", p, k, "nginx-plain")["rps"])),
        ratio(num(row("memory", p, k, "portcullis-memory")["rps"]), num(row("memory", p, k, "nginx-plain")["rps"])))),
]

def safe(fn, p, k):
    try:
        return fn(p, k)
    except (TypeError, KeyError):
        return float("nan")

print("\n== issue 4 targets (each ratio per repetition; verdict on the median) ==")
hdr = ["path", "ratio", "target"] + [f"rep {k}" for k in reps] + ["median", "verdict"]
lines, verdicts = [], []
for path in paths:
    for name, op, bound, fn in checks:
        vals = [safe(fn, path, k) for k in reps]
        good = [v for v in vals if v == v]
        med = statistics.median(good) if good else float("nan")
        ok = med == med and (med >= bound if op == ">=" else med <= bound)
        verdicts.append(ok)
        lines.append([path, name, f"{op} {bound:g}"] + [f(v, "{:.3f}") for v in vals] + [f(med, "{:.3f}"), "PASS" if ok else "FAIL"])
    for name, fn in infos:
        vals = [safe(fn, path, k) for k in reps]
        good = [v for v in vals if v == v]
        lines.append([path, name, "(info)"] + [f(v, "{:.3f}") for v in vals] + [f(statistics.median(good) if good else None, "{:.3f}"), ""])
w = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(hdr)]
fmt = lambda cells: "  ".join(c.ljust(w[i]) if i < 3 else c.rjust(w[i]) for i, c in enumerate(cells))
print(fmt(hdr)); print("  ".join("-" * x for x in w))
for i, l in enumerate(lines):
    print(fmt(l))
if invalid:
    print("\nINVALID rows (the figures above do not measure authenticated proxying there):")
    for s in invalid: print("  " + s)
print("\noverall: " + ("all targets met" if verdicts and all(verdicts) and not invalid else "targets NOT all met"))
PY

if [[ ${#FAILED[@]} -gt 0 ]]; then
    log "FAILED: ${FAILED[*]}"
    exit 1
fi
