"""Keep secrets out of what is written to run files and logged to MLflow.

Two nets: values under a key named like a credential (api_key, token, secret, authorization,
password, ...) are replaced by "***", and known secret values are scrubbed from any text (a key
that reached a header, a URL, a reply or a dataset row). Known secrets are the values of
environment variables named like a credential, plus those of the variables a suite names with
`api_key_env` (or any option ending in `_env`), whatever their names.

The run store and the response cache write through `json_line`, so no record, cache entry,
report or tracker upload carries a known secret.

    redactor = Redactor.from_env()
    redactor.mapping({"api_key": "sk-1", "max_tokens": 64})  # {"api_key": "***", "max_tokens": 64}
    redactor.json_line(record)  # the record's JSON, with every known secret as ***
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

MASK = "***"
# "token" as a word, not "max_tokens"; names ending in _env name a variable, they are no secret
_SECRET_NAME = re.compile(
    r"(^|[_\-.])(api[_\-]?key|apikey|key|token|secret|password|passwd|authorization|auth|"
    r"credentials?|cookie|bearer)($|[_\-.])",
    re.IGNORECASE,
)
_MIN_SECRET_LEN = 6  # shorter env values ("1", "true") would scrub ordinary text


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith(("_env", "-env")):
        return False
    return bool(_SECRET_NAME.search(lowered))


@dataclass(frozen=True)
class Redactor:
    secrets: tuple[str, ...] = ()
    # each secret as written and as it appears inside a JSON string (quotes, backslashes)
    _needles: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        escaped = (json.dumps(s, ensure_ascii=False)[1:-1] for s in self.secrets)
        needles = dict.fromkeys([*self.secrets, *escaped])
        object.__setattr__(self, "_needles", tuple(sorted(needles, key=len, reverse=True)))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, names: Iterable[str] = ()
    ) -> Redactor:
        """Secrets from the environment: credential-like names, and the variables `names`."""
        env = os.environ if environ is None else environ
        named = set(names)
        values = {
            v
            for k, v in env.items()
            if (k in named or is_secret_name(k)) and len(v) >= _MIN_SECRET_LEN
        }
        # longest first, so a secret containing another is masked whole
        return cls(tuple(sorted(values, key=len, reverse=True)))

    def found(self, text: str) -> bool:
        return any(needle in text for needle in self._needles)

    def json_line(self, doc: BaseModel) -> str:
        """`doc` as one JSON line with every known secret masked (its values, not its keys)."""
        line = doc.model_dump_json()
        if not self.found(line):
            return line  # the common case costs one substring search per secret
        data = self.strings(doc.model_dump(mode="json"))
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    def doc(self, doc: M) -> M:
        """A copy of `doc` without known secrets (or `doc` itself when it holds none)."""
        if not self.found(doc.model_dump_json()):
            return doc
        return type(doc).model_validate(self.strings(doc.model_dump(mode="json")))

    def strings(self, value: Any) -> Any:
        """Scrub every string inside a JSON-like value, keys included; nothing else changes."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.strings(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.strings(v) for v in value]
        return value

    def text(self, value: str) -> str:
        for needle in self._needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return value

    def value(self, value: Any) -> Any:
        """Scrub any JSON-like value; mappings also lose the values of secret-named keys."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return self.mapping(value)
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: MASK if is_secret_name(str(key)) and v not in (None, "") else self.value(v)
            for key, v in data.items()
        }


def secret_env_names(sections: Iterable[Mapping[str, Any]]) -> list[str]:
    """The variables named by `*_env` keys (api_key_env, ...) in option or argument mappings."""
    return [
        str(value)
        for section in sections
        for key, value in section.items()
        if str(key).lower().endswith("_env") and isinstance(value, str) and value
    ]
