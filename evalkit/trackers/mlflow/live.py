"""The main process's side of live logging: start the logging process, tell it, wait for it.

No mlflow here: the worker (worker.py) has it. Each call is a JSON line on the worker's stdin,
sent without waiting; only `result()` waits, for the one line the worker prints at the end.

    live = LiveLogging.start(target, runs_dir)   # the worker imports MLflow meanwhile
    live.begin(run_dir); ...; live.finish()
    live.result()                                # {"event": "done", "logged": {...}}
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import weakref
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from evalkit.trackers.mlflow.config import TrackingTarget


class LiveLogging:
    def __init__(self, proc: subprocess.Popen[str], log: IO[bytes]) -> None:
        self.proc = proc
        self.log = log
        self.outcome: dict[str, Any] | None = None
        # a run that raises before finish() (or a notebook that drops it): EOF stops the worker
        weakref.finalize(self, _close, proc)

    @classmethod
    def start(cls, target: TrackingTarget, runs_dir: Path) -> LiveLogging:
        log = tempfile.NamedTemporaryFile(prefix="evalkit-mlflow-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalkit.trackers.mlflow.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            # its own session: Ctrl-C in the terminal interrupts the run, and the run's end
            # (interrupted too) is still logged; --no-wait-tracking lets it outlive the command
            start_new_session=True,
        )
        live = cls(proc, log)
        opened = {"target": asdict(target), "runs_dir": str(runs_dir), "log": log.name}
        live.send({"op": "open", **opened})
        return live

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def log_path(self) -> str:
        return self.log.name

    def send(self, command: dict[str, Any]) -> None:
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(json.dumps(command) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker already stopped; result() reports why

    def begin(self, run_dir: Path) -> None:
        self.send({"op": "begin", "run_dir": str(run_dir)})

    def finish(self) -> None:
        self.send({"op": "finish"})
        _close(self.proc)

    def result(self) -> dict[str, Any]:
        """Wait for the worker's outcome: {"event": "done", "logged": ...} or an error."""
        if self.outcome is not None:
            return self.outcome
        assert self.proc.stdout is not None
        lines = self.proc.stdout.read().splitlines()
        code = self.proc.wait()
        self.log.close()
        for line in reversed(lines):
            with contextlib.suppress(ValueError):
                found: dict[str, Any] = json.loads(line)
                self.outcome = found
                break
        else:
            self.outcome = {"event": "error", "message": self._died(code)}
        if self.outcome.get("event") == "done":
            with contextlib.suppress(OSError):
                os.unlink(self.log.name)
        return self.outcome

    def _died(self, code: int) -> str:
        text = Path(self.log.name).read_text(encoding="utf-8", errors="replace").strip()
        last = text.splitlines()[-1] if text else "no output"
        return f"the logging process exited with code {code}: {last} (log: {self.log.name})"


def _close(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(OSError):
            proc.stdin.close()
