"""Time scikit-learn's learners on the benchmark data of Tributary's built-in ones.

    python libs/learn/bench/sklearn_bench.py [--model lr|hgb|all] [--rows 1000000]
                                             [--holdout 200000] [--repeat 3]

prints one JSON line per model: the fit times in seconds of each repeat, the
best of them, and the holdout AUC. The Go benchmarks (libs/learn/linear's
BenchmarkTrainLogistic1M, and the GBDT's) generate the very same rows with
learntest.Synthetic, so both sides train on the same data.

    python libs/learn/bench/sklearn_bench.py --write-check libs/learn/testdata/synthetic_check.json

writes the first rows and the label count that learntest's test compares
with its own generator.

The generator (keep it identical to learntest/synthetic.go): for seed s and
k = 0, 1, ..., u(k) is splitmix64 of s + (k+1)·0x9E3779B97F4A7C15, its top 53
bits as a number in [0, 1). Row i uses u(i·(C+2) + j) for j < C+2. With
v_j = 2u_j - 1 in [-1, 1): x_ij = v_j · 2^(j mod 5 - 2) + j (features of
different scales and offsets); the logit is Σ_j ((j mod 7) - 3)/2 · v_j,
summed in order of j, plus 1.5 · v_0 · v_1; the label is 1 when
logit + 3 · (u_C + u_{C+1} - 1) > 0. Every step is one IEEE operation, so
numpy and Go give the same bits.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

SEED = 20261201
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def uniforms(seed, start, count):
    k = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (k + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def synthetic(rows, cols, seed, first_row=0):
    u = uniforms(seed, first_row * (cols + 2), rows * (cols + 2)).reshape(rows, cols + 2)
    v = 2.0 * u - 1.0
    X = np.empty((rows, cols))
    logit = np.zeros(rows)
    for j in range(cols):
        X[:, j] = v[:, j] * (2.0 ** (j % 5 - 2)) + float(j)
        logit = logit + ((j % 7) - 3) / 2.0 * v[:, j]
    logit = logit + 1.5 * (v[:, 0] * v[:, 1])
    noise = 3.0 * ((u[:, cols] + u[:, cols + 1]) - 1.0)
    y = ((logit + noise) > 0).astype(np.float64)
    return X, y


def write_check(path):
    X, y = synthetic(100_000, 20, SEED)
    Xh, yh = synthetic(5, 20, SEED, first_row=1_000_000)
    with open(path, "w") as f:
        json.dump({
            "seed": SEED, "rows": 100_000, "cols": 20,
            "first_rows_x": X[:5].ravel().tolist(), "first_rows_y": y[:5].tolist(),
            "positives": int(y.sum()), "x_sum": float(X.sum()),
            "rows_from_1000000_x": Xh.ravel().tolist(), "rows_from_1000000_y": yh.tolist(),
        }, f)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all", choices=["lr", "hgb", "all"])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--holdout", type=int, default=200_000)
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write-check")
    args = ap.parse_args()
    if args.write_check:
        write_check(args.write_check)
        return

    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_info

    X, y = synthetic(args.rows, args.cols, SEED)
    Xh, yh = synthetic(args.holdout, args.cols, SEED, first_row=args.rows)
    models = {
        # Standardized like the built-in learner, scikit-learn's defaults otherwise.
        "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
        # The parameters of the fixtures' reference (early stopping off).
        "hgb": lambda: HistGradientBoostingClassifier(early_stopping=False, random_state=0),
    }
    names = ["lr", "hgb"] if args.model == "all" else [args.model]
    blas = [(i.get("internal_api"), i.get("num_threads"), i.get("architecture")) for i in threadpool_info()]
    for name in names:
        times = []
        for _ in range(args.repeat):
            m = models[name]()
            t0 = time.perf_counter()
            m.fit(X, y)
            times.append(time.perf_counter() - t0)
        auc = roc_auc_score(yh, m.predict_proba(Xh)[:, 1])
        print(json.dumps({
            "model": name, "rows": args.rows, "cols": args.cols, "seconds": times,
            "best_seconds": min(times), "holdout_auc": auc, "sklearn": sklearn.__version__,
            "cpus": os.cpu_count(), "threadpools": blas,
        }))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
