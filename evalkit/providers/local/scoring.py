"""Label scoring for one batch: each label's log-probability as the assistant's whole reply.

A local judge picks among allowed labels this way instead of parsing free text. Runs on the
batcher's worker thread, under the model's lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.providers.local.generation import chat_text

if TYPE_CHECKING:
    from evalkit.providers.local.batcher import Job
    from evalkit.providers.local.loader import LoadedModel


def score_batch(loaded: LoadedModel, jobs: list[Job]) -> list[dict[str, float]]:
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


def _single_token_labels(loaded: LoadedModel, jobs: list[Job]) -> list[list[int]] | None:
    """Each job's label token ids when every label is one token (a 1..5 scale, yes/no)."""
    tok = loaded.tokenizer
    ids = [
        [tok(label, add_special_tokens=False)["input_ids"] for label in job.labels] for job in jobs
    ]
    if all(len(t) == 1 for job_ids in ids for t in job_ids):
        return [[t[0] for t in job_ids] for job_ids in ids]
    return None


def _score_single_tokens(
    loaded: LoadedModel, jobs: list[Job], label_ids: list[list[int]]
) -> list[dict[str, float]]:
    """One forward pass per prompt (not per label): the next-token distribution scores them all."""
    torch = loaded.torch
    tok = loaded.tokenizer
    rows = [
        list(tok(chat_text(loaded, j.messages), add_special_tokens=False)["input_ids"])
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


def _label_rows(loaded: LoadedModel, jobs: list[Job]) -> tuple[list[list[int]], list[int]]:
    """Token ids of prompt + label for every (job, label), and each label's token count."""
    tok = loaded.tokenizer
    rows: list[list[int]] = []
    spans: list[int] = []
    for job in jobs:
        prompt = list(tok(chat_text(loaded, job.messages), add_special_tokens=False)["input_ids"])
        for label in job.labels:
            label_ids = list(tok(label, add_special_tokens=False)["input_ids"])
            rows.append(prompt + label_ids)
            spans.append(len(label_ids))
    return rows, spans
