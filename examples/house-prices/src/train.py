"""Step `train`: ridge regression in closed form on standardized features.

Inputs:  --train_data (uri_folder with data.csv from prep), --alpha,
         optional --max_features (keep the k features most correlated with price)
Outputs: --model_output/model.json (uri_folder)
"""
import argparse
import os

import numpy as np

from common import fail, int_arg, load_split, output_dir, write_json


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train_data", required=True)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--max_features", type=int_arg, default=None)
    p.add_argument("--model_output", required=True)
    a = p.parse_args()

    if a.alpha < 0:
        fail(f"--alpha must be >= 0, got {a.alpha}")
    names, X, y = load_split(a.train_data, "--train_data")
    print(f"train: {X.shape[0]} rows, {X.shape[1]} features, alpha={a.alpha}")

    if a.max_features is not None:
        if a.max_features < 1:
            fail(f"--max_features must be >= 1, got {a.max_features}")
        sx = X.std(axis=0)
        corr = np.zeros(X.shape[1])
        ok = sx > 0
        corr[ok] = np.abs(((X[:, ok] - X[:, ok].mean(0)) * (y - y.mean())[:, None]).mean(0)
                          / (sx[ok] * y.std()))
        keep = sorted(np.argsort(-corr, kind="stable")[: a.max_features])
        names = [names[i] for i in keep]
        X = X[:, keep]
        print(f"train: max_features={a.max_features} -> using {', '.join(names)}")
    else:
        print("train: using all features")

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    bias = float(y.mean())
    weights = np.linalg.solve(Z.T @ Z + a.alpha * np.eye(Z.shape[1]), Z.T @ (y - bias))

    pred = Z @ weights + bias
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    print(f"train: training RMSE = {rmse:.3f}")
    for n, w in sorted(zip(names, weights), key=lambda t: -abs(t[1])):
        print(f"train:   {n:<28} {w:+9.3f}")

    out = os.path.join(output_dir(a.model_output), "model.json")
    write_json(out, {
        "kind": "ridge",
        "alpha": a.alpha,
        "features": names,
        "weights": [float(w) for w in weights],
        "bias": bias,
        "standardization": {"mean": [float(m) for m in mean], "scale": [float(s) for s in scale]},
        "train_rows": int(X.shape[0]),
        "train_rmse": rmse,
    })
    print(f"train: wrote {out}")


if __name__ == "__main__":
    main()
