"""The Provider protocol, provider capabilities, and finding providers in the plugin registry.

A provider does one thing: turn a GenerationRequest into a Generation. Concurrency, retries,
timeouts, caching and cost accounting live once, in the engine, never in a provider.

Providers are registered in the plugin registry (evalkit.plugins.registry) by import path, so
heavy SDKs (torch, transformers, openai) are imported only when a suite names that provider.
A registered factory may be a plain `create(config, base_dir)` function, or a ProviderEntry
that also says what the provider can do (capabilities) and how to check its config without
importing anything heavy (what `evalkit validate` runs).

Capabilities are plain strings; callers ask `capabilities(provider)` instead of checking names:

    structured_output   accepts an OpenAI `response_format` with a JSON schema
    label_scoring       has `score_labels(messages, labels) -> {label: logprob}`
    logprobs            returns token log-probabilities when params ask for them
    queued_batches      calls wait in the provider's own batch queue: no default call timeout
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from evalkit.errors import SuiteError
from evalkit.records import Generation, GenerationRequest

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig

STRUCTURED_OUTPUT = "structured_output"
LABEL_SCORING = "label_scoring"
LOGPROBS = "logprobs"
QUEUED_BATCHES = "queued_batches"


@runtime_checkable
class Provider(Protocol):
    """One async seam per provider."""

    async def generate(self, request: GenerationRequest) -> Generation:
        """Return the model's output. Raise ProviderError (retryable or not) on failure."""
        ...

    async def aclose(self) -> None:
        """Release resources (HTTP clients, worker threads). Called once at the end of a run."""
        ...


class ProviderFactory(Protocol):
    def __call__(self, config: ModelConfig, base_dir: Path) -> Provider: ...


# A static check of one model entry: raise SuiteError naming the key; import nothing heavy.
ConfigCheck = Callable[["ModelConfig", "Path | None"], None]


@dataclass(frozen=True)
class ProviderEntry:
    """A registered provider: its factory (an import path is imported on first call only),
    its capabilities, and its static config check.

    Example (a plugin's register function):
        registry.add_provider("acme", ProviderEntry("acme.provider:create",
                              capabilities=frozenset({"logprobs"}), check_config=check))
    """

    create: ProviderFactory | str
    capabilities: frozenset[str] = field(default_factory=frozenset)
    check_config: ConfigCheck | None = None

    def __call__(self, config: ModelConfig, base_dir: Path) -> Provider:
        from evalkit.plugins.registry import resolve

        factory: ProviderFactory = resolve(self.create)
        return factory(config, base_dir)


def capabilities(provider: object) -> frozenset[str]:
    """What a provider (or its registered factory) declares it can do; empty by default.

    A provider written before capabilities existed that has `score_labels` scores labels.
    """
    declared = getattr(provider, "capabilities", None)
    found = frozenset(declared) if isinstance(declared, Iterable) else frozenset()
    if callable(getattr(provider, "score_labels", None)):
        found |= {LABEL_SCORING}
    return found


def provider_capabilities(name: str) -> frozenset[str]:
    """The capabilities the provider registered as `name` declares (SuiteError if unknown)."""
    return capabilities(load_factory(name))


# --- the registry ------------------------------------------------------------------------------


def _registry() -> Any:
    from evalkit.plugins.registry import registry

    return registry()


def register_provider(name: str, target: Any) -> None:
    """Register a provider factory or its import path, e.g. ("mine", "my_pkg.provider:create")."""
    _registry().add_provider(name, target)


def provider_names() -> list[str]:
    names: list[str] = _registry().names("provider")
    return names


def load_factory(name: str) -> ProviderFactory:
    """The factory registered as `name`, imported; an unknown name is a SuiteError with a hint."""
    factory: ProviderFactory = _registry().get("provider", name, what="provider")
    return factory


def create_provider(config: ModelConfig, base_dir: Path) -> Provider:
    return load_factory(config.provider)(config, base_dir)


def model_identity(config: ModelConfig) -> dict[str, Any]:
    """What identifies a model for cache keys: provider, model name and provider options."""
    return {"provider": config.provider, "model": config.model, "options": config.options}


class _ProviderTargets(MutableMapping[str, Any]):
    """The registry's providers as a name -> target mapping (older callers read `_REGISTRY`)."""

    def _entries(self) -> dict[str, Any]:
        entries: dict[str, Any] = _registry().entries["provider"]
        return entries

    def __getitem__(self, name: str) -> Any:
        return self._entries()[name]

    def __setitem__(self, name: str, target: Any) -> None:
        register_provider(name, target)

    def __delitem__(self, name: str) -> None:
        del self._entries()[name]
        _registry().origins.pop(("provider", name), None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries()))

    def __len__(self) -> int:
        return len(self._entries())


_REGISTRY = _ProviderTargets()


# --- static checks -----------------------------------------------------------------------------


def check_model_config(config: ModelConfig, base_dir: Path | None = None) -> None:
    """Check one model entry's provider config the way `create` would, importing no SDK.

    Raises SuiteError (the message names the key) whose `key_path`, read with
    `error_key_path(exc)`, is where the problem is inside the model entry, e.g.
    ("params", "max_token"), ("model",) or ("options", "base_urls", 1) (list positions are
    ints, as in the suite loader's line map); () when the provider did not say. With the suite's
    folder as `base_dir`, local model paths are checked too. A provider registered without a
    check passes.
    """
    check = getattr(load_factory(config.provider), "check_config", None)
    if check is None:
        return
    with at_key():
        check(config, base_dir)


def error_key_path(exc: BaseException) -> tuple[str | int, ...] | None:
    """The key path a provider's config check attached to its SuiteError, if any."""
    path = getattr(exc, "key_path", None)
    return tuple(path) if path is not None else None


@contextlib.contextmanager
def at_key(*path: str | int) -> Iterator[None]:
    """Tag a SuiteError raised inside with `path` (inside the model entry), unless tagged."""
    try:
        yield
    except SuiteError as exc:
        if error_key_path(exc) is None:
            exc.key_path = path  # type: ignore[attr-defined]
        raise


def check_known_keys(provider: str, kind: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Refuse an unknown option or param of a provider, with "did you mean", before any work.

    The error's key path is (kind + "s", key), e.g. ("params", "max_token").
    """
    from evalkit.errors import did_you_mean

    names = sorted(known)
    for key in given:
        if key not in names:
            with at_key(f"{kind}s", str(key)):
                raise SuiteError(
                    f"unknown {kind} '{key}' for the {provider} provider",
                    hint=did_you_mean(key, names) or f"known {kind}s: {', '.join(names)}",
                )
