"""Drives the real mlflow client against Tributary's MLflow tracking API.

Usage: mlflow_client.py own|resume
  own     sets the experiment named by TEST_EXPERIMENT, starts a run of its
          own and logs with every fluent call the API supports.
  resume  resumes the run named by MLFLOW_RUN_ID (as the exec runner sets
          it), logs into it and ends it.
MLFLOW_TRACKING_URI points at the API. Prints one JSON object: what the
script saw (run id, experiment id, the error codes of refused calls, the run
read back through the client) for the Go test to check against the store.
"""

import json
import math
import os
import sys
import time

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def error_code(fn):
    try:
        fn()
    except MlflowException as e:
        return e.error_code
    return None


def read_back(client, run_id):
    run = client.get_run(run_id)
    return {
        "status": run.info.status,
        "run_name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "lifecycle_stage": run.info.lifecycle_stage,
        "artifact_uri": run.info.artifact_uri,
        "params": run.data.params,
        "metrics": {k: (None if math.isnan(v) else v) for k, v in run.data.metrics.items()},
        "tags": {k: v for k, v in run.data.tags.items()},
        "loss_history": [[m.step, m.value] for m in client.get_metric_history(run_id, "loss")],
    }


def own():
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    name = os.environ["TEST_EXPERIMENT"]
    exp = mlflow.set_experiment(name)
    again = mlflow.set_experiment(name)  # found by name this time
    client = MlflowClient()
    out = {"experiment_id": exp.experiment_id, "experiment_again": again.experiment_id}
    with mlflow.start_run(run_name="py-own") as run:
        run_id = run.info.run_id
        out["run_id"] = run_id
        out["status_during"] = client.get_run(run_id).info.status
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"depth": 3, "objective": "logloss"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"auc": 0.91, "f1": 0.8}, step=4)
        mlflow.log_metric("not_a_number", float("nan"))
        mlflow.set_tag("team", "risk")
        mlflow.set_tags({"stage": "tuning"})
        client.log_batch(
            run_id,
            metrics=[Metric("batch_metric", 2.5, int(time.time() * 1000), 7)],
            params=[Param("batch_param", "x")],
            tags=[RunTag("batch_tag", "y")],
        )
        mlflow.log_metric("async_metric", 1.5, step=1, synchronous=False).wait()
        out["relog_same"] = error_code(lambda: mlflow.log_param("alpha", 0.5))
        out["relog_changed"] = error_code(lambda: mlflow.log_param("alpha", 0.7))
        out["missing_run"] = error_code(lambda: client.get_run("0123456789abcdef0123456789abcdef"))
        out["duplicate_experiment"] = error_code(lambda: client.create_experiment(name))
    out["missing_experiment"] = client.get_experiment_by_name("no-such-experiment-" + name) is None
    # A script that raises inside the run ends it FAILED; end_run can say KILLED.
    try:
        with mlflow.start_run(run_name="py-fails") as failing:
            out["failed_run_id"] = failing.info.run_id
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    killed = mlflow.start_run(run_name="py-killed")
    out["killed_run_id"] = killed.info.run_id
    mlflow.end_run(status="KILLED")
    out["run"] = read_back(client, run_id)
    return out


def resume():
    run_id = os.environ["MLFLOW_RUN_ID"]
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    with mlflow.start_run() as run:  # resumes MLFLOW_RUN_ID
        out = {"run_id": run.info.run_id, "status_during": client.get_run(run_id).info.status}
        mlflow.log_param("resumed", "yes")
        mlflow.log_metric("holdout_auc", 0.88)
        mlflow.log_metrics({"train_auc": 0.93})
        mlflow.set_tag("runner", "exec")
    out["run"] = read_back(client, run_id)
    return out


if __name__ == "__main__":
    mode = sys.argv[1]
    result = own() if mode == "own" else resume()
    result["mlflow_version"] = mlflow.__version__
    print(json.dumps(result))
