"""The suite format as pydantic models (extra keys forbidden, frozen after load).

The loader (loader.py) turns YAML into these models and maps validation errors back to
file:line. Shorthands a PO writes (a prompt as one string, `contains: "{{ expected }}"`) are
normalised here, in `mode="before"` validators, so the rest of evalkit sees one shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    field_validator,
    model_validator,
)

from evalkit.suite.gates import Gate
from evalkit.suite.graders import GraderConfig, typed_grader
from evalkit.suite.limits import LIMITS, PARAM_BOUNDS, Count, Finite, check_param, finite

PROMPT_FILE_SUFFIXES = (".jinja", ".j2", ".jinja2", ".txt", ".md", ".yaml", ".yml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(Strict):
    """Where rows come from: a file (jsonl, csv, parquet) or inline `rows`."""

    path: str | None = None
    format: Literal["jsonl", "csv", "parquet"] | None = None
    rows: list[dict[str, Any]] | None = None
    name: str | None = None
    limit: Count | None = Field(default=None, ge=1)
    sample: Count | None = Field(default=None, ge=1, description="seeded random sample of n rows")
    seed: Count = 0
    id_field: str | None = None
    rename: dict[str, str] = Field(default_factory=dict, description="old column -> new column")
    assert_column: str | None = Field(
        default="assert",
        description="the column holding a row's own assertions (a list of metrics and graders)"
        "; null reads it as data",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"path": data}
        if isinstance(data, list):
            return {"rows": data}
        return data

    @field_validator("rows")
    @classmethod
    def _finite_rows(cls, value: Any) -> Any:
        return finite(value, "rows")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if (self.path is None) == (self.rows is None):
            raise ValueError("a dataset needs exactly one of 'path' or 'rows'")
        return self


def _looks_like_file(text: str) -> bool:
    """A path like prompts/qa.jinja; "Summarise README.md" stays a one-line prompt."""
    text = text.strip()
    return text.endswith(PROMPT_FILE_SUFFIXES) and not any(c in text for c in " \n{")


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str
    name: str | None = Field(
        default=None, description="the speaker's name, sent as is (few-shot turns: example_user)"
    )


class PromptVariant(Strict):
    """A prompt variant: chat messages whose contents are Jinja2 templates.

    Written as a string (one user message), a list of messages (few-shot), a mapping with
    system/user, or a file path (ending .jinja/.j2/.txt/.md or .yaml for a message list).
    """

    messages: list[ChatMessage] = Field(default_factory=list)
    file: str | None = None
    from_row: str | None = Field(
        default=None,
        description="a column holding each row's own chat messages (or one user message), sent"
        " after the variant's messages",
    )
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, str):
            if _looks_like_file(data):
                return {"file": data.strip()}
            return {"messages": [{"role": "user", "content": data}]}
        if isinstance(data, list):
            return {"messages": data}
        if isinstance(data, dict) and ("system" in data or "user" in data):
            data = dict(data)
            # system first, then few-shot `messages`, then the user turn: the order a chat needs
            system = [{"role": "system", "content": data.pop("system")}] if "system" in data else []
            user = [{"role": "user", "content": data.pop("user")}] if "user" in data else []
            data["messages"] = system + list(data.get("messages") or []) + user
        return data

    @model_validator(mode="after")
    def _has_content(self) -> PromptVariant:
        if not self.messages and not self.file and not self.from_row:
            raise ValueError("a prompt variant needs messages, system/user, a file or from_row")
        return self


class ModelConfig(Strict):
    """A model under evaluation (or a judge): a provider, a model name and parameters."""

    id: str
    provider: str = "transformers"
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="provider options: base_url, api_key_env, function, column, device, ...",
    )
    concurrency: Count | None = Field(
        default=None, ge=1, le=LIMITS.concurrency, description="per-model concurrency limit"
    )
    timeout: Finite | None = Field(
        default=None,
        gt=0,
        le=LIMITS.timeout_s,
        description="seconds per call [default: 120; none for transformers, whose calls wait in a"
        " batch queue]",
    )
    max_attempts: Count = Field(default=3, ge=1, le=100)
    backoff_base: Finite = Field(
        default=0.5, ge=0, le=3600, description="first retry delay ceiling, s"
    )
    backoff_max: Finite = Field(default=30.0, ge=0, le=3600, description="largest retry delay, s")
    rpm: Finite | None = Field(default=None, gt=0, description="requests per minute limit")
    tpm: Finite | None = Field(default=None, gt=0, description="tokens per minute limit")

    @field_validator("id")
    @classmethod
    def _id_is_simple(cls, value: str) -> str:
        if not value or any(c in value for c in "|/\\ "):
            raise ValueError("a model id must be non-empty, without spaces, '|' or slashes")
        return value

    @field_validator("params")
    @classmethod
    def _bounded_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, bounds in PARAM_BOUNDS.items():
            if value.get(name) is not None:
                check_param(name, value[name], *bounds)
        return finite(value, "params")

    @field_validator("options")
    @classmethod
    def _finite_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        return finite(value, "options")


class MetricConfig(Strict):
    """A deterministic metric: its registered `type`, an optional display `name`, its args.

    YAML shorthands: `contains: "{{ expected }}"` or `{type: regex, pattern: "\\d+"}`.
    """

    type: str
    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"type": data}
        if not isinstance(data, dict) or "args" in data:
            return data
        data = dict(data)
        if "type" in data:
            kind = data.pop("type")
            name = data.pop("name", None)
            return {"type": kind, "name": name, "args": data}
        name = data.pop("name", None)
        if len(data) != 1:
            raise ValueError(
                "a metric is either {type: NAME, ...args} or {NAME: value}, "
                f"got keys {sorted(data)}"
            )
        ((kind, value),) = data.items()
        args = value if isinstance(value, dict) else {"_": value}
        return {"type": kind, "name": name, "args": args}

    @field_validator("args")
    @classmethod
    def _finite_args(cls, value: dict[str, Any]) -> dict[str, Any]:
        return finite(value, "args")

    @property
    def display_name(self) -> str:
        return self.name or self.type


class CaseConfig(Strict):
    """One entry of `tests:` (promptfoo's tests): a row's values and its own assertions.

    `assert` lists metrics and graders as `metrics:` / `graders:` write them, or
    `{template: NAME, ...overrides}` naming one of the suite's `assertion_templates`; they are
    scored on this row only, together with the suite's own metrics and graders.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    vars: dict[str, Any] = Field(default_factory=dict, description="the row's columns")
    assertions: list[dict[str, Any] | str] = Field(
        default_factory=list,
        alias="assert",
        description="this row's own metrics and graders (or {template: NAME})",
    )
    id: str | None = Field(default=None, description="the example id [default: a content hash]")
    description: str | None = None

    @field_validator("id")
    @classmethod
    def _simple_id(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "|" in value):
            raise ValueError("a test id must be non-empty, without '|'")
        return value


class TrackingConfig(Strict):
    """Where a run is logged (MLflow). Overridden by --tracking-uri and MLFLOW_TRACKING_URI."""

    enabled: bool = True
    backends: list[str] = Field(
        default_factory=lambda: ["mlflow"], description="registered trackers to log to"
    )
    uri: str | None = Field(default=None, description="tracking URI [default: runs/mlflow.db]")
    experiment: str | None = Field(default=None, description="[default: the suite name]")
    register_prompts: bool = Field(default=True, description="prompt variants -> Prompt Registry")
    traces: Count | None = Field(
        default=None,
        ge=0,
        description="at most this many items logged as traces (chosen by example id); 0: none,"
        " default: every item",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `tracking: false` turns logging off; `tracking: http://host:5000` names the server
        if isinstance(data, bool):
            return {"enabled": data}
        if isinstance(data, str):
            return {"uri": data}
        return data


class ReportConfig(Strict):
    """A report written after every run, by a registered reporter (junit, markdown, html, ...)."""

    type: str = Field(description="the reporter's registered name")
    path: str = Field(description="where to write it, relative to the working directory")
    options: dict[str, Any] = Field(default_factory=dict, description="the reporter's options")


class PriceConfig(Strict):
    """A model's price in USD per 1M tokens (overrides evalkit's default price table)."""

    input: Finite = Field(ge=0, description="USD per 1M input (prompt) tokens")
    output: Finite = Field(ge=0, description="USD per 1M output (completion) tokens")


class Suite(Strict):
    """An evaluation suite."""

    name: str
    description: str | None = None
    dataset: DatasetConfig | None = None
    tests: list[CaseConfig] = Field(
        default_factory=list,
        description="rows written in the suite, each with its own assertions (after the dataset's)",
    )
    assertion_templates: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="metrics and graders by name, used in a row's assertions as {template: NAME}",
    )
    prompts: dict[str, PromptVariant] = Field(min_length=1)
    models: list[ModelConfig] = Field(min_length=1)
    metrics: list[MetricConfig] = Field(default_factory=list)
    repeats: Count = Field(default=1, ge=1, le=LIMITS.repeats)
    concurrency: Count = Field(default=8, ge=1, le=LIMITS.concurrency)
    tags: dict[str, str] = Field(default_factory=dict)
    judges: list[ModelConfig] = Field(
        default_factory=list, description="judge models for graders (not part of the matrix)"
    )
    graders: list[SerializeAsAny[GraderConfig]] = Field(
        default_factory=list, description="LLM judges: rubric, closed_qa, factuality, pairwise"
    )
    gates: list[Gate] = Field(default_factory=list, description="what a release must clear")
    group_by: list[str] = Field(
        default_factory=list,
        description="dataset columns to slice every cell's numbers by (e.g. [category]);"
        " --group-by adds to them",
    )
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    reports: list[ReportConfig] = Field(
        default_factory=list, description="reports written after every run (as --report)"
    )
    prices: dict[str, PriceConfig] = Field(
        default_factory=dict,
        description="USD per 1M tokens by model name (or model id), over the default table",
    )
    max_cost: Finite | None = Field(
        default=None,
        gt=0,
        description="stop starting new items once a run has spent this many USD (--max-cost)",
    )
    error_budget: Finite = Field(
        default=0.1,
        ge=0,
        le=1,
        description="fraction of items allowed to fail before the run stops and exits 3",
    )

    @field_validator("graders", mode="before")
    @classmethod
    def _typed_graders(cls, value: Any) -> Any:
        # each entry validates against the config of its registered type (plugins included)
        return [typed_grader(item) for item in value] if isinstance(value, list) else value

    @field_validator("group_by", mode="before")
    @classmethod
    def _one_column(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # `group_by: category`

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_from_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(tag): "true" for tag in value}
        return value

    @model_validator(mode="after")
    def _has_rows(self) -> Suite:
        if self.dataset is None and not self.tests:
            raise ValueError("a suite needs a dataset: (a file or rows) or tests:")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        ids = [m.id for m in [*self.models, *self.judges]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"model ids must be unique, repeated: {', '.join(dupes)}")
        names = [m.display_name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique (set 'name:'), repeated: {dupes}")
        return self

    def model(self, model_id: str) -> ModelConfig:
        return next(m for m in [*self.models, *self.judges] if m.id == model_id)
