"""Where a model's calls run: in this process (`local`, the default), or on a Ray actor pool.

    spec = ExecutorSpec("ray", address="auto", actors=4)
    async with use_executor(spec, runtimes, model_ids, judge_ids, base_dir):
        ...   # the engine runs as always; the in-process models now answer from Ray actors

With `ray`, each in-process model under test (any provider but the HTTP ones: a serving
engine behind `base_url` already scales those) is served by `actors` Ray actors, each holding
one replica of the model, created on the cluster from the same model entry. The pool is a
Provider: the engine's cache, retries, rate limits, record writer and resume stay as they are,
in this process, and only `generate` travels. An actor is async, so the calls in flight on it
reach its provider together and the local model batches them as it does in-process; calls
go to the actor with the fewest in flight. Judges stay in-process (a local judge's
`score_labels` does not travel).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.engine.calls import ModelRuntime
from evalkit.errors import EvalkitError, ProviderError, SuiteError, missing_dependency
from evalkit.records import Generation, GenerationRequest

EXECUTORS = ("local", "ray")
# Providers whose calls already leave the process: an actor in between would only add a hop.
REMOTE_PROVIDERS = frozenset({"openai"})


@dataclass(frozen=True)
class ExecutorSpec:
    """`name`: local or ray; for ray, the cluster `address` (None: $RAY_ADDRESS, else a new
    local instance; "auto": the cluster this machine joined), `actors` per model, and the CPUs
    each actor reserves."""

    name: str = "local"
    address: str | None = None
    actors: int = 2
    cpus: float = 1.0

    def check(self) -> None:
        if self.name not in EXECUTORS:
            raise SuiteError(f"unknown executor '{self.name}'", hint="use local or ray")
        if self.actors < 1:
            raise SuiteError(f"--ray-actors must be at least 1, not {self.actors}")


def offloaded(runtimes: dict[str, ModelRuntime], models: list[str], judges: list[str]) -> list[str]:
    """The model ids the pool serves: in-process models under test that are not also judges."""
    return [
        m
        for m in dict.fromkeys(models)
        if runtimes[m].config.provider not in REMOTE_PROVIDERS and m not in judges
    ]


@contextlib.asynccontextmanager
async def use_executor(
    spec: ExecutorSpec | None,
    runtimes: dict[str, ModelRuntime],
    models: list[str],
    judges: list[str],
    base_dir: Path,
) -> AsyncIterator[None]:
    """Put the pool in front of the offloaded models for the block; Ray is left as found."""
    if spec is None or spec.name == "local":
        yield
        return
    spec.check()
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        # quiet: its start-up lines would interleave with the progress bar and the table
        ray.init(
            address=spec.address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    pools: list[RayPool] = []
    try:
        for model_id in offloaded(runtimes, models, judges):
            runtime = runtimes[model_id]
            pool = await RayPool.start(ray, runtime, base_dir, spec)
            pools.append(pool)
            runtime.provider = pool  # closed with the runtimes; it closes the replaced provider
        yield
    finally:
        for pool in pools:
            await pool.aclose()
        if started:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise missing_dependency("ray executor", "ray", "ray") from None
    return ray


class RayPool:
    """A Provider whose calls run on Ray actors holding replicas of one model."""

    def __init__(self, actors: list[Any], inner: Any, kill: Any = None) -> None:
        self.actors = actors
        self.inner = inner  # the driver's own provider: created (checks), never called
        self.capabilities: frozenset[str] = getattr(inner, "capabilities", frozenset())
        self.in_flight = [0] * len(actors)
        self._kill = kill
        self._closed = False

    @classmethod
    async def start(
        cls, ray: Any, runtime: ModelRuntime, base_dir: Path, spec: ExecutorSpec
    ) -> RayPool:
        """`spec.actors` replicas of the runtime's model, each created on the cluster."""
        replica = ray.remote(Replica).options(num_cpus=spec.cpus)
        config = runtime.config.model_dump(mode="json")
        actors = [replica.remote(config, str(base_dir)) for _ in range(spec.actors)]
        pool = cls(actors, runtime.provider, kill=ray.kill)
        try:  # a model entry that cannot be created on the cluster fails now, not per item
            for ready in [actor.ready.remote() for actor in actors]:
                status, value = await ready
                if status == "error":
                    message, fields = value
                    raise SuiteError(
                        f"model '{runtime.config.id}' cannot be created on the Ray cluster:"
                        f" {message}",
                        hint=fields["hint"] or "every node needs evalkit and the model's files",
                    )
        except BaseException:
            await pool.stop_actors()  # the runtimes still own (and close) the driver's provider
            raise
        return pool

    async def generate(self, request: GenerationRequest) -> Generation:
        index = min(range(len(self.actors)), key=self.in_flight.__getitem__)
        self.in_flight[index] += 1
        try:
            answer = await self.actors[index].generate.remote(request)
        except Exception as exc:  # the actor died, or Ray could not deliver the call
            raise ProviderError(f"ray actor failed: {_first_line(exc)}", retryable=True) from None
        finally:
            self.in_flight[index] -= 1
        result: Generation = _unwrap(answer)
        return result

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.stop_actors()
        await self.inner.aclose()

    async def stop_actors(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):
                await actor.aclose.remote()
            if self._kill is not None:
                with contextlib.suppress(Exception):
                    self._kill(actor)
        self.actors = []


class Replica:
    """One model replica in a Ray actor: the provider the suite's model entry names."""

    def __init__(self, config: dict[str, Any], base_dir: str) -> None:
        self.provider: Any = None
        self.error: tuple[str, Any] | None = None
        try:
            from evalkit.providers.base import create_provider
            from evalkit.suite.schema import ModelConfig

            self.provider = create_provider(ModelConfig.model_validate(config), Path(base_dir))
        except EvalkitError as exc:
            self.error = _error(exc)

    async def ready(self) -> tuple[str, Any]:
        return self.error or ("ok", None)

    async def generate(self, request: GenerationRequest) -> tuple[str, Any]:
        """("ok", Generation) or ("error", ...): an EvalkitError is rebuilt in the driver, so
        retries see `retryable` and `status` as they would in-process."""
        if self.error is not None:
            return self.error
        try:
            return ("ok", await self.provider.generate(request))
        except EvalkitError as exc:
            return _error(exc)

    async def aclose(self) -> None:
        if self.provider is not None:
            await self.provider.aclose()


def _error(exc: EvalkitError) -> tuple[str, Any]:
    fields = {
        "retryable": getattr(exc, "retryable", False),
        "retry_after": getattr(exc, "retry_after", None),
        "status": getattr(exc, "status", None),
        "hint": exc.hint,
    }
    return ("error", (exc.message, fields))


def _unwrap(answer: tuple[str, Any]) -> Any:
    status, value = answer
    if status == "error":
        message, fields = value
        raise ProviderError(message, **fields)
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
