#!/usr/bin/env bash
# Drift of 1M predictions x 50 features (BenchmarkDrift1Mx50) beside
# Evidently's DataDriftPreset on the same values, in the same run.
#
#   libs/drift/bench/vs_evidently.sh PYTHON [ROWS...]
#
# PYTHON is the python of Evidently's environment:
#   deploy/local/pyenv.sh ensure deploy/local/python/bench-evidently.txt
# The benchmark writes its data (seeded: reference samples and the distinct
# rows it cycles through) into a temporary directory, and
# evidently_bench.py gives the same values to Evidently: the reference, and
# the first ROWS rows of the benchmark's current data (default: 20000,
# 100000, then all 999996). Go's figure is the benchmark's process CPU time;
# Evidently's the CPU time of Report.run alone (file read and DataFrames
# excluded), its wall time beside it. Each Evidently run is stopped after
# $EVIDENTLY_TIMEOUT seconds (default 900). The ratio compares CPU seconds:
# measured when Evidently did every row; otherwise Evidently's time on
# every row is extrapolated (and said so) on the line through its two
# largest runs that finished (a fixed cost plus a cost per row). When
# Evidently cannot run at all, or fails, the script says so and exits 1.
set -euo pipefail
py=${1:-}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20000 100000 0)
limit=${EVIDENTLY_TIMEOUT:-900}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$root/libs" && go test -c -o "$tmp/drift.test" ./drift/)
line=$(cd "$root/libs/drift" && TRIBUTARY_DRIFT_BENCH_DATA=$tmp "$tmp/drift.test" \
	-test.run '^$' -test.bench 'Drift1Mx50$' -test.benchtime 1x | grep '^BenchmarkDrift1Mx50')
go_cpu=$(grep -o '[0-9.]* cpu-s/op' <<<"$line" | cut -d' ' -f1)
rows=$(grep -o '"rows":[0-9]*' "$tmp/meta.json" | cut -d: -f2)
echo "go libs/drift: $rows predictions x 50 features + the prediction, 12 windows of 5 min and their hour, every metric (PSI, KS, Wasserstein, chi-squared, Jensen-Shannon): ${go_cpu}s CPU"

if [ -z "$py" ] || ! "$py" -c 'import evidently' 2>"$tmp/import.err"; then
	echo "EVIDENTLY NOT RUN: no python with evidently (${py:-none given}; build it with deploy/local/pyenv.sh ensure deploy/local/python/bench-evidently.txt): $(tail -n 1 "$tmp/import.err" 2>/dev/null)" >&2
	exit 1
fi

best_rows=0 best_cpu=0 prev_rows=0 prev_cpu=0
for n in "${sizes[@]}"; do
	[ "$n" = 0 ] && n=$rows
	[ "$n" -le "$rows" ] || n=$rows
	rc=0
	timeout --kill-after=10 "$limit" "$py" "$here/evidently_bench.py" "$tmp" --rows "$n" >"$tmp/ev.json" 2>"$tmp/ev.err" || rc=$?
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "evidently DataDriftPreset on $n rows: STOPPED after ${limit}s (EVIDENTLY_TIMEOUT)" >&2
		break
	elif [ "$rc" != 0 ]; then
		echo "EVIDENTLY FAILED on $n rows (exit $rc):" >&2
		tail -n 5 "$tmp/ev.err" >&2
		exit 1
	fi
	read -r cpu wall columns drifted methods < <("$py" -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["cpu_seconds"], r["wall_seconds"], r["columns"], int(r["drifted_columns"]), "+".join(r["methods"]).replace(" ", "_"))
' "$tmp/ev.json")
	printf 'evidently DataDriftPreset: %s rows x %s columns: %.2fs CPU (%.2fs wall), %s columns drifted, methods %s\n' \
		"$n" "$columns" "$cpu" "$wall" "$drifted" "${methods//_/ }"
	prev_rows=$best_rows prev_cpu=$best_cpu best_rows=$n best_cpu=$cpu
done

if [ "$best_rows" = 0 ]; then
	echo "EVIDENTLY GAVE NO FIGURE: no run finished within ${limit}s" >&2
	exit 1
fi
awk -v g="$go_cpu" -v e="$best_cpu" -v n="$best_rows" -v pe="$prev_cpu" -v pn="$prev_rows" -v rows="$rows" 'BEGIN{
	if (n == rows) { printf "drift 1M x 50: go %.2fs CPU, evidently %.2fs CPU: go is %.0fx faster (goal 50x)\n", g, e, e/g; exit }
	# A fixed cost and a cost per row, through the two largest runs when
	# there are two; else proportional to the rows (an overestimate by the
	# fixed cost).
	how = "proportionally from one run"
	t = e * rows / n
	if (pn > 0 && n > pn && e > pe) { t = e + (e - pe) / (n - pn) * (rows - n); how = sprintf("on the line through the runs on %d and %d rows", pn, n) }
	printf "drift 1M x 50: go %.2fs CPU, evidently %.2fs CPU on %d rows, about %.0fs on %d extrapolated %s: go is about %.0fx faster (goal 50x)\n", g, e, n, t, rows, how, t/g
}'
