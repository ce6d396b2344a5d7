"""One registry for everything a suite names: providers, metrics, graders, reporters, trackers.

Entries are added by plugins: a distribution declares an entry point in the `evalkit` group
whose target is `register(registry)`. evalkit's own built-ins are one such plugin
(`evalkit.plugins.builtins:register`), so the seam third parties use is the one evalkit runs on.

    # pyproject.toml of a plugin distribution
    [project.entry-points.evalkit]
    acme = "acme_evalkit:register"

    # acme_evalkit.py
    def register(registry):
        registry.add_provider("acme", "acme_evalkit.provider:create")
        registry.add_metric("shouting", shouting, primary="threshold")
        registry.add_reporter("csv", "acme_evalkit.report:CsvReporter")

Targets may be given as "module:attribute" strings, imported on first use only, so a plugin
that wraps torch or an SDK costs nothing until a suite names it. A third-party plugin that fails
to load is reported (warning, and in the hint of an "unknown ..." error); the run goes on.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import SuiteError, did_you_mean

ENTRY_POINT_GROUP = "evalkit"
BUILTINS = "evalkit.plugins.builtins:register"
KINDS = ("provider", "metric", "grader", "reporter", "tracker")

log = logging.getLogger(__name__)


def resolve(target: Any) -> Any:
    """A "module:attribute" string imported, or the object itself."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


@dataclass(slots=True)
class MetricSpec:
    """A metric: `fn(ctx, **args)`; `primary` is the argument a shorthand value binds to
    (`contains: "x"` -> value="x")."""

    name: str
    fn: Any
    primary: str | None = None
    description: str = ""


@dataclass
class Registry:
    """Name -> target for each kind; `get(kind, name)` imports a string target once."""

    entries: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: {} for k in KINDS})
    metric_modules: list[str] = field(default_factory=list)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    failed_plugins: dict[str, str] = field(default_factory=dict)
    _current: str = "evalkit"

    # --- adding -----------------------------------------------------------------------------

    def add(self, kind: str, name: str, target: Any) -> None:
        if kind not in self.entries:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        previous = self.origins.get((kind, name))
        if previous is not None and previous != self._current:
            log.warning(
                "%s '%s' of plugin %s replaces the one of %s", kind, name, self._current, previous
            )
        self.entries[kind][name] = target
        self.origins[(kind, name)] = self._current

    def add_provider(self, name: str, factory: Any) -> None:
        """`factory(config: ModelConfig, base_dir: Path) -> Provider` (or its import path)."""
        self.add("provider", name, factory)

    def add_metric(
        self, name: str, fn: Any, primary: str | None = None, description: str = ""
    ) -> None:
        """`fn(ctx: ScoreContext, **args) -> Score | bool | float | None` (or its path)."""
        self.add("metric", name, MetricSpec(name, fn, primary, description))

    def add_metric_module(self, module: str) -> None:
        """A module whose import registers metrics with @register_metric (imported lazily)."""
        self.metric_modules.append(module)

    def add_grader(self, name: str, grader_type: Any) -> None:
        """A `evalkit.graders.types.GraderType` (or its import path)."""
        self.add("grader", name, grader_type)

    def add_reporter(self, name: str, factory: Any) -> None:
        """`factory() -> Reporter` (see evalkit.report.base), or its import path."""
        self.add("reporter", name, factory)

    def add_tracker(self, name: str, factory: Any) -> None:
        """`factory(settings: TrackerSettings) -> Tracker | None` (see trackers.base)."""
        self.add("tracker", name, factory)

    # --- looking up -------------------------------------------------------------------------

    def names(self, kind: str) -> list[str]:
        if kind == "metric":
            self._load_metric_modules()
        return sorted(self.entries[kind])

    def has(self, kind: str, name: str) -> bool:
        if kind == "metric":
            self._load_metric_modules()
        return name in self.entries[kind]

    def get(self, kind: str, name: str, *, what: str | None = None) -> Any:
        """The entry, imported; a SuiteError with "did you mean" when there is none."""
        if not self.has(kind, name):
            raise self.unknown(kind, name, what=what)
        target = self.entries[kind][name]
        if isinstance(target, str):
            try:
                target = resolve(target)
            except ImportError as exc:
                raise _import_failed(kind, name, target, exc) from None
            self.entries[kind][name] = target
        return target

    def unknown(self, kind: str, name: str, *, what: str | None = None) -> SuiteError:

        known = self.names(kind)
        hint = did_you_mean(name, known) or f"known {kind}s: {', '.join(known)}"
        if self.failed_plugins:
            failed = "; ".join(f"{p}: {why}" for p, why in self.failed_plugins.items())
            hint += f" (plugins that failed to load: {failed})"
        return SuiteError(f"unknown {what or kind} '{name}'", hint=hint)

    def _load_metric_modules(self) -> None:
        while self.metric_modules:
            importlib.import_module(self.metric_modules.pop(0))
        # metrics declared by decorator when their module was imported (maybe for an earlier
        # registry: a module is imported once, a registry may be rebuilt)
        for spec in _DECLARED_METRICS.values():
            if spec.name not in self.entries["metric"]:
                self.add("metric", spec.name, spec)

    # --- plugins ----------------------------------------------------------------------------

    def load_plugin(self, name: str, register: Callable[[Registry], Any]) -> None:
        self._current = name
        try:
            register(self)
        finally:
            self._current = "evalkit"


def _import_failed(kind: str, name: str, target: str, exc: ImportError) -> SuiteError:
    missing = getattr(exc, "name", None) or str(exc)
    return SuiteError(
        f"the {kind} '{name}' cannot be loaded: {exc}",
        hint=f"install the package it needs ({missing}); it is registered as {target}",
    )


_DECLARED_METRICS: dict[str, MetricSpec] = {}


def declare_metric(spec: MetricSpec) -> None:
    """A metric defined with @register_metric: kept for every registry, added to the current."""
    _DECLARED_METRICS[spec.name] = spec
    if _registry is not None:
        _registry.add("metric", spec.name, spec)


def grader_config(name: str) -> Any:
    """The config model of grader type `name` (what a suite may write under `graders:`)."""
    return registry().get("grader", name, what="grader type").config


_lock = threading.RLock()
_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, with every installed plugin loaded (once)."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = _load_all()
        return _registry


def reset_registry() -> None:
    """Forget the loaded plugins (tests that install a plugin distribution call this)."""
    global _registry
    with _lock:
        _registry = None


def _load_all() -> Registry:
    import warnings

    reg = Registry()
    plugins = list(_entry_points())
    if not any(value == BUILTINS for _, value, _ in plugins):
        # a source checkout that was never installed has no entry points: the same target
        plugins.insert(0, ("evalkit", BUILTINS, None))
    for name, value, dist in sorted(plugins, key=lambda p: p[1] != BUILTINS):
        label = name if dist is None else f"{name} ({dist})"
        try:
            reg.load_plugin(label, resolve(value))
        except Exception as exc:
            if value == BUILTINS:
                raise
            reg.failed_plugins[label] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"evalkit plugin {label} failed to load: {exc}", stacklevel=2)
    return reg


def _entry_points() -> Iterable[tuple[str, str, str | None]]:
    from importlib.metadata import entry_points

    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in seen:  # an editable install can list the same distribution twice
            continue
        seen.add(ep.value)
        dist = getattr(ep, "dist", None)
        yield ep.name, ep.value, getattr(dist, "name", None)
