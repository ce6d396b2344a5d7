"""What makes a grader type: its config model, its answer levels, its default judge prompt.

Each built-in type is one module that defines a `GraderType` (rubric.py, reference.py,
pairwise.py); a plugin's grader is the same, in its own module, registered by name:

    TONE = GraderType(
        name="tone",
        config=ToneGrader,                        # a pydantic model: ItemGraderConfig + type
        levels=lambda config: binary("polite", "rude", None, ("...", "...")),
        prompt="Is this reply polite?\\n{{ output }}\\n{{ format_instructions }}",
    )
    def register(registry): registry.add_grader("tone", TONE)

The config model decides what the suite may write under `graders:`; the levels decide what a
judge may answer and what each answer is worth; the prompt (a Jinja template) is what it sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from evalkit.graders.bind import BoundGrader

from evalkit.graders.levels import Levels


def packaged_prompt(package: str, name: str) -> Callable[[], str]:
    """A prompt shipped as a package resource, read when first needed."""

    def read() -> str:
        return (resources.files(package) / name).read_text(encoding="utf-8")

    return read


def no_criteria(config: Any) -> list[str]:
    return []


@dataclass(frozen=True)
class GraderType:
    name: str
    config: type[Any]  # a subclass of evalkit.suite.graders.GraderConfig
    levels: Callable[[Any], Levels]
    prompt: str | Callable[[], str]  # the default judge prompt (template text, or a reader)
    criteria: Callable[[Any], list[str]] = no_criteria
    pairwise: bool = False  # judged after the run, two outputs at a time
    needs_reference: bool = False  # unscored, with the reason, when the row has no reference

    def prompt_source(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt()


def grader_type(name: str) -> GraderType:
    """The registered type `name` (SuiteError with "did you mean" when unknown)."""
    from evalkit.plugins.registry import registry

    found: GraderType = registry().get("grader", name, what="grader type")
    return found


class RunShape(Protocol):
    """What the graders need to know about a run's matrix (evalkit.plan.Plan is one)."""

    @property
    def graders(self) -> list[BoundGrader]: ...

    @property
    def total(self) -> int: ...

    @property
    def repeats(self) -> int: ...

    @property
    def variant_names(self) -> list[str]: ...

    @property
    def model_ids(self) -> list[str]: ...

    @property
    def examples(self) -> list[Any]: ...
