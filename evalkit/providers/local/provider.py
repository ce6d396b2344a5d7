"""TransformersProvider: the Provider seam of a local causal LM, in front of a Batcher."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from evalkit.errors import ProviderError
from evalkit.providers.base import LABEL_SCORING, LOGPROBS, QUEUED_BATCHES
from evalkit.providers.local import generation, scoring
from evalkit.providers.local.batcher import Batcher, Job
from evalkit.providers.local.config import GenParams, row_seed
from evalkit.providers.local.loader import LoadedModel
from evalkit.records import Generation, GenerationRequest, Message

# structured output is not among them: a small local model gets judge prompts as text
CAPABILITIES = frozenset({LABEL_SCORING, LOGPROBS, QUEUED_BATCHES})


class TransformersProvider:
    """A local causal LM behind the Provider protocol; see the package docstring."""

    capabilities: ClassVar[frozenset[str]] = CAPABILITIES

    def __init__(
        self,
        loaded: LoadedModel | Callable[[], LoadedModel],
        batch_size: int = 8,
        batch_wait_ms: float = 10,
    ) -> None:
        # A loader defers conversion and loading to the first batch, so a run served entirely
        # from the response cache never pays for the model.
        self._loaded: LoadedModel | None = None if callable(loaded) else loaded
        self._loader = loaded if callable(loaded) else None
        self._load_lock = threading.Lock()
        self._load_error: Exception | None = None
        self.batcher = Batcher(
            self._run_batch,
            batch_size=batch_size,
            batch_wait_ms=batch_wait_ms,
            name="transformers",
            measure=self._prompt_tokens,
            prepare=self._preload,
        )

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            with self._load_lock:
                if self._load_error is not None:  # the preload just failed: that is the answer
                    error, self._load_error = self._load_error, None
                    raise error
                if self._loaded is None:
                    assert self._loader is not None
                    self._loaded = self._loader()
        return self._loaded

    def _preload(self) -> None:
        """Load on the worker thread when the first work arrives, so batches are chosen by
        exact token counts; a failure is raised by the batch that follows (once per batch)."""
        if self._loaded is None:
            try:
                self.loaded  # noqa: B018 - loading is the point
            except Exception as exc:
                self._load_error = exc

    def _prompt_tokens(self, job: Job) -> int | None:
        if self._loaded is None:
            return None
        tokens = self._loaded.tokenizer(
            generation.chat_text(self._loaded, job.messages), add_special_tokens=False
        )
        return len(tokens["input_ids"])

    @property
    def batches(self) -> int:
        """Forward batches run so far (tests and benchmarks read it)."""
        return self.batcher.batches

    @property
    def _thread(self) -> threading.Thread:
        return self.batcher.thread

    async def generate(self, request: GenerationRequest) -> Generation:
        try:
            params = GenParams.parse(request.params)
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"invalid generation params: {exc}") from exc
        seed = row_seed(request.params, request.repeat, request.messages)
        key = ("generate", params)
        result: Generation = await self.batcher.submit(
            key, request.messages, params=params, seed=seed
        )
        return result

    async def score_labels(
        self, messages: list[Message], labels: Sequence[str]
    ) -> dict[str, float]:
        """Log-probability of each label as the assistant's whole reply to `messages`.

        The sum of the label's token log-probabilities (for single-token labels such as "1".."5"
        this is the first-token log-probability). A local judge uses it to pick among allowed
        labels instead of parsing free text.
        """
        if not labels or any(not label for label in labels):
            raise ProviderError("score_labels needs a non-empty list of non-empty labels")
        result: dict[str, float] = await self.batcher.submit(
            ("score",), messages, labels=tuple(labels)
        )
        return result

    async def aclose(self) -> None:
        await self.batcher.aclose()

    def _run_batch(self, batch: list[Job]) -> list[Any]:
        """One batch on the worker thread: generation or label scoring, under the model lock."""
        loaded = self.loaded  # the first batch loads the model: not part of its latency
        start = time.perf_counter()
        with loaded.lock:
            if batch[0].params is None:
                results: list[Any] = scoring.score_batch(loaded, batch)
            else:
                results = generation.generate_batch(loaded, batch)
        # The batch's compute time is each item's latency: time queued behind other batches
        # says more about the run's concurrency than about the model.
        elapsed_ms = (time.perf_counter() - start) * 1000
        for result in results:
            if isinstance(result, Generation):
                result.latency_ms = elapsed_ms
        return results
