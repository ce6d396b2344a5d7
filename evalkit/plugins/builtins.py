"""evalkit's own plugin: the built-in providers, metrics, graders, reporters and trackers.

Registered through the `evalkit` entry point like any third-party plugin, by import path, so
nothing heavy (torch, openai, mlflow) is imported until a suite uses it.
"""

from __future__ import annotations

from evalkit.plugins.registry import Registry

PROVIDERS = {
    "mock": "evalkit.providers.mock:ENTRY",
    "function": "evalkit.providers.function:ENTRY",
    "replay": "evalkit.providers.replay:ENTRY",
    "transformers": "evalkit.providers.local.factory:ENTRY",
    "openai": "evalkit.providers.openai_config:ENTRY",
}
METRIC_MODULES = (
    "evalkit.metrics.text",
    "evalkit.metrics.length",
    "evalkit.metrics.structured",
    "evalkit.metrics.similarity",
    "evalkit.metrics.rouge",
    "evalkit.metrics.matching",
    "evalkit.metrics.embedding",
    "evalkit.metrics.performance",
)
GRADERS = {
    "rubric": "evalkit.graders.rubric:RUBRIC",
    "closed_qa": "evalkit.graders.reference:CLOSED_QA",
    "factuality": "evalkit.graders.reference:FACTUALITY",
    "pairwise": "evalkit.graders.pairwise:PAIRWISE",
}
REPORTERS = {
    "junit": "evalkit.report.junit:JUnitReporter",
    "markdown": "evalkit.report.markdown:MarkdownReporter",
    "html": "evalkit.report.html:HtmlReporter",
}
TRACKERS = {"mlflow": "evalkit.trackers.mlflow.tracker:create"}


def register(registry: Registry) -> None:
    for name, target in PROVIDERS.items():
        registry.add_provider(name, target)
    for module in METRIC_MODULES:
        registry.add_metric_module(module)
    for name, target in GRADERS.items():
        registry.add_grader(name, target)
    for name, target in REPORTERS.items():
        registry.add_reporter(name, target)
    for name, target in TRACKERS.items():
        registry.add_tracker(name, target)
