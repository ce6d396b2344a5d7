"""Shards: a deterministic slice of a dataset by example id, for CI matrix jobs.

    shard = Shard.parse("2/4")                   # 1-based, like a matrix
    mine = shard_examples(examples, shard)       # the same slice on any machine
    group = group_id(suite_hash, digest, "nightly-42")

Every variant, model and repeat of an example runs in its example's shard, so `evalkit merge`
joins shard runs into one run that equals the unsharded run (docs/ci.md).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from evalkit.errors import SuiteError
from evalkit.records import Example, stable_hash

# CI systems' ids of one pipeline run, the same in each of its jobs (and, on GitHub, in a
# re-run of a failed job): shards started by one pipeline share a group without any setting.
CI_RUN_IDS = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILDKITE_BUILD_ID", "CIRCLE_WORKFLOW_ID")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`, 1-based like a CI matrix: `Shard.parse("2/4")`."""

    index: int
    count: int

    @classmethod
    def parse(cls, value: str | tuple[int, int] | Shard) -> Shard:
        if isinstance(value, Shard):
            return value
        try:
            index, count = (
                value if isinstance(value, tuple) else (int(p) for p in str(value).split("/"))
            )
        except ValueError:
            raise SuiteError(
                f"shard {str(value)[:40]!r} is not I/N", hint="e.g. --shard 2/4 (1-based)"
            ) from None
        if not 1 <= index <= count:
            raise SuiteError(
                f"shard {index}/{count}: the index must be between 1 and {max(count, 1)}",
                hint="shards are numbered from 1, like a CI matrix: 1/4 .. 4/4",
            )
        return cls(int(index), int(count))

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


def shard_rank(example_id: str) -> str:
    """The sort key that deals examples to shards: sha256 of the id, the same on any machine
    and Python version (Python's hash() of a str changes with each process)."""
    return hashlib.sha256(example_id.encode("utf-8")).hexdigest()


def shard_examples(examples: list[Example], shard: Shard) -> list[Example]:
    """Shard `index`'s slice: examples sorted by `shard_rank`, dealt round-robin.

    Dealing gives every shard the same count within one (a hash modulo n would vary by a few
    percent); the slice depends only on the ids, and is kept in dataset order. A work item's
    variants, models and repeats all belong to its example, so they share its shard."""
    ranked = sorted(range(len(examples)), key=lambda k: shard_rank(examples[k].id))
    mine = set(ranked[shard.index - 1 :: shard.count])
    return [e for k, e in enumerate(examples) if k in mine]


def group_token(given: str | None = None) -> str:
    """What tells one sharded evaluation from another: --group, $EVALKIT_GROUP, a CI run id."""
    if given:
        return given
    for name in ("EVALKIT_GROUP", *CI_RUN_IDS):
        if os.environ.get(name):
            return f"{name}={os.environ[name]}"
    return ""


def group_id(suite_hash: str | None, dataset_digest: str | None, given: str | None = None) -> str:
    """The id the shards of one evaluation share: the suite version, the data and the token.

    Without a token (a local run), shards of the same suite and data form one group."""
    return "g-" + stable_hash([suite_hash, dataset_digest, group_token(given)])
