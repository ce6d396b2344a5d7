"""Generation for one batch: left-padded `generate`, stop strings, logprobs, seeded sampling.

Runs on the batcher's worker thread, under the model's lock; torch comes from the LoadedModel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.providers.local.config import GenParams
from evalkit.records import Generation, Message, Usage

if TYPE_CHECKING:
    from evalkit.providers.local.batcher import Job
    from evalkit.providers.local.loader import LoadedModel


def chat_text(loaded: LoadedModel, messages: list[Message]) -> str:
    text: str = loaded.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    )
    return text


def generate_batch(loaded: LoadedModel, jobs: list[Job]) -> list[Generation]:
    """Run one left-padded batch of jobs that share GenParams; one Generation per job."""
    torch, tok = loaded.torch, loaded.tokenizer
    params: GenParams = jobs[0].params
    texts = [chat_text(loaded, job.messages) for job in jobs]
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
