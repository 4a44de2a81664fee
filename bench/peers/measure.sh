# bench/peers/measure.sh - what every measuring script shares: CPU snapshots of the machine
# and of the load tool, a bounded wait until the machine is idle, and a bounded wait while
# another benchmark runs. Sourced by peers.sh (and, through bench/lib.sh, by auth.sh and
# tls.sh); the caller defines `log` and sets WAIT_IDLE, IDLE_MAX_PCT and OTHERS_WAIT.

snap_sys() {    # SYS_USER: user+nice ticks of all CPUs; SYS_STEAL: steal ticks
    local _c u n sy id io irq sirq st _rest
    read -r _c u n sy id io irq sirq st _rest </proc/stat
    SYS_USER=$((u + n)); SYS_STEAL=$((st))
}

snap_self() {   # SELF_CUTIME: user ticks of this shell's waited-for children (the load tool)
    local line f; read -r line <"/proc/$$/stat"; line=${line##*) }
    read -r -a f <<<"$line"; SELF_CUTIME=${f[13]}
}

busy_pct() {    # busy % of all CPUs over ~1 s
    local _c u n sy id io irq sirq st _r b0 a0 b1 a1
    read -r _c u n sy id io irq sirq st _r </proc/stat; b0=$((u + n + sy + irq + sirq + st)); a0=$((b0 + id + io))
    sleep 1
    read -r _c u n sy id io irq sirq st _r </proc/stat; b1=$((u + n + sy + irq + sirq + st)); a1=$((b1 + id + io))
    echo $(( (b1 - b0) * 100 / (a1 - a0 > 0 ? a1 - a0 : 1) ))
}

wait_idle() {   # bounded wait (WAIT_IDLE s) until the machine is idle before a measurement
    [[ $WAIT_IDLE -gt 0 ]] || return 0
    local deadline=$((SECONDS + WAIT_IDLE)) busy first=1
    while :; do
        busy=$(busy_pct)
        if ((busy <= IDLE_MAX_PCT)); then
            ((first)) || log "  machine idle again (${busy}% busy)"
            return 0
        fi
        ((first)) && log "  machine ${busy}% busy (foreign load?) - waiting up to ${WAIT_IDLE}s for <= ${IDLE_MAX_PCT}%"
        first=0
        if ((SECONDS >= deadline)); then log "  still ${busy}% busy - measuring anyway"; return 0; fi
    done
}

# Another benchmark (the peer harness, wrk or h2load) running now would disturb the figures.
wait_for_others() {
    local deadline=$((SECONDS + OTHERS_WAIT)) first=1 who
    while :; do
        who=$( { pgrep -f 'peers[.]sh' || true; pgrep -x wrk || true; pgrep -x h2load || true; } | tr '\n' ' ')
        if [[ -z ${who// /} ]]; then
            ((first)) || log "the other benchmark is gone"
            return 0
        fi
        if ((first)); then
            log "another benchmark is running (pids $who) - waiting up to ${OTHERS_WAIT}s"
            ps -o pid=,etime=,args= -p "${who// /,}" 2>/dev/null | cut -c1-150 | sed 's/^/           /' >&2 || true
        fi
        first=0
        if ((SECONDS >= deadline)); then
            log "WARNING: still running after ${OTHERS_WAIT}s (pids $who) - measuring anyway; expect disturbed figures"
            return 0
        fi
        sleep 10
    done
}
