"""The local provider's params and options: a static check (validate) and their parsed form.

Nothing here imports torch, so `evalkit validate` checks a local model entry in milliseconds:
unknown params and options (with "did you mean"), bad values, and a model name that is neither
the embedded default nor an existing path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.providers.base import check_known_keys
from evalkit.records import Message, stable_hash

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig

PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "logprobs", "top_logprobs")
OPTIONS = ("batch_size", "batch_wait_ms", "dtype", "device", "threads")
# torch dtype names the loader accepts (it reads `getattr(torch, dtype)`)
DTYPES = ("float32", "bfloat16", "float16", "float64", "float", "half", "double")
DEFAULT_MAX_TOKENS = 128


@dataclass(frozen=True, slots=True)
class GenParams:
    """Generation params normalised into a hashable batch key (seed is per row, not here)."""

    max_new_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    top_logprobs: int = 0

    @property
    def sample(self) -> bool:
        return self.temperature > 0

    @classmethod
    def parse(cls, params: dict[str, Any]) -> GenParams:
        """Raise ValueError on a bad value; unknown keys are checked once, in `check_config`."""
        temperature = float(params.get("temperature") or 0.0)
        stop = params.get("stop") or ()
        stop = (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop if s)
        top_logprobs = int(params.get("top_logprobs") or (5 if params.get("logprobs") else 0))
        max_new = int(_get(params, "max_tokens", DEFAULT_MAX_TOKENS))
        if max_new < 1 or temperature < 0 or top_logprobs < 0:
            raise ValueError("max_tokens must be >= 1, temperature and top_logprobs >= 0")
        if temperature == 0:  # greedy ignores top_p/top_k: one key lets all greedy items batch
            return cls(max_new, stop=stop, top_logprobs=top_logprobs)
        top_p = float(_get(params, "top_p", 1.0))
        top_k = int(params.get("top_k") or 0)
        if not 0 < top_p <= 1 or top_k < 0:
            raise ValueError("top_p must be in (0, 1] and top_k >= 0")
        return cls(max_new, temperature, top_p, top_k, stop, top_logprobs)


def _get(params: dict[str, Any], key: str, default: float) -> Any:
    value = params.get(key)
    return default if value is None else value


def row_seed(params: dict[str, Any], request_repeat: int, messages: list[Message]) -> int:
    # Mixing in the messages keeps examples' random streams independent (one shared seed would
    # correlate their samples); mixing in the repeat makes repeats differ, reproducibly.
    seed = params.get("seed", 0)
    return int(stable_hash([seed, request_repeat, messages], length=15), 16)


@dataclass(frozen=True, slots=True)
class LocalOptions:
    batch_size: int = 8
    batch_wait_ms: float = 10
    threads: int | None = None
    dtype: str = "float32"
    device: str = "cpu"


def parse_options(config: ModelConfig) -> LocalOptions:
    """Check params and options up front, so a typo fails before a 30 s model load."""
    check_known_keys("transformers", "param", config.params, PARAMS)
    check_known_keys("transformers", "option", config.options, OPTIONS)
    options = config.options
    try:
        GenParams.parse(config.params)
        threads = options.get("threads")
        return LocalOptions(
            batch_size=max(1, int(options.get("batch_size", 8))),
            batch_wait_ms=float(options.get("batch_wait_ms", 10)),
            threads=None if threads is None else int(threads),
            dtype=str(options.get("dtype", "float32")),
            device=str(options.get("device", "cpu")),
        )
    except (TypeError, ValueError) as exc:
        raise SuiteError(f"model '{config.id}': invalid params or options: {exc}") from exc


def check_config(config: ModelConfig, base_dir: Path | None = None) -> None:
    """The static check `evalkit validate` runs: everything `create` checks but loading torch.

    Example: `check_config(ModelConfig(id="m", params={"max_token": 5}))` raises a SuiteError
    whose `key_path` is ("params", "max_token").
    """
    from evalkit.providers.base import at_key
    from evalkit.providers.local.files import check_model_name

    check_known_keys("transformers", "param", config.params, PARAMS)
    check_known_keys("transformers", "option", config.options, OPTIONS)
    with at_key("params"):
        try:
            GenParams.parse(config.params)
        except (TypeError, ValueError) as exc:
            raise SuiteError(f"model '{config.id}': invalid params: {exc}") from exc
    with at_key("options"):
        parse_options(config)
    dtype = config.options.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        with at_key("options", "dtype"):
            raise SuiteError(
                f"model '{config.id}': unknown dtype '{dtype}'",
                hint=f"use one of {', '.join(DTYPES)}",
            )
    with at_key("model"):
        check_model_name(config.model, base_dir)
