"""Step `evaluate`: score the model on the held-out rows.

Inputs:  --model_input (uri_folder with model.json), --test_data (uri_folder with data.csv)
Outputs: --metrics/metrics.json (uri_folder) with rmse, mae, r2, test_rows.
If CONDUIT_METRICS_FILE is set, also appends one JSON line per metric to it:
    {"name": "rmse", "value": 12.3}
"""
import argparse
import json
import os

import numpy as np

from common import fail, load_split, output_dir, require_dir, require_file, write_json


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model_input", required=True)
    p.add_argument("--test_data", required=True)
    p.add_argument("--metrics", required=True)
    a = p.parse_args()

    model_path = require_file(os.path.join(require_dir(a.model_input, "--model_input"), "model.json"),
                              "--model_input")
    with open(model_path) as f:
        model = json.load(f)
    names, X, y = load_split(a.test_data, "--test_data")
    missing = [n for n in model["features"] if n not in names]
    if missing:
        fail(f"--test_data lacks model features: {', '.join(missing)}")
    X = X[:, [names.index(n) for n in model["features"]]]
    print(f"evaluate: model with {len(model['features'])} features (alpha={model['alpha']}), "
          f"{X.shape[0]} test rows")

    std = model["standardization"]
    Z = (X - np.array(std["mean"])) / np.array(std["scale"])
    pred = Z @ np.array(model["weights"]) + model["bias"]
    err = pred - y
    rmse = float(np.sqrt(np.mean(err ** 2)))
    mae = float(np.mean(np.abs(err)))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err ** 2)) / ss_tot if ss_tot > 0 else 0.0
    metrics = {"rmse": round(rmse, 4), "mae": round(mae, 4), "r2": round(r2, 4),
               "test_rows": int(X.shape[0])}
    print(f"evaluate: rmse={metrics['rmse']} mae={metrics['mae']} r2={metrics['r2']} "
          f"test_rows={metrics['test_rows']}")

    out = os.path.join(output_dir(a.metrics), "metrics.json")
    write_json(out, metrics)
    print(f"evaluate: wrote {out}")

    sink = os.environ.get("CONDUIT_METRICS_FILE")
    if sink:
        with open(sink, "a") as f:
            for name, value in metrics.items():
                f.write(json.dumps({"name": name, "value": value}) + "\n")
        print(f"evaluate: appended {len(metrics)} metrics to {sink}")


if __name__ == "__main__":
    main()
