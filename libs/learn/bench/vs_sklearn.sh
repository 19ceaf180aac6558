#!/usr/bin/env bash
# Training time of a built-in learner beside scikit-learn's counterpart on
# the same 1M x 20 rows (learntest.Synthetic), in the same run.
#
#   libs/learn/bench/vs_sklearn.sh lr|gbdt [PYTHON [ROUNDS]]
#
# lr is the logistic regression against StandardScaler + LogisticRegression;
# gbdt is the GBDT against HistGradientBoostingClassifier, both with
# scikit-learn's defaults and early stopping off (100 iterations, 31 leaves).
# PYTHON is a python with the pins of deploy/local/python/requirements.txt,
# by default $TRIBUTARY_PYTHON (`deploy/local/pyenv.sh path`, after make
# pyenv). The two sides alternate ROUNDS times (default 3), so that a noisy
# machine slows both alike; the best time of each side counts.
# scikit-learn runs twice a round: with libgomp's default wait policy
# (threads spin) and with OMP_WAIT_POLICY=PASSIVE, because on a loaded
# machine spinning threads make it many times slower; the faster counts.
# Prints one line per run and then the ratio Go/sklearn.
set -euo pipefail
usage="usage: vs_sklearn.sh lr|gbdt [PYTHON [ROUNDS]], or set TRIBUTARY_PYTHON"
case ${1:-} in
lr) pkg=linear bench=TrainLogistic1M sk=lr name="logistic regression" peer="LogisticRegression" ;;
gbdt) pkg=gbdt bench=TrainGBDT1M sk=hgb name="gbdt" peer="HistGradientBoostingClassifier" ;;
*) echo "$usage" >&2; exit 2 ;;
esac
py=${2:-${TRIBUTARY_PYTHON:?$usage}}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root/libs" && go test -c -o "$tmp/$pkg.test" "./learn/$pkg/")
go_best= sk_best= go_auc= sk_auc=
for r in $(seq "$rounds"); do
  line=$(cd "$root/libs/learn/$pkg" && "$tmp/$pkg.test" -test.run '^$' -test.bench "$bench\$" -test.benchtime 1x | grep "^Benchmark$bench")
  secs=$(awk '{print $3/1e9}' <<<"$line")
  go_auc=$(grep -o '[0-9.]* holdout_auc' <<<"$line" | cut -d' ' -f1)
  echo "round $r go                ${secs}s auc $go_auc ($(grep -o '[0-9.]* cpu_s/op' <<<"$line" | cut -d' ' -f1) s cpu)"
  go_best=$(awk -v a="$secs" -v b="${go_best:-1e99}" 'BEGIN{print (a<b)?a:b}')
  for policy in default PASSIVE; do
    if [ "$policy" = default ]; then
      json=$(env -u OMP_WAIT_POLICY "$py" "$root/libs/learn/bench/sklearn_bench.py" --model "$sk" --repeat 1)
    else
      json=$(OMP_WAIT_POLICY=$policy "$py" "$root/libs/learn/bench/sklearn_bench.py" --model "$sk" --repeat 1)
    fi
    secs=$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["best_seconds"])' "$json")
    sk_auc=$("$py" -c 'import json,sys; print(round(json.loads(sys.argv[1])["holdout_auc"], 4))' "$json")
    printf 'round %s sklearn %-8s %ss auc %s\n' "$r" "$policy" "$secs" "$sk_auc"
    sk_best=$(awk -v a="$secs" -v b="${sk_best:-1e99}" 'BEGIN{print (a<b)?a:b}')
  done
done
awk -v n="$name" -v p="$peer" -v g="$go_best" -v s="$sk_best" -v ga="$go_auc" -v sa="$sk_auc" \
  'BEGIN{printf "%s 1M x 20: go %.2fs (AUC %s), scikit-learn %s %.2fs (AUC %s), ratio go/sklearn %.2f\n", n, g, ga, p, s, sa, g/s}'
