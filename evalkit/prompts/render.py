"""Sandboxed Jinja2 rendering of prompt templates.

One shared environment: sandboxed (suites are shared and reviewed like code, but a template
must not reach Python internals, nor ask for a billion of anything at once: `'x' * 10**9`,
`|center(10**9)`, `10 ** 10**6` and format widths of 7 digits are SecurityErrors),
StrictUndefined (a missing column is an error, never an empty string in a prompt), no
autoescaping (prompts are not HTML).

Filters beyond Jinja's built-ins: `tojson` (plain JSON, not HTML-escaped like Jinja's),
`bullets` and `numbered` (a list as "- a" lines or "1. a" lines), `regex_escape` (a value
matched literally inside a templated pattern: `regex: "^{{ answer | regex_escape }}$"`).

    template = compile_template("Q: {{ question }}", origin="prompts/qa.jinja")
    render(template, {"question": "Why?"}, example_id="ex1", origin="prompts/qa.jinja")
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2 import meta as jinja_meta
from jinja2.filters import FILTERS
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from evalkit.errors import SuiteError

_UNDEFINED = re.compile(r"'([^']+)' is undefined")


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def _bullets(items: Iterable[Any], marker: str = "-") -> str:
    return "\n".join(f"{marker} {item}" for item in items)


def _numbered(items: Iterable[Any], start: int = 1) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start))


def _regex_escape(value: Any) -> str:
    return re.escape(str(value))


# What a template may ask for at once: `'x' * 10**9`, `'x'|center(10**9)`, `10**10**10` or a
# format width of a billion would exhaust memory or CPU while a suite is validated.
_MAX_SIZE = 1_000_000
_MAX_EXPONENT = 10_000
_WIDTH = re.compile(r"%[-+ #0*]*\d{7,}|\{[^{}]*:[^{}]*\d{7,}")  # printf and str.format widths
_SIZED_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_SIZED_FILTERS = ("center", "indent", "slice")


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"the template asks for {what} (more than {_MAX_SIZE:,})")


def _check_size(args: Iterable[Any], what: str, limit: int = _MAX_SIZE) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > limit:
            raise SecurityError(f"the template asks for {what}({arg:,}) (more than {limit:,})")


def _check_width(text: Any) -> None:
    if isinstance(text, str) and _WIDTH.search(text):
        raise _too_big("a format width")


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with the sizes a template can ask for bounded."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > _MAX_SIZE:
                    raise _too_big(f"{len(seq):,} x {n:,} items")
        elif operator == "**" and isinstance(right, int | float) and right > _MAX_EXPONENT:
            if isinstance(left, int | float) and abs(left) > 1:
                raise _too_big(f"a power of {right:,}")
        elif operator == "%":
            _check_width(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        if name in _SIZED_METHODS:
            _check_size([*args, *kwargs.values()], name)
        elif name == "generate_lorem_ipsum":  # lipsum(n): n paragraphs of up to `max` words
            _check_size([*args, *kwargs.values()], "lipsum", limit=1000)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        if getattr(value, "__name__", "") in ("format", "format_map"):
            _check_width(getattr(value, "__self__", None))  # '{:>999999999}'.format(x)
        return super().wrap_str_format(value)


def _sized(name: str, fn: Any) -> Any:
    @functools.wraps(fn)  # keeps Jinja's pass_environment marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_size([*args[1:], *kwargs.values()], name)
        return fn(*args, **kwargs)

    return bounded


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_width(value)
    return str(FILTERS["format"](value, *args, **kwargs))


def _make_environment() -> SandboxedEnvironment:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters.update(
        tojson=_tojson, bullets=_bullets, numbered=_numbered, regex_escape=_regex_escape
    )
    env.filters.update({name: _sized(name, env.filters[name]) for name in _SIZED_FILTERS})
    env.filters["format"] = _format
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env


ENV = _make_environment()


def compile_template(source: str, origin: str, line: int | None = None) -> Template:
    """Compile a template; `origin` (a file, or a label like "metric x") locates errors.

    `line` is the line of `origin` where the template starts, so an error on the template's
    third line is reported at line + 2. Without it the message names the template's line.
    """
    try:
        return ENV.from_string(source)
    except TemplateSyntaxError as exc:
        lineno = exc.lineno or 1
        where = "" if line is not None else f" (template line {lineno})"
        raise SuiteError(
            f"template syntax error: {exc.message}{where}",
            file=origin,
            line=line + lineno - 1 if line is not None else None,
            hint="check that every {{ and {% is closed; in YAML, quote a template",
        ) from None


def template_variables(source: str) -> set[str]:
    """The variables a template reads from the row (globals such as `range` excluded)."""
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError:
        return set()  # compile_template reports it, with a location
    return set(jinja_meta.find_undeclared_variables(ast)) - set(ENV.globals)


def render(
    template: Template,
    row: dict[str, Any],
    *,
    example_id: str,
    origin: str,
    line: int | None = None,
) -> str:
    """Render `template` for one row; a missing variable names the row, its line and columns."""
    try:
        return template.render(row)
    except UndefinedError as exc:
        match = _UNDEFINED.search(str(exc))
        what = f"no variable '{match.group(1)}'" if match else f"a problem: {exc}"
        where = f" (line {line})" if line is not None else ""
        raise SuiteError(
            f"row {example_id}{where} has {what}",
            file=origin,
            hint=f"the row has: {', '.join(sorted(row)) or 'no columns'}",
        ) from None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # a filter or an expression failed on this row's values (e.g. a number + a string)
        raise SuiteError(
            f"cannot render the template for row {example_id}: {type(exc).__name__}: {exc}",
            file=origin,
        ) from None
