"""Step `profile`: summary statistics of the raw table.

Inputs:  --raw_data (uri_file, CSV)
Outputs: --stats/stats.json (uri_folder): per numeric column mean/std/min/max,
         per text column the count of each value.
"""
import argparse
import os

import numpy as np

from common import output_dir, read_raw, require_file, write_json


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--raw_data", required=True)
    p.add_argument("--stats", required=True)
    a = p.parse_args()

    header, rows = read_raw(require_file(a.raw_data, "--raw_data"))
    print(f"profile: read {len(rows)} rows, {len(header)} columns from {a.raw_data}")
    columns = {}
    for j, name in enumerate(header):
        raw = [row[j] for row in rows]
        try:
            v = np.array([float(x) for x in raw])
        except ValueError:
            values, counts = np.unique(raw, return_counts=True)
            columns[name] = {"kind": "category",
                             "counts": {str(k): int(c) for k, c in zip(values, counts)}}
            print(f"profile: {name:<24} category, {len(values)} values")
            continue
        columns[name] = {"kind": "numeric", "mean": round(float(v.mean()), 4),
                         "std": round(float(v.std()), 4),
                         "min": float(v.min()), "max": float(v.max())}
        c = columns[name]
        print(f"profile: {name:<24} mean={c['mean']:<10g} std={c['std']:<10g} min={c['min']:<8g} max={c['max']:g}")

    out = os.path.join(output_dir(a.stats), "stats.json")
    write_json(out, {"rows": len(rows), "columns": columns})
    print(f"profile: wrote {out}")


if __name__ == "__main__":
    main()
