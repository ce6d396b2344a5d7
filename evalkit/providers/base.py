"""The Provider protocol and the registry of provider factories.

A provider does one thing: turn a GenerationRequest into a Generation. Concurrency, retries,
timeouts, caching and cost accounting live once, in the engine, never in a provider.

Providers are registered by import path so that heavy SDKs (torch, transformers, openai) are
imported only when a suite names that provider.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from evalkit.errors import SuiteError
from evalkit.records import Generation, GenerationRequest

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig


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


# name -> "module:factory"; the module is imported on first use only.
_REGISTRY: dict[str, str] = {
    "mock": "evalkit.providers.mock:create",
    "function": "evalkit.providers.function:create",
    "replay": "evalkit.providers.replay:create",
    "transformers": "evalkit.providers.local.factory:create",
    "openai": "evalkit.providers.openai:create",
}


def register_provider(name: str, target: str) -> None:
    """Register a provider factory by import path, e.g. ("mine", "my_pkg.provider:create")."""
    _REGISTRY[name] = target


def provider_names() -> list[str]:
    return sorted(_REGISTRY)


def load_factory(name: str) -> ProviderFactory:
    target = _REGISTRY.get(name)
    if target is None:
        from evalkit.suite.suggest import did_you_mean

        raise SuiteError(
            f"unknown provider '{name}'",
            hint=did_you_mean(name, _REGISTRY) or f"known providers: {', '.join(provider_names())}",
        )
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    factory: ProviderFactory = getattr(module, attr)
    return factory


def check_known_keys(provider: str, kind: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Refuse an unknown option or param of a provider, with "did you mean", before any work."""
    from evalkit.suite.suggest import did_you_mean

    names = sorted(known)
    for key in given:
        if key not in names:
            raise SuiteError(
                f"unknown {kind} '{key}' for the {provider} provider",
                hint=did_you_mean(key, names) or f"known {kind}s: {', '.join(names)}",
            )


def create_provider(config: ModelConfig, base_dir: Path) -> Provider:
    return load_factory(config.provider)(config, base_dir)


def model_identity(config: ModelConfig) -> dict[str, Any]:
    """What identifies a model for cache keys: provider, model name and provider options."""
    return {"provider": config.provider, "model": config.model, "options": config.options}
