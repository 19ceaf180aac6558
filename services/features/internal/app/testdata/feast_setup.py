"""Sets up Feast's Python feature server as the peer of BenchmarkOnlineLoad.

usage: feast_setup.py REPO_DIR REDIS_ADDR VALUES_JSON

Writes a Feast repository into REPO_DIR (feature_store.yaml with a Redis
online store at REDIS_ADDR, a local registry), registers one entity and one
feature view named like the Tributary view, and writes the values of
VALUES_JSON into Feast's online store with Feast's own write path
(FeatureStore.write_to_online_store), so that `feast serve` answers the very
values the Tributary read API answers. VALUES_JSON:
{"view": "uc", "entity": "user_id", "event_time_ms": 1700000000000,
 "features": [{"name": "clicks_1m", "type": "int"}, ...],
 "rows": {"user-0000": [3, 1.5, "item-2", null, ...], ...}}
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

TYPES = {"int": (Int64, "Int64"), "float": (Float64, "float64"), "string": (String, "object")}


def main(repo, redis_addr, values_path):
    with open(values_path) as f:
        spec = json.load(f)
    os.makedirs(os.path.join(repo, "data"), exist_ok=True)
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(
            "project: tributary_bench\n"
            "registry: data/registry.db\n"
            "provider: local\n"
            "online_store:\n"
            "  type: redis\n"
            f"  connection_string: \"{redis_addr}\"\n"
            "offline_store:\n"
            "  type: file\n"
            "entity_key_serialization_version: 3\n"
        )
    ts = datetime.fromtimestamp(spec["event_time_ms"] / 1000, tz=timezone.utc)
    names = [c["name"] for c in spec["features"]]
    cols = {spec["entity"]: list(spec["rows"].keys())}
    for i, c in enumerate(spec["features"]):
        cols[c["name"]] = pd.Series([r[i] for r in spec["rows"].values()], dtype=TYPES[c["type"]][1])
    df = pd.DataFrame(cols)
    df["event_timestamp"] = ts
    path = os.path.join(repo, "data", "values.parquet")
    df.to_parquet(path)

    entity = Entity(name="user", join_keys=[spec["entity"]], value_type=ValueType.STRING)
    view = FeatureView(
        name=spec["view"],
        entities=[entity],
        ttl=timedelta(days=30),
        schema=[Field(name=c["name"], dtype=TYPES[c["type"]][0]) for c in spec["features"]],
        source=FileSource(path=path, timestamp_field="event_timestamp"),
        online=True,
    )
    store = FeatureStore(repo_path=repo)
    store.apply([entity, view])
    store.write_to_online_store(spec["view"], df)
    # Read one entity back through the SDK: the setup fails here, not in the
    # benchmark, when the values did not land.
    first = next(iter(spec["rows"]))
    got = store.get_online_features(
        features=[f"{spec['view']}:{n}" for n in names], entity_rows=[{spec["entity"]: first}]
    ).to_dict()
    if got[names[0]][0] is None and spec["rows"][first][0] is not None:
        raise SystemExit(f"feast_setup: {first} reads back without values: {got}")
    print(f"feast_setup: {len(df)} entities x {len(names)} features in {redis_addr}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
