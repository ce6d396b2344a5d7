"""Everything a run needs, prepared and checked before the first model call.

`prepare()` loads the suite and dataset, compiles prompt variants, binds metrics and creates the
providers; any user error surfaces here, as a SuiteError with file:line, before anything is
spent. `work_items()` then yields the matrix lazily.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.checks import check_graders, check_metric_templates, check_providers
from evalkit.data.loaders import dataset_digest, dataset_name, dataset_source, load_dataset
from evalkit.errors import SuiteError
from evalkit.metrics.bind import BoundMetric, bind_metrics
from evalkit.prompts.variants import CompiledVariant, check_variables, compile_loaded
from evalkit.records import Example, WorkItem
from evalkit.suite.loader import LoadedSuite, load_suite


@dataclass
class Plan:
    loaded: LoadedSuite
    examples: list[Example]
    variants: dict[str, CompiledVariant]
    metrics: list[BoundMetric]
    variant_names: list[str]
    model_ids: list[str]
    graders: list[Any] = field(default_factory=list)  # evalkit.graders.bind.BoundGrader

    @property
    def suite(self) -> Any:
        return self.loaded.suite

    @property
    def total(self) -> int:
        return len(self.examples) * len(self.variant_names) * len(self.model_ids) * self.repeats

    @property
    def repeats(self) -> int:
        return int(self.loaded.suite.repeats)

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

    def dataset_info(self) -> dict[str, Any]:
        return {
            "name": dataset_name(self.suite.dataset),
            "digest": dataset_digest(self.examples),
            "rows": len(self.examples),
            "path": self.suite.dataset.path,
        }


def prepare(
    suite_path: str | Path,
    *,
    limit: int | None = None,
    variants: list[str] | None = None,
    models: list[str] | None = None,
) -> Plan:
    loaded = load_suite(suite_path)
    suite = loaded.suite
    examples = load_dataset(loaded)
    if limit is not None:
        examples = examples[:limit]
    source = dataset_source(suite.dataset, loaded.base_dir)
    compiled = compile_loaded(loaded)
    check_variables(compiled, examples, source=source)
    check_providers(loaded)
    metrics = bind_metrics(
        list(suite.metrics), loaded.base_dir, file=loaded.file, locate=loaded.line_of
    )
    check_metric_templates(loaded, examples, source)
    graders = check_graders(loaded, examples, source)
    return Plan(
        loaded=loaded,
        examples=examples,
        variants=compiled,
        metrics=metrics,
        variant_names=_select("prompt variant", list(compiled), variants),
        model_ids=_select("model", [m.id for m in suite.models], models),
        graders=graders,
    )


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
