"""The function and replay providers: fast unit tests, no model involved."""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from evalkit.errors import ProviderError, SuiteError
from evalkit.providers.base import create_provider
from evalkit.records import GenerationRequest
from evalkit.suite.schema import ModelConfig

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi Ada"}]
_names = itertools.count()


def request(row: dict | None = None, **kwargs) -> GenerationRequest:
    return GenerationRequest(
        messages=MESSAGES, params={}, model="m", row=row or {}, example_id="ex1", **kwargs
    )


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a module beside a (pretend) suite file; return (module name, suite folder)."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # undo the provider's sys.path insert
    monkeypatch.setenv("EVALKIT_ALLOW_CODE", "1")  # consent (evalkit.plugins.user_code)

    def write(source: str) -> str:
        name = f"evalkit_user_app_{next(_names)}"  # unique: sys.modules caches by name
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    return write, tmp_path


def function_provider(target: str, base_dir: Path, via_model: bool = False):
    if via_model:
        config = ModelConfig(id="app", provider="function", model=target)
    else:
        config = ModelConfig(id="app", provider="function", options={"function": target})
    return create_provider(config, base_dir)


# --- function provider -----------------------------------------------------------------------


async def test_sync_function_gets_messages_and_row_and_runs_off_the_loop(user_module) -> None:
    write, folder = user_module
    name = write(
        """
        import threading

        def respond(messages, row):
            return f"{messages[-1]['content']} / {row['q']} / {threading.current_thread().name}"
        """
    )
    provider = function_provider(f"{name}:respond", folder)
    gen = await provider.generate(request({"q": "row value"}))
    text, value, thread = gen.output.split(" / ")
    assert (text, value) == ("Hi Ada", "row value")
    assert thread != threading.current_thread().name  # sync code must not block the loop
    await provider.aclose()


async def test_async_function_and_dict_result_with_usage_and_extras(user_module) -> None:
    write, folder = user_module
    name = write(
        """
        import asyncio

        async def respond(messages, row):
            await asyncio.sleep(0)
            return {"output": "ok", "usage": {"input_tokens": 3, "output_tokens": 1},
                    "cost": 0.5, "trace_id": "t-1"}
        """
    )
    gen = await function_provider(f"{name}:respond", folder, via_model=True).generate(request())
    assert gen.output == "ok"
    assert (gen.usage.input_tokens, gen.usage.output_tokens, gen.cost) == (3, 1, 0.5)
    assert gen.raw == {"trace_id": "t-1"}


async def test_dotted_attribute_and_callable_object(user_module) -> None:
    write, folder = user_module
    name = write(
        """
        class Bot:
            async def __call__(self, messages, row):
                return "async call"

            @staticmethod
            def answer(messages, row):
                return "static"

        bot = Bot()
        """
    )
    assert (await function_provider(f"{name}:bot", folder).generate(request())).output == (
        "async call"
    )
    assert (await function_provider(f"{name}:Bot.answer", folder).generate(request())).output == (
        "static"
    )


async def test_concurrent_sync_calls_run_in_parallel_threads(user_module) -> None:
    write, folder = user_module
    name = write(
        """
        import time

        def respond(messages, row):
            time.sleep(0.2)
            return str(row["i"])
        """
    )
    provider = function_provider(f"{name}:respond", folder)
    loop = asyncio.get_running_loop()
    start = loop.time()
    gens = await asyncio.gather(*(provider.generate(request({"i": i})) for i in range(4)))
    assert [g.output for g in gens] == ["0", "1", "2", "3"]
    assert loop.time() - start < 0.6  # four 0.2 s calls overlap


async def test_user_exception_becomes_non_retryable_provider_error(user_module) -> None:
    write, folder = user_module
    name = write(
        """
        def respond(messages, row):
            raise ValueError("no answer for " + row["q"])
        """
    )
    with pytest.raises(ProviderError) as err:
        await function_provider(f"{name}:respond", folder).generate(request({"q": "x"}))
    assert "ValueError: no answer for x" in err.value.message
    assert err.value.retryable is False


async def test_provider_error_from_the_function_passes_through(user_module) -> None:
    write, folder = user_module
    name = write(
        """
        from evalkit.errors import ProviderError

        def respond(messages, row):
            raise ProviderError("rate limited", retryable=True)
        """
    )
    with pytest.raises(ProviderError) as err:
        await function_provider(f"{name}:respond", folder).generate(request())
    assert err.value.retryable is True


@pytest.mark.parametrize("result", ["42", "None", "{'text': 'x'}", "{'output': 'x', 'usage': 5}"])
async def test_wrong_return_type_is_a_clear_error(user_module, result: str) -> None:
    write, folder = user_module
    name = write(f"def respond(messages, row):\n    return {result}\n")
    with pytest.raises(ProviderError, match=r"returned|usage"):
        await function_provider(f"{name}:respond", folder).generate(request())


def test_import_errors_are_suite_errors_with_hints(user_module) -> None:
    write, folder = user_module
    with pytest.raises(SuiteError, match="cannot import module 'no_such_mod_xyz'") as err:
        function_provider("no_such_mod_xyz:fn", folder)
    assert "PYTHONPATH" in (err.value.hint or "")

    broken = write("import not_installed_dep_xyz\n")
    with pytest.raises(SuiteError, match="missing module 'not_installed_dep_xyz'"):
        function_provider(f"{broken}:fn", folder)

    syntax = write("def oops(:\n")
    with pytest.raises(SuiteError, match="SyntaxError"):
        function_provider(f"{syntax}:fn", folder)

    good = write("def respond(messages, row):\n    return 'x'\nVALUE = 1\n")
    with pytest.raises(SuiteError, match="has no attribute 'respnd'") as err:
        function_provider(f"{good}:respnd", folder)
    assert "respond" in (err.value.hint or "")
    with pytest.raises(SuiteError, match="not callable"):
        function_provider(f"{good}:VALUE", folder)


@pytest.mark.parametrize(
    ("options", "match"),
    [({}, "needs the function"), ({"function": "no_colon"}, "module:callable"),
     ({"function": "m:f", "fuction": 1}, "unknown option 'fuction'")],
)  # fmt: skip
def test_bad_configuration(tmp_path: Path, options: dict, match: str) -> None:
    with pytest.raises(SuiteError, match=match):
        create_provider(ModelConfig(id="app", provider="function", options=options), tmp_path)


# --- replay provider -------------------------------------------------------------------------


def replay(**options):
    return create_provider(ModelConfig(id="logs", provider="replay", options=options), Path("."))


async def test_replay_reads_the_default_and_a_named_column() -> None:
    gen = await replay().generate(request({"output": "from logs", "answer": "other"}))
    assert gen.output == "from logs"
    assert (gen.usage.total_tokens, gen.latency_ms, gen.cost) == (0, 0.0, None)
    gen = await replay(column="answer").generate(request({"output": "x", "answer": "other"}))
    assert gen.output == "other"


async def test_replay_keeps_structured_values_parseable() -> None:
    gen = await replay().generate(request({"output": {"label": "spam", "score": 1}}))
    assert gen.output == '{"label": "spam", "score": 1}'
    assert (await replay().generate(request({"output": 3}))).output == "3"


async def test_replay_missing_or_empty_column_names_it() -> None:
    with pytest.raises(ProviderError, match="no column 'anser'") as err:
        await replay(column="anser").generate(request({"answer": "x", "question": "q"}))
    assert "answer" in (err.value.hint or "")
    assert err.value.retryable is False
    for empty in (None, float("nan")):
        with pytest.raises(ProviderError, match="column 'output' is empty"):
            await replay().generate(request({"output": empty}))


def test_replay_rejects_unknown_options() -> None:
    with pytest.raises(SuiteError, match="unknown option 'colum'") as err:
        replay(colum="x")
    assert "column" in (err.value.hint or "")
