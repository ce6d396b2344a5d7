"""Prompt variants in the MLflow Prompt Registry: one prompt per suite x variant.

A new version is registered only when the template changed (its evalkit hash, kept as a version
tag, differs from the latest version's); otherwise the latest version is reused. Each version is
linked to the runs that used it, and each child run says which version it evaluated and shows
the text diff from the version before it (its description, and `prompt.diff`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalkit.results.schema import VariantInfo

if TYPE_CHECKING:
    from mlflow import MlflowClient

HASH_TAG = "evalkit.template_hash"
_ROLE_HEADER = re.compile(r"^\[(system|user|assistant)\]\n", re.MULTILINE)
_BAD_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


@dataclass
class PromptVersion:
    name: str
    version: str
    uri: str
    entity: Any  # mlflow's PromptVersion, for linking
    diff: str = ""  # unified diff from the version before it ("" for the first)


def prompt_name(suite: str, variant: str) -> str:
    return _BAD_NAME.sub("-", f"{suite}.{variant}")


def variant_messages(variant: VariantInfo) -> list[dict[str, str]]:
    """The variant's chat messages; older manifests only keep the "[role]\\ntext" dump."""
    if variant.messages:
        return [{"role": m["role"], "content": m["content"]} for m in variant.messages]
    parts = _ROLE_HEADER.split(variant.template)
    # split gives ["", role, body, role, body, ...]; bodies are separated by a blank line
    return [
        {"role": role, "content": body.removesuffix("\n\n")}
        for role, body in zip(parts[1::2], parts[2::2], strict=True)
    ] or [{"role": "user", "content": variant.template}]


def messages_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    return "\n\n".join(f"[{m.get('role')}]\n{m.get('content')}" for m in messages or [])


def prompt_diff(before: Any, after: Any, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        messages_text(before).splitlines(),
        messages_text(after).splitlines(),
        fromfile=old,
        tofile=new,
        lineterm="",
    )
    return "\n".join(lines)


def register_variants(
    client: MlflowClient, suite: str, run_id: str, variants: dict[str, VariantInfo]
) -> dict[str, PromptVersion]:
    """Register (or reuse) a prompt version per variant; returns variant -> version."""
    return {name: _register(client, suite, run_id, name, v) for name, v in variants.items()}


def _register(
    client: MlflowClient, suite: str, run_id: str, variant_name: str, variant: VariantInfo
) -> PromptVersion:
    name = prompt_name(suite, variant_name)
    versions = _versions(client, name)
    latest = versions[-1] if versions else None
    if latest is None or latest.tags.get(HASH_TAG) != variant.hash:
        latest = client.register_prompt(
            name=name,
            template=variant_messages(variant),
            commit_message=f"evalkit run {run_id}",
            tags={HASH_TAG: variant.hash, "evalkit.suite": suite, "evalkit.variant": variant_name},
        )
        versions.append(latest)
    before = next((v for v in reversed(versions) if int(v.version) < int(latest.version)), None)
    diff = ""
    if before is not None:
        old, new = f"{name} v{before.version}", f"{name} v{latest.version}"
        diff = prompt_diff(before.template, latest.template, old, new)
    return PromptVersion(name, str(latest.version), latest.uri, latest, diff)


def _versions(client: MlflowClient, name: str) -> list[Any]:
    from mlflow.exceptions import MlflowException

    try:
        prompt = client.get_prompt(name)
    except MlflowException:
        return []
    if prompt is None:
        return []
    return sorted(client.search_prompt_versions(name), key=lambda v: int(v.version))


def description(version: PromptVersion) -> str:
    """The child run's description: which prompt version it evaluated, and what changed."""
    text = f"Prompt `{version.name}` version {version.version} ({version.uri})."
    if version.diff:
        return f"{text}\n\nChanged from the version before:\n\n```diff\n{version.diff}\n```"
    return text
