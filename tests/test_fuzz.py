"""A seeded mutator over suites and datasets: hostile input ends in exit 0 or 2, never worse.

Each case starts from a valid suite (mock provider, metrics, gates, graders, a prompt file, a
jsonl or csv dataset), applies one to three mutations (YAML text edits, hostile values in the
parsed structure, hostile datasets) and runs `evalkit validate`, `run --dry-run` or a real
`run` in-process through the CLI. Every case must:

- exit 0 or 2 (a real run may also exit 1, a gate failed, or 3, the run stopped), with
  "error: file:line" on a refusal and no traceback;
- finish within 5 s (a SIGALRM guard turns a hang into a failure with the case's number);
- grow the process's peak memory by less than 500 MB over the whole batch (so no case used
  more).

A failure names its case: `FUZZ_CASE=<tier>-<n> pytest tests/test_fuzz.py -k one_case` replays
it and leaves the files in the test's tmp folder. No case passes --allow-code, so no user code
named by a mutation ever runs.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from evalkit.cli.main import cli

FAST_CASES = 300
SLOW_CASES = 3000
CASE_SECONDS = 5
BATCH_MEMORY_MB = 500

ROWS = [
    {"id": "q1", "question": "What is 2+2?", "expected": "4", "tags": ["math"], "n": 4},
    {"id": "q2", "question": "Capital of France?", "expected": "Paris", "tags": [], "n": 0},
    {"id": "q3", "question": "Color of the sky?", "expected": "blue", "tags": ["x"], "n": 2},
]

SEEDS: list[dict[str, Any]] = [
    {
        "name": "basic",
        "dataset": "data.jsonl",
        "prompts": {
            "plain": "{{ question }}",
            "polite": {"system": "Be kind.", "user": "{{ question }}"},
        },
        "models": [
            {
                "id": "mock",
                "provider": "mock",
                "options": {"responses": {"2+2": "4", "France": "Paris"}},
            }
        ],
        "metrics": [{"contains": "{{ expected }}"}, {"type": "length", "max_words": 5}],
    },
    {
        "name": "gates",
        "dataset": {"path": "data.jsonl", "limit": 3, "id_field": "id"},
        "prompts": {"a": "Q: {{ question }} ({{ n }})"},
        "models": [
            {
                "id": "m",
                "provider": "mock",
                "params": {"temperature": 0, "max_tokens": 16},
                "concurrency": 2,
            }
        ],
        "metrics": [
            {"type": "regex", "pattern": "\\d+"},
            {"equals": "{{ expected }}", "name": "eq"},
        ],
        "gates": [
            {"metric": "eq", "min": 0.5},
            {"max_error_rate": 0.1},
            {"metric": "regex", "stat": "pass_rate", "min": 0.1, "bound": "ci"},
        ],
        "repeats": 2,
    },
    {
        "name": "graders",
        "dataset": "data.csv",
        "prompts": {"a": "prompt.jinja", "b": "{{ question }}!"},
        "models": [{"id": "m", "provider": "mock"}],
        "judges": [
            {
                "id": "judge",
                "provider": "mock",
                "options": {"response": '{"reasoning": "ok", "score": "pass"}'},
            }
        ],
        "graders": [{"type": "rubric", "rubric": "Is it helpful?", "judge": "judge"}],
        "metrics": [
            {"type": "json_schema", "schema": {"type": "object"}},
            {"icontains_any": ["paris", "4"]},
        ],
        "error_budget": 1.0,
    },
]
PROMPT_FILE = "{# system #}\nYou answer briefly.\n{# user #}\n{{ question }}\n"

DEEP_LIST = "[" * 1000 + "]" * 1000
ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
    for i in range(8)
)
SNIPPETS = [
    "\x00", "\t", "\x1b[31m", "\ufeff", "\u202e", "\ud7ff", "&a [*a]", "!!float x",
    "!!python/object/apply:os.system ['echo pwned']", "*undefined", "<<: *nope",
    "? [a, b]\n: c", "---\nname: two", "%YAML 1.1\n---", "'unterminated", "key: {{ x }}",
    "- - - -", ": :", "{", "]", "&x", ".nan", "-.inf", "!!int 1.5", "!!timestamp x",
    "x: " + DEEP_LIST, "y: &r {z: *r}", ALIAS_BOMB, "name: " + "n" * 20_000,
]  # fmt: skip

DEEP: Any = []
for _ in range(200):
    DEEP = [DEEP]
HOSTILE_VALUES: list[Any] = [
    0, -1, 1, 3, 10**12, 10**30, 2**63, -(10**30), True, False, None, 1e12, -3.5, 1e-300,
    1.0e308, "", " ", "x" * 100_000, "\x00", "a\x00b", "{{", "{{ x }}", "{% for %}",
    "{{ ''.__class__.__mro__ }}", "{{ 'x' * 10**9 }}", "{{ 'x'|center(10**9) }}",
    "{{ question + n }}", "{{ 10 // n }}", "{{ lipsum(10**6) }}", "(a{99999999999})",
    "(" * 1000 + ")" * 1000, "(a+)+$", "[", "x" * 5000 + ".jsonl", "/dev/zero", "/",
    "~nobody_xyz/a.jsonl", "a\x00b.jsonl", "data.jsonl", "data.csv", "prompt.jinja",
    "../../../../etc/hostname", "schema.json", [], {}, DEEP, list(range(10_000)),
    {"a": {"b": {"c": None}}}, ["x", 1, None, {"k": []}], "${NOT_SET_XYZ}", "${HOME}",
    "$${X}", "sk-abc123456789", "mock", "function", "transformers", "openai",
    "nope_mod_xyz:fn", "os:system", "json:loads", "contains", "pass^3", "p95", "pass@0",
    "ci", "Größe", "数学", "\u202e", {"type": "object", "properties": {"a": {"$ref": "#/x"}}},
    {"$ref": "http://127.0.0.1:9/x"},
]  # fmt: skip
KEYS = [
    "name", "dataset", "prompts", "models", "metrics", "repeats", "concurrency", "judges",
    "graders", "gates", "tracking", "prices", "max_cost", "error_budget", "tags",
    "description", "promts", "modles", "path", "format", "limit", "sample", "rename",
    "params", "options", "timeout", "max_attempts", "rpm", "type", "pattern", "schema",
    "min", "max", "stat", "bound", "baseline", "<<", "", "x" * 300,
]  # fmt: skip


# --- mutations --------------------------------------------------------------------------------


@dataclass
class Case:
    suite: str  # YAML text
    data: bytes  # data.jsonl
    csv: bytes  # data.csv
    mode: str  # validate | dry-run | run
    ops: list[str]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            yield from _paths(item, (*path, index))


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return root


def _pick_path(rng: random.Random, data: Any) -> tuple[Any, ...]:
    return rng.choice(list(_paths(data)))


def replace_value(rng: random.Random, data: Any) -> Any:
    return _set(data, _pick_path(rng, data), rng.choice(HOSTILE_VALUES))


def delete_key(rng: random.Random, data: Any) -> Any:
    mappings = [p for p in _paths(data) if isinstance(_get(data, p), dict) and _get(data, p)]
    path = rng.choice(mappings)
    target = _get(data, path)
    del target[rng.choice(list(target))]
    return data


def add_key(rng: random.Random, data: Any) -> Any:
    mappings = [p for p in _paths(data) if isinstance(_get(data, p), dict)]
    target = _get(data, rng.choice(mappings))
    target[rng.choice(KEYS)] = rng.choice(HOSTILE_VALUES)
    return data


def wrap_value(rng: random.Random, data: Any) -> Any:
    path = _pick_path(rng, data)
    value = _get(data, path)
    return _set(data, path, rng.choice([[value], {"x": value}, [value, value]]))


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        root = root[part]
    return root


STRUCTURAL: list[Callable[[random.Random, Any], Any]] = [
    replace_value, replace_value, replace_value, delete_key, add_key, wrap_value,
]  # fmt: skip


def text_mutation(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True) or [""]
    at = rng.randrange(len(lines))
    kind = rng.choice(["delete", "duplicate", "insert", "truncate", "char", "indent", "swap"])
    if kind == "delete":
        del lines[at]
    elif kind == "duplicate":
        lines.insert(at, lines[at])
    elif kind == "insert":
        lines.insert(at, rng.choice(SNIPPETS) + "\n")
    elif kind == "truncate":
        return text[: rng.randrange(len(text) + 1)], kind
    elif kind == "char":
        line = lines[at]
        pos = rng.randrange(len(line) + 1)
        lines[at] = (
            line[:pos]
            + rng.choice(["\x00", "\t", ":", "'", '"', "{", "*", "&", "é", " "])
            + line[pos:]
        )
    elif kind == "indent":
        lines[at] = rng.choice(["  ", " ", "\t", ""]) + lines[at].lstrip(" ")
    else:
        other = rng.randrange(len(lines))
        lines[at], lines[other] = lines[other], lines[at]
    return "".join(lines), kind


def dataset_mutation(rng: random.Random) -> tuple[bytes, bytes, str]:
    """Hostile data.jsonl and data.csv (only one of them is usually read)."""
    good = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    csv = b"id,question,expected\nq1,What is 2+2?,4\nq2,Capital?,Paris\n"
    choices: list[tuple[str, bytes, bytes]] = [
        ("deep-row", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", csv),
        ("nan", good + b'{"id": "z", "question": NaN}\n', csv),
        ("huge-int", good + b'{"id": "z", "question": ' + b"9" * 5000 + b"}\n", csv),
        ("not-object", good + b"[1, 2]\n", csv),
        ("bad-utf8", good + b'{"question": "\xff\xfe"}\n', b"id,question\n\xff,\xfe\n"),
        ("nul", good + b'{"question": "a\x00b"}\n', b"id,question\n1,a\x00b\n"),
        ("torn", good[:-7], csv[:-5]),
        ("empty", b"", b""),
        ("dup-header", good, b"question,question,expected\n1,2,3\n"),
        ("huge-field", good, b"question\n" + b"x" * 200_000 + b"\n"),
        ("missing-column", b'{"id": "z", "other": 1}\n', b"id,other\n1,2\n"),
        ("dup-id", good + json.dumps(ROWS[0]).encode() + b"\n", csv + b"q1,again,x\n"),
        ("wide", json.dumps({f"c{i}": i for i in range(5000)} | {"question": "q"}).encode(), csv),
    ]
    name, data, table = rng.choice(choices)
    return data, table, name


def make_case(seed: str) -> Case:
    rng = random.Random(seed)
    data = json.loads(json.dumps(rng.choice(SEEDS)))
    ops: list[str] = []
    dataset, table = "".join(json.dumps(r) + "\n" for r in ROWS).encode(), b""
    table = b"id,question,expected\nq1,What is 2+2?,4\nq2,Capital of France?,Paris\n"
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            op = rng.choice(STRUCTURAL)
            try:
                data = op(rng, data)
            except (IndexError, KeyError, TypeError):
                continue
            ops.append(op.__name__)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    if rng.random() < 0.45:
        text, kind = text_mutation(rng, text)
        ops.append(f"text:{kind}")
    if rng.random() < 0.2:
        dataset, table, name = dataset_mutation(rng)
        ops.append(f"data:{name}")
    mode = rng.choices(["validate", "dry-run", "run"], weights=[6, 2, 2])[0]
    if mode == "run" and not _only_mock(text):
        mode = "dry-run"  # a real run only on the mock: never a real model or the network
    return Case(text, dataset, table, mode, ops)


def _only_mock(text: str) -> bool:
    """Every model and judge is explicitly the mock (the default provider is a real model)."""
    try:
        data = yaml.safe_load(text)
    except Exception:
        return True  # the run refuses it while loading, before any provider exists
    if not isinstance(data, dict):
        return True
    entries = [data.get(key) or [] for key in ("models", "judges")]
    if not all(isinstance(e, list) for e in entries):
        return True  # not a list of models: refused by the schema
    return all(isinstance(m, dict) and m.get("provider") == "mock" for e in entries for m in e)


# --- running a case ---------------------------------------------------------------------------


class Hang(BaseException):  # not an Exception: nothing in evalkit may swallow it
    pass


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(folder: Path, case: Case) -> str | None:
    """None when the case behaved; else what went wrong, in one line."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_bytes(case.suite.encode("utf-8", "surrogatepass"))
    (folder / "data.jsonl").write_bytes(case.data)
    (folder / "data.csv").write_bytes(case.csv)
    (folder / "prompt.jinja").write_text(PROMPT_FILE)
    (folder / "schema.json").write_text('{"type": "object"}')
    args = ["validate", str(folder / "suite.yaml")]
    if case.mode != "validate":
        args = ["run", str(folder / "suite.yaml"), "-q", "--no-tracking"]
        args += ["--runs-dir", str(folder / "runs")]
        args += ["--dry-run"] if case.mode == "dry-run" else []
    allowed = {0, 2} if case.mode != "run" else {0, 1, 2, 3}
    try:
        with hang_guard(CASE_SECONDS):
            result = CliRunner().invoke(cli, args)
    except Hang as exc:
        return f"hang: {exc}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"traceback: {type(result.exception).__name__}: {result.exception}"[:300]
    if result.exit_code not in allowed:
        return f"exit {result.exit_code}: {result.output[-300:]!r}"
    if "Traceback" in result.output:
        return "a traceback in the output"
    if result.exit_code == 2 and not result.output.startswith("error: "):
        return f"exit 2 without 'error: ': {result.output[:200]!r}"
    return None


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fuzz(tmp_path: Path, tier: str, count: int) -> None:
    start = peak_mb()
    failures = []
    for index in range(count):
        name = f"{tier}-{index}"
        case = make_case(name)
        problem = run_case(tmp_path / name, case)
        if problem is not None:
            failures.append(f"{name} {case.mode} {case.ops}: {problem}")
    grown = peak_mb() - start
    assert not failures, f"{len(failures)} of {count} cases failed:\n" + "\n".join(failures[:20])
    assert grown < BATCH_MEMORY_MB, f"peak memory grew by {grown:.0f} MB over {count} cases"


@pytest.fixture(autouse=True)
def _no_consent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVALKIT_ALLOW_CODE", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./pyproject.toml grants consent; relative paths stay here
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_fuzz_fast(tmp_path: Path) -> None:
    fuzz(tmp_path, "fast", FAST_CASES)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_fuzz_slow(tmp_path: Path) -> None:
    fuzz(tmp_path, "slow", SLOW_CASES)


@pytest.mark.skipif("FUZZ_CASE" not in os.environ, reason="replays FUZZ_CASE=<tier>-<n>")
def test_one_case(tmp_path: Path) -> None:
    name = os.environ["FUZZ_CASE"]
    case = make_case(name)
    print(case.mode, case.ops, "\n" + case.suite[:3000])
    assert run_case(tmp_path / name, case) is None
