#!/usr/bin/env python3
"""Write hostile pipeline files (and one ordinary pipeline as the baseline) into a directory.

Usage: python3 benchmarks/hostile.py OUT_DIR

Every hostile-*.yml must be refused by `conduit validate` (exit status 2) quickly and in bounded memory;
normal.yml must validate. Python 3 standard library only.
"""
import os
import sys


def step(name, command, extra=""):
    return f"  {name}:\n    command: {command}\n{extra}"


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {}

    # Baseline: an ordinary five-step pipeline with parameters, bindings and outputs.
    normal = ["type: pipeline", "inputs:", "  rate: 0.5", "  epochs: 10", "jobs:"]
    for i in range(5):
        normal.append(f"  s{i}:")
        normal.append(f"    command: echo ${{{{inputs.rate}}}} ${{{{inputs.epochs}}}} > ${{{{outputs.o}}}}/x")
        normal.append("    inputs: {rate: '${{parent.inputs.rate}}', epochs: '${{parent.inputs.epochs}}'}")
        normal.append("    outputs: {o: }")
        normal.append("    limits: {timeout: 600}")
    files["normal.yml"] = "\n".join(normal) + "\n"

    # Alias bomb: nine levels of ten aliases each (10^9 nodes if expanded).
    bomb = "type: pipeline\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    previous = "a"
    for name in "bcdefghij":
        bomb += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
        previous = name
    files["hostile-alias-bomb.yml"] = bomb + "jobs: {a: {command: echo}}\n"

    # Deep nesting: 100,000 open brackets.
    files["hostile-deep-nesting.yml"] = "type: pipeline\njobs: " + "[" * 100_000 + "]" * 100_000 + "\n"

    # Huge documents: one just under the 4 MiB limit made of 1.3 million scalars, one just over it.
    items = ", ".join(["1"] * 1_300_000)
    files["hostile-many-nodes.yml"] = "type: pipeline\nx: [" + items + "]\njobs: {a: {command: echo}}\n"
    files["hostile-over-4mib.yml"] = "# " + "x" * (4 * 1024 * 1024) + "\ntype: pipeline\n"

    # Huge numbers: a 10,000-digit integer as a parameter and as limits.timeout; 1e999999 as a timeout;
    # a float that overflows to infinity against a declared maximum.
    digits = "9" + "0" * 9_999
    files["hostile-huge-int-parameter.yml"] = (
        "type: pipeline\njobs:\n" + step("a", "echo ${{inputs.n}}", f"    inputs: {{n: {digits}}}\n"))
    files["hostile-huge-int-timeout.yml"] = (
        "type: pipeline\njobs:\n" + step("a", "echo", f"    limits: {{timeout: {digits}}}\n"))
    files["hostile-exponent-timeout.yml"] = (
        "type: pipeline\njobs:\n" + step("a", "echo", "    limits: {timeout: 1e999999}\n"))
    files["hostile-infinite-timeout.yml"] = (
        "type: pipeline\njobs:\n" + step("a", "echo", "    limits: {timeout: 1.0e+999999}\n"))

    for name, text in files.items():
        with open(os.path.join(out, name), "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
