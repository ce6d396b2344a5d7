"""Benchmark the engine against the project's fault server, next to a bare-SDK reference client.

Every measured run executes in a fresh subprocess, so its peak memory (ru_maxrss) is its own and
no run warms another's imports. The fault server runs in a subprocess too (process=True), so the
clients under test never share a GIL with it. Wall time is measured inside the child, from the
start of the work (evalkit: `run_suite()`, reference: the first request) to its end; interpreter
start-up and imports are excluded for both.

    python benchmarks/bench_engine.py                         # the README's table
    python benchmarks/bench_engine.py --n 2000 --latency-ms 0 --repeats 5
    python benchmarks/bench_engine.py --only memory --memory-n 20000

Scenarios (targets from issue 3, on 2 cores):
  L=0 ms, C=32, N x 2 variants     evalkit <= 1.25x the reference client
  L=200 ms, C=32, N x 2 variants   evalkit <= 1.15x the ideal N*L/C
  cached re-run of N x 2           < 3 s
  `evalkit --help`                 < 0.3 s (best of 5)
  N=20,000 x 2 variants            peak memory < 300 MB
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # fault_server.py lives with the tests

PARAMS = {"max_tokens": 64, "temperature": 0}
VARIANTS = {
    "plain": [{"role": "user", "content": "{question}"}],
    "polite": [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
        {"role": "user", "content": "Please answer: {question}"},
    ],
}


def rows(n: int) -> list[dict[str, str]]:
    return [
        {"id": f"q{i}", "question": f"What is item number {i}?", "expected": f"{i}?"}
        for i in range(n)
    ]


def write_suite(folder: Path, n: int, base_url: str, concurrency: int) -> Path:
    """The evalkit side: an openai model on the fault server, two variants, a contains metric."""
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(n)), encoding="utf-8")
    suite = folder / "bench.yaml"
    suite.write_text(
        textwrap.dedent(
            f"""\
            name: bench
            dataset: data.jsonl
            prompts:
              plain: "{{{{ question }}}}"
              polite:
                system: You are a helpful assistant. Answer briefly.
                user: "Please answer: {{{{ question }}}}"
            models:
              - id: fault
                provider: openai
                model: fault-model
                params: {json.dumps(PARAMS)}
                options: {{base_url: "{base_url}"}}
                timeout: 60
            metrics:
              - contains: "{{{{ expected }}}}"
            concurrency: {concurrency}
            error_budget: 1.0
            tracking: false
            """
        ),
        encoding="utf-8",
    )
    return suite


# --- children: one measured run each ----------------------------------------------------------


def child_evalkit(suite: str, runs_dir: str, cache: str, profile: str | None) -> dict[str, Any]:
    os.environ["EVALKIT_NO_TRACKING"] = "1"
    from evalkit.api import RunOptions, run_suite

    options = RunOptions(runs_dir=Path(runs_dir), cache_path=Path(cache), tracking=False)
    start, cpu = time.perf_counter(), time.process_time()
    if profile:
        import cProfile

        with cProfile.Profile() as prof:
            result = run_suite(suite, options)
        prof.dump_stats(profile)
    else:
        result = run_suite(suite, options)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    counts = result.summary.counts
    passed = sum((c.metrics["contains"].mean or 0) * c.items for c in result.summary.cells)
    done, errors = counts.done, counts.errors
    return {"wall": wall, "cpu": cpu, "done": done, "errors": errors, "passed": passed}


def child_reference(base_url: str, n: int, concurrency: int) -> dict[str, Any]:
    """The bare SDK: the same requests under a semaphore, scored with "contains"."""
    from openai import AsyncOpenAI

    async def main() -> dict[str, Any]:
        client = AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=60)
        gate = asyncio.Semaphore(concurrency)

        async def one(messages: list[dict[str, str]], expected: str) -> bool:
            async with gate:
                reply = await client.chat.completions.create(
                    model="fault-model",
                    messages=messages,  # type: ignore[arg-type]
                    **PARAMS,  # type: ignore[arg-type]
                )
            return expected.lower() in (reply.choices[0].message.content or "").lower()

        jobs = [
            one([{**m, "content": m["content"].format(**row)} for m in msgs], row["expected"])
            for row in rows(n)
            for msgs in VARIANTS.values()
        ]
        start, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*jobs)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        await client.close()
        return {"wall": wall, "cpu": cpu, "done": len(results), "errors": 0, "passed": sum(results)}

    return asyncio.run(main())


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this file as a child; it prints one JSON line with wall time and peak memory."""
    env = {**os.environ, "EVALKIT_NO_TRACKING": "1", "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def child_main(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "evalkit":
        suite, runs_dir, cache, profile = rest
        result = child_evalkit(suite, runs_dir, cache, profile or None)
    else:
        base_url, n, concurrency = rest
        result = child_reference(base_url, int(n), int(concurrency))
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# --- scenarios --------------------------------------------------------------------------------


def evalkit_once(
    folder: Path, suite: Path, tag: str, cache: Path | None = None, profile: str = ""
) -> dict[str, Any]:
    cache = cache or folder / f"cache-{tag}.sqlite"
    return run_child(["evalkit", str(suite), str(folder / f"runs-{tag}"), str(cache), profile])


def scenario(latency_ms: float, n: int, concurrency: int, repeats: int) -> dict[str, Any]:
    """Alternate reference and evalkit runs (fresh cache each), `repeats` times; medians."""
    from fault_server import FaultServer

    ref, ek = [], []
    with FaultServer(process=True, latency_ms=latency_ms) as server:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        suite = write_suite(folder, n, server.base_url, concurrency)
        for i in range(repeats):
            ref.append(run_child(["reference", server.base_url, str(n), str(concurrency)]))
            ek.append(evalkit_once(folder, suite, f"{latency_ms:g}-{i}"))
        cache = folder / f"cache-{latency_ms:g}-0.sqlite"
        cached = [evalkit_once(folder, suite, f"cached-{i}", cache) for i in range(repeats)]
        command = cli_cached(folder, suite, cache, repeats)
    ideal = 2 * n * latency_ms / 1000 / concurrency
    return {**_summarise(latency_ms, n, concurrency, ref, ek, cached, ideal), **command}


def cli_cached(folder: Path, suite: Path, cache: Path, repeats: int) -> dict[str, float]:
    """The whole `evalkit run` command on a warm cache: start-up, imports, table, exit."""
    exe = Path(sys.executable).with_name("evalkit")
    times = []
    for i in range(repeats):
        runs = folder / f"runs-cli-{i}"
        command = [str(exe), "run", str(suite), "-q", "--no-tracking", "--runs-dir", str(runs)]
        start = time.perf_counter()
        subprocess.run([*command, "--cache", str(cache)], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return {"cli_cached_s": statistics.median(times)}


def _summarise(
    latency_ms: float,
    n: int,
    concurrency: int,
    ref: list[dict[str, Any]],
    ek: list[dict[str, Any]],
    cached: list[dict[str, Any]],
    ideal: float,
) -> dict[str, Any]:
    def med(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    for runs in (ref, ek, cached):
        assert all(r["done"] == 2 * n and r["errors"] == 0 for r in runs), runs
        assert all(r["passed"] == ref[0]["passed"] for r in runs), "scores differ"
    return {
        "latency_ms": latency_ms,
        "n": n,
        "concurrency": concurrency,
        "reference_s": med(ref, "wall"),
        "evalkit_s": med(ek, "wall"),
        "ratio_to_reference": med(ek, "wall") / med(ref, "wall"),
        "reference_cpu_s": med(ref, "cpu"),
        "evalkit_cpu_s": med(ek, "cpu"),
        "cpu_ratio_to_reference": med(ek, "cpu") / med(ref, "cpu"),
        "ideal_s": ideal,
        "ratio_to_ideal": med(ek, "wall") / ideal if ideal else None,
        "cached_s": med(cached, "wall"),
        "reference_peak_mb": med(ref, "peak_mb"),
        "evalkit_peak_mb": med(ek, "peak_mb"),
        "cached_peak_mb": med(cached, "peak_mb"),
        "runs": {"reference": [r["wall"] for r in ref], "evalkit": [r["wall"] for r in ek]},
    }


def help_time(runs: int = 5) -> float:
    exe = Path(sys.executable).with_name("evalkit")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "evalkit.cli.main"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*command, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def memory(n: int) -> dict[str, Any]:
    from fault_server import FaultServer

    with FaultServer(process=True) as server:
        folder = Path(tempfile.mkdtemp(prefix="bench-mem-"))
        suite = write_suite(folder, n, server.base_url, 32)
        result = evalkit_once(folder, suite, "memory")
    assert result["done"] == 2 * n, result
    return {"n": n, "items": 2 * n, "wall_s": result["wall"], "peak_mb": result["peak_mb"]}


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="examples (x 2 variants)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, action="append", help="default: 0 and 200")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario (medians)")
    parser.add_argument("--memory-n", type=int, default=20_000)
    parser.add_argument("--only", choices=["speed", "help", "memory"], action="append")
    parser.add_argument("--profile", help="write a cProfile of one evalkit run (L=0) here")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.profile:
        return profile(args)
    only = set(args.only or ["speed", "help", "memory"])
    report: dict[str, Any] = {"machine": load_average(), "python": sys.version.split()[0]}
    if "help" in only:
        report["help_s"] = help_time()
        print(f"evalkit --help: {report['help_s']:.3f} s (best of 5)", flush=True)
    if "speed" in only:
        report["scenarios"] = []
        for latency in args.latency_ms or [0.0, 200.0]:
            result = scenario(latency, args.n, args.concurrency, args.repeats)
            report["scenarios"].append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "runs"}), flush=True)
    if "memory" in only:
        report["memory"] = memory(args.memory_n)
        print(json.dumps(report["memory"]), flush=True)
    report["machine_after"] = load_average()
    print(report["machine"], "->", report["machine_after"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return None


def profile(args: argparse.Namespace) -> None:
    from fault_server import FaultServer

    with FaultServer(process=True) as server:
        folder = Path(tempfile.mkdtemp(prefix="bench-prof-"))
        suite = write_suite(folder, args.n, server.base_url, args.concurrency)
        result = evalkit_once(folder, suite, "profile", profile=args.profile)
    print(json.dumps(result))
    stats = f"pstats.Stats('{args.profile}').sort_stats('tottime').print_stats(30)"
    print(f'python -c "import pstats; {stats}"')


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
