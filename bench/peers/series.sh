#!/usr/bin/env bash
# bench/peers/series.sh - run bench/peers/peers.sh several times per wrk thread count and
# summarise how stable the ratios are (median, min-max, coefficient of variation).
#
#   RUNS [3]        invocations of peers.sh per thread count (servers restarted each time)
#   THREADS ["2 1"] wrk -t values to try
#   MAX_OTHER [5]   leave out rows measured while foreign processes used > MAX_OTHER % of a core
#   every other variable (REPEAT, WRK_DURATION, EXTRA_*, ...) is passed through to peers.sh
#
# Each invocation is bounded (wrk -d plus timeouts inside peers.sh); the whole
# series is additionally capped by SERIES_TIMEOUT [3600] seconds per invocation.
set -Eeuo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
RUNS=${RUNS:-3}
THREADS=${THREADS:-"2 1"}
RESULTS_ROOT=${RESULTS_DIR:-/tmp/peerbench/results}
SERIES_TIMEOUT=${SERIES_TIMEOUT:-3600}
mkdir -p "$RESULTS_ROOT"
files=()
for t in $THREADS; do
    for ((i = 1; i <= RUNS; i++)); do
        echo "### series: wrk -t$t, invocation $i/$RUNS" >&2
        before=$(ls -1 "$RESULTS_ROOT")
        WRK_THREADS=$t timeout "$SERIES_TIMEOUT" "$HERE/peers.sh" all >&2
        new=$(comm -13 <(echo "$before") <(ls -1 "$RESULTS_ROOT") | tail -1)
        if [[ -n $new && -f $RESULTS_ROOT/$new/results.tsv ]]; then files+=("$RESULTS_ROOT/$new/results.tsv"); fi
    done
done
"${PYTHON:-python3}" "$HERE/pbtool.py" compare --max-other "${MAX_OTHER:-5}" "${files[@]}"
