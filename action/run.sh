#!/usr/bin/env bash
# Run one evalkit suite for the GitHub Action (or anywhere else) and say where everything went.
#
#   EVALKIT_ACTION_SUITE=suites/x.yaml action/run.sh
#
# Configured by environment variables (action.yml maps its inputs onto them):
#   EVALKIT_ACTION_SUITE        suite file, relative to the current directory (required)
#   EVALKIT_ACTION_BASELINE     --baseline NAME_OR_RUN_ID for every regression gate
#   EVALKIT_ACTION_SHARD        --shard I/N (a CI matrix shard; `evalkit merge` joins them)
#   EVALKIT_ACTION_RUN_ID       the run id [<suite>-gh<run id>-<attempt>[-shard-I-of-N]]
#   EVALKIT_ACTION_RUNS_DIR     where runs are written [runs]
#   EVALKIT_ACTION_REPORTS_DIR  where junit.xml and summary.md go [evalkit-reports/<run id>]
#   EVALKIT_ACTION_ARGS         more `evalkit run` arguments, split like a shell would
#   EVALKIT_ACTION_ENV          NAME=value lines (secrets), exported to the evalkit process only
#   EVALKIT_ACTION_BIN          folder holding the evalkit command [$EVALKIT_ACTION_VENV/bin]
#   EVALKIT_ACTION_MODEL_DIR    the converted model install.sh expects (reports model-ready)
#
# Outputs ($GITHUB_OUTPUT, and printed): run-id, run-dir, reports-dir, junit, markdown,
# exit-code, response-cache (when the file exists), model-ready. The exit code is evalkit's:
# 0 gates passed, 1 a gate failed, 2 invalid suite or arguments, 3 run incomplete.
set -euo pipefail

venv="${EVALKIT_ACTION_VENV:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/evalkit-venv}"
bin="${EVALKIT_ACTION_BIN:-$venv/bin}"
suite="${EVALKIT_ACTION_SUITE:-}"
runs_dir="${EVALKIT_ACTION_RUNS_DIR:-runs}"
shard="${EVALKIT_ACTION_SHARD:-}"

die() {
  echo "error: $1" >&2
  [ -n "${2:-}" ] && echo "  hint: $2" >&2
  exit 2
}

out() {
  echo "$1=$2"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

absolute() { if [[ "$1" = /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }

default_run_id() {
  local stem tag=""
  stem="$(basename "$suite")"
  stem="${stem%.*}"
  if [ -n "$shard" ]; then tag="-shard-${shard//\//-of-}"; fi
  if [ -n "${GITHUB_RUN_ID:-}" ]; then
    echo "$stem-gh$GITHUB_RUN_ID-${GITHUB_RUN_ATTEMPT:-1}$tag" | tr -c 'A-Za-z0-9._\n-' '_'
  else
    echo "$stem-local-$(date -u +%Y%m%d-%H%M%S)$tag" | tr -c 'A-Za-z0-9._\n-' '_'
  fi
}

# NAME=value lines; blank lines and # comments are skipped. Values are never printed.
parse_env() {
  env_lines=()
  local line number=0
  while IFS= read -r line || [ -n "$line" ]; do
    number=$((number + 1))
    line="${line%$'\r'}"
    line="${line#"${line%%[![:space:]]*}"}"
    [ -z "$line" ] || [[ "$line" == \#* ]] && continue
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] \
      || die "env input, line $number: expected NAME=value (the value is not shown)" \
        "one variable per line, e.g. OPENAI_API_KEY=\${{ secrets.OPENAI_API_KEY }}"
    env_lines+=("$line")
  done <<<"${EVALKIT_ACTION_ENV:-}"
}

split_args() { # shell-like splitting, without eval: quotes work, globs and $vars do not
  extra_args=()
  [ -n "${EVALKIT_ACTION_ARGS:-}" ] || return 0
  mapfile -d '' extra_args < <("$bin/python" -c \
    'import shlex, sys; sys.stdout.write("".join(a + "\0" for a in shlex.split(sys.argv[1])))' \
    "$EVALKIT_ACTION_ARGS")
}

explain() { # an annotation on the workflow run page
  [ -n "${GITHUB_ACTIONS:-}" ] || return 0
  case "$1" in
    0) ;;
    1) echo "::error title=evalkit::a gate failed in run $run_id (see the job summary)" ;;
    2) echo "::error title=evalkit::the suite or the arguments are invalid (see the log)" ;;
    3) echo "::error title=evalkit::run $run_id could not complete (see the log)" ;;
    *) echo "::error title=evalkit::evalkit exited with $1" ;;
  esac
}

[ -n "$suite" ] || die "no suite given" "set the action's suite input"
[ -f "$suite" ] || die "$suite: no such suite file" \
  "the suite input is relative to working-directory (here $PWD)"
[ -x "$bin/evalkit" ] || die "no evalkit in $bin" "run action/install.sh first"
[ -z "$shard" ] || [[ "$shard" =~ ^[0-9]+/[0-9]+$ ]] || die "shard '$shard' is not I/N" \
  "e.g. shard: \${{ matrix.shard }}/4"

run_id="${EVALKIT_ACTION_RUN_ID:-$(default_run_id)}"
reports="${EVALKIT_ACTION_REPORTS_DIR:-evalkit-reports/$run_id}"
mkdir -p "$reports"
parse_env
split_args

cmd=("$bin/evalkit" run "$suite" --run-id "$run_id" --runs-dir "$runs_dir" --quiet
  --junit "$reports/junit.xml" --markdown "$reports/summary.md")
if [ -n "${EVALKIT_ACTION_BASELINE:-}" ]; then cmd+=(--baseline "$EVALKIT_ACTION_BASELINE"); fi
if [ -n "$shard" ]; then cmd+=(--shard "$shard"); fi
cmd+=("${extra_args[@]}")
echo "+ ${cmd[*]}"

set +e
(
  unset EVALKIT_ACTION_ENV # the raw secrets text stays out of evalkit's environment
  for line in "${env_lines[@]}"; do export "${line?}"; done
  exec "${cmd[@]}"
)
code=$?
set -e

out run-id "$run_id"
out run-dir "$(absolute "$runs_dir/$run_id")"
out reports-dir "$(absolute "$reports")"
out junit "$(absolute "$reports/junit.xml")"
out markdown "$(absolute "$reports/summary.md")"
out exit-code "$code"
if [ -f "$runs_dir/cache.sqlite" ]; then out response-cache "$(absolute "$runs_dir/cache.sqlite")"; fi
ready=false
if [ -n "${EVALKIT_ACTION_MODEL_DIR:-}" ] && "$bin/python" -c 'import sys, pathlib
from evalkit.providers.local_model import is_converted
sys.exit(not is_converted(pathlib.Path(sys.argv[1])))' "$EVALKIT_ACTION_MODEL_DIR"; then
  ready=true
fi
out model-ready "$ready"
explain "$code"
exit "$code"
