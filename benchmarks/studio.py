#!/usr/bin/env python3
"""The studio at scale: how long a 10,000-step run's page takes to be usable in headless Chromium,
and whether it stays responsive while the run updates.

Usage: python3 benchmarks/studio.py [--steps N] [--bin PATH]   (make bench-studio)

Starts a coordinator and a 4-slot worker in a scratch directory, submits an N-step pipeline (N/100 uses of
a pipeline component of 100 steps, each a tree: step i reads step (i-1)//4; each step sleeps 0.2 s, so
the run keeps updating while it is measured), and opens its page over WebDriver
(Debian's chromium and chromium-driver). Prints, for a first (cold: the coordinator runs Graphviz)
and a second (warm: the layout is cached) opening:
  ready_ms     from navigation to the graph drawn and states painted (window.conduitReadyAt)
  longest_ms   the longest task on the page's main thread in the next 10 s of live updates
  expand_ms    clicking a group of steps until its steps are drawn
A screenshot of the cold opening goes to .build/studio-screenshots/scale-10000.png.
Target: ready_ms under 2,000. Exit status 1 when it is missed, 2 on set-up errors.
Python 3 standard library only.
"""
import argparse, base64, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipeline(n):
    """(top-level pipeline, block component): n steps as n/100 uses of a 100-step pipeline component
    (a YAML document may hold at most 100,000 nodes, so one file cannot list 10,000 steps)."""
    groups = max(1, n // 100)
    top = ["type: pipeline", "display_name: studio-scale", "jobs:"]
    for g in range(groups):
        top.append(f"  g{g}: {{type: pipeline, component: ./block.yml}}")
    block = ["type: pipeline", "jobs:"]
    for i in range(min(n, 100)):
        if i == 0:
            block.append(f"  s{i}: {{command: sleep 0.2, outputs: {{o: }}}}")
        else:
            block.append(f'  s{i}: {{command: sleep 0.2, inputs: {{x: "${{{{parent.jobs.s{(i - 1) // 4}.outputs.o}}}}"}}, outputs: {{o: }}}}')
    return "\n".join(top) + "\n", "\n".join(block) + "\n"


def wait_line(proc, needle, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            # Keep draining its output, so that a full pipe never blocks it.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return line
    sys.exit(f"studio bench: '{needle}' not seen:\n{''.join(seen[-20:])}")


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]
        self.call("POST", f"/session/{self.session}/timeouts", {"script": 120000, "pageLoad": 120000})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        answer = json.load(urllib.request.urlopen(request, timeout=300))["value"]
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"{method} {path}: {answer['error']}: {answer.get('message', '')[:300]}")
        return answer

    def open(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def run(self, script):
        return self.call("POST", f"/session/{self.session}/execute/async", {"script": script, "args": []})

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        except Exception:
            pass


WAIT_READY = """
const done = arguments[arguments.length - 1];
const check = () => document.body && document.body.getAttribute('data-ready') === 'run';
if (check()) { done(window.conduitReadyAt); return; }
const observer = new MutationObserver(() => { if (check()) { observer.disconnect(); done(window.conduitReadyAt); } });
observer.observe(document, { subtree: true, attributes: true, childList: true });
"""

# The longest main-thread task in 10 s of live updates, then the time to expand the first bundle.
RESPONSIVE = """
const done = arguments[arguments.length - 1];
let longest = 0;
new PerformanceObserver((list) => { for (const e of list.getEntries()) longest = Math.max(longest, e.duration); })
  .observe({ type: 'longtask', buffered: false });
setTimeout(() => {
  const group = document.querySelector('#dag .node.group');
  if (!group) { done({ longest, expand: null, nodes: document.querySelectorAll('#dag .node').length }); return; }
  const key = group.getAttribute('data-group');
  const start = performance.now();
  const observer = new MutationObserver(() => {
    if (document.querySelector('#dag') && !document.querySelector('#dag .node.group[data-group="' + key + '"]')) {
      observer.disconnect();
      done({ longest, expand: performance.now() - start, nodes: document.querySelectorAll('#dag .node').length });
    }
  });
  observer.observe(document.getElementById('graph'), { subtree: true, childList: true });
  group.dispatchEvent(new MouseEvent('click', { bubbles: true }));
}, 10000);
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--bin", default=os.environ.get("CONDUIT_BIN", os.path.join(ROOT, ".build/release/conduit")))
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not shutil.which("chromedriver") or not os.path.exists(a.bin):
        print(f"studio bench: needs {a.bin} and chromedriver (apt-get install chromium chromium-driver graphviz)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="conduit-studio-bench-", dir=os.path.join(ROOT, ".build"))
    procs = []
    try:
        run = lambda *args: subprocess.run([a.bin, *args], check=True, capture_output=True, text=True)
        for name in ["coordinator", "worker1"]:
            run("keys", "generate", "--name", name, "--dir", work + "/keys")
        zmq = free_port()
        coordinator = subprocess.Popen([a.bin, "coordinator", "--data-dir", work + "/data", "--listen", f"tcp://127.0.0.1:{zmq}",
                                        "--http", "127.0.0.1:0", "--secret-key", work + "/keys/coordinator.secret"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(coordinator)
        line = wait_line(coordinator, "clients on http://", 60)
        url = re.search(r"clients on (http://\S+)", line).group(1).rstrip(",")
        env = dict(os.environ, CONDUIT_URL=url)
        subprocess.run([a.bin, "workers", "allow", work + "/keys/worker1.public", "--name", "worker1"], env=env, check=True, capture_output=True)
        worker = subprocess.Popen([a.bin, "worker", "--coordinator", f"tcp://127.0.0.1:{zmq}", "--slots", "4", "--name", "worker1",
                                   "--work-dir", work + "/worker1", "--secret-key", work + "/keys/worker1.secret",
                                   "--coordinator-key", work + "/keys/coordinator.public"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(worker)
        top, block = pipeline(a.steps)
        with open(work + "/pipeline.yml", "w") as f:
            f.write(top)
        with open(work + "/block.yml", "w") as f:
            f.write(block)
        submitted = subprocess.run([a.bin, "submit", work + "/pipeline.yml"], env=env, capture_output=True, text=True)
        if submitted.returncode != 0:
            print(f"studio bench: the submission failed:\n{submitted.stderr[-2000:]}", file=sys.stderr)
            return 2
        run_id = submitted.stdout.strip()
        port = free_port()
        driver_proc = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(driver_proc)
        wait_line(driver_proc, "started successfully", 30)
        driver = Driver(port)
        rows = []
        try:
            for label in ["cold", "warm"]:
                driver.open("about:blank")
                driver.open(f"{url}/ui#/run/{run_id}")
                ready = driver.run(WAIT_READY)
                if label == "cold":
                    shots = os.path.join(ROOT, ".build/studio-screenshots")
                    os.makedirs(shots, exist_ok=True)
                    with open(os.path.join(shots, "scale-10000.png"), "wb") as f:
                        f.write(base64.b64decode(driver.call("GET", f"/session/{driver.session}/screenshot")))
                responsive = driver.run(RESPONSIVE)
                rows.append((label, ready, responsive))
        finally:
            driver.close()
        status = json.loads(subprocess.run([a.bin, "status", run_id, "--json"], env=env, capture_output=True, text=True).stdout or "{}")
        done = sum(1 for s in status.get("steps", []) if s.get("status") == "completed")
        print(f"studio: {a.steps}-step run, {os.cpu_count()} cores, {done} steps completed by the end (the run was updating while measured)")
        print("opening  ready_ms  longest_task_ms  expand_ms  nodes_after_expand")
        missed = False
        for label, ready, responsive in rows:
            expand = responsive.get("expand")
            print(f"{label:8} {ready:8.0f}  {responsive['longest']:15.0f}  {(expand or 0):9.0f}  {responsive['nodes']}")
            missed = missed or ready >= 2000
        print("target: ready_ms < 2000:", "MISSED" if missed else "met")
        return 1 if missed else 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
