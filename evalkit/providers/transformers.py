"""The embedded local provider: a Hugging Face causal LM run in-process on CPU.

    models:
      - id: local
        provider: transformers
        model: smollm2-135m-instruct        # default; or a folder with config.json, or a .gguf
        params: {max_tokens: 64, temperature: 0}
        options: {batch_size: 8}

Params: max_tokens (128), temperature (0 = greedy), top_p, top_k, seed (sampling), stop (a string
or a list; output is cut at the first one), logprobs / top_logprobs (top-k log-probabilities of
the first generated token under the model's own distribution, before temperature, in
Generation.raw["top_logprobs"] as [{"token", "logprob"}]; `logprobs: true` alone means k=5).
`score_labels(messages, labels)` returns each label's log-probability as the whole reply, for
judges that must choose among allowed labels.
Options: batch_size (8), batch_wait_ms (10), dtype ("float32"), device ("cpu"), threads.

Design: the model loads once per process (shared by every provider that names the same folder,
so a local judge and the model under test share weights). `generate` only enqueues; one worker
thread takes up to `batch_size` queued requests with identical generation params, runs them as
one left-padded batch, and resolves each future on its own event loop (label scoring goes through
the same queue, so it never competes with generation for the cores). The event loop stays free
and the CPU does batch work (8 prompts batched run several times faster than one by one).

Determinism: greedy decoding is deterministic, and for the prompts in the tests an output is
the same alone or inside a left-padded batch (generate derives position ids from the attention
mask). Padding changes matrix shapes, so float rounding can still flip a near-tie token in long
generations. Sampling draws each row from its own generator seeded from (seed, repeat, messages),
so an item's sample does not depend on which other items share its batch, repeats differ and
reruns reproduce.

torch and transformers are imported only here and in local_model's conversion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import EvalkitError, ProviderError, SuiteError
from evalkit.providers.base import check_known_keys
from evalkit.providers.local_model import import_local_stack, local_folder, resolve_model_path
from evalkit.records import Generation, GenerationRequest, Message, Usage, stable_hash

if TYPE_CHECKING:
    from evalkit.suite.schema import ModelConfig

log = logging.getLogger(__name__)

PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "logprobs", "top_logprobs")
OPTIONS = ("batch_size", "batch_wait_ms", "dtype", "device", "threads")
DEFAULT_MAX_TOKENS = 128


@dataclass(frozen=True, slots=True)
class GenParams:
    """Generation params normalised into a hashable batch key (seed is per row, not here)."""

    max_new_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    top_logprobs: int = 0

    @property
    def sample(self) -> bool:
        return self.temperature > 0

    @classmethod
    def parse(cls, params: dict[str, Any]) -> GenParams:
        """Raise ValueError on a bad value; unknown keys are checked once, in `create`."""
        temperature = float(params.get("temperature") or 0.0)
        stop = params.get("stop") or ()
        stop = (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop if s)
        top_logprobs = int(params.get("top_logprobs") or (5 if params.get("logprobs") else 0))
        max_new = int(_get(params, "max_tokens", DEFAULT_MAX_TOKENS))
        if max_new < 1 or temperature < 0 or top_logprobs < 0:
            raise ValueError("max_tokens must be >= 1, temperature and top_logprobs >= 0")
        if temperature == 0:  # greedy ignores top_p/top_k: one key lets all greedy items batch
            return cls(max_new, stop=stop, top_logprobs=top_logprobs)
        top_p = float(_get(params, "top_p", 1.0))
        top_k = int(params.get("top_k") or 0)
        if not 0 < top_p <= 1 or top_k < 0:
            raise ValueError("top_p must be in (0, 1] and top_k >= 0")
        return cls(max_new, temperature, top_p, top_k, stop, top_logprobs)


def _get(params: dict[str, Any], key: str, default: float) -> Any:
    value = params.get(key)
    return default if value is None else value


def row_seed(params: dict[str, Any], request_repeat: int, messages: list[Message]) -> int:
    # Mixing in the messages keeps examples' random streams independent (one shared seed would
    # correlate their samples); mixing in the repeat makes repeats differ, reproducibly.
    seed = params.get("seed", 0)
    return int(stable_hash([seed, request_repeat, messages], length=15), 16)


@dataclass(slots=True)
class LoadedModel:
    """A model and tokenizer shared by every provider in this process that uses them."""

    model: Any
    tokenizer: Any
    torch: Any
    transformers: Any
    device: str
    eos_ids: frozenset[int]
    pad_id: int
    # One forward pass at a time per model: two workers would only fight over the same cores.
    lock: threading.Lock


_MODELS: dict[tuple[str, str, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def load_model(folder: Path, dtype: str = "float32", device: str = "cpu") -> LoadedModel:
    """Load (once per process) a causal LM folder in eval mode."""
    key = (str(folder.resolve()), dtype, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            try:
                _MODELS[key] = _load(folder, dtype, device)
            except (EvalkitError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a damaged folder or an architecture this version lacks
                raise SuiteError(
                    f"cannot load the model in {folder}: {type(exc).__name__}: {exc}",
                    hint="the folder must hold a causal LM saved with save_pretrained",
                ) from exc
        return _MODELS[key]


def _load(folder: Path, dtype: str, device: str) -> LoadedModel:
    torch, transformers = import_local_stack()
    start = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"  # generation appends to the right, so pad on the left
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise SuiteError(
            f"model {folder} has no chat template",
            hint="evalkit sends chat messages; use an instruction-tuned (chat) model",
        )
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise SuiteError(f"unknown dtype '{dtype}'", hint="use float32, bfloat16 or float16")
    with _quiet_progress(transformers):
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype)
    model.to(device).eval()
    eos = model.generation_config.eos_token_id
    eos_ids = {eos} if isinstance(eos, int) else set(eos or ())
    eos_ids.add(tokenizer.eos_token_id)
    log.info("loaded %s in %.1f s", folder, time.perf_counter() - start)
    return LoadedModel(
        model, tokenizer, torch, transformers, device, frozenset(eos_ids),
        tokenizer.pad_token_id, threading.Lock(),
    )  # fmt: skip


@contextlib.contextmanager
def _quiet_progress(transformers: Any) -> Iterator[None]:
    """Hide the per-load "Loading weights" bar, which would garble the CLI's own output."""
    tlog = transformers.utils.logging
    was_enabled = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            tlog.enable_progress_bar()


def set_threads(torch: Any, threads: int | None) -> None:
    # torch defaults to the physical cores of the host, which oversubscribes a container limited
    # by affinity (taskset, cpusets); cap at the cores this process may run on.
    if threads is None:
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        threads = min(torch.get_num_threads(), available or os.cpu_count() or 1)
    torch.set_num_threads(max(1, threads))


@dataclass(slots=True, eq=False)  # identity: two jobs are never "equal"
class _Job:
    key: Hashable
    messages: list[Message]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    params: GenParams | None = None
    seed: int = 0
    labels: tuple[str, ...] = ()


class TransformersProvider:
    """A local causal LM behind the Provider protocol; see the module docstring."""

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
        self.batch_size = batch_size
        self.batch_wait = batch_wait_ms / 1000
        self.batches = 0  # forward batches run by the worker (tests and benchmarks read it)
        self.batched_items = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="evalkit-transformers", daemon=True)
        self._thread.start()

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    assert self._loader is not None
                    self._loaded = self._loader()
        return self._loaded

    async def generate(self, request: GenerationRequest) -> Generation:
        try:
            params = GenParams.parse(request.params)
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"invalid generation params: {exc}") from exc
        seed = row_seed(request.params, request.repeat, request.messages)
        key = ("generate", params)
        result: Generation = await self._submit(key, request.messages, params=params, seed=seed)
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
        result: dict[str, float] = await self._submit(("score",), messages, labels=tuple(labels))
        return result

    async def _submit(self, key: Hashable, messages: list[Message], **extra: Any) -> Any:
        if self._closed:
            raise ProviderError("the transformers provider is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(key, messages, future, loop, **extra))
        return await future

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    # --- worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[_Job] = []
        try:
            while not self._collect(pending):
                batch = _take_batch(pending, self.batch_size)
                if batch:
                    self._process(batch)
        finally:
            # Closed, or (should never happen) the worker died: nobody may wait forever.
            self._closed = True
            leftovers: list[_Job | None] = list(pending)
            with contextlib.suppress(queue.Empty):
                while True:
                    leftovers.append(self._queue.get_nowait())
            for job in leftovers:
                if job is not None:
                    _resolve(job, error=ProviderError("the transformers provider was closed"))

    def _collect(self, pending: list[_Job]) -> bool:
        """Fill `pending` from the queue; wait a few ms so concurrent requests form a batch.

        Returns True when aclose() asked the worker to stop.
        """
        if not pending:
            job = self._queue.get()
            if job is None:
                return True
            pending.append(job)
        deadline = time.monotonic() + self.batch_wait
        key = pending[0].key
        while sum(j.key == key for j in pending) < self.batch_size:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return True
            pending.append(job)
        return False

    def _process(self, batch: list[_Job]) -> None:
        start = time.perf_counter()
        try:
            loaded = self.loaded  # the first batch loads the model: not part of its latency
            start = time.perf_counter()
            with loaded.lock:
                if batch[0].params is None:
                    results: list[Any] = score_batch(loaded, batch)
                else:
                    results = generate_batch(loaded, batch)
        except Exception as exc:  # one failure fails the batch; the engine records each item
            log.debug("transformers batch failed", exc_info=True)
            message = f"local generation failed: {type(exc).__name__}: {exc}"
            for job in batch:  # one exception object per awaiting task (tracebacks differ)
                _resolve(job, error=ProviderError(message))
            return
        self.batches += 1
        self.batched_items += len(batch)
        # The batch's compute time is each item's latency: time queued behind other batches
        # says more about the run's concurrency than about the model.
        elapsed_ms = (time.perf_counter() - start) * 1000
        for job, result in zip(batch, results, strict=True):
            if isinstance(result, Generation):
                result.latency_ms = elapsed_ms
            _resolve(job, result=result)


def _take_batch(pending: list[_Job], size: int) -> list[_Job]:
    """Remove and return up to `size` live jobs sharing the first live job's key (FIFO)."""
    pending[:] = [j for j in pending if not j.future.cancelled()]  # timed out while queued
    if not pending:
        return []
    key = pending[0].key
    batch = _similar_lengths([j for j in pending if j.key == key][:size])
    taken = {id(j) for j in batch}
    pending[:] = [j for j in pending if id(j) not in taken]
    return batch


def _prompt_chars(job: _Job) -> int:
    return sum(len(m.get("content", "")) for m in job.messages)


def _similar_lengths(batch: list[_Job]) -> list[_Job]:
    """Split a batch whose prompts differ a lot in length; keep the part with the oldest job.

    Left padding makes every row as long as the longest, so a short prompt batched with a
    1,000-token one costs as much as a long one. When splitting the batch at some length saves
    over 30% of the padded tokens, only the group holding the oldest job runs now (so no job
    waits forever); the rest stays queued for the next batch. Greedy outputs do not depend on
    the batch (see the module docstring), so this changes speed only.
    """
    if len(batch) < 2:
        return batch
    ordered = sorted(batch, key=_prompt_chars, reverse=True)
    lengths = [_prompt_chars(j) for j in ordered]
    full = len(batch) * lengths[0]
    costs = {k: k * lengths[0] + (len(batch) - k) * lengths[k] for k in range(1, len(batch))}
    split = min(costs, key=lambda k: costs[k])
    if costs[split] > 0.7 * full:
        return batch
    oldest_is_long = any(j is batch[0] for j in ordered[:split])
    group = ordered[:split] if oldest_is_long else ordered[split:]
    chosen = {id(j) for j in group}
    return [j for j in batch if id(j) in chosen]


def _resolve(job: _Job, result: Any = None, error: BaseException | None = None) -> None:
    def settle() -> None:
        if job.future.done():  # cancelled by a timeout meanwhile
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    # A closed loop raises RuntimeError: its caller is gone and nobody waits for the result.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(settle)


# --- torch work (runs on the worker thread, under the model lock) ----------------------------


def _chat_text(loaded: LoadedModel, messages: list[Message]) -> str:
    text: str = loaded.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    )
    return text


def generate_batch(loaded: LoadedModel, jobs: list[_Job]) -> list[Generation]:
    """Run one left-padded batch of jobs that share GenParams; one Generation per job."""
    torch, tok = loaded.torch, loaded.tokenizer
    params = jobs[0].params
    assert params is not None
    texts = [_chat_text(loaded, job.messages) for job in jobs]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(loaded.device)
    kwargs = _generate_kwargs(loaded, params, [job.seed for job in jobs])
    with torch.inference_mode():
        out = loaded.model.generate(**enc, **kwargs)
    sequences = out.sequences if params.top_logprobs else out
    new_tokens = sequences[:, enc["input_ids"].shape[1] :].tolist()
    input_counts = enc["attention_mask"].sum(dim=1).tolist()
    gens = [
        _decode(loaded, ids, int(n), params)
        for ids, n in zip(new_tokens, input_counts, strict=True)
    ]
    if params.top_logprobs:
        first_logits = out.logits[0].float()
        for i, gen in enumerate(gens):
            gen.raw = {
                **(gen.raw or {}),
                "top_logprobs": _top_logprobs(loaded, first_logits[i], params.top_logprobs),
            }
    return gens


def _generate_kwargs(loaded: LoadedModel, params: GenParams, seeds: list[int]) -> dict[str, Any]:
    transformers = loaded.transformers
    # A fresh GenerationConfig: a model's own defaults (sampling, temperature) must not leak in.
    config = transformers.GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        do_sample=False,  # sampling, when asked, happens per row in _RowSampler
        pad_token_id=loaded.pad_id,
        eos_token_id=sorted(loaded.eos_ids),
    )
    kwargs: dict[str, Any] = {"generation_config": config}
    if params.sample:
        sampler = _RowSampler(loaded.torch, seeds, params)
        kwargs["logits_processor"] = transformers.LogitsProcessorList([sampler])
    if params.stop:  # stop rows early; the text is still cut at the stop string afterwards
        config.stop_strings = list(params.stop)
        kwargs["tokenizer"] = loaded.tokenizer
    if params.top_logprobs:
        config.return_dict_in_generate = True
        config.output_logits = True  # raw logits, before any processor
    return kwargs


def _decode(
    loaded: LoadedModel, ids: list[int], input_tokens: int, params: GenParams
) -> Generation:
    # Pad equals eos for many chat models, so the reply ends at the first of either.
    end = next(
        (i for i, t in enumerate(ids) if t in loaded.eos_ids or t == loaded.pad_id), len(ids)
    )
    text = loaded.tokenizer.decode(ids[:end], skip_special_tokens=True)
    finish = "stop" if end < len(ids) else "length"
    cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
    if cut >= 0:
        text, finish = text[:cut], "stop"
    usage = Usage(input_tokens=input_tokens, output_tokens=end)
    return Generation(output=text.strip(), usage=usage, raw={"finish_reason": finish})


def _top_logprobs(loaded: LoadedModel, logits: Any, k: int) -> list[dict[str, Any]]:
    logprobs = loaded.torch.log_softmax(logits, dim=-1)
    values, indices = logprobs.topk(k)
    decode = loaded.tokenizer.decode
    return [
        {"token": decode([i]), "logprob": float(v)}
        for v, i in zip(values.tolist(), indices.tolist(), strict=True)
    ]


class _RowSampler:
    """A logits processor that samples each row with its own seeded generator.

    It returns logits that are -inf everywhere except the sampled token, so generate's greedy
    step picks it. A row's draws then depend only on its own seed and tokens, not on the other
    rows in the batch (torch's global RNG would couple them).
    """

    def __init__(self, torch: Any, seeds: list[int], params: GenParams) -> None:
        self.torch = torch
        self.params = params
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch, p = self.torch, self.params
        logits = scores.float() / p.temperature
        if p.top_k:
            kth = torch.topk(logits, min(p.top_k, logits.shape[-1])).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if p.top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True)
            probs = torch.softmax(ordered, dim=-1)
            drop = probs.cumsum(dim=-1) - probs > p.top_p  # keeps at least the top token
            logits = logits.scatter(1, order, ordered.masked_fill(drop, float("-inf")))
        probs = torch.softmax(logits, dim=-1).cpu()  # the generators live on the CPU
        out = torch.full_like(scores, float("-inf"))
        for row, generator in enumerate(self.generators):
            token = torch.multinomial(probs[row], 1, generator=generator)
            out[row, token.to(out.device)] = 0.0
        return out


def score_batch(loaded: LoadedModel, jobs: list[_Job]) -> list[dict[str, float]]:
    """For each job, the log-probability of each label as the full assistant reply."""
    single = _single_token_labels(loaded, jobs)
    if single is not None:
        return _score_single_tokens(loaded, jobs, single)
    torch = loaded.torch
    rows, spans = _label_rows(loaded, jobs)
    width = max(len(r) for r in rows)
    ids = torch.tensor([[loaded.pad_id] * (width - len(r)) + r for r in rows], device=loaded.device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=loaded.device)
    keep = max(spans) + 1  # only the last positions are needed: small logits even for many rows
    with torch.inference_mode():
        logits = loaded.model(
            input_ids=ids, attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),  # left padding: count real tokens
            logits_to_keep=keep,
        ).logits.float()  # fmt: skip
    logprobs = torch.log_softmax(logits, dim=-1)
    totals = []
    for row, span in enumerate(spans):
        # the logits at position t predict token t+1; the label is the row's last `span` tokens
        targets = ids[row, width - span :]
        steps = logprobs[row, keep - span - 1 : keep - 1]
        totals.append(float(steps.gather(1, targets.unsqueeze(1)).sum()))
    results, index = [], 0
    for job in jobs:
        results.append(dict(zip(job.labels, totals[index : index + len(job.labels)], strict=True)))
        index += len(job.labels)
    return results


def _single_token_labels(loaded: LoadedModel, jobs: list[_Job]) -> list[list[int]] | None:
    """Each job's label token ids when every label is one token (a 1..5 scale, yes/no)."""
    tok = loaded.tokenizer
    ids = [
        [tok(label, add_special_tokens=False)["input_ids"] for label in job.labels] for job in jobs
    ]
    if all(len(t) == 1 for job_ids in ids for t in job_ids):
        return [[t[0] for t in job_ids] for job_ids in ids]
    return None


def _score_single_tokens(
    loaded: LoadedModel, jobs: list[_Job], label_ids: list[list[int]]
) -> list[dict[str, float]]:
    """One forward pass per prompt (not per label): the next-token distribution scores them all."""
    torch = loaded.torch
    tok = loaded.tokenizer
    rows = [
        list(tok(_chat_text(loaded, j.messages), add_special_tokens=False)["input_ids"])
        for j in jobs
    ]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[loaded.pad_id] * (width - len(r)) + r for r in rows], device=loaded.device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=loaded.device)
    with torch.inference_mode():
        logits = loaded.model(
            input_ids=ids, attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            logits_to_keep=1,
        ).logits.float()  # fmt: skip
    logprobs = torch.log_softmax(logits[:, -1, :], dim=-1)
    return [
        {
            label: float(logprobs[row, token])
            for label, token in zip(job.labels, tokens, strict=True)
        }
        for row, (job, tokens) in enumerate(zip(jobs, label_ids, strict=True))
    ]


def _label_rows(loaded: LoadedModel, jobs: list[_Job]) -> tuple[list[list[int]], list[int]]:
    """Token ids of prompt + label for every (job, label), and each label's token count."""
    tok = loaded.tokenizer
    rows: list[list[int]] = []
    spans: list[int] = []
    for job in jobs:
        prompt = list(tok(_chat_text(loaded, job.messages), add_special_tokens=False)["input_ids"])
        for label in job.labels:
            label_ids = list(tok(label, add_special_tokens=False)["input_ids"])
            rows.append(prompt + label_ids)
            spans.append(len(label_ids))
    return rows, spans


def _options(config: ModelConfig) -> dict[str, Any]:
    """Check params and options up front, so a typo fails before a 30 s model load."""
    check_known_keys("transformers", "param", config.params, PARAMS)
    check_known_keys("transformers", "option", config.options, OPTIONS)
    options = config.options
    try:
        GenParams.parse(config.params)
        threads = options.get("threads")
        return {
            "batch_size": max(1, int(options.get("batch_size", 8))),
            "batch_wait_ms": float(options.get("batch_wait_ms", 10)),
            "threads": None if threads is None else int(threads),
            "dtype": str(options.get("dtype", "float32")),
            "device": str(options.get("device", "cpu")),
        }
    except (TypeError, ValueError) as exc:
        raise SuiteError(f"model '{config.id}': invalid params or options: {exc}") from exc


def create(config: ModelConfig, base_dir: Path) -> TransformersProvider:
    """The transformers provider for a suite's model entry.

    Example: `create(ModelConfig(id="local"), Path("."))` runs the embedded SmolLM2-135M-Instruct.
    """
    options = _options(config)
    torch, _ = import_local_stack()  # a missing package is reported before any conversion
    resolved = resolve_model_path(config.model, base_dir)  # a bad path fails now, not mid-run
    set_threads(torch, options["threads"])

    def load() -> LoadedModel:
        return load_model(local_folder(resolved), options["dtype"], options["device"])

    return TransformersProvider(load, options["batch_size"], options["batch_wait_ms"])
