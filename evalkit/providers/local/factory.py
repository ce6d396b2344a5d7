"""The registered factory of the `transformers` provider and its registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.providers.base import ProviderEntry
from evalkit.providers.local.config import check_config, parse_options
from evalkit.providers.local.files import import_local_stack, local_folder, resolve_model_path
from evalkit.providers.local.provider import CAPABILITIES, TransformersProvider

if TYPE_CHECKING:
    from evalkit.providers.local.loader import LoadedModel
    from evalkit.suite.schema import ModelConfig


def create(config: ModelConfig, base_dir: Path) -> TransformersProvider:
    """The transformers provider for a suite's model entry.

    Example: `create(ModelConfig(id="local"), Path("."))` runs the embedded SmolLM2-135M-Instruct.
    """
    from evalkit.providers.local.loader import load_model, set_threads

    options = parse_options(config)
    torch, _ = import_local_stack()  # a missing package is reported before any conversion
    resolved = resolve_model_path(config.model, base_dir)  # a bad path fails now, not mid-run
    set_threads(torch, options.threads)

    def load() -> LoadedModel:
        return load_model(local_folder(resolved), options.dtype, options.device)

    return TransformersProvider(load, options.batch_size, options.batch_wait_ms)


ENTRY = ProviderEntry(create, capabilities=CAPABILITIES, check_config=check_config)
