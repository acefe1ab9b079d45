#!/usr/bin/env python3
"""Write the benchmark pipelines (Azure ML CLI v2 YAML) into a directory.

Usage: python3 benchmarks/generate.py OUT_DIR [--chain N] [--fan N]

Files written:
  chain.yml    W1: N-step chain of /bin/true, each step reading the previous
               step's output; settings.force_rerun so nothing is reused.
  empty.yml    W1 "empty run": one /bin/true step, force_rerun (the fixed cost
               of a submit --wait round trip, subtracted from W1).
  fanout.yml   W2/W3: N independent `/bin/true K` steps (distinct parameter,
               hence distinct cache keys) plus a `join` step that takes all N
               outputs as inputs. No force_rerun, so a re-submit reuses all.
  startup.yml  embedded start-up: one `command: /bin/true` step.

Python 3 standard library only.
"""
import argparse
import os


def chain(n):
    lines = ["type: pipeline", "settings:", "  force_rerun: true", "jobs:"]
    for i in range(n):
        lines.append(f"  s{i}:")
        lines.append("    command: /bin/true")
        if i > 0:
            lines.append(f'    inputs: {{x: "${{{{parent.jobs.s{i - 1}.outputs.o}}}}"}}')
        lines.append("    outputs: {o: }")
    return "\n".join(lines) + "\n"


def empty():
    return "\n".join([
        "type: pipeline",
        "settings:",
        "  force_rerun: true",
        "jobs:",
        "  s0:",
        "    command: /bin/true",
        "    outputs: {o: }",
    ]) + "\n"


def fanout(n):
    lines = ["type: pipeline", "jobs:"]
    for i in range(n):
        lines.append(f"  t{i}:")
        lines.append("    command: /bin/true ${{inputs.n}}")
        lines.append(f"    inputs: {{n: {i + 1}}}")
        lines.append("    outputs: {o: }")
    lines.append("  join:")
    lines.append("    command: /bin/true")
    lines.append("    inputs:")
    for i in range(n):
        lines.append(f'      x{i}: "${{{{parent.jobs.t{i}.outputs.o}}}}"')
    lines.append("    outputs: {o: }")
    return "\n".join(lines) + "\n"


def startup():
    return "\n".join([
        "type: pipeline",
        "jobs:",
        "  only:",
        "    command: /bin/true",
    ]) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--chain", type=int, default=200)
    ap.add_argument("--fan", type=int, default=1000)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    files = {
        "chain.yml": chain(a.chain),
        "empty.yml": empty(),
        "fanout.yml": fanout(a.fan),
        "startup.yml": startup(),
    }
    for name, text in files.items():
        with open(os.path.join(a.out_dir, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
