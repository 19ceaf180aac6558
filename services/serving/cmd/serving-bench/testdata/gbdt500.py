"""Writes gbdt500.txt.gz: the serving benchmark's GBDT, a LightGBM binary
classifier of 500 trees (31 leaves) over the benchmark view's 20 features
(services/serving/cmd/serving-bench), trained on synthetic data shaped like
them (counts, sums, means, minima and maxima of x in [0, 100) over 5m, 1h,
1d and 7d), so that the trees split where the served values fall.

    python gbdt500.py   # lightgbm 4.7.0 (deploy/local/python/requirements.txt)
"""
import gzip
import os

import lightgbm as lgb
import numpy as np

AGGS = ["c", "sum", "mean", "min", "max"]
WINDOWS = ["5m", "1h", "1d", "7d"]
NAMES = [f"{a}_{w}" for a in AGGS for w in WINDOWS]


def main():
    rng = np.random.default_rng(7)
    n = 20000
    cols = []
    for a in AGGS:
        for k, _ in enumerate(WINDOWS):
            count = rng.poisson([2, 25, 100, 100][k], n).astype(float)
            if a == "c":
                cols.append(count)
            elif a == "sum":
                cols.append(count * rng.uniform(0, 100, n))
            elif a == "mean":
                cols.append(rng.uniform(0, 100, n))
            elif a == "min":
                cols.append(rng.uniform(0, 30, n))
            else:
                cols.append(rng.uniform(70, 100, n))
    X = np.column_stack(cols)
    logit = 0.02 * (X[:, 8] - 50) + 0.05 * (X[:, 1] - 25) - 0.03 * (X[:, 15] - 85) + rng.normal(0, 1, n)
    y = (logit > 0).astype(int)
    ds = lgb.Dataset(X, y, feature_name=NAMES)
    booster = lgb.train({"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 20,
                         "seed": 7, "deterministic": True, "num_threads": 1, "verbose": -1}, ds, num_boost_round=500)
    assert booster.num_trees() == 500
    text = booster.model_to_string()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gbdt500.txt.gz")
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(text.encode())


if __name__ == "__main__":
    main()
