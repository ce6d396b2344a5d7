"""The measured runs of bench_tracking.py, each in a fresh process (its own imports and memory).

    python benchmarks/bench_tracking_children.py evalkit SUITE RUNS CACHE MODE
    python benchmarks/bench_tracking_children.py reference BASE_URL N C [aiohttp]
    python benchmarks/bench_tracking_children.py log RUN_DIR URI

Each prints one JSON line: wall and CPU seconds, peak memory of this process (`peak_mb`) and of
the largest child it waited for (`children_peak_mb`: the logging process), and what it did.

MODE for evalkit: `tracking` (the default path: MLflow logging in a background process),
`none` (--no-tracking), `thread` (the design measured against it: the same logging in a
thread of the run's process, MLflow inside the process that runs the engine).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _peaks() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_mb": own, "children_peak_mb": children}


def evalkit(suite: str, runs_dir: str, cache: str, mode: str) -> dict[str, Any]:
    from evalkit.api import RunOptions, run_suite

    os.environ.pop("EVALKIT_NO_TRACKING", None)
    if mode == "thread":
        register_thread_tracker()
    options = RunOptions(runs_dir=Path(runs_dir), cache_path=Path(cache), tracking=mode != "none")
    start, cpu = time.perf_counter(), time.process_time()
    result = run_suite(suite, options)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    counts = result.summary.counts
    passed = sum((c.metrics["contains"].mean or 0) * c.items for c in result.summary.cells)
    tracked = [
        {
            "message": t.message,
            "skipped": t.skipped,
            "traces": t.details.get("traces"),
            "logging_peak_mb": t.details.get("logging_peak_mb"),
        }
        for t in result.tracked
    ]
    return {
        "wall": wall,
        "cpu": cpu,
        "done": counts.done,
        "errors": counts.errors,
        "cached": counts.cached,
        "passed": passed,
        "tracked": tracked,
    }


def reference(base_url: str, n: int, concurrency: int, aiohttp: bool) -> dict[str, Any]:
    """The bare async SDK (bench_engine's reference), optionally on the aiohttp transport."""
    if not aiohttp:
        from bench_engine import child_reference

        return child_reference(base_url, n, concurrency)
    from bench_engine import PARAMS, VARIANTS, rows
    from openai import AsyncOpenAI, DefaultAioHttpClient

    async def main() -> dict[str, Any]:
        client = AsyncOpenAI(
            base_url=base_url,
            api_key="x",
            max_retries=0,
            timeout=60,
            http_client=DefaultAioHttpClient(),
        )
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


def log(run_dir: str, uri: str) -> dict[str, Any]:
    """Log a finished run folder (every item a trace) in this process: MLflow's own cost."""
    from evalkit.trackers.mlflow import track_run

    start = time.perf_counter()
    logged = track_run(Path(run_dir), tracking_uri=uri or None)
    return {"wall": time.perf_counter() - start, "traces": logged.traces, "done": logged.traces}


# --- the in-process design ------------------------------------------------------------------


def register_thread_tracker() -> None:
    from evalkit.plugins.registry import registry

    registry().add_tracker("mlflow-thread", ThreadTracker)


class ThreadTracker:
    """MLflow logging in a thread of the run's own process: the items go through a queue (as
    MLflow's own async logging queues its calls), so the engine never waits on MLflow, but
    MLflow's import and every write share the process (and its GIL) with the engine."""

    name, label = "mlflow-thread", "MLflow (thread)"

    def __init__(self, settings: Any) -> None:
        from evalkit.trackers.mlflow.tracker import MlflowTracker

        self.inner = MlflowTracker(settings)
        self.settings = settings
        self.items: queue.Queue[Any] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.outcome: Any = None

    def on_start(self, manifest: Any) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
        target = self.inner.target(suite_name=manifest.suite.name)
        self.thread = threading.Thread(target=self._work, args=(target,), daemon=True)
        self.thread.start()

    def on_records(self, batch: Any) -> None:
        self.items.put(list(batch))

    def on_finish(self, summary: Any) -> None:
        self.items.put(summary)

    def _work(self, target: Any) -> None:
        from evalkit.results.store import RunStore
        from evalkit.trackers.mlflow.logger import MlflowLogger
        from evalkit.trackers.mlflow.session import mlflow_session

        try:
            with mlflow_session(target.uri):
                logger = MlflowLogger.connect(target)
                run_dir = self.settings.run_dir
                while not (run_dir / "run.json").is_file():
                    time.sleep(0.02)
                store = RunStore(run_dir.parent, run_dir.name)
                logger.begin(store.manifest(), store.suite_text(), run_dir)
                while True:
                    item = self.items.get()
                    if isinstance(item, list):
                        logger.add(item)
                    else:
                        self.outcome = logger.finish(item)
                        return
        except Exception as exc:  # reported by log_run
            self.outcome = exc

    def log_run(self, run: Any, *, force: bool = False) -> Any:
        from evalkit.trackers.mlflow.tracker import tracked

        assert self.thread is not None
        self.thread.join()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return tracked(self.outcome)


def main(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "evalkit":
        result = evalkit(*rest)
    elif kind == "reference":
        base_url, n, concurrency, *transport = rest
        result = reference(base_url, int(n), int(concurrency), transport == ["aiohttp"])
    else:
        result = log(*rest)
    print(json.dumps({**result, **_peaks()}))


if __name__ == "__main__":
    main(sys.argv[1:])
