"""The logging process: MLflow work in its own process while the run goes on in the other.

Started by live.py when a run starts (`python -m evalkit.trackers.mlflow.worker`). It imports
MLflow, opens (or creates) the store and the experiment while the run's providers are still
being created, then waits for the run's folder, creates the MLflow runs, and follows
`results.jsonl` as the run appends to it, logging traces and table rows in batches. When the
main process says the run has ended (summary.json written), it logs the tail and the summary
and prints one JSON line with the outcome. MLflow never enters the main process's memory.

Commands, one JSON object per line on stdin:
    {"op": "open", "target": {...}, "runs_dir": "...", "log": "<its stderr file>"}
    {"op": "begin", "run_dir": "..."}        the run's folder exists, or soon will
    {"op": "finish"}                          summary.json is written: log the rest, then exit
stdin closing before "begin": exit without writing anything (the run did not start); after
"begin" without "finish": the run died; its MLflow runs are ended as failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from evalkit.results.schema import ResultRecord
from evalkit.results.store import MANIFEST, RESULTS, RunStore

POLL_S = 0.2  # how often results.jsonl is read while the run goes
WAIT_FOR_FOLDER_S = 600.0


class Tail:
    """The complete lines appended to a file since the last read (a torn last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.rest = b""

    def records(self) -> list[ResultRecord]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        out = []
        for line in lines:
            try:
                out.append(ResultRecord.model_validate_json(line))
            except ValueError:
                continue  # a foreign or torn line, as the store's own reader skips it
        return out


def _commands(stream: IO[str]) -> queue.Queue[dict[str, Any] | None]:
    found: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            if line.strip():
                found.put(json.loads(line))
        found.put(None)  # EOF: the main process closed the pipe (or exited)

    threading.Thread(target=read, daemon=True).start()
    return found


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # whatever MLflow prints must not be taken for the outcome
    commands = _commands(sys.stdin)
    first = commands.get()
    if first is None or first.get("op") != "open":
        return
    try:
        outcome = _run(first, commands)
    except Exception as exc:  # reported to the main process, which warns
        from evalkit.trackers.mlflow.auth import explain
        from evalkit.trackers.mlflow.config import TrackingTarget

        uri = TrackingTarget(**first["target"]).display_uri
        outcome = {"event": "error", "message": explain(exc, uri)}
    if outcome is not None:
        outcome["peak_mb"] = _peak_mb()
        try:
            print(json.dumps(outcome), file=out, flush=True)
        except (BrokenPipeError, OSError):  # nobody waits (--no-wait-tracking): the log says it
            print(json.dumps(outcome), file=sys.stderr, flush=True)
    code = 0 if outcome is None or outcome["event"] == "done" else 1
    if code == 0:
        _remove(first.get("log"))  # kept only to say why it failed
    sys.stderr.flush()
    # everything is committed and written: skip the interpreter's teardown (MLflow's exit
    # hooks, SQLAlchemy's pools), half a second the run would otherwise wait for
    os._exit(code)


def _peak_mb() -> float | None:
    """This process's peak memory (what MLflow costs, kept out of the run's process)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _remove(path: str | None) -> None:
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _run(
    opened: dict[str, Any], commands: queue.Queue[dict[str, Any] | None]
) -> dict[str, Any] | None:
    from evalkit.trackers.mlflow.config import TrackingTarget
    from evalkit.trackers.mlflow.logger import MlflowLogger
    from evalkit.trackers.mlflow.session import quiet_process

    target = TrackingTarget(**opened["target"])
    quiet_process(target.uri)
    logger = MlflowLogger.connect(target)
    begin = commands.get()
    if begin is None or begin.get("op") != "begin":
        return None  # the run never started: nothing was written
    run_dir = Path(begin["run_dir"])
    if not _wait_for(run_dir / MANIFEST, commands):
        return None
    store = RunStore(run_dir.parent, run_dir.name)
    manifest = store.manifest()
    logger.begin(manifest, store.suite_text(), run_dir)
    tail = Tail(run_dir / RESULTS)
    finished = _follow(logger, tail, commands)
    logger.add(tail.records())
    summary = store.summary()
    if not finished or summary is None:
        logger.abort()
        return {"event": "error", "message": "the run ended without a summary"}
    logged = logger.finish(summary)
    _remember(opened, target, manifest, summary)
    return {"event": "done", "logged": logged.__dict__}


def _wait_for(path: Path, commands: queue.Queue[dict[str, Any] | None]) -> bool:
    """The run's folder is created once its providers are up; EOF first: it never was."""
    deadline = time.monotonic() + WAIT_FOR_FOLDER_S
    while not path.is_file():
        try:
            if commands.get(timeout=0.05) is None:
                return path.is_file()
        except queue.Empty:
            pass
        if time.monotonic() > deadline:
            return False
    return True


def _follow(logger: Any, tail: Tail, commands: queue.Queue[dict[str, Any] | None]) -> bool:
    """Log records as they are appended, until "finish" (True) or EOF (False)."""
    while True:
        logger.add(tail.records())
        try:
            command = commands.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if command is None:
            return False
        if command.get("op") == "finish":
            return True


def _remember(opened: dict[str, Any], target: Any, manifest: Any, summary: Any) -> None:
    from evalkit.trackers.mlflow import reruns

    runs_dir = opened.get("runs_dir")
    if runs_dir:
        key = reruns.target_key(target.display_uri, target.experiment)
        reruns.remember(Path(runs_dir), key, manifest, summary)


if __name__ == "__main__":
    main()
