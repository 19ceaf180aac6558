"""Train a LightGBM model for Tributary's exec (and kubernetes) runner.

Reads the training code contract from the environment (see "Training code
contract" in services/trainer/README.md), trains LightGBM 4.x on the Parquet
training set and writes into $TRIBUTARY_OUTPUT_DIR:

  model.txt     the LightGBM text model (Booster.save_model)
  metrics.json  training metrics: the objective's metric on the training
                rows after the last iteration, the number of trees and rows

The holdout ($TRIBUTARY_HOLDOUT_PATH) is not read: the trainer evaluates the
model on it itself, and fitting or early-stopping on it would leak.

Parameters ($TRIBUTARY_PARAMS, a JSON object of strings) are LightGBM's own
(num_leaves, learning_rate, min_data_in_leaf, ...), converted to numbers or
booleans where they parse as such; num_iterations (default 100) is the number
of boosting rounds. The seed is $TRIBUTARY_SEED and the run is deterministic
(deterministic=true, force_row_wise=true).

When MLFLOW_TRACKING_URI and MLFLOW_RUN_ID are set and mlflow is importable,
the parameters (as lightgbm.<name>) and metrics are also logged to that run
(the job's tracked run), which the script neither starts nor ends.

Exit codes: 0 done, 2 a bad training set or parameter (the message is on
stderr), anything else a crash.
"""

import json
import math
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


class BadInput(Exception):
    """A training set or a parameter this script cannot use."""


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise BadInput(f"{name} is not set")
    return value


def parse_value(s):
    """A parameter string as LightGBM wants it: int, float, bool or str."""
    low = s.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def read_set(path, features, label):
    """The features (rows x features, NaN for null) and labels of a set."""
    table = pq.read_table(path)
    names = set(table.column_names)
    missing = [c for c in features + [label] if c not in names]
    if missing:
        raise BadInput(f"{path}: no column {', '.join(missing)} (has {sorted(names)})")
    cols = []
    for f in features:
        col = table.column(f)
        kind = col.type
        if not (
            str(kind).startswith(("double", "float", "int", "uint"))
            or str(kind) == "bool"
        ):
            raise BadInput(f"{path}: feature {f} is {kind}; this script reads numbers and booleans")
        # Cast to double: null becomes NaN (LightGBM's missing value).
        cols.append(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
    x = np.column_stack(cols) if cols else np.empty((table.num_rows, 0))
    y = table.column(label).cast(pa.float64()).to_numpy(zero_copy_only=False)
    if not np.all(np.isfinite(y)):
        raise BadInput(f"{path}: label {label} has null or non-finite values")
    return x, y


def objective(task, classes):
    if task == "binary":
        return {"objective": "binary", "metric": ["binary_logloss", "auc"]}
    if task == "multiclass":
        return {"objective": "multiclass", "num_class": classes, "metric": ["multi_logloss"]}
    if task == "regression":
        return {"objective": "regression", "metric": ["l2", "l1"]}
    raise BadInput(f"TRIBUTARY_TASK={task!r}: want binary, multiclass or regression")


def log_mlflow(params, metrics):
    """Log to the job's run, without starting or ending it (the trainer
    owns its status): MlflowClient.log_batch on MLFLOW_RUN_ID."""
    uri, run_id = os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_RUN_ID")
    if not uri or not run_id:
        return
    try:
        from mlflow.entities import Metric, Param  # noqa: PLC0415 (optional)
        from mlflow.tracking import MlflowClient  # noqa: PLC0415
    except ImportError:
        print("MLFLOW_TRACKING_URI is set but mlflow is not installed: not logging", file=sys.stderr)
        return
    now = int(time.time() * 1000)
    MlflowClient(tracking_uri=uri).log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in sorted(metrics.items())],
        params=[Param(f"lightgbm.{k}", str(v)) for k, v in sorted(params.items())],
    )
    print(f"logged {len(metrics)} metrics and {len(params)} params to run {run_id}")


def main():
    out = env("TRIBUTARY_OUTPUT_DIR")
    features = [f for f in env("TRIBUTARY_FEATURES").split(",") if f]
    if not features:
        raise BadInput("TRIBUTARY_FEATURES is empty")
    label = env("TRIBUTARY_LABEL")
    task = env("TRIBUTARY_TASK")
    classes = int(env("TRIBUTARY_CLASSES", "0"))
    seed = int(env("TRIBUTARY_SEED", "0"))
    try:
        raw = json.loads(env("TRIBUTARY_PARAMS", "{}"))
    except json.JSONDecodeError as e:
        raise BadInput(f"TRIBUTARY_PARAMS is not JSON: {e}") from e

    params = {"verbosity": -1, "deterministic": True, "force_row_wise": True}
    params.update(objective(task, classes))
    params.update({k: parse_value(v) for k, v in raw.items()})
    rounds = int(params.pop("num_iterations", params.pop("num_boost_round", 100)))
    params["seed"] = seed

    x, y = read_set(env("TRIBUTARY_TRAIN_PATH"), features, label)
    if len(y) == 0:
        raise BadInput("the training set has no rows")
    print(f"training lightgbm {lgb.__version__} ({task}) on {len(y)} rows x {len(features)} features, {rounds} rounds")

    # LightGBM refuses some characters in feature names (':' among them);
    # the model reads its features by position, in TRIBUTARY_FEATURES order.
    names = [f.replace(":", "__") for f in features]
    train = lgb.Dataset(x, label=y, feature_name=names, free_raw_data=False)
    evals = {}
    booster = lgb.train(
        params,
        train,
        num_boost_round=rounds,
        valid_sets=[train],
        valid_names=["train"],
        callbacks=[lgb.record_evaluation(evals)],
    )
    booster.save_model(os.path.join(out, "model.txt"))

    metrics = {"num_trees": float(booster.num_trees()), "train_rows": float(len(y))}
    for name, series in evals.get("train", {}).items():
        if series and math.isfinite(series[-1]):
            metrics[f"train_{name}"] = float(series[-1])
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f)
    print("wrote model.txt and metrics.json:", json.dumps(metrics, sort_keys=True))
    log_mlflow({k: v for k, v in params.items() if k != "metric"} | {"num_iterations": rounds}, metrics)


if __name__ == "__main__":
    try:
        main()
    except BadInput as e:
        print(f"bad input: {e}", file=sys.stderr)
        sys.exit(2)
