# Shared by the bench scripts: find or build the release binary into $BIN.
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
