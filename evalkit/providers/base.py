"""The Provider protocol and the registry of provider factories.

A provider does one thing: turn a GenerationRequest into a Generation. Concurrency, retries,
timeouts, caching and cost accounting live once, in the engine, never in a provider.

Providers are registered by import path so that heavy SDKs (torch, transformers, openai) are
imported only when a suite names that provider.
"""

from __future__ import annotations

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


def register_provider(name: str, target: str | ProviderFactory) -> None:
    """Register a provider factory (or its import path, "my_pkg.provider:create").

    Plugins do this through the `evalkit` entry point (evalkit.plugins.registry)."""
    from evalkit.plugins.registry import registry

    registry().add_provider(name, target)


def provider_names() -> list[str]:
    from evalkit.plugins.registry import registry

    return registry().names("provider")


def load_factory(name: str) -> ProviderFactory:
    from evalkit.plugins.registry import registry

    factory: ProviderFactory = registry().get("provider", name, what="provider")
    return factory


def check_known_keys(provider: str, kind: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Refuse an unknown option or param of a provider, with "did you mean", before any work."""
    from evalkit.errors import did_you_mean

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
