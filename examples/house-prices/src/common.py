"""Helpers shared by the house-prices steps (numpy + stdlib only)."""
import csv
import json
import os
import sys

import numpy as np

TARGET = "price"


def fail(message):
    """Print a clear error to stderr and exit with status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def require_file(path, what):
    if not os.path.isfile(path):
        fail(f"{what}: file not found: {path}")
    return path


def require_dir(path, what):
    if not os.path.isdir(path):
        fail(f"{what}: folder not found: {path}")
    return path


def output_dir(path):
    """Output folders normally exist already (and are empty); create them if not."""
    os.makedirs(path, exist_ok=True)
    return path


def int_arg(value):
    """Integer parameters may arrive as '42' or '42.0' (Azure ML parses with int(float(v)))."""
    return int(float(value))


def read_raw(path):
    """Read a CSV into (header, list of row lists of strings)."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            fail(f"{path} is empty")
        rows = [row for row in reader if row]
    for i, row in enumerate(rows, start=2):
        if len(row) != len(header):
            fail(f"{path}, line {i}: expected {len(header)} fields, got {len(row)}")
    return header, rows


def write_table(path, header, matrix):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row in matrix:
            w.writerow([f"{v:.6g}" for v in row])


def load_split(folder, what):
    """Load <folder>/data.csv as written by prep.py: (feature names, X, y)."""
    path = require_file(os.path.join(require_dir(folder, what), "data.csv"), what)
    header, rows = read_raw(path)
    if not rows:
        fail(f"{path} has no data rows")
    if header[-1] != TARGET:
        fail(f"{path}: last column must be '{TARGET}', got '{header[-1]}'")
    table = np.array([[float(v) for v in row] for row in rows])
    return header[:-1], table[:, :-1], table[:, -1]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
