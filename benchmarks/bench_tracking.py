"""The default path as users run it (MLflow tracking on) next to the bare async SDK, in one run.

Every measured run is a fresh process (bench_tracking_children.py), against the project's fault
server (tests/fault_server.py, an OpenAI-compatible server in its own process, latency L). The
reference is the bare async `openai` SDK sending the same requests under a semaphore; evalkit
runs `run_suite()` on an openai-provider suite (N examples x 2 variants, `contains`), timed from
the call to its return, which by default waits for MLflow logging to finish.

    python benchmarks/bench_tracking.py                       # everything (about 20 min)
    python benchmarks/bench_tracking.py --only small --only cached --repeats 3
    python benchmarks/bench_tracking.py --json benchmarks/results-tracking.json

Parts (`--only`): small (N=200, C=16, L=0: reference, --no-tracking, default, first run on a
fresh store, the in-process design), latency (N=2000, C=32, L=200 ms: ideal 25 s), scale
(N=2000, C=32, L=0), cached (a fully cached re-run, whole `evalkit run` command), memory
(N=20,000), log (10,000 items logged with all traces; a server's rate), aiohttp (the SDK's
aiohttp transport against its default one at C=16/32/64).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from bench_engine import PARAMS, load_average, rows  # noqa: E402

CHILD = HERE / "bench_tracking_children.py"


def write_suite(folder: Path, n: int, base_url: str, concurrency: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows(n)), "utf-8")
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
            """
        ),
        encoding="utf-8",
    )
    return suite


def child(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(CHILD), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})},
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Bench:
    """One fault server, one work folder; evalkit's template store cache under it."""

    def __init__(self, latency_ms: float, n: int, concurrency: int, work: Path) -> None:
        from fault_server import FaultServer

        self.n, self.concurrency, self.latency = n, concurrency, latency_ms
        self.server = FaultServer(process=True, latency_ms=latency_ms).start()
        self.folder = Path(tempfile.mkdtemp(prefix=f"n{n}-l{latency_ms:g}-", dir=work))
        self.suite = write_suite(self.folder, n, self.server.base_url, concurrency)
        # the in-process design: the same suite, logged by the thread tracker of the children
        self.thread_suite = self.folder / "bench-thread.yaml"
        text = self.suite.read_text("utf-8") + "tracking: {backends: [mlflow-thread]}\n"
        self.thread_suite.write_text(text, "utf-8")
        self.count = 0

    def close(self) -> None:
        self.server.stop()

    def reference(self, transport: str = "") -> dict[str, Any]:
        args = [self.server.base_url, str(self.n), str(self.concurrency)]
        return child("reference", *args, *([transport] if transport else []))

    def evalkit(self, mode: str, runs: Path | None = None, cache: Path | None = None) -> Any:
        """A run in `runs` (default: a fresh folder) with a fresh cache unless given one."""
        self.count += 1
        cache_given = cache is not None
        runs = runs or self.folder / f"runs-{self.count}"
        cache = cache or self.folder / f"cache-{self.count}.sqlite"
        suite = self.thread_suite if mode == "thread" else self.suite
        if mode != "none" and not cache_given:
            # a suite edited since the last run (what a new run usually is): the same inputs
            # on a cold cache would be taken for a cached re-run, whose logging waits for the
            # first call the cache misses (reruns.py)
            suite = self.folder / f"bench-{self.count}.yaml"
            base = self.thread_suite if mode == "thread" else self.suite
            suite.write_text(f"description: run {self.count}\n" + base.read_text("utf-8"))
        result = child("evalkit", str(suite), str(runs), str(cache), mode)
        assert result["done"] == 2 * self.n and result["errors"] == 0, result
        return result

    def warm_store(self) -> Path:
        """A runs folder whose MLflow store exists (a project's second run onwards)."""
        runs = self.folder / "runs-store"
        if not (runs / "mlflow.db").is_file():
            self.evalkit("tracking", runs)
        return runs


def med(runs: list[dict[str, Any]], key: str = "wall") -> float:
    return statistics.median(r[key] for r in runs)


def alternate(bench: Bench, modes: dict[str, Any], repeats: int) -> dict[str, list[Any]]:
    """Run each mode `repeats` times, interleaved (noise hits all alike)."""
    results: dict[str, list[Any]] = {name: [] for name in modes}
    for _ in range(repeats):
        for name, run in modes.items():
            results[name].append(run())
    return results


def small(work: Path, repeats: int) -> dict[str, Any]:
    bench = Bench(0, 200, 16, work)
    try:
        store = bench.warm_store()
        modes = {
            "reference": bench.reference,
            "no_tracking": lambda: bench.evalkit("none"),
            "default": lambda: bench.evalkit("tracking", store),
            "fresh_store": lambda: bench.evalkit("tracking"),
            "in_process_thread": lambda: bench.evalkit("thread", store),
        }
        runs = alternate(bench, modes, repeats)
        first_ever = first_run_ever(bench)
    finally:
        bench.close()
    return summarise(runs, extra={"fresh_store_no_template": first_ever})


def first_run_ever(bench: Bench) -> dict[str, Any]:
    """A fresh store on a machine where evalkit never made one: MLflow's migrations run."""
    cache = bench.folder / "empty-evalkit-cache"
    env = {"EVALKIT_CACHE_DIR": str(cache)}
    runs = bench.folder / "runs-first-ever"
    args = [str(bench.suite), str(runs), str(bench.folder / "cache-first.sqlite"), "tracking"]
    return child("evalkit", *args, env=env)


def summarise(runs: dict[str, list[Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {name: _stats(values) for name, values in runs.items()}
    ref = out["reference"]["wall_s"]
    for stats in out.values():
        stats["ratio_to_reference"] = stats["wall_s"] / ref
    if "no_tracking" in out:
        for name in ("default", "fresh_store", "in_process_thread"):
            if name in out:
                out[name]["added_s"] = out[name]["wall_s"] - out["no_tracking"]["wall_s"]
    for name, value in (extra or {}).items():
        out[name] = {**_stats([value]), "runs": [value]}
    return out


def _stats(values: list[Any]) -> dict[str, Any]:
    stats = {"wall_s": med(values), "cpu_s": med(values, "cpu"), "peak_mb": med(values, "peak_mb")}
    stats["walls"] = [round(v["wall"], 3) for v in values]
    tracked = [t for v in values for t in v.get("tracked", [])]
    peaks = [t["logging_peak_mb"] for t in tracked if t.get("logging_peak_mb")]
    if peaks:  # the logging process reports its own peak
        stats["logging_process_peak_mb"] = statistics.median(peaks)
    if tracked:
        stats["traces"] = tracked[0].get("traces")
    return stats


def latency(work: Path, repeats: int, n: int = 2000) -> dict[str, Any]:
    bench = Bench(200, n, 32, work)
    try:
        store = bench.warm_store()
        modes = {
            "reference": bench.reference,
            "no_tracking": lambda: bench.evalkit("none"),
            "default": lambda: bench.evalkit("tracking", store),
        }
        out = summarise(alternate(bench, modes, repeats))
    finally:
        bench.close()
    ideal = 2 * n * 0.2 / 32
    for stats in out.values():
        stats["ratio_to_ideal"] = stats["wall_s"] / ideal
    return {"ideal_s": ideal, **out}


def scale(work: Path, repeats: int, n: int = 2000) -> dict[str, Any]:
    bench = Bench(0, n, 32, work)
    try:
        store = bench.warm_store()
        modes = {
            "reference": bench.reference,
            "no_tracking": lambda: bench.evalkit("none"),
            "default": lambda: bench.evalkit("tracking", store),
            "in_process_thread": lambda: bench.evalkit("thread", store),
        }
        return summarise(alternate(bench, modes, repeats))
    finally:
        bench.close()


def cached(work: Path, repeats: int, n: int = 2000) -> dict[str, Any]:
    """The whole `evalkit run -q` command, every item from the cache, after a logged run."""
    bench = Bench(0, n, 32, work)
    exe = Path(sys.executable).with_name("evalkit")
    try:
        runs, cache = bench.folder / "runs-cached", bench.folder / "cache-cached.sqlite"
        bench.evalkit("tracking", runs, cache)  # logged, and the cache is warm
        times: dict[str, list[float]] = {"tracking": [], "no_tracking": []}
        said = ""
        env = {k: v for k, v in os.environ.items() if k != "EVALKIT_NO_TRACKING"}
        command = [str(exe), "run", str(bench.suite), "-q", "--runs-dir", str(runs)]
        command += ["--cache", str(cache)]
        for _ in range(repeats):
            for name, flag in (("tracking", []), ("no_tracking", ["--no-tracking"])):
                start = time.perf_counter()
                done = subprocess.run([*command, *flag], capture_output=True, text=True, env=env)
                times[name].append(time.perf_counter() - start)
                if not flag:
                    said = " ".join(done.stderr.split())[-300:]
    finally:
        bench.close()
    out: dict[str, Any] = {
        k: {"wall_s": statistics.median(v), "walls": v} for k, v in times.items()
    }
    out["tracking_said"] = said
    return out


def memory(work: Path, n: int) -> dict[str, Any]:
    bench = Bench(0, n, 32, work)
    try:
        store = bench.warm_store() if n <= 2000 else None
        result = bench.evalkit("tracking", store)
        plain = bench.evalkit("none")
    finally:
        bench.close()
    return {
        "n": n,
        "items": 2 * n,
        "default": _stats([result]),
        "no_tracking": _stats([plain]),
    }


def log_items(work: Path, items: int, server_items: int) -> dict[str, Any]:
    """A finished run of `items` items logged with all traces: the local store, a server."""
    from mlflow_server import MlflowServer
    from test_tracking import _synthetic_run

    local_runs = work / "log-local"
    run_dir = _synthetic_run(local_runs, examples=items // 2)
    local = child("log", str(run_dir), "")
    shutil.rmtree(local_runs)
    with MlflowServer(work / "log-server") as server:
        small_dir = _synthetic_run(work / "log-server-runs", examples=server_items // 2)
        remote = child("log", str(small_dir), server.uri)
    return {
        "local_store": {"items": items, "wall_s": local["wall"], "traces": local["traces"]},
        "server": {
            "items": server_items,
            "wall_s": remote["wall"],
            "traces": remote["traces"],
            "traces_per_s": remote["traces"] / remote["wall"],
        },
    }


def aiohttp(work: Path, repeats: int, n: int = 2000) -> dict[str, Any]:
    out = {}
    for concurrency in (16, 32, 64):
        bench = Bench(0, n, concurrency, work)
        try:
            modes = {
                "reference": bench.reference,
                "sdk_aiohttp": lambda b=bench: b.reference("aiohttp"),
                "evalkit_no_tracking": lambda b=bench: b.evalkit("none"),
            }
            out[f"C={concurrency}"] = summarise(alternate(bench, modes, repeats))
        finally:
            bench.close()
    return out


def brief(found: Any, prefix: str = "") -> list[str]:
    """One line per measured mode: the numbers the README table takes."""
    keys = ("wall_s", "ratio_to_reference", "ratio_to_ideal", "added_s", "peak_mb")
    keys += ("logging_process_peak_mb", "traces", "traces_per_s")
    if isinstance(found, list):
        return [line for i, item in enumerate(found) for line in brief(item, f"{prefix}{i}.")]
    if not isinstance(found, dict):
        return [f"{prefix}: {found}"]
    if "wall_s" in found:
        shown = ", ".join(
            f"{k} {found[k]:.3g}" for k in keys if isinstance(found.get(k), float | int)
        )
        return [f"{prefix.rstrip('.')}: {shown}  {found.get('walls', '')}"]
    lines = []
    for name, value in found.items():
        if name != "runs":
            lines += brief(value, f"{prefix}{name}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["small", "latency", "scale", "cached", "memory", "log", "aiohttp"]
    parser.add_argument("--only", choices=parts, action="append")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-n", type=int, action="append", help="default: 2000, 20000")
    parser.add_argument("--log-items", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    os.environ["EVALKIT_CACHE_DIR"] = str(work / "evalkit-cache")  # its own template store
    report: dict[str, Any] = {"machine": load_average(), "python": sys.version.split()[0]}
    for part in args.only or parts:
        started = time.perf_counter()
        if part == "memory":
            report[part] = [memory(work, n) for n in args.memory_n or [2000, 20_000]]
        elif part == "log":
            report[part] = log_items(work, args.log_items, 1000)
        else:
            report[part] = globals()[part](work, args.repeats)
        print(f"== {part} ({time.perf_counter() - started:.0f} s)")
        for line in brief(report[part]):
            print(line, flush=True)
    report["machine_after"] = load_average()
    print(report["machine"], "->", report["machine_after"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
