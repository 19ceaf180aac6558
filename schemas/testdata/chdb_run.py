"""Runs Tributary's ClickHouse migrations and documented queries on chdb.

chdb is ClickHouse (a current release, 26.x) in-process. The Go test
TestClickHouseDocumentedSQL (schemas/clickhouse_current_test.go) runs this
script with the python of `make pyenv` (TRIBUTARY_PYTHON) and reads its
report; the script itself decides nothing, it runs what it is given and
reports each statement.

Input, JSON on stdin:
  {"path": "<empty directory for the session's data>",
   "database": "tributary",
   "migrations": [{"file": "001_events.sql", "statements": ["CREATE ...", ...]}, ...],
   "schema_query": "SELECT ... FROM system.columns ...",
   "seed": [{"file": "testdata/clickhouse_seed.sql", "statements": [...]}],
   "queries": [{"file": "schemas/clickhouse/README.md:97", "statements": [...]}]}

It creates the database, applies the migrations in order twice (every
statement must be safe to run again; the Go test accepts, in the second pass,
only the "column already exists" of an ADD COLUMN), reads the schema after each pass,
inserts the seed rows and runs each query. Every statement is run even when an
earlier one failed, so that one run reports every incompatibility.

Output, JSON on stdout:
  {"chdb": "4.4.0", "clickhouse": "26.9.2.1",
   "results": [{"phase": "migrate 1", "file": ..., "index": 1, "sql": ...,
                "ok": true, "error": "", "rows": 0, "data": []}, ...]}

phase is "database", "migrate 1", "migrate 2", "schema 1", "schema 2", "seed"
or "query"; index counts from 1 within the file; data holds the rows of
schema reads and queries (JSONCompact rows).
"""

import json
import sys

import chdb
from chdb import session


def run(sess, phase, file, index, sql):
    result = {"phase": phase, "file": file, "index": index, "sql": sql,
              "ok": True, "error": "", "rows": 0, "data": []}
    try:
        res = sess.query(sql, "JSONCompact")
        text = res.bytes().decode("utf-8") if res is not None else ""
        if text.strip():
            doc = json.loads(text)
            result["rows"] = doc.get("rows", 0)
            result["data"] = doc.get("data", [])
    except Exception as e:  # chdb raises ChdbError (and RuntimeError in older releases)
        result["ok"] = False
        result["error"] = str(e).strip() or type(e).__name__
    return result


def main():
    req = json.load(sys.stdin)
    sess = session.Session(req["path"])
    results = []
    try:
        version = run(sess, "version", "", 0, "SELECT version()")
        results.append(run(sess, "database", "", 1,
                           "CREATE DATABASE IF NOT EXISTS " + req["database"]))
        for p in (1, 2):
            for m in req["migrations"]:
                for i, sql in enumerate(m["statements"], 1):
                    results.append(run(sess, "migrate %d" % p, m["file"], i, sql))
            results.append(run(sess, "schema %d" % p, "", 1, req["schema_query"]))
        for phase, key in (("seed", "seed"), ("query", "queries")):
            for f in req[key]:
                for i, sql in enumerate(f["statements"], 1):
                    results.append(run(sess, phase, f["file"], i, sql))
    finally:
        sess.close()
    clickhouse = version["data"][0][0] if version["ok"] and version["data"] else ""
    json.dump({"chdb": chdb.__version__, "clickhouse": clickhouse, "results": results},
              sys.stdout)


if __name__ == "__main__":
    main()
