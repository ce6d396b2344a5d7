"""Provider lookup through the plugin registry, capabilities, and static config checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from evalkit.engine.runtimes import call_timeout
from evalkit.errors import SuiteError
from evalkit.graders.judge import pick_mode
from evalkit.plugins.registry import registry
from evalkit.providers import base
from evalkit.providers.base import (
    ProviderEntry,
    capabilities,
    check_model_config,
    create_provider,
    error_key_path,
    load_factory,
    provider_capabilities,
    provider_names,
)
from evalkit.providers.mock import MockProvider
from evalkit.suite.schema import ModelConfig


class Plain:
    async def generate(self, request: Any) -> Any: ...
    async def aclose(self) -> None: ...


class Scorer(Plain):
    async def score_labels(self, messages: Any, labels: Any) -> dict[str, float]:
        return {}


def runtime(provider: object) -> Any:
    return SimpleNamespace(provider=provider, config=ModelConfig(id="judge", provider="x"))


def test_builtin_providers_are_found_in_the_plugin_registry() -> None:
    assert {"mock", "function", "replay", "transformers", "openai"} <= set(provider_names())
    assert provider_names() == registry().names("provider")
    provider = create_provider(ModelConfig(id="m", provider="mock"), Path("."))
    assert isinstance(provider, MockProvider)


def test_unknown_provider_says_did_you_mean() -> None:
    with pytest.raises(SuiteError, match="unknown provider 'opnai'") as err:
        load_factory("opnai")
    assert "did you mean 'openai'?" in (err.value.hint or "")


def test_register_provider_adds_to_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = ProviderEntry("evalkit.providers.mock:create", capabilities=frozenset({"logprobs"}))
    monkeypatch.setitem(base._REGISTRY, "echo", entry)  # the old mapping view still works
    assert registry().has("provider", "echo") and "echo" in provider_names()
    assert provider_capabilities("echo") == {"logprobs"}
    provider = create_provider(ModelConfig(id="m", provider="echo"), Path("."))
    assert isinstance(provider, MockProvider)
    monkeypatch.undo()
    assert "echo" not in provider_names()


def test_builtin_capabilities() -> None:
    assert {"structured_output", "logprobs"} <= provider_capabilities("openai")
    assert {"label_scoring", "logprobs", "queued_batches"} <= provider_capabilities("transformers")
    assert provider_capabilities("mock") == frozenset()
    assert capabilities(object()) == frozenset()
    assert capabilities(Scorer()) == {"label_scoring"}  # implied by the method


def test_judge_mode_follows_capabilities_not_names() -> None:
    structured = SimpleNamespace(capabilities=frozenset({"structured_output"}))
    assert pick_mode("auto", runtime(structured), "g") == "json_schema"
    assert pick_mode("auto", runtime(Plain()), "g") == "text"
    assert pick_mode("auto", runtime(Scorer()), "g") == "labels"
    with pytest.raises(SuiteError, match="cannot score labels"):
        pick_mode("labels", runtime(structured), "g")


def test_queued_batches_means_no_default_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = ProviderEntry(
        "evalkit.providers.mock:create", capabilities=frozenset({"queued_batches"})
    )
    monkeypatch.setitem(base._REGISTRY, "queued", entry)
    assert call_timeout(ModelConfig(id="q", provider="queued")) is None
    assert call_timeout(ModelConfig(id="m", provider="mock")) == 120.0


def test_capabilities_and_checks_import_no_sdk() -> None:
    code = (
        "import sys\n"
        "from evalkit.providers.base import provider_capabilities, check_model_config\n"
        "from evalkit.suite.schema import ModelConfig\n"
        "for name in ('openai', 'transformers', 'mock', 'replay', 'function'):\n"
        "    provider_capabilities(name)\n"
        "check_model_config(ModelConfig(id='a', provider='openai', model='gpt-4o-mini'))\n"
        "check_model_config(ModelConfig(id='b'))\n"
        "heavy = {'openai', 'torch', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- static config checks (what validate runs) --------------------------------------------------


def problem(base_dir: Path | None = None, **fields: Any) -> tuple[tuple[str, ...] | None, str]:
    """(key path, message + hint) of the check's SuiteError for one model entry."""
    with pytest.raises(SuiteError) as err:
        check_model_config(ModelConfig(id="m", **fields), base_dir)
    return error_key_path(err.value), f"{err.value.message} {err.value.hint or ''}"


@pytest.mark.parametrize(
    ("fields", "path", "text"),
    [
        ({"params": {"max_token": 5}}, ("params", "max_token"), "did you mean 'max_tokens'"),
        ({"options": {"batchsize": 4}}, ("options", "batchsize"), "did you mean 'batch_size'"),
        # (a negative temperature is refused by the suite schema itself, before any provider)
        ({"params": {"temperature": 0.5, "top_p": 0}}, ("params",), "top_p"),
        ({"options": {"batch_size": "many"}}, ("options",), "invalid params or options"),
        ({"options": {"dtype": "float8"}}, ("options", "dtype"), "unknown dtype"),
        ({"model": "smollm2-135m-instruc"}, ("model",), "did you mean 'smollm2-135m-instruct'"),
    ],
)
def test_local_model_entries_are_checked_without_torch(
    fields: dict[str, Any], path: tuple[str, ...], text: str
) -> None:
    found, message = problem(**fields)
    assert found == path and text in message


def test_local_model_paths_are_checked_against_the_suite_folder(tmp_path: Path) -> None:
    assert problem(tmp_path, model="models/mine")[0] == ("model",)
    (tmp_path / "models" / "mine").mkdir(parents=True)
    (tmp_path / "models" / "mine" / "config.json").write_text("{}")
    check_model_config(ModelConfig(id="m", model="models/mine"), tmp_path)
    check_model_config(ModelConfig(id="m", model="smollm2-135m-instruct"), tmp_path)


@pytest.mark.parametrize(
    ("fields", "path", "text"),
    [
        ({"params": {"max_token": 5}}, ("params", "max_token"), "did you mean 'max_tokens'"),
        ({"params": {"temprature": 0}}, ("params", "temprature"), "params.extra_body"),
        ({"params": {"stream": True}}, ("params", "stream"), "streaming is not supported"),
        ({"params": {"n": 3}}, ("params", "n"), "'n' must be 1"),
        ({"options": {"base_urll": "http://x"}}, ("options", "base_urll"), "'base_url'"),
        ({"options": {"max_connections": 0}}, ("options", "max_connections"), "positive"),
        ({"options": {"api_version": "2024-10-21"}}, ("options",), "azure_endpoint"),
        ({"model": None}, ("model",), "needs a 'model' name"),
    ],
)
def test_openai_model_entries_are_checked_without_the_sdk(
    fields: dict[str, Any], path: tuple[str, ...], text: str
) -> None:
    found, message = problem(**{"provider": "openai", "model": "gpt-4o-mini", **fields})
    assert found == path and text in message


def test_openai_vendor_params_pass_the_check() -> None:
    params = {"top_k": 5, "min_tokens": 2, "min_p": 0.1, "repetition_penalty": 1.1, "seed": 1}
    params["extra_body"] = {"max_token": 3}  # spelled as the vendor wants: sent as written
    check_model_config(ModelConfig(id="m", provider="openai", model="x", params=params))


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"provider": "replay", "options": {"colum": "a"}}, ("options", "colum")),
        ({"provider": "replay", "options": {"column": ""}}, ("options", "column")),
        ({"provider": "function"}, ("options",)),
        ({"provider": "function", "options": {"function": "no_colon"}}, ("options", "function")),
        ({"provider": "function", "model": "mod:"}, ("model",)),
        ({"provider": "mock", "options": {"latency_ms": "fast"}}, ("options", "latency_ms")),
    ],
)
def test_other_builtin_providers_are_checked(fields: dict[str, Any], path: tuple[str, ...]) -> None:
    assert problem(**fields)[0] == path


def test_function_check_imports_nothing() -> None:
    config = ModelConfig(id="m", provider="function", options={"function": "evil_mod_x:run"})
    check_model_config(config, Path("."))
    assert "evil_mod_x" not in sys.modules


def test_a_provider_without_a_check_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(base._REGISTRY, "plain", "evalkit.providers.mock:create")
    check_model_config(ModelConfig(id="m", provider="plain", params={"anything": 1}))
