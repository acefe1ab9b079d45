#!/usr/bin/env python3
"""Conduit chaos test: real coordinator and worker processes, real faults.

Usage: python3 benchmarks/chaos.py [--runs N] [--seed S] [--only NAME[,NAME]] [--keep]

Each scenario starts its own coordinator and three workers on loopback (fresh temp
directories, free ports), submits a generated pipeline (8 steps: fan-out, fan-in;
each step sleeps 1-3 s and writes a digest of its name and its inputs, so a re-run
writes identical bytes), injects one fault at a seeded random point, waits for the
run to end, and checks the database (read-only) and `conduit status --json`:

  worker-kill      kill -9 of a worker while it runs a step
  worker-stop      SIGSTOP of a worker for 15 s (past the 10 s loss timeout), then SIGCONT
  coord-kill       kill -9 of the coordinator, restart on the same data dir and ports
  partition-short  a TCP proxy between one worker and the coordinator stops forwarding for 5 s
  partition-long   the same for 15 s (past the loss timeout)
  disk-full        the data dir on a 300 MiB tmpfs, filled below 256 MiB free, then freed
  baseline         no fault (the reference outputs and timings)

Checks: the run ended (a run still going after the deadline is a hang); per step at
most one succeeded attempt and one `completed` event (duplicate outputs); the step's
outputs are those of its succeeded attempt and equal the fault-free baseline's; every
step seen completed while the scenario ran (HTTP and the database, polled every
200 ms) is still completed with the same outputs at the end (lost acknowledged
transitions); plus each scenario's own expectation (below, in the code).

Environment: CONDUIT_BIN (default .build/release/conduit), CHAOS_RUNS (--runs,
default 3), CHAOS_SEED (--seed, default: time based, printed), CHAOS_DIR (scratch
parent, default .build). Exit status: 0 all checks passed; 1 a duplicate output, a
lost transition, a hang or a broken expectation; 2 set-up errors.

Python 3 standard library only. Needs root for the tmpfs (disk-full is skipped,
with the reason, where mount is refused).
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("CONDUIT_BIN", os.path.join(ROOT, ".build/release/conduit")))
LOSS_TIMEOUT_S = 10          # --worker-timeout given to every coordinator
RUN_DEADLINE_S = 150         # a run still going after this counts as a hang
POLL_S = 0.2
WORKERS = ("w1", "w2", "w3")
SLOTS = 2
LOST_CLASSES = ("lost", "fenced", "coordinator_restart", "worker_error", "handed_back")
SCENARIOS = ("baseline", "worker-kill", "worker-stop", "coord-kill",
             "partition-short", "partition-long", "disk-full")


def now_ms():
    return int(time.time() * 1000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# The pipeline


def pipeline_yaml(rng, tag):
    """An 8-step DAG: src -> f1..f4 -> m1(f1,f2), m2(f3,f4) -> fin(m1,m2)."""
    graph = [("src", []), ("f1", ["src"]), ("f2", ["src"]), ("f3", ["src"]), ("f4", ["src"]),
             ("m1", ["f1", "f2"]), ("m2", ["f3", "f4"]), ("fin", ["m1", "m2"])]
    lines = ["type: pipeline", f"display_name: chaos-{tag}", "jobs:"]
    for name, parents in graph:
        seconds = round(rng.uniform(1.0, 3.0), 1)
        reads = " ".join(f"${{{{inputs.x{i}}}}}/data" for i in range(len(parents)))
        body = f"echo {name} {tag}" + (f"; cat {reads}" if reads else "")
        lines.append(f"  {name}:")
        lines.append(f"    command: sleep ${{{{inputs.t}}}} && {{ {body}; }} | sha256sum > ${{{{outputs.o}}}}/data")
        inputs = [f"t: {seconds}"] + [f'x{i}: "${{{{parent.jobs.{p}.outputs.o}}}}"' for i, p in enumerate(parents)]
        lines.append(f"    inputs: {{{', '.join(inputs)}}}")
        lines.append("    outputs: {o: }")
    return "\n".join(lines) + "\n", [name for name, _ in graph]


PROBE_YAML = """type: pipeline
display_name: chaos-probe
jobs:
  probe:
    command: echo probe | sha256sum > ${{outputs.o}}/data
    outputs: {o: }
"""


# ---------------------------------------------------------------------------
# A TCP proxy that can stop forwarding


class StallProxy:
    """Forwards 127.0.0.1:port to the coordinator's ZeroMQ port. `stall()` stops forwarding
    without closing anything (a partition: TCP keeps the connection, bytes wait); `resume()`
    delivers what waited and forwards again, as TCP does once a partition heals."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self.sockets = []
        self.connections = 0     # accepted so far: more than one means the worker reconnected
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                if self.closed:
                    break
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stall(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def close(self):
        self.closed = True
        self.flowing.set()
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass


# ---------------------------------------------------------------------------
# Processes


class Cluster:
    """One coordinator and its workers, each in its own process group, all under `work`."""

    def __init__(self, work, data_dir=None):
        self.work = work
        self.data_dir = data_dir or os.path.join(work, "data")
        self.zmq_port = free_port()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.coordinator = None
        self.coordinator_starts = 0
        self.workers = {}
        self.proxies = {}
        self.env = dict(os.environ, CONDUIT_HOME=os.path.join(work, "home"))
        self.env.pop("CONDUIT_URL", None)
        self.allowed = set()

    def _spawn(self, args, log_name):
        log = open(os.path.join(self.work, log_name), "ab")
        try:
            return subprocess.Popen([BIN] + args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.work, env=self.env, start_new_session=True)
        finally:
            log.close()

    def start_coordinator(self):
        """Starts the coordinator; returns seconds until its HTTP API answers (None: never, in 20 s)."""
        self.coordinator_starts += 1
        start = time.monotonic()
        self.coordinator = self._spawn(
            ["coordinator", "--data-dir", self.data_dir, "--listen", f"tcp://127.0.0.1:{self.zmq_port}",
             "--http", f"127.0.0.1:{self.http_port}", "--worker-timeout", str(LOSS_TIMEOUT_S),
             "--secret-key", self.key("coordinator") + ".secret"],
            "coordinator.log")
        while time.monotonic() - start < 20:
            if self.coordinator.poll() is not None:
                return None
            if http_get(self.url + "/v1/health", timeout=0.5) is not None:
                return time.monotonic() - start
            time.sleep(0.02)
        return None

    def key(self, name):
        """The path (without .secret/.public) of NAME's CURVE key pair, generated on first use."""
        directory = os.path.join(self.work, "keys")
        if not os.path.exists(os.path.join(directory, name + ".secret")):
            os.makedirs(directory, exist_ok=True)
            subprocess.run([BIN, "keys", "generate", "--name", name, "--dir", directory], env=self.env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return os.path.join(directory, name)

    def allow(self, name):
        """Puts the worker's public key on the coordinator's allow-list (kept across restarts)."""
        subprocess.run([BIN, "workers", "allow", self.key(name) + ".public", "--name", name,
                        "--coordinator-url", self.url], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_worker(self, name, via_proxy=False):
        if name not in self.allowed:
            self.allow(name)
            self.allowed.add(name)
        port = self.zmq_port
        if via_proxy:
            self.proxies[name] = StallProxy(self.zmq_port)
            port = self.proxies[name].port
        self.workers[name] = self._spawn(
            ["worker", "--coordinator", f"tcp://127.0.0.1:{port}", "--name", name, "--slots", str(SLOTS),
             "--work-dir", os.path.join(self.work, name), "--secret-key", self.key(name) + ".secret",
             "--coordinator-key", self.key("coordinator") + ".public"], f"{name}.log")

    def wait_for_workers(self, names, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = http_get(self.url + "/v1/workers")
            if body is not None:
                connected = {w["name"] for w in json.loads(body) if w.get("connected")}
                if set(names) <= connected:
                    return True
            time.sleep(0.1)
        return False

    def log(self, name):
        try:
            with open(os.path.join(self.work, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop_all(self):
        """SIGCONT then SIGKILL every process group started here, then anything left running
        under the scenario directory (steps of killed workers live in their own groups)."""
        for proxy in self.proxies.values():
            proxy.close()
        procs = list(self.workers.values()) + ([self.coordinator] if self.coordinator else [])
        for proc in procs:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        kill_under(self.work)


def kill_under(directory):
    """Kills every process whose working directory or command line lies under `directory`."""
    mine = os.getpid()
    for _ in range(3):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == mine:
                continue
            pid = int(entry)
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except OSError:
                continue
            if cwd.startswith(directory) or directory in cmdline:
                found = True
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not found:
            return
        time.sleep(0.2)


def http_get(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError):
        return None


def cli(cluster, *args, timeout=30):
    result = subprocess.run([BIN, *args, "--coordinator-url", cluster.url], capture_output=True, text=True,
                            timeout=timeout, env=cluster.env, cwd=cluster.work)
    return result.returncode, result.stdout, result.stderr


def db_query(data_dir, sql, params=()):
    """One read-only query; None while the database cannot be read (a restart, a lock)."""
    path = os.path.join(data_dir, "conduit.sqlite")
    if not os.path.exists(path):
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def attempts_of(cluster, run_id):
    rows = db_query(cluster.data_dir, "SELECT id, step, worker, status, dispatched_at FROM attempts WHERE run_id = ?",
                    (run_id,)) or []
    return [dict(zip(("id", "step", "worker", "status", "dispatched_at"), row)) for row in rows]


def run_report(cluster, run_id):
    body = http_get(f"{cluster.url}/v1/runs/{run_id}")
    return json.loads(body) if body else None


# ---------------------------------------------------------------------------
# Watching a run


class Observer:
    """Polls the run every 200 ms (HTTP report and database, read-only) and remembers every
    step the coordinator showed as completed, with the outputs first seen."""

    def __init__(self, cluster, run_id):
        self.cluster = cluster
        self.run_id = run_id
        self.acked = {}          # step -> outputs_json first seen (None until the database shows it)
        self.last_report = None
        self.reports = []        # (ms, report) while something is queued (for the disk-full reason)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            self.poll()
            self.stopping.wait(POLL_S)

    def poll(self):
        report = run_report(self.cluster, self.run_id)
        if report:
            self.last_report = report
            for step in report["steps"]:
                if step["status"] == "completed":
                    self.acked.setdefault(step["name"], None)
            if any(step["status"] == "queued" for step in report["steps"]):
                self.reports.append((now_ms(), report))
        rows = db_query(self.cluster.data_dir, "SELECT name, status, outputs_json FROM steps WHERE run_id = ?",
                        (self.run_id,))
        for name, status, outputs in rows or []:
            if status == "completed" and self.acked.get(name) is None:
                self.acked[name] = outputs

    def wait_end(self, deadline):
        while time.monotonic() < deadline:
            report = self.last_report
            if report and report["status"] in ("completed", "failed", "canceled"):
                return report
            time.sleep(POLL_S)
        return None

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.poll()


def busy_worker(cluster, run_id, rng, timeout=20):
    """A worker (chosen at random) the coordinator shows running a step of the run, with the
    attempts it holds (from the database: a start is recorded with the next commit, so an
    attempt may still read `dispatched` there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = run_report(cluster, run_id) or {"steps": []}
        busy = sorted({s["worker"] for s in report["steps"] if s["status"] == "running" and s.get("worker") in cluster.workers})
        if busy:
            name = rng.choice(busy)
            attempts = attempts_of(cluster, run_id)
            # Ask again just before the fault: a step may have finished meanwhile.
            report = run_report(cluster, run_id) or {"steps": []}
            steps = {s["name"] for s in report["steps"] if s["status"] == "running" and s.get("worker") == name}
            held = [a for a in attempts if a["step"] in steps and a["worker"] == name and a["status"] in ("dispatched", "running")]
            if held:
                return name, held
        time.sleep(0.05)
    return None, []


def fault_delay(rng, ctx):
    """A random point in the first 70 % of a fault-free run (seconds after the submit)."""
    return rng.uniform(1.0, max(2.0, 0.7 * ctx.get("baseline_s", 9.0)))


# ---------------------------------------------------------------------------
# Checks


class Result:
    def __init__(self, scenario, rep):
        self.scenario = scenario
        self.rep = rep
        self.runs = 0
        self.completed = 0
        self.failed = []         # precise reasons
        self.hangs = 0
        self.duplicates = 0
        self.lost = 0
        self.latencies = []      # ms, fault to the replacement's dispatch
        self.ready = []          # s, coordinator restart to HTTP answering
        self.violations = []
        self.notes = []
        self.skipped = None
        self.run_ids = []


def check_run(cluster, run_id, observer, result, baseline, expect_completed=True):
    """The checks every scenario shares, from the database and `conduit status --json`."""
    result.runs += 1
    result.run_ids.append(run_id)
    report = observer.wait_end(time.monotonic() + RUN_DEADLINE_S)
    observer.stop()
    if report is None:
        result.hangs += 1
        result.violations.append(f"{run_id}: still running after {RUN_DEADLINE_S} s (hang)")
        return None
    code, out, err = cli(cluster, "status", run_id, "--json")
    try:
        final = json.loads(out)
    except ValueError:
        result.violations.append(f"{run_id}: `conduit status --json` exited {code}: {err.strip()[:200]}")
        final = report
    if final["status"] == "completed":
        result.completed += 1
    else:
        reason = final.get("reason") or "no reason given"
        result.failed.append(f"{run_id}: {final['status']}: {reason}")
        if expect_completed:
            result.violations.append(f"{run_id}: expected to complete, ended {final['status']}: {reason}")
    steps = {row[0]: row[1:] for row in db_query(
        cluster.data_dir, "SELECT name, status, outputs_json, log_attempt FROM steps WHERE run_id = ?", (run_id,)) or []}
    attempts = attempts_of(cluster, run_id)
    events = db_query(cluster.data_dir, "SELECT step, detail, at FROM events WHERE run_id = ? AND kind = 'completed' "
                      "AND step IS NOT NULL", (run_id,)) or []
    committed_at = {step: at for step, _, at in events}
    events = [(step, detail) for step, detail, _ in events]
    entries = {row[0]: row[1] for row in db_query(
        cluster.data_dir, "SELECT attempt_id, outputs_json FROM cache_entries WHERE run_id = ?", (run_id,)) or []}
    final_status = {s["name"]: s["status"] for s in final["steps"]}
    for name, (status, outputs, log_attempt) in sorted(steps.items()):
        succeeded = [a for a in attempts if a["step"] == name and a["status"] == "succeeded"]
        completions = [detail for step, detail in events if step == name]
        extra = max(0, len(succeeded) - 1) + max(0, len(completions) - 1)
        if extra:
            result.duplicates += extra
            result.violations.append(f"{run_id} {name}: {len(succeeded)} succeeded attempts, {len(completions)} completed events")
        if status == "completed":
            if len(succeeded) != 1:
                result.violations.append(f"{run_id} {name}: completed with {len(succeeded)} succeeded attempts")
            elif log_attempt != succeeded[0]["id"]:
                result.violations.append(f"{run_id} {name}: outputs recorded from {log_attempt}, succeeded attempt is {succeeded[0]['id']}")
            if completions and completions[0] != outputs:
                result.violations.append(f"{run_id} {name}: step outputs {outputs} differ from its completed event {completions[0]}")
            if succeeded and succeeded[0]["id"] in entries and entries[succeeded[0]["id"]] != outputs:
                result.violations.append(f"{run_id} {name}: step outputs differ from its cache entry")
            if baseline is not None and name in baseline and baseline[name] != outputs:
                result.violations.append(f"{run_id} {name}: outputs {outputs} differ from the fault-free run's {baseline[name]}")
        if final_status.get(name) != status:
            result.violations.append(f"{run_id} {name}: status --json says {final_status.get(name)}, the database {status}")
    for name, outputs in sorted(observer.acked.items()):
        status, now_outputs, _ = steps.get(name, (None, None, None))
        if status != "completed" or final_status.get(name) != "completed" or (outputs is not None and outputs != now_outputs):
            result.lost += 1
            result.violations.append(f"{run_id} {name}: reported completed ({outputs}) during the run, now {status} ({now_outputs})")
    return {"steps": steps, "attempts": attempts, "report": final, "committed_at": committed_at}


def redispatch_latencies(attempts, fault_ms):
    """For each attempt given up after the fault: ms from the fault to its replacement's dispatch."""
    out = []
    for attempt in attempts:
        if attempt["status"] not in LOST_CLASSES or attempt["dispatched_at"] > fault_ms:
            continue
        later = [a["dispatched_at"] for a in attempts
                 if a["step"] == attempt["step"] and a["dispatched_at"] > attempt["dispatched_at"]]
        if later:
            out.append(min(later) - fault_ms)
    return out


def expect_given_up(result, run_id, checked, held, victim, what, fault_ms):
    """The victim's attempts (running at the fault) must not count as succeeded, and their
    steps must have completed through another attempt. A success the coordinator recorded
    before the fault (or within 1 s of it: reports already on the wire) raced the fault."""
    by_id = {a["id"]: a for a in checked["attempts"]}
    for attempt in held:
        now = by_id.get(attempt["id"], {}).get("status")
        at = checked["committed_at"].get(attempt["step"])
        if now == "succeeded" and at is not None and at <= fault_ms + 1000:
            result.notes.append(f"{attempt['id']} on {victim}: finished {at - fault_ms} ms from the fault (a race, not a re-run)")
            attempt["raced"] = True
        elif now == "succeeded":
            result.violations.append(f"{run_id} {attempt['step']}: attempt {attempt['id']} on {victim} succeeded after {what}")
        elif now is not None:
            result.notes.append(f"{attempt['id']} on {victim}: {now}")


def expect_fencing(result, cluster, victim, held):
    """A worker whose lease ran out while it was cut off must say it fenced the attempts."""
    log = cluster.log(f"{victim}.log")
    for attempt in held:
        if attempt.get("raced") or attempt["id"] in log and ("fenc" in log or "discarded an unacknowledged result" in log):
            continue
        result.violations.append(f"worker {victim} did not log fencing attempt {attempt['id']}")


# ---------------------------------------------------------------------------
# Scenarios


def submit(cluster, pipeline_path):
    code, out, err = cli(cluster, "submit", pipeline_path)
    if code != 0:
        raise RuntimeError(f"submit failed ({code}): {err.strip()}")
    return out.strip().splitlines()[-1].strip(), time.monotonic()


def sleep_until(start, seconds):
    time.sleep(max(0.0, start + seconds - time.monotonic()))


def scenario(name, rng, ctx, result):
    work = ctx["work"]
    mounted = None
    data_dir = None
    if name == "disk-full":
        mounted = os.path.join(work, "tmpfs")
        os.makedirs(mounted)
        attempt = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300m", "tmpfs", mounted],
                                 capture_output=True, text=True)
        if attempt.returncode != 0:
            result.skipped = f"skipped: cannot mount tmpfs ({(attempt.stderr or attempt.stdout).strip() or 'mount exited ' + str(attempt.returncode)})"
            return
        data_dir = os.path.join(mounted, "data")
    cluster = Cluster(work, data_dir)
    try:
        ready = cluster.start_coordinator()
        if ready is None:
            raise RuntimeError("the coordinator did not answer within 20 s:\n" + cluster.log("coordinator.log")[-2000:])
        for worker in WORKERS:
            cluster.start_worker(worker, via_proxy=name.startswith("partition"))
        if not cluster.wait_for_workers(WORKERS):
            raise RuntimeError("the workers did not register within 20 s")
        run_id, started = submit(cluster, ctx["pipeline"])
        observer = Observer(cluster, run_id)
        inject(name, rng, cluster, run_id, started, observer, result, ctx)
        checked = check_run(cluster, run_id, observer, result, ctx.get("baseline"))
        fault = ctx.get("fault", {})
        if "proxy" in fault:
            result.notes.append(f"{fault['victim']} connected {fault['proxy'].connections} time(s) through its proxy "
                                "(more than once: the cut closed its connection)")
        if checked is not None:
            finish(name, cluster, run_id, checked, result, ctx)
        for probe_id, probe_observer in ctx.pop("probes", []):
            check_run(cluster, probe_id, probe_observer, result, None)
    except Exception as error:  # a set-up or harness error: reported as a broken check, not hidden
        result.violations.append(f"harness: {error}")
        traceback.print_exc(file=sys.stderr)
    finally:
        cluster.stop_all()
        if mounted:
            subprocess.run(["umount", "-l", mounted], capture_output=True)


def inject(name, rng, cluster, run_id, started, observer, result, ctx):
    fault = ctx.setdefault("fault", {})
    if name == "baseline":
        return
    if name in ("worker-kill", "worker-stop"):
        sleep_until(started, fault_delay(rng, ctx))
        victim, held = busy_worker(cluster, run_id, rng)
        if victim is None:
            raise RuntimeError("no worker was running a step")
        proc = cluster.workers[victim]
        fault.update(victim=victim, held=held, ms=now_ms())
        if name == "worker-kill":
            os.kill(proc.pid, signal.SIGKILL)
            result.notes.append(f"kill -9 {victim} holding {', '.join(a['step'] for a in held)}")
        else:
            os.kill(proc.pid, signal.SIGSTOP)
            result.notes.append(f"SIGSTOP {victim} holding {', '.join(a['step'] for a in held)} for 15 s")
            time.sleep(15)
            os.kill(proc.pid, signal.SIGCONT)
    elif name == "coord-kill":
        sleep_until(started, fault_delay(rng, ctx))
        before = observer.last_report
        os.kill(cluster.coordinator.pid, signal.SIGKILL)
        cluster.coordinator.wait()
        fault["ms"] = now_ms()
        at = time.monotonic() - started
        # What the dead coordinator had made durable: attempts out on workers.
        fault["held"] = [a for a in attempts_of(cluster, run_id) if a["status"] in ("dispatched", "running")]
        done = sum(1 for s in (before or {}).get("steps", []) if s["status"] == "completed")
        down = rng.uniform(0.2, 1.0)
        time.sleep(down)
        ready = cluster.start_coordinator()
        if ready is None:
            raise RuntimeError("the restarted coordinator did not answer within 20 s:\n" + cluster.log("coordinator.log")[-2000:])
        result.ready.append(ready)
        if ready > 5:
            result.violations.append(f"the restarted coordinator answered HTTP after {ready:.2f} s (> 5 s)")
        result.notes.append(f"kill -9 coordinator at +{at:.1f} s ({done} steps completed, {len(fault['held'])} attempts out), "
                            f"restarted after {down:.2f} s, answering HTTP {ready:.2f} s later")
    elif name.startswith("partition"):
        seconds = 5 if name == "partition-short" else 15
        sleep_until(started, fault_delay(rng, ctx))
        victim, held = busy_worker(cluster, run_id, rng)
        if victim is None:
            raise RuntimeError("no worker was running a step")
        fault.update(victim=victim, held=held, ms=now_ms(), seconds=seconds)
        cluster.proxies[victim].stall()
        result.notes.append(f"cut {victim} off for {seconds} s holding {', '.join(a['step'] for a in held) or 'nothing'}")
        time.sleep(seconds)
        cluster.proxies[victim].resume()
        fault["proxy"] = cluster.proxies[victim]
    elif name == "disk-full":
        sleep_until(started, fault_delay(rng, ctx))
        mount = os.path.dirname(cluster.data_dir)
        stat = os.statvfs(mount)
        free = stat.f_bavail * stat.f_frsize
        fill = max(0, free - (200 << 20))
        path = os.path.join(mount, "fill")
        with open(path, "wb") as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(fill >> 20):
                f.write(chunk)
        stat = os.statvfs(mount)
        fault["ms"] = now_ms()
        result.notes.append(f"filled the tmpfs to {stat.f_bavail * stat.f_frsize >> 20} MiB free")
        # A run submitted during the pause must wait, queued, with the reason.
        time.sleep(2.5)
        probe_id, _ = submit(cluster, ctx["probe"])
        probe_observer = Observer(cluster, probe_id)
        ctx.setdefault("probes", []).append((probe_id, probe_observer))
        time.sleep(5)
        paused_until = now_ms()
        os.remove(path)
        fault["resumed_ms"] = paused_until
        log = cluster.log("coordinator.log")
        if "disk is full" not in log:
            result.violations.append("the coordinator did not log that its disk is full")
        reasons = [s.get("reason") or "" for _, r in probe_observer.reports for s in r["steps"] if s["status"] == "queued"]
        if not reasons:
            result.violations.append(f"{probe_id}: the run submitted while the disk was full was never seen queued")
        elif not all("disk is full" in r for r in reasons):
            result.violations.append(f"{probe_id}: queued without the disk-full reason: {sorted(set(reasons))[:2]}")
        else:
            result.notes.append(f"probe queued with reason: {reasons[-1][:90]}")
        # No attempt may be dispatched while paused (one tick, 1 s, to notice the fill).
        for run in (run_id, probe_id):
            late = [a for a in attempts_of(cluster, run) if fault["ms"] + 1500 < a["dispatched_at"] < paused_until]
            if late:
                result.violations.append(f"{run}: {len(late)} attempts dispatched while the disk was full")


def finish(name, cluster, run_id, checked, result, ctx):
    fault = ctx.get("fault", {})
    attempts = checked["attempts"]
    if name == "baseline":
        ctx["baseline"] = {step: values[1] for step, values in checked["steps"].items()}
        report = checked["report"]
        if report.get("finishedAt"):
            ctx["baseline_s"] = (report["finishedAt"] - report["createdAt"]) / 1000
        many = [a["step"] for a in attempts if sum(1 for b in attempts if b["step"] == a["step"]) > 1]
        if many:
            result.violations.append(f"{run_id}: steps with more than one attempt without a fault: {sorted(set(many))}")
        return
    if "ms" in fault:
        result.latencies += redispatch_latencies(attempts, fault["ms"])
    held = fault.get("held", [])
    victim = fault.get("victim")
    if name == "worker-kill":
        expect_given_up(result, run_id, checked, held, victim, "kill -9", fault["ms"])
    elif name == "worker-stop":
        expect_given_up(result, run_id, checked, held, victim, "15 s stopped", fault["ms"])
        expect_fencing(result, cluster, victim, held)
    elif name == "partition-long":
        expect_given_up(result, run_id, checked, held, victim, "15 s cut off", fault["ms"])
        expect_fencing(result, cluster, victim, held)
    if name == "partition-short":
        for attempt in held:
            count = sum(1 for a in attempts if a["step"] == attempt["step"])
            if count != 1:
                result.violations.append(f"{run_id} {attempt['step']}: {count} attempts after a 5 s cut (expected the first to finish)")
    elif name == "coord-kill":
        rerun = reattached = 0
        for attempt in held:
            count = sum(1 for a in attempts if a["step"] == attempt["step"])
            if count == 1:
                reattached += 1
            else:
                rerun += 1
                # A dispatch written just before the kill may never have reached the worker;
                # an attempt the worker had reported started must be re-attached.
                if attempt["status"] == "running":
                    result.violations.append(f"{run_id} {attempt['step']}: running at the restart but run again ({count} attempts)")
        result.notes.append(f"after restart: {reattached} re-attached, {rerun} run again")


# ---------------------------------------------------------------------------
# Report


def fmt_latency(values):
    if not values:
        return "-"
    return f"{statistics.median(values) / 1000:.1f} / {max(values) / 1000:.1f}"


def table(results):
    rows = []
    header = ("scenario", "runs", "completed", "failed", "dup outputs", "lost acked", "re-dispatch s (med / max)",
              "restart→ready s (max)", "checks")
    order = [s for s in SCENARIOS if any(r.scenario == s for r in results)]
    for name in order + ["overall"]:
        group = [r for r in results if r.scenario == name] if name != "overall" else results
        if name != "overall" and all(r.skipped for r in group):
            rows.append((name, "-", "-", "-", "-", "-", "-", "-", group[0].skipped))
            continue
        group = [r for r in group if not r.skipped]
        runs = sum(r.runs for r in group)
        ready = [x for r in group for x in r.ready]
        broken = sum(len(r.violations) for r in group)
        rows.append((name, str(runs), str(sum(r.completed for r in group)), str(sum(len(r.failed) for r in group)),
                     str(sum(r.duplicates for r in group)), str(sum(r.lost for r in group)),
                     fmt_latency([x for r in group for x in r.latencies]),
                     f"{max(ready):.2f}" if ready else "-",
                     "ok" if broken == 0 else f"{broken} FAILED"))
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in rows]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("CHAOS_RUNS") or "3"),
                        help="repetitions of each fault scenario (CHAOS_RUNS, default 3)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED") or str(int(time.time()) % 100000)),
                        help="random seed (CHAOS_SEED; default time based, printed)")
    parser.add_argument("--only", default="", help="comma-separated scenario names (baseline always runs)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, data dirs)")
    args = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        print(f"chaos.py: conduit binary not found at {BIN} (run 'swift build -c release' or set CONDUIT_BIN)", file=sys.stderr)
        return 2
    wanted = [s for s in args.only.split(",") if s]
    unknown = [s for s in wanted if s not in SCENARIOS]
    if unknown:
        print(f"chaos.py: unknown scenario {unknown}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    names = [s for s in SCENARIOS if not wanted or s in wanted or s == "baseline"]
    parent = os.environ.get("CHAOS_DIR", os.path.join(ROOT, ".build"))
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="conduit-chaos.", dir=parent)
    pipeline, _ = pipeline_yaml(random.Random(args.seed), f"s{args.seed}")
    ctx = {"pipeline": os.path.join(scratch, "chaos.yml"), "probe": os.path.join(scratch, "probe.yml")}
    with open(ctx["pipeline"], "w") as f:
        f.write(pipeline)
    with open(ctx["probe"], "w") as f:
        f.write(PROBE_YAML)
    print(f"conduit chaos: seed {args.seed}, {args.runs} run(s) per scenario, binary {os.path.relpath(BIN, ROOT)}, "
          f"loss timeout {LOSS_TIMEOUT_S} s, scratch {scratch}", flush=True)
    results = []
    began = time.monotonic()
    try:
        for rep in range(args.runs):
            for name in names:
                if name == "baseline" and rep > 0:
                    continue
                rng = random.Random(f"{args.seed}-{name}-{rep}")
                result = Result(name, rep)
                work = os.path.join(scratch, f"{name}-{rep}")
                os.makedirs(work)
                step_ctx = dict(ctx, work=work)
                t0 = time.monotonic()
                scenario(name, rng, step_ctx, result)
                for key in ("baseline", "baseline_s"):
                    if key in step_ctx:
                        ctx[key] = step_ctx[key]
                results.append(result)
                status = result.skipped or ("ok" if not result.violations else f"{len(result.violations)} check(s) FAILED")
                print(f"[{name} #{rep + 1}] {time.monotonic() - t0:5.1f} s  runs {' '.join(result.run_ids) or '-'}  {status}", flush=True)
                for note in result.notes:
                    print(f"    {note}", flush=True)
                for failure in result.failed:
                    print(f"    failed: {failure}", flush=True)
                for violation in result.violations:
                    print(f"    FAILED: {violation}", flush=True)
    finally:
        kill_under(scratch)
    print()
    print(table(results))
    print(f"\n{sum(r.runs for r in results)} runs in {time.monotonic() - began:.0f} s; seed {args.seed}")
    bad = any(r.violations for r in results)
    if args.keep or bad:
        print(f"logs and data dirs kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
