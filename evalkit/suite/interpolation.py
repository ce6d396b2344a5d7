"""`${VAR}` interpolation in model options and tracking, and the refusal of literal secrets.

Options end up in cache keys and run records, so an API key written into a suite is refused
with file:line, and `${VAR}` / `${VAR:-default}` are replaced from the environment.
"""

from __future__ import annotations

import os
import re
from typing import Any

from evalkit.errors import SuiteError
from evalkit.suite.yaml_lines import LineMap, Loc, format_loc, line_of

SECRET_HINT = "put the key in an environment variable and name it with api_key_env"
_SECRET_KEYS = {"api_key", "apikey", "api-key", "authorization"}
_ENV = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _secret_scopes(data: dict[str, Any]) -> list[tuple[Loc, Any]]:
    """The parts of a suite where endpoints and credentials are configured."""
    scopes: list[tuple[Loc, Any]] = []
    for section in ("models", "judges"):  # judges are model entries too (graders' judges)
        models = data.get(section)
        if isinstance(models, list):
            for index, model in enumerate(models):
                if isinstance(model, dict) and "options" in model:
                    scopes.append(((section, index, "options"), model["options"]))
    if "tracking" in data:
        scopes.append((("tracking",), data["tracking"]))
    return scopes


def check_secrets(data: dict[str, Any], lines: LineMap, file: str) -> None:
    """Refuse API keys written into the suite: they would reach cache keys and records."""
    for loc, value in _secret_scopes(data):
        for where, key, item in _walk(value, loc):
            if str(key).lower() in _SECRET_KEYS:
                message = f"'{key}' in {format_loc(where[:-1])}: a secret written into the suite"
            elif isinstance(item, str) and item.strip().startswith("sk-"):
                message = f"{format_loc(where)} looks like an API key written into the suite"
            else:
                continue
            raise SuiteError(message, file=file, line=line_of(lines, where), hint=SECRET_HINT)


def interpolate_env(data: dict[str, Any], lines: LineMap, file: str) -> dict[str, Any]:
    """Replace ${VAR} / ${VAR:-default} in model options and tracking; `$${` escapes."""
    result = dict(data)
    for loc, value in _secret_scopes(data):
        new = _interpolate(value, loc, lines, file)
        if loc[0] in ("models", "judges"):
            models = result[loc[0]] = list(result[loc[0]])
            models[loc[1]] = {**models[loc[1]], "options": new}
        else:
            result[loc[0]] = new
    return result


def _interpolate(value: Any, loc: Loc, lines: LineMap, file: str) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, k), lines, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), lines, file) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise SuiteError(
            f"environment variable {name} is not set",
            file=file,
            line=line_of(lines, loc),
            hint=f"export {name}=... or give a default: ${{{name}:-value}}",
        )

    return _ENV.sub(substitute, value)


def _walk(value: Any, loc: Loc) -> list[tuple[Loc, Any, Any]]:
    """Every (location, key, value) below `value`, depth first."""
    if not isinstance(value, dict | list):
        return []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found = []
    for key, item in items:
        found.append(((*loc, key), key, item))
        found.extend(_walk(item, (*loc, key)))
    return found
