"""Loading a local model folder once per process, shared by every provider that names it."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, SuiteError
from evalkit.providers.local.files import import_local_stack

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedModel:
    """A model and tokenizer shared by every provider in this process that uses them."""

    model: Any
    tokenizer: Any
    torch: Any
    transformers: Any
    device: str
    eos_ids: frozenset[int]
    pad_id: int
    # One forward pass at a time per model: two workers would only fight over the same cores.
    lock: threading.Lock


_MODELS: dict[tuple[str, str, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def load_model(folder: Path, dtype: str = "float32", device: str = "cpu") -> LoadedModel:
    """Load (once per process) a causal LM folder in eval mode."""
    key = (str(folder.resolve()), dtype, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            try:
                _MODELS[key] = _load(folder, dtype, device)
            except (EvalkitError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a damaged folder or an architecture this version lacks
                raise SuiteError(
                    f"cannot load the model in {folder}: {type(exc).__name__}: {exc}",
                    hint="the folder must hold a causal LM saved with save_pretrained",
                ) from exc
        return _MODELS[key]


def _load(folder: Path, dtype: str, device: str) -> LoadedModel:
    torch, transformers = import_local_stack()
    start = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"  # generation appends to the right, so pad on the left
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise SuiteError(
            f"model {folder} has no chat template",
            hint="evalkit sends chat messages; use an instruction-tuned (chat) model",
        )
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise SuiteError(f"unknown dtype '{dtype}'", hint="use float32, bfloat16 or float16")
    with _quiet_progress(transformers):
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype)
    model.to(device).eval()
    eos = model.generation_config.eos_token_id
    eos_ids = {eos} if isinstance(eos, int) else set(eos or ())
    eos_ids.add(tokenizer.eos_token_id)
    log.info("loaded %s in %.1f s", folder, time.perf_counter() - start)
    return LoadedModel(
        model, tokenizer, torch, transformers, device, frozenset(eos_ids),
        tokenizer.pad_token_id, threading.Lock(),
    )  # fmt: skip


@contextlib.contextmanager
def _quiet_progress(transformers: Any) -> Iterator[None]:
    """Hide the per-load "Loading weights" bar, which would garble the CLI's own output."""
    tlog = transformers.utils.logging
    was_enabled = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            tlog.enable_progress_bar()


def set_threads(torch: Any, threads: int | None) -> None:
    # torch defaults to the physical cores of the host, which oversubscribes a container limited
    # by affinity (taskset, cpusets); cap at the cores this process may run on.
    if threads is None:
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        threads = min(torch.get_num_threads(), available or os.cpu_count() or 1)
    torch.set_num_threads(max(1, threads))
