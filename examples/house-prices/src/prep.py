"""Step `prep`: one-hot encode the neighbourhood and split train/test.

Inputs:  --raw_data (uri_file, CSV), --test_fraction, --seed
Outputs: --train_data/data.csv, --test_data/data.csv (uri_folder each)
"""
import argparse
import os

import numpy as np

from common import TARGET, fail, int_arg, output_dir, read_raw, require_file, write_table

CATEGORY = "neighbourhood"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--raw_data", required=True)
    p.add_argument("--test_fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int_arg, default=0)
    p.add_argument("--train_data", required=True)
    p.add_argument("--test_data", required=True)
    a = p.parse_args()

    if not 0.0 < a.test_fraction < 1.0:
        fail(f"--test_fraction must be between 0 and 1, got {a.test_fraction}")
    header, rows = read_raw(require_file(a.raw_data, "--raw_data"))
    for col in (CATEGORY, TARGET):
        if col not in header:
            fail(f"{a.raw_data}: missing column '{col}' (columns: {', '.join(header)})")
    print(f"prep: read {len(rows)} rows, {len(header)} columns from {a.raw_data}")

    cat_idx = header.index(CATEGORY)
    target_idx = header.index(TARGET)
    numeric = [i for i in range(len(header)) if i not in (cat_idx, target_idx)]
    categories = sorted({row[cat_idx] for row in rows})
    print(f"prep: one-hot encoding '{CATEGORY}' into {len(categories)} columns: {', '.join(categories)}")

    out_header = [header[i] for i in numeric] + [f"{CATEGORY}_{c}" for c in categories] + [TARGET]
    table = []
    for n, row in enumerate(rows, start=2):
        try:
            values = [float(row[i]) for i in numeric]
            target = float(row[target_idx])
        except ValueError as e:
            fail(f"{a.raw_data}, line {n}: {e}")
        onehot = [1.0 if row[cat_idx] == c else 0.0 for c in categories]
        table.append(values + onehot + [target])
    table = np.array(table)

    rng = np.random.default_rng(a.seed)
    order = rng.permutation(len(table))
    n_test = max(1, int(round(len(table) * a.test_fraction)))
    if n_test >= len(table):
        fail(f"--test_fraction {a.test_fraction} leaves no training rows")
    test, train = table[order[:n_test]], table[order[n_test:]]

    write_table(os.path.join(output_dir(a.train_data), "data.csv"), out_header, train)
    write_table(os.path.join(output_dir(a.test_data), "data.csv"), out_header, test)
    print(f"prep: seed={a.seed} test_fraction={a.test_fraction} -> {len(train)} train rows, {len(test)} test rows")
    print(f"prep: wrote {a.train_data}/data.csv and {a.test_data}/data.csv")


if __name__ == "__main__":
    main()
