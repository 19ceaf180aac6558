#!/usr/bin/env bash
# Train a LightGBM model for Tributary's exec runner: make (the first time)
# this example's own virtual environment from requirements.txt, then run
# train.py in it. The trainer runs it with the training code contract in the
# environment (services/trainer/README.md, "Training code contract"):
#
#   trainer:
#     runner: exec
#     name: lightgbm
#     command: [examples/lightgbm/run.sh]
#
# Environment (default):
#   TRIBUTARY_LIGHTGBM_VENV  where the environment is kept
#                            (~/.cache/tributary/examples/lightgbm-<sha256 of requirements.txt>)
#   TRIBUTARY_LIGHTGBM_BASE  the python to make it with (python3.12, else python3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
requirements=$here/requirements.txt
hash=$(sha256sum "$requirements" | cut -c1-12)
venv=${TRIBUTARY_LIGHTGBM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary/examples/lightgbm-$hash}

say() { echo "run.sh: $*" >&2; }

base_python() {
	if [ -n "${TRIBUTARY_LIGHTGBM_BASE:-}" ]; then
		echo "$TRIBUTARY_LIGHTGBM_BASE"
		return
	fi
	local c
	for c in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 python3; do
		if "$c" -c 'import sys, venv' >/dev/null 2>&1; then
			echo "$c"
			return
		fi
	done
	say "no python3.12 or python3 with the venv module; set TRIBUTARY_LIGHTGBM_BASE"
	exit 1
}

if [ ! -x "$venv/bin/python" ]; then
	# Made beside its final place and renamed into it when complete, so
	# that an interrupted install is never used and two runs can race.
	mkdir -p "$(dirname "$venv")"
	tmp=$(mktemp -d "$venv.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	py=$(base_python)
	say "making $venv with $py"
	start=$(date +%s)
	"$py" -m venv "$tmp" >"$tmp.log" 2>&1 || { cat "$tmp.log" >&2; rm -f "$tmp.log"; exit 1; }
	if ! "$tmp/bin/python" -m pip install --no-input --disable-pip-version-check -r "$requirements" >>"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		rm -f "$tmp.log"
		say "pip install -r $requirements failed"
		exit 1
	fi
	rm -f "$tmp.log"
	# venv wrote its temporary path into bin/ and pyvenv.cfg.
	grep -lIF "$tmp" "$tmp"/bin/* "$tmp/pyvenv.cfg" 2>/dev/null | while read -r f; do
		sed -i "s|$tmp|$venv|g" "$f"
	done
	if mv -T "$tmp" "$venv" 2>/dev/null; then
		say "made $venv in $(($(date +%s) - start))s"
	elif [ ! -x "$venv/bin/python" ]; then
		say "cannot move $tmp to $venv"
		exit 1
	fi
	rm -rf "$tmp"
	trap - EXIT
fi

exec "$venv/bin/python" "$here/train.py" "$@"
