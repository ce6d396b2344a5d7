"""What the Ray executor costs per item, against the same run in-process.

    .venv/bin/python benchmarks/bench_ray.py                 # mock provider, N = 200 and 2,000
    .venv/bin/python benchmarks/bench_ray.py --local         # plus the embedded model, 16 items

The mock provider answers at once, so its runs measure the executor's own overhead: each item's
request and Generation cross to an actor and back (serialisation, the actor's event loop, the
object store) on top of what the engine does anyway (cache lookup, scoring, the record line).
The overhead per item is the slope between two sizes, so the fixed costs (starting actors,
Ray's start, the suite's load) cancel; those are reported on their own. Ray runs on a local
instance (`ray.init(num_cpus=2)`), started once before the Ray runs and reused by them.
Results go to benchmarks/results-ray.json; the README's section quotes a run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SUITE = """\
name: bench-ray
dataset: data.jsonl
prompts:
  p: "{{{{ question }}}}"
models:
  - {{id: m, provider: {provider}, {extra}}}
concurrency: {concurrency}
metrics:
  - contains: "{{{{ expected }}}}"
"""
LOCAL = "model: smollm2-135m-instruct, params: {max_tokens: 8, temperature: 0}"
QUESTIONS = ["France", "Germany", "Italy", "Spain", "Japan", "Egypt", "Peru", "Kenya"]


def write(folder: Path, n: int, provider: str, extra: str, concurrency: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"q{i}",
            "question": f"What is the capital of {QUESTIONS[i % 8]}? #{i}",
            "expected": "a",
        }
        for i in range(n)
    ]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = SUITE.format(provider=provider, extra=extra, concurrency=concurrency)
    (folder / "suite.yaml").write_text(text)
    return folder / "suite.yaml"


def timed_run(suite: Path, runs: Path, **options: Any) -> float:
    from evalkit.api import run

    start = time.perf_counter()
    result = run(suite, runs_dir=runs, no_cache=True, tracking=False, **options)
    elapsed = time.perf_counter() - start
    assert result.summary.status == "complete", result.summary.stopped_reason
    return elapsed


def measure(suite: Path, runs: Path, repeats: int, **options: Any) -> list[float]:
    return [timed_run(suite, runs, **options) for _ in range(repeats)]


def mock_overhead(work: Path, sizes: tuple[int, int], repeats: int, actors: int) -> dict[str, Any]:
    """Median wall seconds per size, in-process and on Ray, and the per-item slopes."""
    result: dict[str, Any] = {"sizes": list(sizes), "actors": actors, "local": {}, "ray": {}}
    for n in sizes:
        suite = write(work / f"mock-{n}", n, "mock", "options: {}", 16)
        result["local"][n] = measure(suite, work / "runs", repeats)
        result["ray"][n] = measure(suite, work / "runs", repeats, executor="ray", ray_actors=actors)
    small, large = sizes
    for kind in ("local", "ray"):
        slope = statistics.median(result[kind][large]) - statistics.median(result[kind][small])
        result[f"{kind}_ms_per_item"] = 1000 * slope / (large - small)
    result["overhead_ms_per_item"] = result["ray_ms_per_item"] - result["local_ms_per_item"]
    fixed = statistics.median(result["ray"][small]) - statistics.median(result["local"][small])
    result["fixed_s"] = fixed - result["overhead_ms_per_item"] * small / 1000
    return result


def local_model(work: Path, n: int, actors: int) -> dict[str, Any]:
    """The embedded model: 16 items in-process (batched) and on `actors` replicas."""
    suite = write(work / "local", n, "transformers", LOCAL, 8)
    timed_run(suite, work / "runs")  # converts and loads once; not measured
    return {
        "items": n,
        "local_s": measure(suite, work / "runs", 2),
        "ray_s": measure(suite, work / "runs", 2, executor="ray", ray_actors=actors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--local", action="store_true", help="also time the embedded model")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results-ray.json"))
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    results: dict[str, Any] = {"ray_init_s": time.perf_counter() - start}
    results["load_average_before"] = os.getloadavg()[0]
    results["mock"] = mock_overhead(work, (200, 2000), args.repeats, args.actors)
    if args.local:
        results["local_model"] = local_model(work, 16, args.actors)
    results["load_average_after"] = os.getloadavg()[0]
    ray.shutdown()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    mock = results["mock"]
    print(f"ray.init: {results['ray_init_s']:.2f} s")
    print(
        f"in-process: {mock['local_ms_per_item']:.3f} ms/item, ray: {mock['ray_ms_per_item']:.3f}"
        f" ms/item, overhead {mock['overhead_ms_per_item']:.3f} ms/item,"
        f" fixed {mock['fixed_s']:.2f} s per run"
    )
    if args.local:
        model = results["local_model"]
        print(
            f"embedded model, {model['items']} items: in-process {model['local_s']},"
            f" ray {model['ray_s']}"
        )


if __name__ == "__main__":
    main()
