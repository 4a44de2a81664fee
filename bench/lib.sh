# Shared by the bench scripts: where the peer harness is, the release binary in $BIN, and
# starting it.
#
# The peer harness (nginx upstream, oidc-provider-mock IdP, nginx-plain, apache-oidc) is part of
# the repository, in bench/peers/ next to this file, and is located from this file's own
# directory, so the scripts work from any working directory and in any clone.
BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
PEERS_DIR=$BENCH_DIR/peers
HARNESS=$PEERS_DIR/peers.sh         # start | stop | status | check | all | login
PBTOOL=$PEERS_DIR/pbtool.py
LOGIN_PY=$PEERS_DIR/login.py
# snap_sys, snap_self, busy_pct, wait_idle, wait_for_others
# shellcheck source=bench/peers/measure.sh
source "$PEERS_DIR/measure.sh"

# Find or build the release binary into $BIN.
# Honours PORTCULLIS_BIN (use it as is), SKIP_BUILD=1 (use $SCRATCH/release), else builds.
resolve_portcullis_binary() {
    if [[ -n ${PORTCULLIS_BIN:-} ]]; then
        BIN=$PORTCULLIS_BIN
    elif [[ ${SKIP_BUILD:-0} == 1 ]]; then
        BIN=$SCRATCH/release/portcullis
    else
        log "building release binary (scratch path $SCRATCH)"
        swift build -c release --product portcullis --scratch-path "$SCRATCH" >&2
        BIN=$SCRATCH/release/portcullis
    fi
    [[ -x $BIN ]] || die "no portcullis binary at $BIN"
    BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
}

# Whether something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_portcullis CONFIG BASE_URL LOG LIFETIME [curl options...]: `portcullis serve` under
# `timeout` (LIFETIME s), waited for (bounded, ~30 s) until BASE_URL/.portcullis/healthz
# answers 200. Sets PC_WRAPPER (the timeout process) and PC_PID (portcullis itself). The curl
# options (a CA file for TLS, say) come after the defaults.
start_portcullis() {
    local config=$1 url=$2 logf=$3 lifetime=$4 i code=000 port
    shift 4
    port=${url##*:}
    port_open "$port" && die "port $port (portcullis) is already in use"
    timeout -s TERM "$lifetime" "$BIN" serve --config "$config" >"$logf" 2>&1 &
    PC_WRAPPER=$!
    for ((i = 0; i < 150; i++)); do
        code=$(curl -s --noproxy '*' --max-time 2 "$@" -o /dev/null -w '%{http_code}' "$url/.portcullis/healthz" 2>/dev/null || true)
        [[ $code == 200 ]] && break
        kill -0 "$PC_WRAPPER" 2>/dev/null || { tail -n 30 "$logf" >&2; die "portcullis exited during startup"; }
        sleep 0.2
    done
    [[ $code == 200 ]] || { tail -n 30 "$logf" >&2; die "portcullis did not answer $url/.portcullis/healthz"; }
    PC_PID=$(ps -o pid= --ppid "$PC_WRAPPER" | head -1 | tr -d ' ')
    [[ $PC_PID =~ ^[0-9]+$ ]] || die "cannot find the portcullis process under timeout (pid $PC_WRAPPER)"
}
