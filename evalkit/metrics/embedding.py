"""Embedding similarity: cosine of output and reference vectors from an embeddings endpoint.

Any OpenAI-compatible `/embeddings` endpoint serves (OpenAI, vLLM, TEI, `transformers serve`,
a proxy); `openai` is imported on first use. promptfoo's `similar` assertion: cosine >= the
threshold (0.75) passes; with several references the most similar counts.

Vectors are cached per (endpoint, model, text) for the process, so a reference shared by
variants, models and repeats is embedded once. The call is synchronous: scoring waits for it
(a metric is a plain function), so point it at a fast, nearby endpoint.

The key is read from the environment variable named by `api_key_env` when the item is scored;
only the variable's name is recorded with the metric's arguments, never the key.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import OrderedDict
from typing import Any

from evalkit.errors import MissingKeyError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_float, as_list, requires_output, with_threshold
from evalkit.records import Score

_PLACEHOLDER_KEY = "evalkit-local"  # a loopback server accepts any key; the SDK insists on one
_CACHE_SIZE = 20_000
_cache: OrderedDict[tuple[str, str, str], list[float]] = OrderedDict()
_lock = threading.Lock()


def _key(base_url: str | None, api_key_env: str) -> str:
    from evalkit.providers.http import is_loopback_url

    key = os.environ.get(api_key_env, "")
    if key:
        return key
    if is_loopback_url(base_url):
        return _PLACEHOLDER_KEY
    raise MissingKeyError(
        f"environment variable {api_key_env} is not set",
        hint=f"embedding_similarity calls an embeddings endpoint: export {api_key_env}=<key>, "
        "or name the variable that holds it with api_key_env",
    )


@functools.lru_cache(maxsize=8)
def _client(base_url: str | None, key: str, timeout: float) -> Any:
    import openai

    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=2)


def embed(
    texts: list[str], *, model: str, base_url: str | None, key: str, timeout: float
) -> list[list[float]]:
    """The vectors of `texts`, in order; only texts not seen before are sent (in one request)."""
    endpoint = base_url or "openai"
    with _lock:
        missing = list(dict.fromkeys(t for t in texts if (endpoint, model, t) not in _cache))
    if missing:
        response = _client(base_url, key, timeout).embeddings.create(model=model, input=missing)
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        if len(vectors) != len(missing):
            raise ValueError(
                f"the endpoint returned {len(vectors)} vectors for {len(missing)} texts"
            )
        with _lock:
            for text, vector in zip(missing, vectors, strict=True):
                _cache[(endpoint, model, text)] = list(vector)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    with _lock:
        return [_cache[(endpoint, model, t)] for t in texts]


def cosine(a: list[float], b: list[float]) -> float:
    if len(a) != len(b):
        raise ValueError(f"vectors of different sizes ({len(a)} and {len(b)})")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@register_metric("embedding_similarity", primary="reference")
@requires_output
def embedding_similarity(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = 0.75,
    model: str = "text-embedding-3-small",
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: Any = 30,
) -> Score:
    """Cosine similarity of output and reference embeddings; passes at threshold (0.75).

    - {type: embedding_similarity, reference: "{{ expected }}", base_url: "http://127.0.0.1:8080/v1"}
    """
    if not ctx.text.strip():
        return Score(value=0.0, passed=False, reason="the output is empty")
    references = as_list(reference)
    key = _key(base_url, str(api_key_env))
    timeout = as_float(timeout_s, "timeout_s") or 30.0
    vectors = embed(
        [ctx.text, *references], model=str(model), base_url=base_url, key=key, timeout=timeout
    )
    value = max(cosine(vectors[0], v) for v in vectors[1:])
    return with_threshold(round(value, 6), threshold, model=str(model))


def check_args(args: dict[str, Any]) -> None:
    """At bind time: a missing key fails the suite before any model is called."""
    base_url = args.get("base_url")
    if not (isinstance(base_url, str) and "{{" in base_url):
        _key(base_url, str(args.get("api_key_env", "OPENAI_API_KEY")))


embedding_similarity.check_args = check_args  # type: ignore[attr-defined]
