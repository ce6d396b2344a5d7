"""evalkit: evaluate prompts and models as YAML suites, gate releases on the results.

    import evalkit
    result = evalkit.run("suites/support_faq.yaml", limit=5)
    print(result.summary.cells[0].metrics["icontains"].mean, result.exit_code)

Names are imported on first use, so `import evalkit` (and `evalkit --help`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "run": "evalkit.api",
    "arun": "evalkit.api",
    "validate": "evalkit.api",
    "gate": "evalkit.api",
    "compare": "evalkit.api",
    "dry_run": "evalkit.api",
    "load_suite": "evalkit.api",
    "RunOptions": "evalkit.api",
    "RunResult": "evalkit.api",
    "RunInterrupted": "evalkit.api",
    "Plan": "evalkit.plan",
    "Suite": "evalkit.suite.schema",
    "ResultRecord": "evalkit.results.schema",
    "RunManifest": "evalkit.results.schema",
    "RunSummary": "evalkit.results.schema",
    "Comparison": "evalkit.results.compare",
    "Score": "evalkit.records",
    "EvalkitError": "evalkit.errors",
    "SuiteError": "evalkit.errors",
    "ProviderError": "evalkit.errors",
    "GateError": "evalkit.errors",
    "MissingKeyError": "evalkit.errors",
    "Registry": "evalkit.plugins.registry",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
