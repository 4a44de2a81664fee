#!/usr/bin/env bash
# bench/stream-memory.sh - the gateway streams large bodies in flat memory.
#
# Starts the built-in echo upstream and Portcullis (public route to it), both under
# `timeout`, then moves 1 GiB through the gateway each way while sampling the gateway's
# VmRSS every 0.2 s:
#
#   download  curl GET /.echo/download?bytes=1073741824 (upstream -> gateway -> client)
#   upload    head -c 1 GiB /dev/zero | curl -T - ... /upload (client -> gateway -> upstream;
#             the echo answers JSON whose "bodyBytes" must be exactly 1073741824)
#
# Prints idle RSS, peak RSS during each transfer (sampled, and the kernel's VmHWM after a
# reset through /proc/PID/clear_refs where allowed), throughput, and PASS/FAIL against
# "peak RSS growth over idle <= 64 MiB". Exit code 1 on FAIL.
#
# environment (defaults in brackets):
#   SCRATCH [.build]  PORTCULLIS_BIN  SKIP_BUILD [0]   as in bench/run.sh
#   SM_PORT [19100] gateway port   ECHO_PORT [19101] echo upstream port
#   SM_BYTES [1073741824]   SM_LIMIT_MIB [64]   SM_MAX_LIFETIME [600] (timeout for both servers)
#   SM_INTERVAL [0.2] RSS sampling interval (s)   KEEP_TMP [0]
#   SM_EXPECT [0]   1 = let curl send "Expect: 100-continue" with the upload. Off by default: no
#                   one answers 100 Continue on this path (the echo upstream does not, the gateway
#                   forwards the header), so curl stalls 1 s before sending and the throughput
#                   figure would mostly measure that stall.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SCRATCH=${SCRATCH:-.build}
SKIP_BUILD=${SKIP_BUILD:-0}
SM_PORT=${SM_PORT:-19100}
ECHO_PORT=${ECHO_PORT:-19101}
BYTES=${SM_BYTES:-1073741824}
LIMIT_MIB=${SM_LIMIT_MIB:-64}
MAX_LIFETIME=${SM_MAX_LIFETIME:-600}
INTERVAL=${SM_INTERVAL:-0.2}
EXPECT_ARGS=(-H 'Expect:'); [[ ${SM_EXPECT:-0} == 1 ]] && EXPECT_ARGS=()
KEEP_TMP=${KEEP_TMP:-0}
GW="http://127.0.0.1:$SM_PORT"
CURL=(curl -s --noproxy '*')

log() { printf '[stream %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for c in curl timeout head awk; do command -v "$c" >/dev/null || die "missing command: $c"; done

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
resolve_portcullis_binary

TMP=$(mktemp -d /tmp/portcullis-stream.XXXXXX)
cat >"$TMP/config.json" <<EOF
{
  "listen": { "address": "127.0.0.1", "port": $SM_PORT },
  "admin": { "enabled": false },
  "routes": [ { "name": "echo", "pathPrefix": "/", "upstream": "http://127.0.0.1:$ECHO_PORT", "public": true } ],
  "logging": { "accessLog": true }
}
EOF
"$BIN" check-config "$TMP/config.json" >/dev/null || die "config rejected"

ECHO_WRAPPER=0 GW_WRAPPER=0 GW_PID=0 SAMPLER=0
stop_wrapper() {   # TERM the timeout wrapper (it forwards TERM), bounded wait, then KILL
    local w=$1 i
    [[ $w -gt 0 ]] && kill -0 "$w" 2>/dev/null || return 0
    kill -TERM "$w" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$w" 2>/dev/null || return 0; sleep 0.1; done
    local child; child=$(ps -o pid= --ppid "$w" | head -1 | tr -d ' ')
    [[ -n $child ]] && kill -KILL "$child" 2>/dev/null || true
    kill -KILL "$w" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    [[ $SAMPLER -gt 0 ]] && kill "$SAMPLER" 2>/dev/null || true
    stop_wrapper "$GW_WRAPPER"
    stop_wrapper "$ECHO_WRAPPER"
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open "$SM_PORT" && die "port $SM_PORT already in use"
port_open "$ECHO_PORT" && die "port $ECHO_PORT already in use"

timeout -s TERM "$MAX_LIFETIME" "$BIN" echo-upstream --port "$ECHO_PORT" >"$TMP/echo.log" 2>&1 &
ECHO_WRAPPER=$!
timeout -s TERM "$MAX_LIFETIME" "$BIN" serve --config "$TMP/config.json" >"$TMP/gateway.log" 2>&1 &
GW_WRAPPER=$!
for ((i = 0; i < 150; i++)); do
    [[ $("${CURL[@]}" --max-time 2 -o /dev/null -w '%{http_code}' "$GW/.portcullis/healthz" || true) == 200 ]] \
        && port_open "$ECHO_PORT" && break
    kill -0 "$GW_WRAPPER" 2>/dev/null && kill -0 "$ECHO_WRAPPER" 2>/dev/null \
        || { tail -n 20 "$TMP"/*.log >&2; die "a server exited during startup"; }
    sleep 0.2
done
GW_PID=$(ps -o pid= --ppid "$GW_WRAPPER" | head -1 | tr -d ' ')
[[ $GW_PID =~ ^[0-9]+$ ]] || die "cannot find the gateway process"
log "gateway pid $GW_PID on $GW, echo upstream on 127.0.0.1:$ECHO_PORT"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$GW_PID/status"; }
reset_hwm() { { echo 5 >"/proc/$GW_PID/clear_refs"; } 2>/dev/null; }   # resets VmHWM (Linux >= 4.0)
start_sampler() {   # start_sampler FILE: VmRSS (KiB) every INTERVAL s until killed
    local out=$1
    ( while :; do
          awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status" 2>/dev/null || exit 0
          sleep "$INTERVAL"
      done ) >"$out" &
    SAMPLER=$!
}
stop_sampler() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=0; }
max_of() { awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }' "$1"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# warm up: one small proxied request each way, so pools and buffers exist before "idle"
"${CURL[@]}" --max-time 5 -o /dev/null "$GW/warmup" || die "warm-up request failed"
"${CURL[@]}" --max-time 5 -o /dev/null "$GW/.echo/download?bytes=1048576" || die "warm-up download failed"
sleep 1
IDLE=$(rss_kib)
log "idle RSS $(mib "$IDLE") MiB"

FAILS=0
HWM_RESET=1
declare -A PEAK HWM SECS MBPS NOTE
run_transfer() {   # run_transfer NAME: sets PEAK/HWM/SECS/MBPS for NAME
    local name=$1 samples="$TMP/rss-$1.txt" meta
    if reset_hwm; then HWM_RESET=1; else HWM_RESET=0; fi
    start_sampler "$samples"
    case $name in
        download)
            meta=$("${CURL[@]}" --max-time 300 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
                "$GW/.echo/download?bytes=$BYTES") || meta="000 0 0"
            local code size t; read -r code size t <<<"$meta"
            [[ $code == 200 && $size == "$BYTES" ]] && NOTE[$name]="200, $size bytes" \
                || { NOTE[$name]="FAILED: HTTP $code, $size bytes"; FAILS=$((FAILS + 1)); }
            ;;
        upload)
            meta=$(head -c "$BYTES" /dev/zero | "${CURL[@]}" --max-time 300 -T - -H 'Content-Type: application/octet-stream' "${EXPECT_ARGS[@]}" \
                -o "$TMP/upload.json" -w '%{http_code} %{size_upload} %{time_total}' "$GW/upload") || meta="000 0 0"
            local code size t got; read -r code size t <<<"$meta"
            got=$(sed -n 's/.*"bodyBytes":\([0-9]*\).*/\1/p' "$TMP/upload.json" 2>/dev/null | head -1)
            [[ $code == 200 && $got == "$BYTES" ]] && NOTE[$name]="200, upstream bodyBytes $got" \
                || { NOTE[$name]="FAILED: HTTP $code, upstream bodyBytes ${got:-?}"; FAILS=$((FAILS + 1)); }
            ;;
    esac
    stop_sampler
    PEAK[$name]=$(max_of "$samples")
    HWM[$name]=$(hwm_kib)
    SECS[$name]=$t
    MBPS[$name]=$(awk -v b="$BYTES" -v t="$t" 'BEGIN { printf "%.0f", (t > 0 ? b / t / 1048576 : 0) }')
    log "$name: ${NOTE[$name]}, ${t}s, $(wc -l <"$samples") RSS samples"
}
run_transfer download
run_transfer upload
kill -0 "$GW_PID" 2>/dev/null || die "gateway died"
AFTER=$(rss_kib)

printf '\n== streaming %s bytes through Portcullis (gateway pid %s) ==\n' "$BYTES" "$GW_PID"
printf 'idle RSS: %s MiB   after both transfers: %s MiB   limit: peak growth <= %s MiB\n' \
    "$(mib "$IDLE")" "$(mib "$AFTER")" "$LIMIT_MIB"
printf '%-9s %-34s %8s %9s %15s %12s %16s %s\n' transfer result seconds "MiB/s" "peak RSS MiB" "growth MiB" "VmHWM MiB*" verdict
for name in download upload; do
    peak=${PEAK[$name]}; hwm=${HWM[$name]}
    # judge on the larger of the sampled peak and VmHWM (which catches spikes between samples)
    worst=$peak
    (( HWM_RESET && hwm > worst )) && worst=$hwm
    growth=$(( worst - IDLE ))
    verdict=PASS
    if (( growth > LIMIT_MIB * 1024 )) || [[ ${NOTE[$name]} == FAILED* ]]; then verdict=FAIL; FAILS=$((FAILS + 1)); fi
    printf '%-9s %-34s %8s %9s %15s %12s %16s %s\n' "$name" "${NOTE[$name]}" "${SECS[$name]}" "${MBPS[$name]}" \
        "$(mib "$peak")" "$(mib "$growth")" "$(mib "$hwm")" "$verdict"
done
if ((HWM_RESET)); then
    echo "* VmHWM: the kernel's peak RSS during the transfer (reset before it via /proc/PID/clear_refs)"
    echo "  growth = max(sampled peak, VmHWM) - idle RSS"
else
    echo "* VmHWM could not be reset (clear_refs not writable): it is the process-lifetime peak; growth = sampled peak - idle RSS"
fi
if ((FAILS)); then echo "RESULT: FAIL"; exit 1; fi
echo "RESULT: PASS"
