"""What safety costs: hostile YAML refused, records redacted, templates checked per row shape.

    .venv/bin/python benchmarks/bench_hostile.py          # prints a Markdown table

Each number is the median of 5 in-process runs, next to a reference measured in the same run:
- hostile YAML: `load_suite` refusing it, vs `load_suite` of an ordinary suite, and vs PyYAML's
  own composer on the same text (which builds the node graph without expanding aliases);
- redaction: `Redactor.json_line(record)` with 20 known secrets, vs `record.model_dump_json()`;
- templates: `check_variables` for 20,000 rows x 3 variants (one render per row shape), vs
  rendering every row (what `run` does once before it starts, Plan.render_all).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from evalkit.errors import SuiteError
from evalkit.prompts.variants import check_variables, compile_variants
from evalkit.records import Example, Generation, Usage, WorkItem, result_record
from evalkit.results.redaction import Redactor
from evalkit.suite.loader import load_suite
from evalkit.suite.schema import Suite

ORDINARY = """\
name: demo
dataset: data.jsonl
prompts:
  terse: "{{ question }}"
  polite: {system: Be polite., user: "Please answer: {{ question }}"}
models:
  - {id: m1, provider: mock, params: {temperature: 0}}
metrics:
  - contains: "{{ expected }}"
gates:
  - {metric: contains, min: 0.8}
"""


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    text = "name: t\nl0: &l0 [" + ", ".join(["lol"] * width) + "]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n"
    return text


HOSTILE = {
    "alias bomb, 9 levels of 10": alias_bomb(),
    "1,000-deep flow lists": "name: t\nx: " + "[" * 1000 + "]" * 1000 + "\n",
    "1,000-deep block mappings": "name: t\n"
    + "".join(f"{'  ' * i}k{i}:\n" for i in range(1000))
    + "  " * 1000
    + "v\n",
    "self-referencing alias": "name: &a [*a]\n",
    "a 1,000,001-character value": "name: " + "x" * 1_000_001 + "\n",
}


def median_s(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def refuse(path: Path) -> None:
    try:
        load_suite(path)
    except SuiteError:
        return
    raise AssertionError(f"{path} was not refused")


def yaml_rows(folder: Path) -> list[str]:
    (folder / "ordinary.yaml").write_text(ORDINARY)
    reference = median_s(lambda: load_suite(folder / "ordinary.yaml"))
    rows = [f"| `load_suite`, an ordinary suite (reference) | {reference * 1000:.1f} ms | |"]
    for name, text in HOSTILE.items():
        path = folder / "hostile.yaml"
        path.write_text(text)
        refused = median_s(lambda p=path: refuse(p))  # type: ignore[misc]
        rows.append(f"| refused: {name} | {refused * 1000:.1f} ms | {_compose(text)} |")
    return rows


def _compose(text: str) -> str:
    """PyYAML's own composer on the text: the node graph, aliases not expanded."""
    outcome = "composed"
    start = time.perf_counter()
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        outcome = "RecursionError"
    seconds = time.perf_counter() - start
    return f"PyYAML's composer: {outcome} in {seconds * 1000:.1f} ms"


def redaction_rows() -> list[str]:
    example = Example("e1", {"question": "What is 2+2?" * 20, "expected": "4"})
    item = WorkItem(example, "terse", "m1")
    messages = [{"role": "user", "content": "What is 2+2? " * 40}]
    record = result_record(
        "r", item, messages, Generation("The answer is 4. " * 30, Usage(9, 9)), {}
    )
    secrets = tuple(f"secret-value-{i:02d}-abcdef" for i in range(20))
    redactor = Redactor(secrets)
    leaky = record.model_copy(update={"output": f"key {secrets[3]}"})
    n = 2000
    base = median_s(lambda: [record.model_dump_json() for _ in range(n)]) / n
    clean = median_s(lambda: [redactor.json_line(record) for _ in range(n)]) / n
    dirty = median_s(lambda: [redactor.json_line(leaky) for _ in range(n)]) / n
    return [
        f"| `model_dump_json()` of a record (reference) | {base * 1e6:.1f} µs | |",
        f"| `json_line()`, 20 secrets, none present | {clean * 1e6:.1f} µs | {clean / base:.2f}x |",
        f"| `json_line()`, 20 secrets, one present | {dirty * 1e6:.1f} µs | {dirty / base:.2f}x |",
    ]


def template_rows() -> list[str]:
    suite = Suite.model_validate(
        {
            "name": "t",
            "dataset": {"rows": [{"q": "x"}]},
            "prompts": {f"v{i}": "{{ question }} {{ expected }}" for i in range(3)},
            "models": [{"id": "m", "provider": "mock"}],
        }
    )
    variants = compile_variants(suite, Path("."))
    rows = [
        Example(str(i), {"question": f"q{i}", "expected": "e", "n": i}, i) for i in range(20_000)
    ]
    shapes = median_s(lambda: check_variables(variants, rows))
    every = median_s(lambda: [v.render(r) for r in rows for v in variants.values()])
    return [
        f"| render every row, 20,000 x 3 (reference: `run`, once) | {every:.2f} s | |",
        f"| `check_variables`, 20,000 x 3 (validate: per row shape) | {shapes:.3f} s | |",
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = yaml_rows(Path(tmp))
    print("| case | evalkit | reference / note |\n|---|---:|---|")
    print("\n".join([*rows, *redaction_rows(), *template_rows()]))


if __name__ == "__main__":
    main()
