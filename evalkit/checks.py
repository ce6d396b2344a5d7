"""Everything a run checks before the first model call, shared by `validate` and `run`.

The suite, its dataset, prompt files, template variables against every row, provider names and
metric arguments. Provider modules are not imported (that would load torch or openai): the
provider name is looked up in the registry only.

    check = check_suite("suites/support.yaml")
    print(check.summary_line())
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError
from evalkit.gates.apply import check_gates
from evalkit.records import Example
from evalkit.suite.loader import LoadedSuite, load_suite
from evalkit.suite.schema import MetricConfig


@dataclass(frozen=True)
class SuiteCheck:
    """What a valid suite amounts to: the size of its run matrix."""

    loaded: LoadedSuite
    examples: int
    variants: list[str]
    models: list[str]
    metrics: list[str]
    dataset: str

    @property
    def calls(self) -> int:
        return self.examples * len(self.variants) * len(self.models) * self.loaded.suite.repeats

    def summary_line(self) -> str:
        repeats = self.loaded.suite.repeats
        return (
            f"suite '{self.loaded.suite.name}': {_n(self.examples, 'example')} x "
            f"{_n(len(self.variants), 'variant')} x {_n(len(self.models), 'model')} x "
            f"{_n(repeats, 'repeat')} = {_n(self.calls, 'call')}"
        )


def check_suite(path: str | Path) -> SuiteCheck:
    """Load and check a suite end to end; raise SuiteError (with file:line) on the first problem."""
    from evalkit.data.loaders import dataset_name, dataset_source, load_dataset
    from evalkit.prompts.variants import check_variables, compile_loaded

    loaded = load_suite(path)
    suite = loaded.suite
    examples = load_dataset(loaded)
    source = dataset_source(suite.dataset, loaded.base_dir)
    variants = compile_loaded(loaded)
    check_variables(variants, examples, source=source)
    check_providers(loaded)
    check_metrics(loaded, examples, source)
    check_graders(loaded, examples, source)
    check_gates(suite, loaded.file, loaded.line_of)
    return SuiteCheck(
        loaded=loaded,
        examples=len(examples),
        variants=list(variants),
        models=[m.id for m in suite.models],
        metrics=[m.display_name for m in suite.metrics],
        dataset=dataset_name(suite.dataset),
    )


def check_providers(loaded: LoadedSuite) -> None:
    """Every model names a registered provider (the registry is read; nothing is imported)."""
    from evalkit.providers.base import _REGISTRY, provider_names
    from evalkit.suite.suggest import did_you_mean

    suite = loaded.suite
    entries = [("models", i, m) for i, m in enumerate(suite.models)]
    entries += [("judges", i, m) for i, m in enumerate(suite.judges)]  # graders' judge models
    for section, index, model in entries:
        if model.provider not in _REGISTRY:
            raise SuiteError(
                f"model '{model.id}': unknown provider '{model.provider}'",
                file=loaded.file,
                line=loaded.line_of((section, index, "provider")),
                hint=did_you_mean(model.provider, _REGISTRY)
                or f"known providers: {', '.join(provider_names())}",
            )


def check_graders(loaded: LoadedSuite, examples: list[Example], source: str) -> list[Any]:
    """Graders bind: judge ids, prompt files, templates against every row; the bound graders."""
    from evalkit.graders.bind import bind_graders

    metric_names = [m.display_name for m in loaded.suite.metrics]
    return list(bind_graders(loaded, examples, source, metric_names))


def check_metrics(loaded: LoadedSuite, examples: list[Example], source: str) -> None:
    """Metrics resolve and take their arguments; templated arguments find their columns."""
    from evalkit.metrics.bind import bind_metrics

    configs = list(loaded.suite.metrics)
    bind_metrics(configs, loaded.base_dir, file=loaded.file, locate=loaded.line_of)
    check_metric_templates(loaded, examples, source)


def check_metric_templates(loaded: LoadedSuite, examples: list[Example], source: str) -> None:
    """Templated metric arguments (`contains: "{{ expected }}"`) find their columns in every row."""
    from evalkit.prompts.variants import check_template_variables

    for config in loaded.suite.metrics:
        variables, try_render = _metric_templates(config, loaded.file)
        if variables:
            label = f"metric '{config.display_name}'"
            check_template_variables(label, variables, try_render, examples, source=source)


def _metric_templates(config: MetricConfig, file: str) -> tuple[set[str], Any]:
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


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
