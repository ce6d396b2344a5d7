"""Everything a run needs, prepared and checked before the first model call.

`prepare()` loads the suite and dataset, compiles prompt variants, checks every template
against every row, checks providers and model configs, binds metrics and graders and checks the
gates; any user error surfaces here, as a SuiteError with file:line, before anything is spent.
`evalkit validate` is `prepare()` plus a report; nothing here imports a provider's SDK or a
user's module. `work_items()` then yields the matrix lazily.

    plan = prepare("suites/support.yaml", limit=5)
    print(plan.summary_line())
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.data.loaders import dataset_digest, dataset_name, dataset_source, load_dataset
from evalkit.data.shards import Shard, group_id, shard_examples
from evalkit.errors import SuiteError
from evalkit.gates.apply import check_gates
from evalkit.graders.bind import BoundGrader, bind_graders
from evalkit.metrics.bind import BoundMetric, bind_metrics
from evalkit.plan.assertions import Group, bind_assertions, group_of_tests, metric_templates
from evalkit.plan.slices import check_slices
from evalkit.prompts.variants import CompiledVariant, check_variables, compile_loaded
from evalkit.records import Example, WorkItem
from evalkit.results.schema import (
    DatasetInfo,
    RunManifest,
    RunOptionsInfo,
    ShardInfo,
)
from evalkit.suite.loader import LoadedSuite, load_suite
from evalkit.suite.schema import ModelConfig, Suite

if TYPE_CHECKING:
    from evalkit.plugins.user_code import UserCode
    from evalkit.results.redaction import Redactor

SuiteSource = str | Path | Suite | LoadedSuite


@dataclass
class Plan:
    loaded: LoadedSuite
    examples: list[Example]
    variants: dict[str, CompiledVariant]
    metrics: list[BoundMetric]
    variant_names: list[str]
    model_ids: list[str]
    graders: list[BoundGrader] = field(default_factory=list)
    row_metrics: list[BoundMetric] = field(default_factory=list)  # rows' own, distinct
    shard: Shard | None = None
    dataset: list[Example] | None = None  # every example, when `examples` is a shard's slice
    group_by: list[str] = field(default_factory=list)  # slice columns: suite's + --group-by

    @property
    def suite(self) -> Suite:
        return self.loaded.suite

    @property
    def total(self) -> int:
        return len(self.examples) * len(self.variant_names) * len(self.model_ids) * self.repeats

    @property
    def slice_columns(self) -> list[str]:
        """Columns the summary or a per-slice gate reads from each record's inputs."""
        per = [g.per for g in self.suite.gates if g.per is not None]
        return list(dict.fromkeys([*self.group_by, *per]))

    @property
    def repeats(self) -> int:
        return int(self.loaded.suite.repeats)

    @property
    def judge_ids(self) -> list[str]:
        """Every judge the graders name (their runtimes are created with the models')."""
        return list(dict.fromkeys(j for g in self.graders for j in g.judge_ids))

    def work_items(self, skip: set[str] | None = None) -> Iterator[WorkItem]:
        """Example-major order, so early results already cover every variant and model."""
        skip = skip or set()
        for example in self.examples:
            for repeat in range(self.repeats):
                for variant in self.variant_names:
                    for model in self.model_ids:
                        item = WorkItem(example, variant, model, repeat)
                        if item.key not in skip:
                            yield item

    def user_code(self) -> list[UserCode]:
        """The modules a run would import: custom metrics and function providers."""
        from dataclasses import replace

        from evalkit.plugins.user_code import UserFunction

        found = function_providers(self.loaded)
        located = [(m, self.loaded.line_of(("metrics", i))) for i, m in enumerate(self.metrics)]
        for metric, line in [*located, *((m, None) for m in self.row_metrics)]:
            fn = metric.definition.fn  # rows' own assertions may name custom metrics too
            if isinstance(fn, UserFunction):
                if fn.code.file is None:
                    fn.code = replace(fn.code, file=self.loaded.file, line=line)
                found.append(fn.code)
        return found

    def load_user_code(self) -> None:
        """Import the custom metrics now (with consent), so a broken one fails before the run."""
        from evalkit.plugins.user_code import UserFunction

        for metric in [*self.metrics, *self.row_metrics]:
            if isinstance(metric.definition.fn, UserFunction):
                metric.definition.fn.load()

    def redactor(self) -> Redactor:
        """The run's secrets: credential-like env values and every variable an `*_env` option
        or metric argument names (api_key_env), whatever its name."""
        from evalkit.results.redaction import Redactor, secret_env_names

        suite = self.suite
        sections = [m.options for m in [*suite.models, *suite.judges]]
        sections += [m.args for m in suite.metrics]
        return Redactor.from_env(names=secret_env_names(sections))

    def render_all(self) -> None:
        """Render every prompt of the run once, before its folder exists.

        `prepare` checks each row shape (fast, for validate); a run renders every item anyway,
        and a value that breaks a template on row 9,000 must fail before the first call."""
        for example in self.examples:
            for name in self.variant_names:
                try:
                    self.variants[name].render(example)
                except SuiteError as exc:
                    exc.message = f"prompt '{name}': {exc.message}"
                    raise

    def dataset_info(self) -> DatasetInfo:
        """The whole dataset (also in a shard run: shards of the same data compare equal)."""
        dataset = self.suite.dataset
        examples = self.dataset if self.dataset is not None else self.examples
        return DatasetInfo(
            name=dataset_name(dataset) if dataset is not None else "tests",
            digest=dataset_digest(examples),
            rows=len(examples),
            path=dataset.path if dataset is not None else None,
        )

    def manifest(
        self, run_id: str, options: RunOptionsInfo, group: str | None = None
    ) -> RunManifest:
        """run.json: what was run, enough to resume it and to log it to a tracker later."""
        from evalkit.plan.manifest import build_manifest

        manifest = build_manifest(self, run_id, options)
        if self.shard is not None:
            mine = {e.id for e in self.examples}
            positions = {e.id: k for k, e in enumerate(self.dataset or []) if e.id in mine}
            manifest.shard = ShardInfo(
                index=self.shard.index,
                count=self.shard.count,
                examples=len(self.examples),
                positions=positions,
            )
        if group is not None or self.shard is not None:
            manifest.group = group_id(manifest.suite.hash, manifest.dataset.digest, group)
        return manifest

    def summary_line(self) -> str:
        return (
            f"suite '{self.suite.name}': {_n(len(self.examples), 'example')} x "
            f"{_n(len(self.variant_names), 'variant')} x {_n(len(self.model_ids), 'model')} x "
            f"{_n(self.repeats, 'repeat')} = {_n(self.total, 'call')}"
        )


def prepare(
    suite: SuiteSource,
    *,
    limit: int | None = None,
    variants: list[str] | None = None,
    models: list[str] | None = None,
    base_dir: Path | None = None,
    shard: Shard | None = None,
    group_by: list[str] | None = None,
) -> Plan:
    """Load (a path) or adopt (a Suite built in Python) a suite and check all of it.

    With `shard`, the plan runs that slice of the examples (after `limit`); every check still
    covers every row, so each shard of a suite fails or passes validation alike. `group_by`
    adds slice columns to the suite's (--group-by)."""
    loaded = _loaded(suite, base_dir)
    groups = _groups(loaded, limit)
    examples = [e for g in groups for e in g.examples]
    compiled = compile_loaded(loaded)
    for group in groups:
        check_variables(compiled, group.examples, source=group.source)
    check_providers(loaded)
    check_function_providers(loaded)
    metrics = bind_metrics(
        list(loaded.suite.metrics), loaded.base_dir, file=loaded.file, locate=loaded.line_of
    )
    for group in groups:
        check_metric_templates(loaded, group.examples, group.source)
    metric_names = [m.display_name for m in loaded.suite.metrics]
    source = groups[0].source if groups else loaded.file
    graders = bind_graders(loaded, examples, source, metric_names, list(compiled))
    own = bind_assertions(
        loaded, groups, taken=[*metric_names, *(g.name for g in graders)], variants=list(compiled)
    )
    check_gates(
        loaded.suite, loaded.file, loaded.line_of, extra_metrics=own.names, variants=list(compiled)
    )
    check_reporters(loaded)
    slice_columns = check_slices(loaded, own.examples, group_by)
    return Plan(
        loaded=loaded,
        examples=shard_examples(own.examples, shard) if shard is not None else own.examples,
        dataset=own.examples if shard is not None else None,
        shard=shard,
        variants=compiled,
        metrics=metrics,
        variant_names=_select("prompt variant", list(compiled), variants),
        model_ids=_select("model", [m.id for m in loaded.suite.models], models),
        graders=[*graders, *own.graders],
        row_metrics=own.metrics,
        group_by=slice_columns,
    )


def _groups(loaded: LoadedSuite, limit: int | None) -> list[Group]:
    """The dataset's rows, then the suite's tests, with `limit` over both (in that order)."""
    groups = []
    dataset = loaded.suite.dataset
    if dataset is not None:
        rows = load_dataset(loaded)
        groups.append(Group(rows, dataset_source(dataset, loaded.base_dir)))
    if loaded.suite.tests:
        taken = {e.id for g in groups for e in g.examples}
        groups.append(group_of_tests(loaded, taken))
    if limit is not None:
        kept = []
        for group in groups:
            kept.append(group.head(max(limit, 0)))
            limit -= len(kept[-1].examples)
        groups = [g for g in kept if g.examples]
    return groups


def _loaded(suite: SuiteSource, base_dir: Path | None) -> LoadedSuite:
    from evalkit.suite.loader import adopt_suite

    if isinstance(suite, LoadedSuite):
        return suite
    if isinstance(suite, Suite):
        return adopt_suite(suite, base_dir or Path.cwd())
    return load_suite(suite)


def check_providers(loaded: LoadedSuite) -> None:
    """Every model names a registered provider (the registry is read; nothing is imported)."""
    from evalkit.plugins.registry import registry

    reg = registry()
    entries = [("models", i, m) for i, m in enumerate(loaded.suite.models)]
    entries += [("judges", i, m) for i, m in enumerate(loaded.suite.judges)]
    for section, index, model in entries:
        if not reg.has("provider", model.provider):
            error = reg.unknown("provider", model.provider)
            error.message = f"model '{model.id}': {error.message}"
            error.file, error.line = loaded.file, loaded.line_of((section, index, "provider"))
            raise error
        _check_model(loaded, section, index, model)


def _check_model(loaded: LoadedSuite, section: str, index: int, model: ModelConfig) -> None:
    """The provider's own static check (unknown params, model names): what `run` would hit."""
    from evalkit.providers.base import check_model_config, error_key_path

    try:
        check_model_config(model, loaded.base_dir)
    except SuiteError as exc:
        where = error_key_path(exc) or ()
        exc.file = exc.file or loaded.file
        exc.line = exc.line or loaded.line_of((section, index, *where))
        raise


def function_providers(loaded: LoadedSuite) -> list[UserCode]:
    """The functions that `provider: function` models name (options.function, or model)."""
    from evalkit.plugins.user_code import UserCode

    found = []
    entries = [("models", i, m) for i, m in enumerate(loaded.suite.models)]
    entries += [("judges", i, m) for i, m in enumerate(loaded.suite.judges)]
    for section, index, model in entries:
        target = model.options.get("function") or model.model
        if model.provider == "function" and isinstance(target, str) and ":" in target:
            key = ("options", "function") if model.options.get("function") else ("model",)
            line = loaded.line_of((section, index, *key))
            found.append(UserCode(target, "function provider", loaded.base_dir, loaded.file, line))
    return found


def check_function_providers(loaded: LoadedSuite) -> None:
    """Each function a model names exists, checked in its file without importing it."""
    from evalkit.plugins.user_code import find

    for code in function_providers(loaded):
        find(code)


def check_reporters(loaded: LoadedSuite) -> None:
    """Every report names a registered reporter (a typo fails before the run, not after)."""
    from evalkit.plugins.registry import registry

    for index, report in enumerate(loaded.suite.reports):
        if not registry().has("reporter", report.type):
            error = registry().unknown("reporter", report.type)
            error.file, error.line = loaded.file, loaded.line_of(("reports", index, "type"))
            raise error


def check_metric_templates(loaded: LoadedSuite, examples: list[Example], source: str) -> None:
    """Templated metric arguments (`contains: "{{ expected }}"`) find their columns in every row."""
    from evalkit.prompts.variants import check_template_variables

    for index, config in enumerate(loaded.suite.metrics):
        variables, try_render = metric_templates(config, loaded.file)
        if try_render is not None:  # a sandbox violation is an error here, not unscored later
            label = f"metric '{config.display_name}'"
            try:
                check_template_variables(label, variables, try_render, examples, source=source)
            except SuiteError as exc:
                exc.file = exc.file or loaded.file
                exc.line = exc.line or loaded.line_of(("metrics", index))
                raise


def _select(what: str, available: list[str], wanted: list[str] | None) -> list[str]:
    """--variant / --model filters; an unknown name is an error, never silently ignored."""
    if not wanted:
        return available
    unknown = [w for w in wanted if w not in available]
    if unknown:
        raise SuiteError(
            f"unknown {what} '{unknown[0]}'", hint=f"the suite has: {', '.join(available)}"
        )
    return [a for a in available if a in wanted]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
