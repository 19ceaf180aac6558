"""Evidently's DataDriftPreset on the data of BenchmarkDrift1Mx50.

    python evidently_bench.py DIR [--rows N]

DIR holds the files the benchmark writes when TRIBUTARY_DRIFT_BENCH_DATA is
set (see benchData in ../bench_test.go): the reference samples of the 50
features and the prediction, and the distinct rows of the current data, row
i of which is row i % block of the files. The current data is the first N
rows (default: all of the benchmark's). Only Report.run is timed: the file
read and the DataFrames are built before. A run on 1000 rows first warms up
Evidently's imports and caches. Prints one JSON object: the rows, the
process CPU seconds and wall seconds of the run, the columns compared and
how many Evidently found drifted.
"""

import argparse
import json
import os
import time

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def frames(data_dir, rows):
    with open(os.path.join(data_dir, "meta.json")) as f:
        meta = json.load(f)
    block, names, numeric = meta["block"], meta["names"], meta["numeric"]
    cats = np.array(meta["categories"], dtype=object)
    num_names = [n for n, is_num in zip(names, numeric) if is_num] + ["prediction"]
    cat_names = [n for n, is_num in zip(names, numeric) if not is_num]

    def read(name, dtype, columns):
        a = np.fromfile(os.path.join(data_dir, name), dtype=dtype)
        return a.reshape(columns, -1)

    ref_num = read("reference.f64", "<f8", len(num_names))
    ref_cat = read("reference.u8", "u1", len(cat_names))
    cur_num = read("current.f64", "<f8", len(num_names))
    cur_cat = read("current.u8", "u1", len(cat_names))
    assert cur_num.shape[1] == block and cur_cat.shape[1] == block
    idx = np.arange(rows) % block
    ref = {n: ref_num[j] for j, n in enumerate(num_names)}
    ref |= {n: cats[ref_cat[j]] for j, n in enumerate(cat_names)}
    cur = {n: cur_num[j][idx] for j, n in enumerate(num_names)}
    cur |= {n: cats[cur_cat[j][idx]] for j, n in enumerate(cat_names)}
    definition = DataDefinition(numerical_columns=num_names, categorical_columns=cat_names)
    return pd.DataFrame(ref), pd.DataFrame(cur), definition


def run(ref, cur, definition):
    report = Report([DataDriftPreset()])
    cpu, wall = time.process_time(), time.perf_counter()
    snapshot = report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    return snapshot, time.process_time() - cpu, time.perf_counter() - wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--rows", type=int, default=0)
    args = ap.parse_args()
    with open(os.path.join(args.data_dir, "meta.json")) as f:
        rows = args.rows or json.load(f)["rows"]
    ref, cur, definition = frames(args.data_dir, rows)
    run(ref, cur.iloc[:1000], definition)
    snapshot, cpu, wall = run(ref, cur, definition)
    metrics = snapshot.dict()["metrics"]
    drifted = next(m["value"]["count"] for m in metrics if m["metric_name"].startswith("DriftedColumnsCount"))
    methods = sorted({m["config"].get("method") for m in metrics if "method" in m["config"]})
    print(json.dumps({
        "rows": rows, "columns": len(ref.columns), "cpu_seconds": cpu, "wall_seconds": wall,
        "drifted_columns": drifted, "methods": methods,
    }))


if __name__ == "__main__":
    main()
