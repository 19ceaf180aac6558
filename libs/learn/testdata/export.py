"""Export the reference fixtures of Tributary's built-in learners.

Run once, from a virtual environment built from
deploy/local/python/requirements.txt (scikit-learn 1.9.1, numpy 2.5.5):

    python libs/learn/testdata/export.py [outdir]

It writes into outdir (default: the folder of this script), and the Go tests
read the files from there (libs/learn/learntest):

    <name>.json      header: shape, task, feature names, split, encoding
    <name>.bin.gz    the data, gzip-compressed (layout below)
    reference.json   scikit-learn's holdout figures and fitted models on the
                     same data and split, with the estimators' parameters
    metrics.json     metric test vectors (inputs and scikit-learn's values)

Data sets:

    breast_cancer    scikit-learn's bundled breast-cancer data, 569 x 30, binary
    classification   make_classification, 100k x 20, binary, seeded, 8
                     informative and 4 redundant features, 5% label noise
    regression       make_regression's X (100k x 20, seeded), y = the linear
                     target of make_regression plus a Friedman-style
                     non-linear part (sin of a product, a square, an
                     absolute value) and Gaussian noise, so that trees matter
    multiclass       make_classification, 5000 x 10, 4 classes, seeded

Split: the first 80% of the rows (in the order stored) train, the last 20%
are the holdout, like a time-ordered split; every learner, here and in Go,
uses the same split ("holdout_start" in the header).

Encoding (compact, so the committed files stay small): each feature column is
quantized to int16 with its own affine map, x = offset + scale * q, computed
in float64. The references below are computed on exactly these dequantized
values, so Go and scikit-learn see the same numbers. The file holds, in
order: the columns one after another (column-major), each as Rows int16
little-endian; then the labels, as Rows uint8 (classes) or Rows float32
little-endian (regression). Labels are exact; a regression label is the
float32 of the target, and the references use that float32 value too.
"""

import gzip
import json
import os
import sys

import numpy as np
import sklearn
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HOLDOUT_FRACTION = 0.2
FORMAT = "tributary.fixture"
VERSION = 1

LR_PARAMS = {"C": 1.0, "max_iter": 1000, "tol": 1e-6}
HGB_PARAMS = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "max_bins": 255,
    "early_stopping": False,
    "random_state": 0,
}
RIDGE_PARAMS = {"alpha": 1.0}


def quantize(X):
    """Quantize each column to int16: x = offset + scale * q."""
    lo = X.min(axis=0)
    hi = X.max(axis=0)
    offset = (lo + hi) / 2.0
    scale = (hi - lo) / 65534.0
    scale[scale == 0] = 1.0
    q = np.rint((X - offset) / scale)
    q = np.clip(q, -32767, 32767).astype(np.int16)
    return q, offset, scale


def dequantize(q, offset, scale):
    return offset + scale * q.astype(np.float64)


def write_fixture(outdir, name, task, X, y, features, description):
    rows, cols = X.shape
    q, offset, scale = quantize(X)
    Xd = dequantize(q, offset, scale)
    if task == "regression":
        yd = y.astype(np.float32)
        ybytes = yd.astype("<f4").tobytes()
        yenc = "float32le"
        yd = yd.astype(np.float64)
    else:
        yd = y.astype(np.uint8)
        ybytes = yd.tobytes()
        yenc = "uint8"
        yd = yd.astype(np.float64)
    payload = np.ascontiguousarray(q.T).astype("<i2").tobytes() + ybytes
    data_file = name + ".bin.gz"
    # mtime=0 keeps the file byte-for-byte reproducible.
    with open(os.path.join(outdir, data_file), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
            f.write(payload)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "description": description,
        "task": task,
        "rows": rows,
        "cols": cols,
        "classes": int(len(np.unique(yd))) if task != "regression" else 0,
        "features": list(features),
        "holdout_start": rows - int(round(rows * HOLDOUT_FRACTION)),
        "data": data_file,
        "x_encoding": "int16le-affine-colmajor",
        "x_offset": offset.tolist(),
        "x_scale": scale.tolist(),
        "y_encoding": yenc,
    }
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    return Xd, yd, header["holdout_start"]


def breast_cancer():
    d = load_breast_cancer()
    names = [n.replace(" ", "_") for n in d.feature_names]
    return d.data, d.target, names, "scikit-learn load_breast_cancer"


def classification():
    X, y = make_classification(
        n_samples=100_000,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        n_repeated=0,
        n_classes=2,
        n_clusters_per_class=3,
        flip_y=0.05,
        class_sep=0.8,
        random_state=20261201,
    )
    names = ["f%02d" % i for i in range(20)]
    desc = ("make_classification(n_samples=100000, n_features=20, n_informative=8, "
            "n_redundant=4, n_clusters_per_class=3, flip_y=0.05, class_sep=0.8, "
            "random_state=20261201)")
    return X, y, names, desc


def multiclass():
    X, y = make_classification(
        n_samples=5_000,
        n_features=10,
        n_informative=6,
        n_redundant=2,
        n_classes=4,
        n_clusters_per_class=2,
        flip_y=0.03,
        class_sep=1.0,
        random_state=20261204,
    )
    names = ["f%02d" % i for i in range(10)]
    desc = ("make_classification(n_samples=5000, n_features=10, n_informative=6, "
            "n_redundant=2, n_classes=4, n_clusters_per_class=2, flip_y=0.03, "
            "class_sep=1.0, random_state=20261204)")
    return X, y, names, desc


def regression():
    X, y_lin = make_regression(
        n_samples=100_000,
        n_features=20,
        n_informative=10,
        noise=0.0,
        random_state=20261202,
    )
    rng = np.random.RandomState(20261203)
    nonlin = (10.0 * np.sin(np.pi * X[:, 0] * X[:, 1])
              + 20.0 * (X[:, 2] - 0.5) ** 2
              + 10.0 * np.abs(X[:, 3])
              + 5.0 * np.maximum(X[:, 4], 0.0) * X[:, 5])
    y = 0.2 * y_lin + nonlin + rng.normal(scale=5.0, size=len(y_lin))
    names = ["f%02d" % i for i in range(20)]
    desc = ("make_regression(n_samples=100000, n_features=20, n_informative=10, "
            "random_state=20261202) X; y = 0.2*y_linear + 10 sin(pi x0 x1) + "
            "20 (x2-0.5)^2 + 10 |x3| + 5 max(x4,0) x5 + N(0, 5^2) noise (seed 20261203)")
    return X, y, names, desc


def reference_multiclass(X, y, split):
    Xtr, ytr, Xho, yho = X[:split], y[:split], X[split:], y[split:]
    lr = make_pipeline(StandardScaler(), LogisticRegression(**LR_PARAMS))
    lr.fit(Xtr, ytr)
    p_lr = lr.predict_proba(Xho)
    scaler = lr.named_steps["standardscaler"]
    est = lr.named_steps["logisticregression"]
    hgb = HistGradientBoostingClassifier(**HGB_PARAMS)
    hgb.fit(Xtr, ytr)
    p_hgb = hgb.predict_proba(Xho)

    def figures(p):
        return {
            "holdout_auc": metrics.roc_auc_score(yho, p, multi_class="ovr", average="macro"),
            "holdout_log_loss": metrics.log_loss(yho, y_proba=p),
            "holdout_accuracy": metrics.accuracy_score(yho, p.argmax(axis=1)),
        }

    return {
        "logistic_regression": {
            "estimator": "StandardScaler + LogisticRegression (multinomial)",
            "params": LR_PARAMS,
            **figures(p_lr),
            "train_mean": scaler.mean_.tolist(),
            "train_std": scaler.scale_.tolist(),
            # Class after class, as the Go model stores them.
            "coef_standardized": est.coef_.ravel().tolist(),
            "intercepts": est.intercept_.tolist(),
            "iterations": int(est.n_iter_[0]),
        },
        "hist_gradient_boosting": {
            "estimator": "HistGradientBoostingClassifier",
            "params": HGB_PARAMS,
            **figures(p_hgb),
        },
    }


def reference_classification(X, y, split):
    Xtr, ytr, Xho, yho = X[:split], y[:split], X[split:], y[split:]
    lr = make_pipeline(StandardScaler(), LogisticRegression(**LR_PARAMS))
    lr.fit(Xtr, ytr)
    p_lr = lr.predict_proba(Xho)[:, 1]
    scaler = lr.named_steps["standardscaler"]
    est = lr.named_steps["logisticregression"]
    hgb = HistGradientBoostingClassifier(**HGB_PARAMS)
    hgb.fit(Xtr, ytr)
    p_hgb = hgb.predict_proba(Xho)[:, 1]
    return {
        "logistic_regression": {
            "estimator": "StandardScaler + LogisticRegression",
            "params": LR_PARAMS,
            "holdout_auc": metrics.roc_auc_score(yho, p_lr),
            "holdout_log_loss": metrics.log_loss(yho, y_proba=p_lr),
            "holdout_accuracy": metrics.accuracy_score(yho, p_lr >= 0.5),
            "train_mean": scaler.mean_.tolist(),
            "train_std": scaler.scale_.tolist(),
            "coef_standardized": est.coef_[0].tolist(),
            "intercept": float(est.intercept_[0]),
            "iterations": int(est.n_iter_[0]),
        },
        "hist_gradient_boosting": {
            "estimator": "HistGradientBoostingClassifier",
            "params": HGB_PARAMS,
            "holdout_auc": metrics.roc_auc_score(yho, p_hgb),
            "holdout_log_loss": metrics.log_loss(yho, y_proba=p_hgb),
            "holdout_accuracy": metrics.accuracy_score(yho, p_hgb >= 0.5),
        },
    }


def reference_regression(X, y, split):
    Xtr, ytr, Xho, yho = X[:split], y[:split], X[split:], y[split:]
    ridge = Ridge(**RIDGE_PARAMS).fit(Xtr, ytr)
    p_ridge = ridge.predict(Xho)
    hgb = HistGradientBoostingRegressor(**HGB_PARAMS).fit(Xtr, ytr)
    p_hgb = hgb.predict(Xho)

    def figures(p):
        return {
            "holdout_r2": metrics.r2_score(yho, p),
            "holdout_mae": metrics.mean_absolute_error(yho, p),
            "holdout_rmse": metrics.root_mean_squared_error(yho, p),
        }

    return {
        "ridge": {
            "estimator": "Ridge (raw inputs, unpenalized intercept)",
            "params": RIDGE_PARAMS,
            **figures(p_ridge),
            "coef": ridge.coef_.tolist(),
            "intercept": float(ridge.intercept_),
        },
        "hist_gradient_boosting": {
            "estimator": "HistGradientBoostingRegressor",
            "params": HGB_PARAMS,
            **figures(p_hgb),
        },
    }


def metric_vectors():
    """Inputs with ties and scikit-learn's values for each metric."""
    rng = np.random.RandomState(7)
    cases = []
    # Binary scores rounded to one decimal, so there are many ties.
    for i, (n, decimals) in enumerate([(50, 1), (200, 2), (1000, 1), (7, 3)]):
        y = rng.randint(0, 2, size=n)
        if i == 3:
            y[:2] = [0, 1]
        s = np.round(np.clip(rng.beta(2, 2, size=n) * 0.6 + 0.4 * y * rng.rand(n), 1e-6, 1 - 1e-6), decimals)
        s = np.clip(s, 1e-6, 1 - 1e-6)
        pred = (s >= 0.5).astype(int)
        cases.append({
            "name": "binary_%d" % i,
            "y_true": y.tolist(),
            "y_score": s.tolist(),
            "roc_auc": metrics.roc_auc_score(y, s),
            "log_loss": metrics.log_loss(y, y_proba=s),
            "accuracy": metrics.accuracy_score(y, pred),
            "precision": metrics.precision_score(y, pred, zero_division=0),
            "recall": metrics.recall_score(y, pred, zero_division=0),
            "f1": metrics.f1_score(y, pred, zero_division=0),
        })
    # All scores tied: AUC is 0.5.
    y = np.array([0, 1, 0, 1, 1])
    s = np.full(5, 0.3)
    cases.append({
        "name": "binary_all_tied",
        "y_true": y.tolist(),
        "y_score": s.tolist(),
        "roc_auc": metrics.roc_auc_score(y, s),
        "log_loss": metrics.log_loss(y, y_proba=s),
        "accuracy": metrics.accuracy_score(y, s >= 0.5),
        "precision": metrics.precision_score(y, s >= 0.5, zero_division=0),
        "recall": metrics.recall_score(y, s >= 0.5, zero_division=0),
        "f1": metrics.f1_score(y, s >= 0.5, zero_division=0),
    })
    regression_cases = []
    for i, n in enumerate([30, 500]):
        y = rng.normal(size=n) * 3 + 1
        p = y + rng.normal(size=n)
        regression_cases.append({
            "name": "regression_%d" % i,
            "y_true": y.tolist(),
            "y_pred": p.tolist(),
            "r2": metrics.r2_score(y, p),
            "mae": metrics.mean_absolute_error(y, p),
            "rmse": metrics.root_mean_squared_error(y, p),
        })
    multiclass_cases = []
    for i, (n, k) in enumerate([(60, 3), (400, 4)]):
        y = np.concatenate([np.arange(k), rng.randint(0, k, size=n - k)])
        raw = np.round(rng.rand(n, k) + np.eye(k)[y] * 0.5, 1)
        p = raw / raw.sum(axis=1, keepdims=True)
        multiclass_cases.append({
            "name": "multiclass_%d" % i,
            "classes": k,
            "y_true": y.tolist(),
            "y_proba": p.ravel().tolist(),
            "roc_auc_ovr_macro": metrics.roc_auc_score(y, p, multi_class="ovr", average="macro"),
            "log_loss": metrics.log_loss(y, y_proba=p, labels=list(range(k))),
            "accuracy": metrics.accuracy_score(y, p.argmax(axis=1)),
        })
    return {"binary": cases, "regression": regression_cases, "multiclass": multiclass_cases}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    reference = {
        "format": "tributary.fixture.reference",
        "version": VERSION,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "datasets": {},
    }
    for name, make, task in [
        ("breast_cancer", breast_cancer, "binary"),
        ("classification", classification, "binary"),
        ("regression", regression, "regression"),
        ("multiclass", multiclass, "multiclass"),
    ]:
        X, y, names, desc = make()
        Xd, yd, split = write_fixture(outdir, name, task, X, y, names, desc)
        if task == "regression":
            reference["datasets"][name] = reference_regression(Xd, yd, split)
        elif task == "multiclass":
            reference["datasets"][name] = reference_multiclass(Xd, yd, split)
        else:
            reference["datasets"][name] = reference_classification(Xd, yd, split)
        print(name, json.dumps(reference["datasets"][name], default=str)[:400], file=sys.stderr)
    with open(os.path.join(outdir, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    with open(os.path.join(outdir, "metrics.json"), "w") as f:
        json.dump(metric_vectors(), f)
        f.write("\n")


if __name__ == "__main__":
    main()
