"""Base classes of the run documents: unknown keys ignored, NaN read as None, a version."""

from __future__ import annotations

import math
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 2


class SchemaVersionError(ValueError):
    """A document written by a newer evalkit than this one."""


class Doc(BaseModel):
    """Base of every document: unknown keys are ignored (a field a newer minor version adds)."""

    model_config = ConfigDict(extra="ignore")


class Stats(Doc):
    """A document of statistics: version 1 wrote NaN for "no value", read here as None."""

    @model_validator(mode="before")
    @classmethod
    def _finite(cls, data: Any) -> Any:
        # version 1 wrote NaN for "no value"; JSON has no NaN and a reader should see None
        if isinstance(data, dict):
            return {k: None if _is_nan(v) else v for k, v in data.items()}
        return data


class Versioned(Doc):
    """A top-level document. Version 1 named the field "v"; both spellings are read."""

    schema_version: int = Field(
        default=SCHEMA_VERSION, validation_alias=AliasChoices("schema_version", "v")
    )

    def check_version(self, where: str) -> None:
        """Refuse a document a newer evalkit wrote: reading it partly would mislead."""
        if self.schema_version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where} was written by a newer evalkit (schema version {self.schema_version};"
                f" this one reads up to {SCHEMA_VERSION}): upgrade evalkit to read it"
            )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
