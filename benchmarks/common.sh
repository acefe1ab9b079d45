# Shared set-up of the benchmark scripts (sourced by run.sh and transfer.sh).
#
# Before sourcing, a script sets NAME (for messages), TOOLS (the commands it needs) and optionally
# LOG_PREFIX (default "bench"); after, it has log, fail (log and set FAILED), record KEY VALUE (a line
# of RESULTS), ROOT, BIN (the conduit binary: $CONDUIT_BIN, else .build/release/conduit), WORK (a fresh scratch
# directory under $BENCH_DIR), RESULTS, PIDS (processes to stop on exit), FAILED, and a cleanup trap
# that stops every process in PIDS (`stop_pids`) and removes WORK unless BENCH_KEEP=1.
# BENCH_DIR defaults to DEFAULT_BENCH_DIR when the script sets it, else .build.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${CONDUIT_BIN:-$ROOT/.build/release/conduit}"

case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
if [ ! -x "$BIN" ]; then
    echo "$NAME: conduit binary not found at $BIN (run 'swift build -c release' or set CONDUIT_BIN)" >&2
    exit 2
fi
for tool in $TOOLS; do
    command -v "$tool" >/dev/null || { echo "$NAME: $tool is required" >&2; exit 2; }
done

BENCH_DIR="${BENCH_DIR:-${DEFAULT_BENCH_DIR:-$ROOT/.build}}"
mkdir -p "$BENCH_DIR"
WORK="$(mktemp -d "$BENCH_DIR/conduit-${NAME%.sh}.XXXXXX")"
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
PIDS=()
FAILED=0

log() { echo "${LOG_PREFIX:-bench}: $*" >&2; }
fail() { log "FAILED: $*"; FAILED=1; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }

# stop_pids PID...: SIGTERM to each, then SIGKILL to any still running after 3 s (or
# $STOP_SECONDS), and reap them.
stop_pids() {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "$@"; do
        for _ in $(seq "$(( ${STOP_SECONDS:-3} * 10 ))"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}

cleanup() {
    stop_pids "${PIDS[@]}"
    PIDS=()
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$NAME: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
