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
    create_provider,
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
