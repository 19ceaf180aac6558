"""The scikit-learn side of the GBDT training benchmark (bench_test.go).

  bench_sklearn.py gen DIR ROWS COLS SEED
      make_classification(ROWS, COLS, n_informative=10, n_redundant=5,
      random_state=SEED) written to DIR/x.f64 (row-major float64,
      little-endian) and DIR/y.f64.
  bench_sklearn.py fit DIR ROWS COLS TRAIN
      fits HistGradientBoostingClassifier (defaults: max_iter 100, 31 leaves,
      early stopping auto, all cores) on the first TRAIN rows, scores the
      others, and prints one JSON line:
      {"seconds": fit wall time, "cpu_seconds": fit CPU time of all threads,
       "auc": holdout AUC, "n_iter": iterations}.
"""

import json
import sys
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score


def main():
    mode, d, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if mode == "gen":
        seed = int(sys.argv[5])
        x, y = make_classification(
            n_samples=rows, n_features=cols, n_informative=10, n_redundant=5,
            random_state=seed,
        )
        x.astype("<f8").tofile(f"{d}/x.f64")
        y.astype("<f8").tofile(f"{d}/y.f64")
        return
    x = np.fromfile(f"{d}/x.f64", dtype="<f8").reshape(rows, cols)
    y = np.fromfile(f"{d}/y.f64", dtype="<f8")
    cut = int(sys.argv[5])
    clf = HistGradientBoostingClassifier(random_state=0)
    start, cpu = time.perf_counter(), time.process_time()
    clf.fit(x[:cut], y[:cut])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    auc = roc_auc_score(y[cut:], clf.predict_proba(x[cut:])[:, 1])
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "auc": auc, "n_iter": int(clf.n_iter_)}))


if __name__ == "__main__":
    main()
