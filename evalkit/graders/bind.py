"""Bind a suite's graders before the first model call: every mistake fails here, with file:line.

Checks: judge ids exist (in `judges:` or `models:`), names are unique among metrics and graders,
`only_if` names real metrics, prompt files exist and compile, the input/reference templates and
a custom prompt find their columns in every row, the human label column exists, and a pairwise
grader names two variants (or models) of the suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import Template

from evalkit.errors import SuiteError
from evalkit.graders.levels import Levels
from evalkit.graders.types import GraderType, grader_type
from evalkit.records import Example
from evalkit.suite.graders import GraderConfig, PairwiseGrader
from evalkit.suite.loader import LoadedSuite

PROMPT_SUFFIXES = (".jinja", ".j2", ".jinja2", ".txt", ".md")
# What a judge prompt can use besides the row's columns.
PROMPT_VARIABLES = frozenset(
    {"input", "output", "output_1", "output_2", "reference", "criteria", "levels", "labels"}
    | {"format_instructions", "row"}
)
JUDGE_SYSTEM = "You are a careful, impartial evaluator. You follow the answer format exactly."


@dataclass(frozen=True)
class BoundGrader:
    """A grader ready to run: its labels, compiled judge prompt and templates."""

    config: Any  # the grader type's config model (a GraderConfig subclass)
    kind: GraderType
    name: str
    levels: Levels
    prompt: Template
    prompt_source: str  # hashed with the judge model and params
    criteria: list[str]
    aggregate: Literal["majority", "mean"]
    input_template: Template | None = None
    reference_template: Template | None = None
    # the examples it judges when rows carry it as their own assertion; None: every example
    examples: frozenset[str] | None = None

    def applies_to(self, example_id: str) -> bool:
        return self.examples is None or example_id in self.examples

    @property
    def pairwise(self) -> bool:
        return self.kind.pairwise

    @property
    def judge_ids(self) -> list[str]:
        return self.config.judge_ids


def bind_graders(
    loaded: LoadedSuite,
    examples: list[Example],
    source: str,
    metric_names: list[str],
    variant_names: list[str] | None = None,
) -> list[BoundGrader]:
    """Validate and bind every grader of the suite (an empty list without graders)."""
    bound: list[BoundGrader] = []
    taken = set(metric_names)
    for index, config in enumerate(loaded.suite.graders):
        at = Locator(loaded, ("graders", index))
        with at("name"):
            if config.display_name in taken:
                raise SuiteError(
                    f"grader name '{config.display_name}' is already used by a metric or another"
                    " grader",
                    hint="give the grader its own name: name: ...",
                )
        grader = bind_grader(config, loaded, examples, source, metric_names, at, variant_names)
        taken.add(grader.name)
        bound.append(grader)
    return bound


def bind_grader(
    config: GraderConfig,
    loaded: LoadedSuite,
    examples: list[Example],
    source: str,
    metric_names: list[str],
    at: Locator,
    variant_names: list[str] | None = None,
) -> BoundGrader:
    """One grader, checked against the examples it judges (errors located by `at`)."""
    with at("judge" if config.judge is not None else "judges"):
        _check_judges(config.display_name, config.judge_ids, loaded)
    with at("variants" if isinstance(config, PairwiseGrader) else "only_if"):
        _check_references(config, loaded, metric_names, variant_names)
    grader = _bind_one(config, loaded, at)
    _check_columns(grader, examples, source, at)
    return grader


class Locator:
    """`with at("judge"):` gives a SuiteError raised inside the file:line of that key.

    `prefix` is where the grader is written (("graders", 2)); `file`/`line` override it for a
    grader written outside the suite file (a dataset row's own assertion)."""

    def __init__(
        self,
        loaded: LoadedSuite,
        prefix: tuple[Any, ...],
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.loaded = loaded
        self.prefix = prefix
        self.file = file
        self.line = line

    @contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        try:
            yield
        except SuiteError as exc:
            if self.file is not None:
                exc.file, exc.line = self.file, self.line
            else:
                exc.file = self.loaded.file
                exc.line = exc.line or self.loaded.line_of((*self.prefix, key))
            raise


def _bind_one(config: GraderConfig, loaded: LoadedSuite, at: Locator) -> BoundGrader:
    name = config.display_name
    with at("type"):
        kind = grader_type(config.type)
    levels = kind.levels(config)
    with at("prompt"):
        source = _prompt_source(config, kind, loaded.base_dir)
        prompt = _compile(source, f"grader {name} prompt")
    with at("input"):
        input_template = _compile(config.input, f"grader {name} input") if config.input else None
    with at("reference"):
        reference = config.reference
        reference_template = _compile(reference, f"grader {name} reference") if reference else None
    return BoundGrader(
        config=config,
        kind=kind,
        name=name,
        levels=levels,
        prompt=prompt,
        prompt_source=source,
        criteria=kind.criteria(config),
        aggregate=config.aggregate or ("mean" if levels.numeric else "majority"),
        input_template=input_template,
        reference_template=reference_template,
    )


def _check_judges(name: str, judge_ids: list[str], loaded: LoadedSuite) -> None:
    from evalkit.errors import did_you_mean

    suite = loaded.suite
    known = [m.id for m in [*suite.models, *suite.judges]]
    for judge in judge_ids:
        if judge not in known:
            raise SuiteError(
                f"grader '{name}': unknown judge '{judge}'",
                hint=did_you_mean(judge, known)
                or f"add it under judges: (or models:); known ids: {', '.join(known)}",
            )


def _check_references(
    config: GraderConfig,
    loaded: LoadedSuite,
    metric_names: list[str],
    variant_names: list[str] | None = None,
) -> None:
    """only_if names real metrics; a pairwise grader names two variants (or models)."""
    name = config.display_name
    if isinstance(config, PairwiseGrader):
        suite = loaded.suite
        variants = variant_names if variant_names is not None else list(suite.prompts)
        known = variants if config.by == "variant" else [m.id for m in suite.models]
        for side in config.sides:
            if side not in known:
                raise SuiteError(
                    f"grader '{name}': unknown {config.by} '{side}'",
                    hint=f"the suite's {config.by}s: {', '.join(known)}",
                )
    elif isinstance(only_if := getattr(config, "only_if", None), list):
        for metric in only_if:
            if metric not in metric_names:
                raise SuiteError(
                    f"grader '{name}': only_if names an unknown metric '{metric}'",
                    hint=f"metrics of this suite: {', '.join(metric_names) or 'none'}",
                )


def _prompt_source(config: GraderConfig, kind: GraderType, base_dir: Path) -> str:
    """The judge prompt: the one shipped with the type, or the grader's override."""
    if config.prompt is None:
        source = kind.prompt_source()
    elif _is_file(config.prompt):
        file = (base_dir / config.prompt).resolve()
        if not file.is_file():
            raise SuiteError(
                f"judge prompt file not found: {config.prompt}",
                hint=f"paths are relative to the suite's folder ({base_dir})",
            )
        source = file.read_text(encoding="utf-8")
    else:
        source = config.prompt
    if "format_instructions" not in source:  # the answer format depends on the judge's mode
        source = source.rstrip("\n") + "\n\n{{ format_instructions }}\n"
    return source


def _is_file(text: str) -> bool:
    text = text.strip()
    return text.endswith(PROMPT_SUFFIXES) and not any(c in text for c in " \n{")


def _compile(source: str, origin: str) -> Template:
    from evalkit.prompts.render import compile_template

    return compile_template(source, origin)


def _check_columns(grader: BoundGrader, examples: list[Example], source: str, at: Locator) -> None:
    """Templates that read the row (input, reference, a custom prompt) find their columns."""
    from evalkit.prompts.render import render, template_variables
    from evalkit.prompts.variants import check_template_variables

    config = grader.config
    checks: list[tuple[str, str | None, Template | None, frozenset[str]]] = [
        ("input", config.input, grader.input_template, frozenset()),
        ("reference", config.reference, grader.reference_template, frozenset()),
        ("prompt", grader.prompt_source, grader.prompt, PROMPT_VARIABLES),
    ]
    for key, text, template, provided in checks:
        if text is None or template is None:
            continue
        needed = template_variables(text) - provided
        if not needed:
            continue
        filler: dict[str, Any] = dict.fromkeys(provided, "")

        def try_render(
            example: Example, t: Template = template, fill: dict[str, Any] = filler
        ) -> None:
            render(t, {**example.row, **fill}, example_id=example.id, origin=grader.name)

        with at(key):
            check_template_variables(
                f"grader '{grader.name}' {key}", needed, try_render, examples, source=source
            )
    with at("human_label"):
        _check_human_label(grader, examples)


def _check_human_label(grader: BoundGrader, examples: list[Example]) -> None:
    column = getattr(grader.config, "human_label", None)
    if column and examples and not any(column in e.row for e in examples):
        columns = sorted({k for e in examples for k in e.row})
        raise SuiteError(
            f"grader '{grader.name}': no row has the human label column '{column}'",
            hint=f"the dataset's columns: {', '.join(columns)}",
        )
