#!/usr/bin/env bash
# The one Python virtual environment of Tributary's tests, built from
# deploy/local/python/requirements.txt into the cache shared by every clone and
# reused while that file does not change. See deploy/local/README.md.
#
# usage: deploy/local/pyenv.sh ensure|path [requirements file]
#   ensure  build the environment when it is missing, then print its python
#   path    print the path of its python (whether it exists or not)
#
# With a requirements file other than the default, the same is done for that
# file in an environment of its own (pyenv-<file stem>-<hash>): the
# benchmarks' peers (MLServer, Feast, Evidently) each pin their own stack
# there, apart from the tests' one environment.
#
# Environment (default):
#   TRIBUTARY_TOOLS_DIR   where environments are kept
#                         (${TRIBUTARY_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/tributary}/tools)
#   TRIBUTARY_PYENV_BASE  the python to build it with (python3.12, else python3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
requirements=${2:-$here/python/requirements.txt}
[ -r "$requirements" ] || { echo "pyenv: cannot read $requirements" >&2; exit 1; }
cache=${TRIBUTARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}
tools=${TRIBUTARY_TOOLS_DIR:-$cache/tools}
hash=$(sha256sum "$requirements" | cut -c1-12)
if [ -z "${2:-}" ]; then
	venv=$tools/pyenv-$hash
else
	stem=$(basename "$requirements" .txt)
	venv=$tools/pyenv-$stem-$hash
fi
tmp=

child=
# run runs a command as a child that cleanup can stop: a TERM sent to this
# script alone would otherwise leave pip writing into the removed directory.
run() {
	"$@" &
	child=$!
	wait "$child"
}

say() { echo "pyenv: $*" >&2; }
die() { say "$*"; exit 1; }

# base_python prints the interpreter to build with: TRIBUTARY_PYENV_BASE, or
# the first python3.12 that runs (PATH, then pyenv's versions), or python3.
base_python() {
	if [ -n "${TRIBUTARY_PYENV_BASE:-}" ]; then
		echo "$TRIBUTARY_PYENV_BASE"
		return
	fi
	local c
	for c in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12 python3; do
		# A pyenv shim on PATH exists even when its version is not selected:
		# only an interpreter that runs counts.
		if "$c" -c 'import sys, venv' >/dev/null 2>&1; then
			echo "$c"
			return
		fi
	done
	die "no python3.12 or python3 with the venv module found; install one or set TRIBUTARY_PYENV_BASE"
}

cleanup() {
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}

ensure() {
	if [ -x "$venv/bin/python" ]; then
		echo "$venv/bin/python"
		return
	fi
	mkdir -p "$tools"
	# Leftovers of installs killed outright (SIGKILL, power loss); a day old
	# so that a concurrent install is never removed.
	find "$tools" -maxdepth 1 -name '.pyenv-*.tmp.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
	local py start log
	py=$(base_python)
	start=$(date +%s%N)
	# Built beside its final place and renamed into it when complete, so that
	# an interrupted install is never used.
	tmp=$(mktemp -d "$tools/.pyenv-$hash.tmp.XXXXXX")
	trap 'cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	log=$tmp/install.log
	say "building $venv with $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])') from $requirements"
	run "$py" -m venv "$tmp" >"$log" 2>&1 || { cat "$log" >&2; die "$py -m venv failed"; }
	if ! run "$tmp/bin/python" -m pip install --no-input --disable-pip-version-check --require-virtualenv \
		-r "$requirements" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "pip install -r $requirements failed (log above)"
	fi
	"$tmp/bin/python" -m pip check >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "pip check failed: the pins conflict"; }
	cp "$requirements" "$tmp/requirements.txt"
	# pip wrote the temporary path into the scripts in bin/ (shebangs,
	# activate) and pyvenv.cfg: point them at the final place.
	grep -lIF "$tmp" "$tmp"/bin/* "$tmp/pyvenv.cfg" 2>/dev/null | while read -r f; do
		sed -i "s|$tmp|$venv|g" "$f"
	done
	chmod 755 "$tmp"
	if mv -T "$tmp" "$venv" 2>/dev/null; then
		trap - EXIT
		local ds=$((($(date +%s%N) - start) / 100000000))
		say "built $venv in $((ds / 10)).$((ds % 10))s"
	elif [ -x "$venv/bin/python" ]; then
		say "another install built $venv first; using it"
	else
		die "cannot move $tmp to $venv"
	fi
	echo "$venv/bin/python"
}

case "${1:-}" in
ensure) ensure ;;
path) echo "$venv/bin/python" ;;
*) die "usage: $0 ensure|path [requirements file]" ;;
esac
