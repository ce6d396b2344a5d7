"""Prompt variants in the MLflow Prompt Registry: one prompt per suite x variant.

A new version is registered only when the template changed (its evalkit hash, kept as a version
tag, differs from the latest version's); otherwise the latest version is reused. Each version is
linked to the runs that used it, so the registry shows which evaluations a template went through.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from evalkit.trackers.mlflow.rundata import RunData

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import PromptVersion

HASH_TAG = "evalkit.template_hash"
_ROLE_HEADER = re.compile(r"^\[(system|user|assistant)\]\n", re.MULTILINE)
_BAD_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


def prompt_name(suite: str, variant: str) -> str:
    return _BAD_NAME.sub("-", f"{suite}.{variant}")


def variant_messages(variant: dict[str, Any]) -> list[dict[str, str]]:
    """The variant's chat messages; older manifests only keep the "[role]\\ntext" dump."""
    if variant.get("messages"):
        return [{"role": m["role"], "content": m["content"]} for m in variant["messages"]]
    text = str(variant.get("template", ""))
    parts = _ROLE_HEADER.split(text)
    # split gives ["", role, body, role, body, ...]; bodies are separated by a blank line
    return [
        {"role": role, "content": body.removesuffix("\n\n")}
        for role, body in zip(parts[1::2], parts[2::2], strict=True)
    ] or [{"role": "user", "content": text}]


def register_variants(client: MlflowClient, run: RunData) -> dict[str, PromptVersion]:
    """Register (or reuse) a prompt version per variant; returns variant -> version."""
    versions = {}
    for name, variant in run.manifest.get("variants", {}).items():
        versions[name] = _register(client, run, name, variant)
    return versions


def _register(
    client: MlflowClient, run: RunData, variant_name: str, variant: dict[str, Any]
) -> PromptVersion:
    name = prompt_name(run.suite_name, variant_name)
    template_hash = str(variant.get("hash", ""))
    latest = _latest(client, name)
    if latest is not None and latest.tags.get(HASH_TAG) == template_hash:
        return latest
    return client.register_prompt(
        name=name,
        template=variant_messages(variant),
        commit_message=f"evalkit run {run.run_id}",
        tags={
            HASH_TAG: template_hash,
            "evalkit.suite": run.suite_name,
            "evalkit.variant": variant_name,
        },
    )


def _latest(client: MlflowClient, name: str) -> PromptVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        prompt = client.get_prompt(name)
    except MlflowException:
        return None
    if prompt is None:
        return None
    versions = list(client.search_prompt_versions(name))
    return max(versions, key=lambda v: int(v.version)) if versions else None
