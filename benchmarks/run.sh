#!/usr/bin/env bash
# Conduit benchmarks: dispatch overhead (W1), throughput (W2), cached re-submit
# (W3) and embedded start-up, each next to a baseline measured in this run.
#
#   make bench                                   # release build, then this script
#   bash benchmarks/run.sh                       # uses .build/release/conduit
#   CONDUIT_BIN=.build/debug/conduit bash benchmarks/run.sh
#
# Hostile YAML (HY): `conduit validate` on generated hostile files (benchmarks/hostile.py: alias bomb,
# deep nesting, huge documents, huge numbers), time and peak RSS per refusal, next to validating an
# ordinary pipeline in the same run. BENCH_HOSTILE_ONLY=1 runs only this part. AI: the acceptance's
# invalid/ pipelines, each refused by `conduit validate` within one second (BENCH_ACCEPTANCE_INVALID=DIR).
#
# Knobs (environment): BENCH_REPS (3), BENCH_CHAIN (200), BENCH_FAN (1000),
# BENCH_TIMEOUT (seconds per conduit command, 120), BENCH_DIR (scratch parent,
# default .build), BENCH_KEEP=1 keeps the
# temp dir (pipelines, data dirs, logs, JSON) for inspection.
#
# Exit status: 0 when every run completed (targets missed are printed as
# MISSED, not failures); 1 when a conduit run failed, timed out, or W3 was not
# fully reused; 2 on set-up errors.
set -uo pipefail

NAME=run.sh
TOOLS="python3 timeout xargs seq"
# Scratch lives under .build/ (ignored) unless BENCH_DIR says otherwise: on a machine whose /tmp
# has seen heavy churn, ext4 can take ~0.5 ms per mkdir there, which would measure the disk, not
# Conduit (see docs/benchmarks.md).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
REPS="${BENCH_REPS:-3}"
CHAIN="${BENCH_CHAIN:-200}"
FAN="${BENCH_FAN:-1000}"
TMO="${BENCH_TIMEOUT:-120}"

now_ns() { date +%s%N; }
secs() { python3 -c "import sys; print('%.4f' % ((int(sys.argv[2]) - int(sys.argv[1])) / 1e9))" "$1" "$2"; }

# check_json FILE EXPECTED_STEPS MODE   (MODE: fresh = none reused, reused = all reused, any)
check_json() {
    python3 - "$@" <<'EOF'
import json, sys
path, want, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    run = json.load(open(path))
except Exception as e:
    print(f"unreadable JSON ({e})"); sys.exit(1)
steps = run.get("steps", [])
bad = []
if run.get("status") != "completed":
    bad.append(f"run status {run.get('status')!r}")
if len(steps) != want:
    bad.append(f"{len(steps)} steps, expected {want}")
notdone = [s["name"] for s in steps if s.get("status") != "completed"]
if notdone:
    bad.append(f"{len(notdone)} steps not completed (e.g. {notdone[:3]})")
reused = [s["name"] for s in steps if s.get("reused")]
if mode == "fresh" and reused:
    bad.append(f"{len(reused)} steps unexpectedly reused (e.g. {reused[:3]})")
if mode == "reused" and len(reused) != len(steps):
    ran = [s["name"] for s in steps if not s.get("reused")]
    bad.append(f"{len(ran)} of {len(steps)} steps not reused (e.g. {ran[:3]})")
workers = sorted({s.get("worker") for s in steps if s.get("worker")})
retried = [f"{s['name']}×{s['attempts']}" for s in steps if s.get("attempts", 0) > 1]
if bad:
    print("; ".join(bad)); sys.exit(1)
extra = f", {len(retried)} retried ({', '.join(retried[:5])})" if retried else ""
print(f"ok: {len(steps)} steps, {len(reused)} reused, workers {workers}{extra}")
EOF
}

# timed_submit KEY PIPELINE STEPS MODE: submit --wait --json to the running cluster.
timed_submit() {
    local key="$1" pipe="$2" steps="$3" mode="$4" out="$WORK/$1.json" t0 t1 rc msg
    t0=$(now_ns)
    CONDUIT_URL="$URL" timeout "$TMO" "$BIN" submit "$pipe" --wait --json >"$out" 2>"$WORK/$key.err"
    rc=$?
    t1=$(now_ns)
    local s; s=$(secs "$t0" "$t1")
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && fail "$key: submit timed out after ${TMO}s" || fail "$key: submit exited $rc (see $key.err)"
        tail -n 5 "$WORK/$key.err" >&2
        return 1
    fi
    if ! msg=$(check_json "$out" "$steps" "$mode"); then
        fail "$key: $msg"
        return 1
    fi
    record "${key%_r*}" "$s"
    log "$key: ${s}s ($msg)"
    case "$msg" in *retried*) echo "$key: $msg" >>"$WORK/notes.txt" ;; esac
}

# time_cmd KEY CMD...: time a baseline command.
time_cmd() {
    local key="$1" t0 t1 rc; shift
    t0=$(now_ns)
    timeout "$TMO" "$@" >/dev/null 2>&1
    rc=$?
    t1=$(now_ns)
    if [ $rc -ne 0 ]; then fail "$key: baseline exited $rc"; return 1; fi
    local s; s=$(secs "$t0" "$t1")
    record "${key%_r*}" "$s"
    log "$key: ${s}s"
}

# start_cluster TAG NWORKERS: fresh coordinator + NWORKERS one-slot workers.
start_cluster() {
    local tag="$1" n="$2" dir="$WORK/$1" i line
    mkdir -p "$dir"
    "$BIN" coordinator --data-dir "$dir/data" --listen 'tcp://127.0.0.1:*' --http 127.0.0.1:0 --plaintext \
        >"$dir/coordinator.out" 2>"$dir/coordinator.err" &
    CLUSTER=($!); PIDS+=($!)
    for _ in $(seq 100); do
        line=$(grep -m1 'workers on' "$dir/coordinator.out" 2>/dev/null) && break
        kill -0 "${CLUSTER[0]}" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "${line:-}" ]; then
        fail "$tag: coordinator did not start"; tail -n 5 "$dir/coordinator.err" >&2; return 1
    fi
    ZMQ=$(sed -n 's/.*workers on \(tcp:[^,]*\),.*/\1/p' <<<"$line")
    URL=$(sed -n 's/.*clients on \(http[^ ]*\).*/\1/p' <<<"$line")
    for i in $(seq "$n"); do
        "$BIN" worker --coordinator "$ZMQ" --slots 1 --name "w$i" --work-dir "$dir/w$i" --plaintext \
            >"$dir/w$i.out" 2>"$dir/w$i.err" &
        CLUSTER+=($!); PIDS+=($!)
    done
    for i in $(seq "$n"); do
        for _ in $(seq 100); do
            grep -q 'registered with the coordinator' "$dir/w$i.err" 2>/dev/null && break
            sleep 0.1
        done
        if ! grep -q 'registered with the coordinator' "$dir/w$i.err"; then
            fail "$tag: worker w$i did not register"; tail -n 5 "$dir/w$i.err" >&2; return 1
        fi
    done
}

stop_cluster() {
    local pid keep=()
    stop_pids "${CLUSTER[@]}"
    for pid in "${PIDS[@]}"; do
        [[ " ${CLUSTER[*]} " == *" $pid "* ]] || keep+=("$pid")
    done
    PIDS=("${keep[@]}")
    CLUSTER=()
}

python3 "$ROOT/benchmarks/generate.py" "$WORK/pipelines" --chain "$CHAIN" --fan "$FAN" || exit 2
P="$WORK/pipelines"
T_START=$(now_ns)
log "binary $BIN ($("$BIN" --version 2>/dev/null)), $REPS reps, chain $CHAIN, fan-out $FAN, $(nproc) cores, work dir $WORK"

loop_true() { local i; for ((i = 0; i < $1; i++)); do /bin/true; done; }
export -f loop_true

# peak_rss_kb FILE CMD...: runs CMD, writes its peak RSS (KiB) to FILE, returns its exit status.
peak_rss_kb() {
    local out="$1"; shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -q -f '%M' -o "$out" "$@"
    else
        # No GNU time: poll VmHWM from /proc while the command runs (a lower bound for short commands).
        "$@" & local pid=$! peak=0 hwm
        while kill -0 "$pid" 2>/dev/null; do
            hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
        done
        wait "$pid"; local rc=$?
        echo "$peak" >"$out"; return $rc
    fi
}

# HY: each hostile file must be refused (exit 2); normal.yml must validate (exit 0).
python3 "$ROOT/benchmarks/hostile.py" "$WORK/hostile" || exit 2
for r in $(seq "$REPS"); do
    for file in "$WORK"/hostile/*.yml; do
        kind=$(basename "$file" .yml)
        want=2; [ "$kind" = normal ] && want=0
        t0=$(now_ns)
        peak_rss_kb "$WORK/hy.rss" timeout "$TMO" "$BIN" validate "$file" >/dev/null 2>"$WORK/hy_$kind.err"
        rc=$?
        t1=$(now_ns)
        if [ $rc -ne $want ]; then
            fail "hy_$kind: conduit validate exited $rc, expected $want"; tail -n 2 "$WORK/hy_$kind.err" >&2
            continue
        fi
        s=$(secs "$t0" "$t1"); record "hy_$kind" "$s"; record "hyrss_$kind" "$(tail -n 1 "$WORK/hy.rss")"
        [ "$r" = 1 ] && log "hy_$kind: ${s}s, $(tail -n 1 "$WORK/hy.rss") KiB: $(head -c 160 "$WORK/hy_$kind.err" | tr '\n' ' ')"
    done
done

# AI: the acceptance pipelines that must be refused (../shared/acceptance/invalid): each within one
# second by `conduit validate` (`submit` refuses them in the same loading code, before any request).
ACCEPTANCE_INVALID="${BENCH_ACCEPTANCE_INVALID:-$ROOT/../shared/acceptance/invalid}"
if [ -d "$ACCEPTANCE_INVALID" ]; then
    for r in $(seq "$REPS"); do
        for file in "$ACCEPTANCE_INVALID"/*.yml; do
            kind=$(basename "$file" .yml)
            t0=$(now_ns)
            timeout "$TMO" "$BIN" validate "$file" >/dev/null 2>"$WORK/ai_$kind.err"
            rc=$?
            t1=$(now_ns)
            if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
                fail "ai_$kind: conduit validate exited $rc, expected a refusal"; continue
            fi
            record "ai_$kind" "$(secs "$t0" "$t1")"
        done
    done
fi

[ "${BENCH_HOSTILE_ONLY:-0}" = 1 ] && REPS_CLUSTER=0 || REPS_CLUSTER=$REPS
for r in $(seq "$REPS_CLUSTER"); do
    # W1: chain of $CHAIN steps, coordinator + one 1-slot worker, fresh data dir.
    time_cmd "w1_loop_r$r" bash -c "loop_true $CHAIN"
    if start_cluster "w1_r$r" 1; then
        timed_submit "w1_chain_r$r" "$P/chain.yml" "$CHAIN" fresh
        timed_submit "w1_empty_r$r" "$P/empty.yml" 1 fresh   # fixed submit --wait cost (warm coordinator)
    fi
    stop_cluster

    # W2: $FAN independent steps + join, two 1-slot workers, fresh data dir; then W3.
    time_cmd "w2_xargs_r$r" bash -c "seq $FAN | xargs -P2 -n1 /bin/true"
    if start_cluster "w2_r$r" 2; then
        if timed_submit "w2_fanout_r$r" "$P/fanout.yml" "$((FAN + 1))" fresh; then
            # W3: exact re-submit, everything must be reused.
            timed_submit "w3_resubmit_r$r" "$P/fanout.yml" "$((FAN + 1))" reused
        fi
    fi
    stop_cluster

    # Start-up: conduit run of a one-step pipeline through the local service, cold (fresh data dir, no
    # service yet: the run starts it) and warm (the same service again, the step forced to run).
    time_cmd "su_version_r$r" "$BIN" --version
    t0=$(now_ns)
    timeout "$TMO" "$BIN" run "$P/startup.yml" --json --data-dir "$WORK/su_r$r/data" --slots 1 \
        --output-dir "$WORK/su_r$r/out" >"$WORK/su_run_r$r.json" 2>"$WORK/su_run_r$r.err"
    rc=$?
    t1=$(now_ns)
    if [ $rc -ne 0 ]; then
        fail "su_run_r$r: conduit run exited $rc"; tail -n 5 "$WORK/su_run_r$r.err" >&2
    elif msg=$(check_json "$WORK/su_run_r$r.json" 1 fresh); then
        s=$(secs "$t0" "$t1"); record su_run "$s"; log "su_run_r$r: ${s}s ($msg)"
    else
        fail "su_run_r$r: $msg"
    fi
    t0=$(now_ns)
    timeout "$TMO" "$BIN" run "$P/startup.yml" --json --data-dir "$WORK/su_r$r/data" --force only \
        --output-dir "$WORK/su_r$r/out2" >"$WORK/su_warm_r$r.json" 2>"$WORK/su_warm_r$r.err"
    rc=$?
    t1=$(now_ns)
    if [ $rc -ne 0 ]; then
        fail "su_warm_r$r: conduit run exited $rc"; tail -n 5 "$WORK/su_warm_r$r.err" >&2
    else
        s=$(secs "$t0" "$t1"); record su_warm "$s"; log "su_warm_r$r: ${s}s"
    fi
    "$BIN" service stop --data-dir "$WORK/su_r$r/data" >/dev/null 2>&1
done

TOTAL=$(secs "$T_START" "$(now_ns)")
grep -h -E ' (error|warning) ' "$WORK"/w*_r*/*.err 2>/dev/null | sed -E 's/^[^ ]* //; s/ [a-z_]+=[^ ]+//g' | sort | uniq -c | sort -rn | head -n 5 >"$WORK/daemon-warnings.txt"
log "total ${TOTAL}s"

python3 - "$RESULTS" "$CHAIN" "$FAN" "$BIN" "$REPS" "$TOTAL" <<'EOF'
import statistics, sys
from collections import defaultdict
path, chain, fan, binary, reps, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
vals = defaultdict(list)
for line in open(path):
    k, v = line.split("\t")
    vals[k].append(float(v))
def med(k):
    return statistics.median(vals[k]) if vals[k] else None
def fmt_s(x):
    return "n/a" if x is None else f"{x:.3f} s"
def samples(k):
    return ", ".join(f"{v:.3f}" for v in vals[k]) or "none"

rows = []
def row(workload, conduit, baseline, ratio, target, met):
    mark = "n/a" if met is None else ("yes" if met else "MISSED")
    rows.append((workload, conduit, baseline, ratio, target, mark))

# W1
c, e, l = med("w1_chain"), med("w1_empty"), med("w1_loop")
if c is not None and l is not None:
    raw = (c - l) / chain * 1000
    row(f"W1 {chain}-step chain, 1 worker: overhead/step (raw)", fmt_s(c), f"{fmt_s(l)} (bash loop)",
        f"{raw:.2f} ms/step", "≤ 2 ms/step", raw <= 2.0)
    if e is not None and chain > 1:
        net = ((c - e) / (chain - 1) - l / chain) * 1000
        row(f"W1 … net of empty run ({fmt_s(e)} for a 1-step submit)", f"{fmt_s(c - e)} (chain − empty)",
            f"{fmt_s(l)} (bash loop)", f"{net:.2f} ms/step", "≤ 2 ms/step (info)", net <= 2.0)
else:
    row(f"W1 {chain}-step chain", fmt_s(c), fmt_s(l), "n/a", "≤ 2 ms/step", False)
# W2
c, x = med("w2_fanout"), med("w2_xargs")
if c is not None and x is not None:
    ratio = x / c
    row(f"W2 {fan} steps + join, 2 workers × 1 slot: throughput", fmt_s(c), f"{fmt_s(x)} (xargs -P2)",
        f"{ratio * 100:.1f} %", "≥ 70 %", ratio >= 0.70)
else:
    row(f"W2 {fan} steps + join", fmt_s(c), fmt_s(x), "n/a", "≥ 70 %", False)
# W3
c = med("w3_resubmit")
row(f"W3 re-submit of W2, all {fan + 1} steps reused", fmt_s(c), "—", "—", "≤ 0.3 s",
    (c is not None and c <= 0.3))
# start-up
c, v = med("su_run"), med("su_version")
row("Start-up, local service cold: `conduit run` 1 step, fresh data dir", fmt_s(c), f"{fmt_s(v)} (`conduit --version`)",
    "n/a" if (c is None or v is None) else f"{c / v:.1f}×", "≤ 0.2 s", (c is not None and c <= 0.2))
w = med("su_warm")
row("Start-up, local service warm: `conduit run` 1 step (forced)", fmt_s(w), f"{fmt_s(v)} (`conduit --version`)",
    "n/a" if (w is None or v is None) else f"{w / v:.1f}×", "report only", None)

# Hostile YAML
kinds = sorted(k[3:] for k in vals if k.startswith("hy_") and k != "hy_normal")
base_t, base_m = med("hy_normal"), (max(vals["hyrss_normal"]) if vals["hyrss_normal"] else None)
if kinds and base_t is not None:
    worst = max(kinds, key=lambda k: med("hy_" + k))
    wt = med("hy_" + worst)
    row(f"HY hostile YAML, {len(kinds)} kinds: slowest refusal ({worst}) by `conduit validate`", fmt_s(wt),
        f"{fmt_s(base_t)} (validate normal.yml)", f"{wt / base_t:.1f}×", "< 0.1 s", wt < 0.1)
    peak = max(kinds, key=lambda k: max(vals["hyrss_" + k]))
    pm = max(vals["hyrss_" + peak])
    row(f"HY … largest peak RSS ({peak})", f"{pm / 1024:.1f} MiB", f"{base_m / 1024:.1f} MiB (normal.yml)",
        f"{pm / base_m:.1f}×", "bounded (report only)", None)
else:
    row("HY hostile YAML", "n/a", "n/a", "n/a", "< 0.1 s", False)

# Acceptance invalid/ pipelines
accepted = sorted(k[3:] for k in vals if k.startswith("ai_"))
if accepted and base_t is not None:
    worst = max(accepted, key=lambda k: med("ai_" + k))
    wt = med("ai_" + worst)
    row(f"AI acceptance invalid/, {len(accepted)} files: slowest refusal ({worst}) by `conduit validate`", fmt_s(wt),
        f"{fmt_s(base_t)} (validate normal.yml)", f"{wt / base_t:.1f}×", "< 1 s", wt < 1)

print()
print(f"Conduit benchmarks — binary {binary}, median of {reps} runs, total {float(total):.0f} s")
print()
print("| workload | conduit | baseline | ratio | target | met |")
print("|---|---|---|---|---|---|")
import os
hostile_only = os.environ.get("BENCH_HOSTILE_ONLY") == "1"
for r in rows:
    if hostile_only and not r[0].startswith(("HY", "AI")):
        continue
    print("| " + " | ".join(r) + " |")
print()
print("Samples (s):")
for k, label in [("w1_chain", "W1 chain submit"), ("w1_empty", "W1 empty submit"), ("w1_loop", "W1 bash loop"),
                 ("w2_fanout", "W2 submit"), ("w2_xargs", "W2 xargs"), ("w3_resubmit", "W3 re-submit"),
                 ("su_run", "start-up conduit run (service cold)"), ("su_warm", "start-up conduit run (service warm)"), ("su_version", "conduit --version")]:
    print(f"  {label:22s} {samples(k)}")
if kinds:
    print()
    print("Hostile YAML, per kind (median s, peak RSS MiB); every one refused with exit status 2:")
    for k in ["normal"] + kinds:
        if vals["hy_" + k]:
            print(f"  {k:28s} {med('hy_' + k):.3f} s  {max(vals['hyrss_' + k]) / 1024:6.1f} MiB")
print()
print("W1 raw = (chain submit − bash loop) / steps. W1 net = (chain − empty submit) / (steps − 1) − loop / steps,")
print("i.e. the marginal cost of one more step with the fixed submit/wait round trip removed.")
print("W2 ratio = xargs time / conduit time (the conduit run has one extra step, the join).")
EOF

if [ -s "$WORK/notes.txt" ]; then
    echo
    echo "Steps that needed more than one attempt (completed, but worth a look):"
    sed 's/^/  /' "$WORK/notes.txt"
fi
if [ -s "$WORK/daemon-warnings.txt" ]; then
    echo
    echo "Warnings/errors logged by the coordinator and workers (count, first 5 kinds):"
    cut -c1-220 "$WORK/daemon-warnings.txt" | sed 's/^/  /'
fi

if [ "$FAILED" -ne 0 ]; then
    log "one or more runs FAILED (see messages above)"
    exit 1
fi
exit 0
