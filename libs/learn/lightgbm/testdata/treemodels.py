"""Golden vectors for the LightGBM and XGBoost model loaders.

Trains LightGBM and XGBoost models on seeded synthetic data with NaNs, a
feature that has no NaN in training (LightGBM missing type None), a feature
full of exact zeros (zero_as_missing) and two categorical columns, then writes
each model file, the shared test inputs and the library's own predict()
output for them. The Go tests in libs/learn/lightgbm and libs/learn/xgboost
compare their predictions to these.

usage (from a virtual environment with deploy/local/python/requirements.txt):
    python treemodels.py current LIGHTGBM_DIR XGBOOST_DIR
        lightgbm 4.x (version=v4) and xgboost 3.x JSON models
    python treemodels.py legacy LIGHTGBM_DIR XGBOOST_DIR
        lightgbm 3.3.5 (version=v3) and xgboost 2.1.x JSON models; run from a
        second venv (python3.11: lightgbm==3.3.5 xgboost-cpu==2.1.4
        numpy==1.26.4 scipy==1.13.1), after `current` wrote inputs.csv;
        from a third (python3.8: numpy==1.24.4 scipy==1.10.1
        scikit-learn==1.3.2 lightgbm==2.1.2) with XGBOOST_DIR "-", lightgbm
        2.1 (version=v2) models
    A directory given as "-" skips that library. The Go tests run `current`
    into a temporary directory when TRIBUTARY_PYTHON is set (make test).

Outputs per model NAME: NAME.txt / NAME.json (gzipped as .gz when large) and
NAME.expected.csv (one line per input row, one column per output, %.17g).
inputs.csv (a header of feature names, then one row per test case, "nan" for
missing) is the same in both directories.
"""
import gzip
import os
import sys

import numpy as np

FEATURES = ["f0", "f1", "f2", "f3", "no_nan_in_train", "zeros", "cat10", "cat40"]
CAT = [6, 7]
N_TRAIN = 3000
N_TEST = 400


def make_x(rng, n, train):
    x = rng.normal(size=(n, len(FEATURES)))
    x[:, 5] = np.where(rng.random(n) < 0.4, 0.0, x[:, 5])
    x[:, 6] = rng.integers(0, 10, n)
    x[:, 7] = rng.integers(0, 40, n)
    for j in [0, 1, 2, 3, 6, 7]:
        x[rng.random(n) < 0.08, j] = np.nan
    if not train:
        x[rng.random(n) < 0.08, 4] = np.nan
    return x


def scores(x):
    z = np.nan_to_num(x, nan=0.0)
    c10 = np.nan_to_num(x[:, 6], nan=10).astype(int)
    c40 = np.nan_to_num(x[:, 7], nan=40).astype(int)
    eff10 = np.array([0.9, -0.4, 0.0, 1.2, -1.0, 0.3, 0.0, -0.6, 0.8, -0.2, 0.5])[c10]
    eff40 = np.sin(np.arange(41) * 1.7)[c40]
    s = 0.8 * z[:, 0] - 0.6 * z[:, 1] * z[:, 2] + 0.5 * np.abs(z[:, 3]) + 0.4 * z[:, 4] + 0.7 * z[:, 5]
    return s + eff10 + eff40 + np.where(np.isnan(x[:, 0]), 0.7, 0.0)


def data():
    rng = np.random.default_rng(20261201)
    xtr = make_x(rng, N_TRAIN, True)
    s = scores(xtr) + rng.normal(scale=0.5, size=N_TRAIN)
    ybin = (s > 0.4).astype(float)
    ymc = np.digitize(s, np.quantile(s, [0.25, 0.5, 0.75])).astype(float)
    yreg = s
    ypois = rng.poisson(np.exp(0.4 * np.clip(s, -3, 3))).astype(float)
    xte = make_x(rng, N_TEST, False)
    # Edge cases: categories negative, fractional, beyond any seen, huge;
    # tiny values around LightGBM's kZeroThreshold; negative zero.
    edge = xte[:40].copy()
    edge[0:5, 6] = [-1, -0.5, 2.5, 10, 1e9]
    edge[5:10, 7] = [-3, 39.9, 40, 64, 1e30]
    edge[10:15, 5] = [1e-40, -1e-40, 1e-35, -0.0, 2e-35]
    edge[15:20, 0] = [1e30, -1e30, 0.0, -0.0, 1e-300]
    edge[20:25, 4] = np.nan
    edge[25:30, :] = np.nan
    return xtr, ybin, ymc, yreg, ypois, np.vstack([xte, edge])


def write_inputs(path, x):
    with open(path, "w") as f:
        f.write(",".join(FEATURES) + "\n")
        for row in x:
            f.write(",".join(fmt(v) for v in row) + "\n")


def read_inputs(path):
    with open(path) as f:
        next(f)
        return np.array([[float(v) for v in line.split(",")] for line in f])


def fmt(v):
    return "nan" if np.isnan(v) else repr(float(v))


def write_expected(path, pred):
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim == 1:
        pred = pred[:, None]
    with open(path, "w") as f:
        for row in pred:
            f.write(",".join("%.17g" % v for v in row) + "\n")


def save_text(path, text, gz):
    if gz:
        with gzip.GzipFile(path + ".gz", "wb", mtime=0) as f:
            f.write(text.encode())
    else:
        with open(path, "w") as f:
            f.write(text)


def with_thresholds(x, thresholds, rng):
    """Rows whose numeric features sit exactly on split thresholds, or one
    float64 step either side of them (XGBoost rounds those to float32 and
    so to the threshold itself)."""
    rows = []
    for j, values in thresholds.items():
        for v in sorted(values)[:: max(1, len(values) // 6)]:
            for w in (v, np.nextafter(v, -np.inf), np.nextafter(v, np.inf)):
                r = x[rng.integers(0, len(x))].copy()
                r[j] = w
                rows.append(r)
    return np.array(rows)


def lgb_thresholds(booster):
    out = {}

    def walk(node):
        if "split_feature" in node:
            if node["decision_type"] == "<=":
                out.setdefault(node["split_feature"], set()).add(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for t in booster.dump_model()["tree_info"]:
        walk(t["tree_structure"])
    return out


def xgb_thresholds(booster):
    import json

    out = {}
    for t in json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]:
        for left, f, c, st in zip(t["left_children"], t["split_indices"], t["split_conditions"], t["split_type"]):
            if left != -1 and st == 0:
                out.setdefault(f, set()).add(float(np.float32(c)))
    return out


def lightgbm_models(version):
    import lightgbm as lgb

    xtr, ybin, ymc, yreg, ypois, xte = data()
    base = {"verbose": -1, "seed": 7, "deterministic": True, "num_threads": 1,
            "min_data_per_group": 20, "cat_smooth": 5, "max_cat_to_onehot": 4, "cat_l2": 1}
    specs = {
        "binary": ({"objective": "binary", "num_leaves": 15}, ybin, 60),
        "multiclass": ({"objective": "multiclass", "num_class": 4, "num_leaves": 11}, ymc, 40),
        "regression": ({"objective": "regression", "num_leaves": 15, "zero_as_missing": True}, yreg, 60),
        "poisson": ({"objective": "poisson", "num_leaves": 7}, ypois, 40),
        "large": ({"objective": "binary", "num_leaves": 7, "learning_rate": 0.05}, ybin, 500),
        "ova": ({"objective": "multiclassova", "num_class": 4, "num_leaves": 7}, ymc, 15),
        "forest": ({"objective": "binary", "boosting": "rf", "num_leaves": 15, "bagging_freq": 1,
                    "bagging_fraction": 0.7, "feature_fraction": 0.8}, ybin, 20),
    }
    if version == "legacy":
        specs = {"binary": specs["binary"], "multiclass": specs["multiclass"]}
    return lgb, base, specs, xtr, xte


def run_lightgbm(version, outdir):
    lgb, base, specs, xtr, xte = lightgbm_models(version)
    inputs = os.path.join(outdir, "inputs.csv")
    if version == "current":
        x = xte
        boosters = {}
        for name, (params, y, rounds) in specs.items():
            ds = lgb.Dataset(xtr, label=y, feature_name=FEATURES, categorical_feature=CAT, free_raw_data=False)
            boosters[name] = lgb.train({**base, **params}, ds, rounds)
        rng = np.random.default_rng(5)
        for b in boosters.values():
            x = np.vstack([x, with_thresholds(xte, lgb_thresholds(b), rng)])
        write_inputs(inputs, x)
    else:
        boosters = {}
        for name, (params, y, rounds) in specs.items():
            ds = lgb.Dataset(xtr, label=y, feature_name=FEATURES, categorical_feature=CAT, free_raw_data=False)
            boosters[name] = lgb.train({**base, **params}, ds, rounds)
    x = read_inputs(inputs)
    for name, b in boosters.items():
        path = os.path.join(outdir, "model.tmp")
        b.save_model(path)  # lightgbm 2.1 has no model_to_string
        with open(path) as f:
            text = f.read()
        os.remove(path)
        if version == "legacy":
            # Named for the format version the library writes: v3_ from
            # lightgbm 3.x, v2_ from lightgbm 2.1.
            name = text.split("\n")[1][len("version="):] + "_" + name
        save_text(os.path.join(outdir, name + ".txt"), text, len(text) > 200_000)
        write_expected(os.path.join(outdir, name + ".expected.csv"), b.predict(x))


def run_xgboost(version, outdir):
    import xgboost as xgb

    xtr, ybin, ymc, yreg, ypois, xte = data()
    types = ["c" if j in CAT else "q" for j in range(len(FEATURES))]

    def dm(x, y=None):
        return xgb.DMatrix(x, label=y, feature_names=FEATURES, feature_types=types,
                           enable_categorical=True, missing=np.nan)

    base = {"tree_method": "hist", "max_cat_to_onehot": 1, "seed": 7, "nthread": 1,
            "max_depth": 4, "eta": 0.3}
    specs = {
        "binary": ({"objective": "binary:logistic"}, ybin, 60),
        "multiclass": ({"objective": "multi:softprob", "num_class": 4}, ymc, 30),
        "softmax": ({"objective": "multi:softmax", "num_class": 4, "max_cat_to_onehot": 16}, ymc, 10),
        "regression": ({"objective": "reg:squarederror"}, yreg, 60),
        "poisson": ({"objective": "count:poisson"}, ypois, 30),
        "reglogistic": ({"objective": "reg:logistic"}, ybin * 0.8 + 0.1, 20),
        "dart": ({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.2,
                  "skip_drop": 0.3}, ybin, 30),
        "large": ({"objective": "binary:logistic", "max_depth": 3, "eta": 0.05}, ybin, 500),
        "forest": ({"objective": "binary:logistic", "num_parallel_tree": 4, "subsample": 0.8,
                    "colsample_bynode": 0.8, "eta": 1.0}, ybin, 3),
    }
    if version == "legacy":
        specs = {"v2_binary": specs["binary"], "v2_multiclass": specs["multiclass"], "v2_dart": specs["dart"]}
    boosters = {name: xgb.train({**base, **params}, dm(xtr, y), rounds)
                for name, (params, y, rounds) in specs.items()}
    inputs = os.path.join(outdir, "inputs.csv")
    if version == "current":
        x = xte
        rng = np.random.default_rng(6)
        for b in boosters.values():
            x = np.vstack([x, with_thresholds(xte, xgb_thresholds(b), rng)])
        write_inputs(inputs, x)
    x = read_inputs(inputs)
    for name, b in boosters.items():
        path = os.path.join(outdir, name + ".json")
        b.save_model(path)
        with open(path) as f:
            text = f.read()
        if len(text) > 200_000:
            os.remove(path)
            save_text(path, text, True)
        write_expected(os.path.join(outdir, name + ".expected.csv"), b.predict(dm(x)))


def main():
    version, lgb_dir, xgb_dir = sys.argv[1:4]
    if version not in ("current", "legacy"):
        sys.exit("usage: treemodels.py current|legacy LIGHTGBM_DIR XGBOOST_DIR")
    if lgb_dir != "-":
        run_lightgbm(version, lgb_dir)
    if xgb_dir != "-":
        run_xgboost(version, xgb_dir)


if __name__ == "__main__":
    main()
