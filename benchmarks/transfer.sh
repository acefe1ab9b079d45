#!/usr/bin/env bash
# Conduit data-plane benchmark: one large artifact from worker A to the coordinator to worker B, over
# loopback, next to a raw TCP copy of the same bytes (file → TCP → file → TCP → file) measured in the
# same run. See docs/data-plane.md for what is measured and how.
#
#   make bench-transfer                          # release build, then this script
#   bash benchmarks/transfer.sh                  # uses .build/release/conduit
#
# Knobs (environment): BENCH_TRANSFER_MIB (artifact size, 1024), BENCH_TRANSFER_REPS (1),
# BENCH_WORKER_TIMEOUT (the coordinator's --worker-timeout in seconds, 3: a worker whose heartbeats
# queue behind chunks for that long is declared lost and the run fails the check), BENCH_TIMEOUT
# (seconds for the conduit run, 600), BENCH_WARM_MIB (memory touched before each phase, see
# warm_memory; 0 turns it off), BENCH_DIR (scratch parent: /dev/shm when it is a writable
# tmpfs, else .build), BENCH_KEEP=1 keeps the scratch directory.
#
# Scratch (the source file, the TCP copies, the data and work directories) lives in memory by default:
# a disk that sustains less than the loopback (this project's 2-core VM writes ~64 MB/s once its
# write-back cache is full) would make both sides measure the disk. BENCH_DIR=.build measures on disk.
#
# Exit status: 0 when every run completed with the bytes intact and no worker lost (a missed
# throughput target is printed as MISSED, not a failure); 1 otherwise; 2 on set-up errors.
set -uo pipefail

NAME=transfer.sh
LOG_PREFIX=bench-transfer
TOOLS="python3 timeout cmp head seq"
# Scratch in memory when /dev/shm is a writable tmpfs (see above), else under .build.
if [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then DEFAULT_BENCH_DIR=/dev/shm; fi
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MIB="${BENCH_TRANSFER_MIB:-1024}"
REPS="${BENCH_TRANSFER_REPS:-1}"
LOSS="${BENCH_WORKER_TIMEOUT:-3}"
TMO="${BENCH_TIMEOUT:-600}"

hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

SRC="$WORK/source.bin"
log "writing $MIB MiB of random bytes to $SRC ($(stat -f -c %T "$WORK") file system), $(nproc) cores"
head -c "$((MIB * 1024 * 1024))" /dev/urandom >"$SRC" || exit 2
BYTES=$(stat -c %s "$SRC")

# start_cluster DIR: coordinator + worker a (label a) + worker b (label b), plaintext over tcp loopback.
start_cluster() {
    local dir="$1" line name
    mkdir -p "$dir"
    "$BIN" coordinator --plaintext --data-dir "$dir/data" --listen 'tcp://127.0.0.1:*' --http 127.0.0.1:0 \
        --worker-timeout "$LOSS" >"$dir/coordinator.out" 2>"$dir/coordinator.err" &
    COORD=$!; PIDS+=($!)
    for _ in $(seq 100); do
        line=$(grep -m1 'workers on' "$dir/coordinator.out" 2>/dev/null) && break
        kill -0 "$COORD" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "${line:-}" ]; then fail "coordinator did not start"; tail -n 5 "$dir/coordinator.err" >&2; return 1; fi
    ZMQ=$(sed -n 's/.*workers on \(tcp:[^,]*\),.*/\1/p' <<<"$line")
    URL=$(sed -n 's/.*clients on \(http[^ ]*\).*/\1/p' <<<"$line")
    "$BIN" worker --plaintext --coordinator "$ZMQ" --slots 1 --name a --label a --work-dir "$dir/a" \
        >"$dir/a.out" 2>"$dir/a.err" &
    WORKER_A=$!; PIDS+=($!)
    "$BIN" worker --plaintext --coordinator "$ZMQ" --slots 1 --name b --label b --work-dir "$dir/b" \
        >"$dir/b.out" 2>"$dir/b.err" &
    WORKER_B=$!; PIDS+=($!)
    for name in a b; do
        for _ in $(seq 100); do grep -q 'registered with the coordinator' "$dir/$name.err" 2>/dev/null && break; sleep 0.1; done
        grep -q 'registered with the coordinator' "$dir/$name.err" || { fail "worker $name did not register"; tail -n 5 "$dir/$name.err" >&2; return 1; }
    done
}

stop_cluster() {
    STOP_SECONDS=5 stop_pids "$COORD" "$WORKER_A" "$WORKER_B"
    PIDS=()
}

# warm_memory: writes BENCH_WARM_MIB (4 × the artifact, at most half of what is available) to a
# scratch file and deletes it, right before each measured phase. On a virtual machine a page the
# guest has not touched lately must first be provided by the host: writing 1 GiB into fresh pages was
# measured at 2.7 s here, into pages freed a moment before at 0.5 s. Without this, whichever phase
# happened to get recently freed pages looked several times faster (raw TCP ranged 1.3–7.7 s).
warm_memory() {
    local avail want
    avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
    want="${BENCH_WARM_MIB:-$((MIB * 4))}"
    [ "$want" -gt "$((avail / 2))" ] && want=$((avail / 2))
    [ "$want" -gt 0 ] || return 0
    dd if=/dev/zero of="$WORK/warm.bin" bs=1M count="$want" status=none 2>/dev/null
    rm -f "$WORK/warm.bin"
}

# seconds_logged FILE MESSAGE: the seconds= of the worker's log line for the large blob.
seconds_logged() {
    grep "$2" "$1" 2>/dev/null | grep -o 'seconds=[0-9.]*' | tail -n 1 | cut -d= -f2
}

for r in $(seq "$REPS"); do
    # Baseline: the same bytes, two TCP hops.
    warm_memory
    if base=$(python3 "$ROOT/benchmarks/tcp_copy.py" "$SRC" "$WORK/tcp-middle.bin" "$WORK/tcp-destination.bin"); then
        cmp -s "$SRC" "$WORK/tcp-destination.bin" || fail "tcp baseline: bytes differ"
        record tcp "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$base")"
        log "r$r tcp: $base"
    else
        fail "tcp baseline failed"
    fi
    rm -f "$WORK/tcp-middle.bin" "$WORK/tcp-destination.bin"

    dir="$WORK/r$r"
    start_cluster "$dir" || { stop_cluster; continue; }
    cat >"$dir/pipeline.yml" <<EOF
type: pipeline
settings:
  force_rerun: true
jobs:
  produce:
    compute: azureml:a
    command: cp "$SRC" \${{outputs.o}}/data.bin && date +%s%N > "$dir/produced"
    outputs: {o: }
  consume:
    compute: azureml:b
    command: date +%s%N > "$dir/consuming" && cmp "$SRC" \${{inputs.x}}/data.bin
    inputs: {x: "\${{parent.jobs.produce.outputs.o}}"}
EOF
    warm_memory
    CONDUIT_URL="$URL" timeout "$TMO" "$BIN" submit "$dir/pipeline.yml" --wait --json >"$dir/run.json" 2>"$dir/submit.err"
    rc=$?
    for name in COORD WORKER_A WORKER_B; do record "rss_$name" "$(hwm_kb "${!name}")"; done
    if [ $rc -ne 0 ]; then
        fail "r$r: submit exited $rc"; tail -n 5 "$dir/submit.err" >&2
    elif ! python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["status"]=="completed" and all(s["attempts"]==1 for s in r["steps"]) else 1)' "$dir/run.json"; then
        fail "r$r: run not completed in one attempt per step: $(head -c 400 "$dir/run.json")"
    else
        gap=$(python3 -c 'import sys; print((int(open(sys.argv[2]).read()) - int(open(sys.argv[1]).read())) / 1e9)' "$dir/produced" "$dir/consuming")
        record conduit "$gap"
        up=$(seconds_logged "$dir/a.err" "uploaded blob"); [ -n "$up" ] && record upload "$up"
        down=$(seconds_logged "$dir/b.err" "fetched blob"); [ -n "$down" ] && record fetch "$down"
        log "r$r conduit: producer exit → consumer start ${gap}s (upload ${up:-?}s, fetch ${down:-?}s)"
    fi
    if grep -q 'worker lost' "$dir/coordinator.err"; then fail "r$r: a worker was declared lost during the transfer"; fi
    record lost "$(grep -c 'worker lost' "$dir/coordinator.err")"
    stop_cluster
    rm -rf "$dir/data" "$dir/a" "$dir/b"
done

python3 - "$RESULTS" "$BYTES" "$BIN" "$REPS" "$LOSS" <<'EOF'
import statistics, sys
from collections import defaultdict
path, size, binary, reps, loss = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
vals = defaultdict(list)
for line in open(path):
    k, v = line.split("\t")
    vals[k].append(float(v))
med = lambda k: statistics.median(vals[k]) if vals[k] else None
mbps = lambda s, hops=2: None if not s else hops * size / s / 1e6
fmt = lambda x, unit="": "n/a" if x is None else f"{x:.1f}{unit}"
tcp, conduit, up, down = med("tcp"), med("conduit"), med("upload"), med("fetch")
print()
print(f"Conduit transfer benchmark: {size / 2**20:.0f} MiB, worker → coordinator → worker over tcp loopback, "
      f"binary {binary}, median of {reps} run(s)")
print()
print("| measure | seconds | MB/s (2 hops) | ratio to raw TCP |")
print("|---|---|---|---|")
print(f"| raw TCP, file → TCP → file → TCP → file (no fsync, no hash) | {fmt(tcp)} | {fmt(mbps(tcp))} | 1.00 |")
if up is not None and down is not None:
    t = up + down
    print(f"| conduit transfer: upload {up:.2f} s + fetch {down:.2f} s (worker logs) | {t:.2f} | {fmt(mbps(t))} | "
          f"{'n/a' if not tcp else f'{tcp / t:.2f}'} |")
if conduit is not None:
    print(f"| conduit end to end: producer exit → consumer start (snapshot, upload, verify, dispatch, fetch, verify) | "
          f"{conduit:.2f} | {fmt(mbps(conduit))} | {'n/a' if not tcp else f'{tcp / conduit:.2f}'} |")
print()
for key, name in [("rss_COORD", "coordinator"), ("rss_WORKER_A", "worker a (uploads)"), ("rss_WORKER_B", "worker b (fetches)")]:
    if vals[key]:
        print(f"peak RSS {name:20s} {max(vals[key]) / 1024:7.1f} MiB")
print(f"workers declared lost (--worker-timeout {loss} s): {int(sum(vals['lost']))}")
best = None
if tcp and up is not None and down is not None:
    best = tcp / (up + down)
elif tcp and conduit:
    best = tcp / conduit
if best is not None:
    print(f"target ≥ 50 % of raw TCP on the transfer: {'met' if best >= 0.5 else 'MISSED'} ({best * 100:.0f} %)")
EOF
exit $FAILED
