# Shared by the bench scripts: where the peer harness is, and the release binary in $BIN.
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
