"""Score outputs that already exist: the "model" reads its output from a dataset column.

    models:
      - id: prod-logs
        provider: replay
        options: {column: answer}        # default: "output"

Useful to score production logs or another tool's outputs with the same metrics, graders and
gates. No model runs: zero latency, no tokens, no cost.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import ProviderError, SuiteError, did_you_mean
from evalkit.providers.base import ProviderEntry, at_key, check_known_keys
from evalkit.records import Generation, GenerationRequest

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig

OPTIONS = ("column",)


class ReplayProvider:
    """Returns `row[column]` as the output."""

    def __init__(self, column: str = "output") -> None:
        self.column = column

    async def generate(self, request: GenerationRequest) -> Generation:
        row = request.row
        if self.column not in row:
            columns = ", ".join(sorted(row)) or "none"
            raise ProviderError(
                f"replay: example '{request.example_id}' has no column '{self.column}'",
                hint=did_you_mean(self.column, row)
                or f"set options: {{column: ...}}; the row's columns: {columns}",
            )
        return Generation(output=_as_text(row[self.column], self.column))

    async def aclose(self) -> None:
        return None


def _as_text(value: Any, column: str) -> str:
    # An empty CSV cell arrives as None or NaN: there is nothing to score, so say so.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ProviderError(f"replay: column '{column}' is empty for this example")
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):  # structured outputs stay parseable for json metrics
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def check_config(config: ModelConfig, base_dir: Path | None = None) -> None:
    """The static check (validate): the options."""
    _column(config)


def _column(config: ModelConfig) -> str:
    check_known_keys("replay", "option", config.options, OPTIONS)
    column = config.options.get("column", "output")
    if not isinstance(column, str) or not column:
        with at_key("options", "column"):
            raise SuiteError("replay option 'column' must be a column name")
    return column


def create(config: ModelConfig, base_dir: Path) -> ReplayProvider:
    """The replay provider. Example: `options: {column: answer}`."""
    return ReplayProvider(_column(config))


ENTRY = ProviderEntry(create, check_config=check_config)
