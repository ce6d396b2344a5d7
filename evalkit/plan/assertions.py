"""Per-example assertions: a row's own metrics and graders, bound before the first call.

A row carries its own assertions in one of two ways:

- a suite's `tests:` (promptfoo style): each test's `vars` is a row, its `assert` list the
  row's own metrics and graders;
- a dataset column (`assert`, or `dataset.assert_column`) holding a list of them: JSON in a
  jsonl row, JSON or YAML text in a CSV cell.

An entry is a metric as `metrics:` writes it, a grader as `graders:` writes it (its `type` is a
registered grader type), or `{template: NAME, ...overrides}` naming one of the suite's
`assertion_templates` (its score is then called NAME unless a `name:` says otherwise).

A row's own assertions are scored with the suite's metrics and graders, so names must be unique
on each row. A row that does not carry an assertion is not scored by it: that score's n counts
only the rows that do, and gates and compare leave the others out instead of counting them as
unscored. When any row carries its own assertions, every row also gets the score `assertions`
(promptfoo's test verdict): passed when every assertion of the row passed, unscored when one
is unscored or the row has none, so a row without assertions is never a silent pass.

    bound = bind_assertions(loaded, groups, taken=["contains"], variants=["plain"])
    bound.examples[0].assertions.metrics, bound.graders, bound.names
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import EvalkitError, SuiteError, did_you_mean
from evalkit.graders.bind import BoundGrader, Locator, bind_grader
from evalkit.metrics.bind import BoundMetric, bind_metrics
from evalkit.records import Assertions, Example, stable_hash
from evalkit.suite.loader import LoadedSuite
from evalkit.suite.schema import MetricConfig
from evalkit.suite.validation import validate_model

VERDICT = "assertions"  # the score that says whether every assertion of a row passed


@dataclass(frozen=True)
class Group:
    """Examples from one source: the dataset (file or inline rows) or the suite's tests."""

    examples: list[Example]
    source: str  # how messages name it: a data file, "inline rows", or the suite file
    tests: dict[str, int] | None = None  # example id -> index in `tests:` (the tests' group)

    def head(self, count: int) -> Group:
        return dataclasses.replace(self, examples=self.examples[:count])


@dataclass(frozen=True)
class Entry:
    """One assertion as written, with where it was written."""

    spec: Any
    file: str
    line: int | None
    loc: tuple[Any, ...] | None  # its key path in the suite file; None outside it


@dataclass
class BoundAssertions:
    examples: list[Example]  # every example, those with assertions carrying them
    graders: list[BoundGrader] = field(default_factory=list)  # rows' own, scoped to their rows
    metrics: list[BoundMetric] = field(default_factory=list)  # distinct, for run.json
    names: list[str] = field(default_factory=list)  # score names the rows add


def group_of_tests(loaded: LoadedSuite, taken: set[str]) -> Group:
    """The suite's `tests:` as examples: `vars` is the row; ids from `id:` or the vars' hash."""
    seen: dict[str, int] = {}
    examples = []
    for index, test in enumerate(loaded.suite.tests):
        line = loaded.line_of(("tests", index))
        if test.id is not None:
            example_id = test.id
        else:
            digest = stable_hash(test.vars)
            seen[digest] = seen.get(digest, 0) + 1
            example_id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        if example_id in taken:
            raise SuiteError(
                f"tests[{index}]: the example id '{example_id}' is already used",
                file=loaded.file,
                line=line,
                hint="ids pair results across runs, so each must be unique: set id: on the test",
            )
        taken.add(example_id)
        examples.append(Example(id=example_id, row=dict(test.vars), line=line))
    positions = {e.id: i for i, e in enumerate(examples)}
    return Group(examples, loaded.file, tests=positions)


def bind_assertions(
    loaded: LoadedSuite, groups: Sequence[Group], *, taken: list[str], variants: list[str]
) -> BoundAssertions:
    """Bind every row's own assertions; `taken` are the suite's metric and grader names."""
    _check_templates(loaded)
    binder = _Binder(loaded, taken, variants)
    entries = {id(e): _entries(loaded, group, e) for group in groups for e in group.examples}
    every = [e for group in groups for e in group.examples]
    if not any(entries.values()):
        return BoundAssertions(examples=every)
    examples = []
    for group in groups:
        for example in group.examples:
            metrics = binder.bind_row(example, entries[id(example)], group.source)
            own = Assertions(metrics=tuple(metrics), verdict=VERDICT)
            examples.append(dataclasses.replace(example, assertions=own))
    return BoundAssertions(
        examples=examples,
        graders=binder.graders(examples),
        metrics=list(binder.metrics.values()),
        names=[*binder.names, VERDICT],
    )


# --- where assertions come from ---------------------------------------------------------------


def _entries(loaded: LoadedSuite, group: Group, example: Example) -> list[Entry]:
    if group.tests is not None:
        at = group.tests[example.id]
        specs = loaded.suite.tests[at].assertions
        locs = [("tests", at, "assert", j) for j in range(len(specs))]
        return [
            Entry(s, loaded.file, loaded.line_of(loc), loc)
            for s, loc in zip(specs, locs, strict=True)
        ]
    dataset = loaded.suite.dataset
    column = dataset.assert_column if dataset is not None else None
    if dataset is None or column is None or example.row.get(column) in (None, ""):
        return []
    inline = dataset.rows is not None
    file = loaded.file if inline else group.source
    line = _inline_row_line(loaded, (example.line or 1) - 1) if inline else example.line
    specs = _column_specs(example.row[column], column, file, line)
    return [Entry(spec, file, line, None) for spec in specs]


def _inline_row_line(loaded: LoadedSuite, index: int) -> int | None:
    """An inline row's line: written under `dataset: {rows: [...]}` or as `dataset: [...]`."""
    for loc in (("dataset", "rows", str(index)), ("dataset", str(index))):
        if loc in loaded.lines:
            return loaded.lines[loc]
    return loaded.line_of(("dataset",))


def _column_specs(value: Any, column: str, file: str, line: int | None) -> list[Any]:
    if isinstance(value, str):  # a CSV cell: JSON or YAML text
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise SuiteError(
                f"the '{column}' column is not valid JSON or YAML ({exc})",
                file=file,
                line=line,
                hint='write a list of metrics, e.g. [{"contains": "Paris"}]',
            ) from None
    if isinstance(value, dict | str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict | str) for v in value):
        return value
    raise SuiteError(
        f"the '{column}' column holds a {type(value).__name__}, not a list of assertions",
        file=file,
        line=line,
        hint="a list of metrics and graders; or set dataset.assert_column: null to read it as data",
    )


def _check_templates(loaded: LoadedSuite) -> None:
    """Every template is a metric or grader that binds, checked where it is written."""
    for name, spec in loaded.suite.assertion_templates.items():
        line = loaded.line_of(("assertion_templates", name))
        entry = Entry({**spec, "name": spec.get("name", name)}, loaded.file, line, None)
        binder = _Binder(loaded, [], [])
        if _grader_type(entry.spec) is None:
            binder.metric(entry)
        else:
            binder.grader(entry)


def _grader_type(spec: Any) -> str | None:
    from evalkit.plugins.registry import registry

    kind = spec.get("type") if isinstance(spec, dict) else None
    return kind if isinstance(kind, str) and registry().has("grader", kind) else None


# --- binding ------------------------------------------------------------------------------------


class _Binder:
    """Binds entries once per distinct spec; a spec shared by many rows is one bound object."""

    def __init__(self, loaded: LoadedSuite, taken: list[str], variants: list[str]) -> None:
        self.loaded = loaded
        self.taken = taken
        self.variants = variants
        self.metrics: dict[str, BoundMetric] = {}
        self.grader_configs: dict[str, tuple[Any, Entry]] = {}
        self.grader_rows: dict[str, list[Example]] = {}
        self.names: dict[str, None] = {}
        self.configs: dict[str, MetricConfig] = {}
        self.templates: dict[str, tuple[set[str], Any]] = {}

    def bind_row(self, example: Example, entries: list[Entry], source: str) -> list[BoundMetric]:
        names = set(self.taken)
        metrics = []
        for entry in entries:
            entry = self.expand(entry)
            name = self.claim(entry, names)
            if _grader_type(entry.spec) is not None:
                key = self.grader(entry)
                self.grader_rows.setdefault(key, []).append(example)
            else:
                metrics.append(self.metric(entry))
                self.check_columns(entry, example, source)
            self.names[name] = None
        return metrics

    def expand(self, entry: Entry) -> Entry:
        spec = entry.spec
        if not (isinstance(spec, dict) and "template" in spec):
            return entry
        templates = self.loaded.suite.assertion_templates
        name = str(spec["template"])
        if name not in templates:
            raise SuiteError(
                f"unknown assertion template '{name}'",
                file=entry.file,
                line=entry.line,
                hint=did_you_mean(name, list(templates))
                or f"templates: {', '.join(templates) or 'none (add assertion_templates:)'}",
            )
        overrides = {k: v for k, v in spec.items() if k != "template"}
        merged = {**templates[name], **overrides}
        merged.setdefault("name", name)
        return dataclasses.replace(entry, spec=merged, loc=None)

    def claim(self, entry: Entry, names: set[str]) -> str:
        """The entry's score name, unique on its row."""
        spec = entry.spec
        kind = _grader_type(spec)
        if kind is not None:
            name = str(spec.get("name") or kind)
        else:
            name = self.config(entry).display_name
        if name == VERDICT or name in names:
            what = "the row verdict" if name == VERDICT else "a suite metric or another assertion"
            raise SuiteError(
                f"the score name '{name}' is already {what} on this row",
                file=entry.file,
                line=entry.line,
                hint="give this assertion its own name: name: ...",
            )
        names.add(name)
        return name

    def config(self, entry: Entry) -> MetricConfig:
        key = stable_hash(entry.spec)
        if key not in self.configs:
            lines = dict(self.loaded.lines) if entry.loc is not None else {}
            try:
                config = validate_model(
                    MetricConfig, entry.spec, lines, entry.file, entry.loc or ()
                )
            except SuiteError as exc:
                exc.line = exc.line or entry.line
                raise
            self.configs[key] = config
        return self.configs[key]

    def check_columns(self, entry: Entry, example: Example, source: str) -> None:
        """A row's templated arguments (`value: "{{ city }}"`) find their columns in the row."""
        from evalkit.prompts.variants import check_template_variables

        key = stable_hash(entry.spec)
        if key not in self.templates:
            self.templates[key] = metric_templates(self.config(entry), entry.file)
        variables, try_render = self.templates[key]
        if not variables:
            return
        label = f"metric '{self.config(entry).display_name}'"
        try:
            check_template_variables(label, variables, try_render, [example], source=source)
        except SuiteError as exc:
            exc.file, exc.line = entry.file, entry.line
            raise

    def metric(self, entry: Entry) -> BoundMetric:
        key = stable_hash(entry.spec)
        if key not in self.metrics:
            config = self.config(entry)
            try:
                (bound,) = bind_metrics([config], self.loaded.base_dir)
            except EvalkitError as exc:
                exc.file, exc.line = entry.file, entry.line
                raise
            self.metrics[key] = bound
        return self.metrics[key]

    def grader(self, entry: Entry) -> str:
        from evalkit.plugins.registry import grader_config

        key = stable_hash(entry.spec)
        if key in self.grader_configs:
            return key
        kind = str(entry.spec["type"])
        if kind == "pairwise":
            raise SuiteError(
                "a pairwise grader compares whole variants: it cannot be a row's own assertion",
                file=entry.file,
                line=entry.line,
                hint="list it under the suite's graders:",
            )
        lines = dict(self.loaded.lines) if entry.loc is not None else {}
        try:
            config = validate_model(
                grader_config(kind), entry.spec, lines, entry.file, entry.loc or ()
            )
        except SuiteError as exc:
            exc.line = exc.line or entry.line
            raise
        self.grader_configs[key] = (config, entry)
        return key

    def graders(self, examples: list[Example]) -> list[BoundGrader]:
        """Each distinct grader, bound against (and scoped to) the rows that carry it."""
        by_id = {e.id: e for e in examples}
        bound = []
        metric_names = [*self.taken, *self.names]
        for key, (config, entry) in self.grader_configs.items():
            rows = [by_id[e.id] for e in self.grader_rows[key]]
            if entry.loc is not None:
                at = Locator(self.loaded, entry.loc)
            else:
                at = Locator(self.loaded, (), file=entry.file, line=entry.line)
            source = self.loaded.file if entry.loc is not None else entry.file
            grader = bind_grader(config, self.loaded, rows, source, metric_names, at, self.variants)
            bound.append(dataclasses.replace(grader, examples=frozenset(e.id for e in rows)))
        return bound


def metric_templates(config: MetricConfig, file: str) -> tuple[set[str], Any]:
    """The columns a metric's templated arguments read, and a function that renders them."""
    from evalkit.prompts.render import compile_template, render, template_variables

    sources = [v for v in _strings(config.args) if "{{" in v or "{%" in v]
    origin = f"metric {config.display_name}"
    templates = [compile_template(s, origin) for s in sources]
    variables = set().union(*(template_variables(s) for s in sources)) if sources else set()

    def try_render(example: Example) -> None:
        for template in templates:
            render(template, example.row, example_id=example.id, origin=file, line=example.line)

    return variables, try_render


def _strings(args: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for value in args.values():
        items = value if isinstance(value, list) else [value]
        found.extend(v for v in items if isinstance(v, str))
    return found
