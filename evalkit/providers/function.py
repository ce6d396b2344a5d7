"""Call the AI feature's own Python code as the model under test.

    models:
      - id: app
        provider: function
        options: {function: "my_app.answer:respond"}   # or `model: "my_app.answer:respond"`

The convention: `fn(messages, row)` where `messages` is the rendered chat (a list of
{"role", "content"} dicts) and `row` the dataset row. It returns the output as a `str`, or a
`dict` with "output" and optionally "usage" ({"input_tokens", "output_tokens"}), "cost" and any
other keys (kept in Generation.raw). `async def` functions are awaited; plain functions run on a
worker thread so they never block the event loop.

The module is imported with the suite's folder on sys.path, so `my_app.py` beside the suite
works without installing it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import ProviderError, SuiteError, did_you_mean
from evalkit.providers.base import ProviderEntry, at_key, check_known_keys
from evalkit.records import Generation, GenerationRequest, Usage

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig

OPTIONS = ("function",)
IMPORT_HINT = (
    "the module must be importable: put it beside the suite file, install it, "
    "or add its folder to PYTHONPATH"
)


class FunctionProvider:
    """Calls `fn(messages, row)`; see the module docstring for the return convention."""

    def __init__(self, fn: Callable[..., Any], target: str) -> None:
        self.fn = fn
        self.target = target
        self._is_async = _is_async(fn)

    async def generate(self, request: GenerationRequest) -> Generation:
        messages = [dict(m) for m in request.messages]  # a copy: the function may mutate it
        row = dict(request.row)
        try:
            if self._is_async:
                result = await self.fn(messages, row)
            else:
                result = await asyncio.to_thread(self.fn, messages, row)
                if inspect.isawaitable(result):  # e.g. a sync wrapper returning a coroutine
                    result = await result
        except ProviderError:
            raise  # the function chose its own error (and whether it is retryable)
        except Exception as exc:
            raise ProviderError(
                f"{self.target} raised {type(exc).__name__}: {exc}",
                hint="the function's own error; fix it or handle the case in your code",
            ) from exc
        return _to_generation(result, self.target)

    async def aclose(self) -> None:
        return None


def _is_async(fn: Callable[..., Any]) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - a callable object's async __call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _to_generation(result: Any, target: str) -> Generation:
    if isinstance(result, str):
        return Generation(output=result)
    # A dict must carry "output"; None is allowed (the feature chose not to answer).
    if isinstance(result, dict) and "output" in result and isinstance(result["output"], str | None):
        extras = {k: v for k, v in result.items() if k not in ("output", "usage", "cost")}
        usage = result.get("usage") or {}
        try:
            tokens = Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
            cost = None if result.get("cost") is None else float(result["cost"])
        except (AttributeError, TypeError, ValueError) as exc:
            raise ProviderError(f"{target} returned bad usage or cost: {exc}") from exc
        return Generation(output=result.get("output"), usage=tokens, cost=cost, raw=extras or None)
    raise ProviderError(
        f"{target} returned {type(result).__name__}; expected a str or a dict with 'output'",
        hint="return the output text, or {'output': text, 'usage': {...}}",
    )


def load_function(target: str, base_dir: Path) -> Callable[..., Any]:
    """Import "package.module:callable" (the callable may be dotted: "mod:Class.method")."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SuiteError(
            f"function '{target}' is not in the form 'module:callable'",
            hint="e.g. function: my_app.answer:respond",
        )
    from evalkit.plugins.user_code import UserCode, import_module  # imports only with consent

    obj: Any = import_module(UserCode(target, "function provider", base_dir), hint=IMPORT_HINT)
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise SuiteError(
                f"'{module_name}' has no attribute '{attr}'",
                hint=did_you_mean(part, names) or f"check the name after ':' in '{target}'",
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise SuiteError(f"'{target}' is not callable", hint="point at a function")
    fn: Callable[..., Any] = obj
    return fn


def check_config(config: ModelConfig, base_dir: Path | None = None) -> None:
    """The static check (validate): options and the target's form; the module is not imported."""
    _target(config)


def _target(config: ModelConfig) -> str:
    check_known_keys("function", "option", config.options, OPTIONS)
    target = config.options.get("function") or config.model
    if not target:
        with at_key("options"):
            raise SuiteError(
                f"model '{config.id}' (provider: function) needs the function to call",
                hint="add options: {function: 'my_module:my_function'}",
            )
    module_name, sep, attr = str(target).partition(":")
    if not sep or not module_name or not attr:
        key = ("options", "function") if config.options.get("function") else ("model",)
        with at_key(*key):
            raise SuiteError(
                f"function '{target}' is not in the form 'module:callable'",
                hint="e.g. function: my_app.answer:respond",
            )
    return str(target)


def create(config: ModelConfig, base_dir: Path) -> FunctionProvider:
    """The function provider. Example: `options: {function: "my_app:answer"}`."""
    target = _target(config)
    return FunctionProvider(load_function(target, base_dir), target)


ENTRY = ProviderEntry(create, check_config=check_config)
