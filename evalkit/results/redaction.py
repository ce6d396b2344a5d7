"""Keep secrets out of what is written to run files and logged to MLflow.

Two nets: values under a key named like a credential (api_key, token, secret, authorization,
password, ...) are replaced by "***", and the values of environment variables named like a
credential are scrubbed from any text (a key that reached a header, a URL or a dataset row).

    redactor = Redactor.from_env()
    redactor.mapping({"api_key": "sk-1", "max_tokens": 64})  # {"api_key": "***", "max_tokens": 64}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        values = {v for k, v in env.items() if is_secret_name(k) and len(v) >= _MIN_SECRET_LEN}
        # longest first, so a secret containing another is masked whole
        return cls(tuple(sorted(values, key=len, reverse=True)))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
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
