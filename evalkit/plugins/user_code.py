"""User code named in a suite runs only with the user's consent.

A suite may name Python code: a custom metric (`type: my_metrics:tone_ok`) or a function
provider (`options: {function: my_app:answer}`). Suites are shared and reviewed like data, so:

- `validate` and `--dry-run` never import such a module: `find(code)` locates its file on the
  import path and checks with `ast` that the name is defined (and callable, as far as the file
  says), reporting file:line otherwise;
- `run` imports it only with consent: `--allow-code` (RunOptions.allow_code), or
  `EVALKIT_ALLOW_CODE=1`, or `[tool.evalkit] allow_code = true` in the pyproject.toml of the
  working directory (the project you run evalkit in, not a file next to a suite someone sent);
- the working directory and the suite's folder are on the import path for these modules.

    code = UserCode("my_metrics:tone_ok", "custom metric", suite_dir)
    find(code)                       # static: a SuiteError when the file or name is missing
    with allowed(True): fn = load(code)

This module imports nothing from evalkit but its errors (the plugins package rule).
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError, did_you_mean

ENV = "EVALKIT_ALLOW_CODE"
_MAX_MODULE_BYTES = 4_000_000
_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("evalkit_allow_code", default=False)


@dataclass(frozen=True)
class UserCode:
    """`module:attribute` named by a suite, with where it is named (for messages)."""

    target: str
    kind: str  # "custom metric", "function provider"
    base_dir: Path  # the suite's folder
    file: str | None = None
    line: int | None = None
    found: list[Path] = field(default_factory=list, compare=False, repr=False)

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def attr(self) -> str:
        return self.target.partition(":")[2]

    def error(self, message: str, hint: str | None = None) -> SuiteError:
        return SuiteError(message, file=self.file, line=self.line, hint=hint)


# --- consent ---------------------------------------------------------------------------------


def consent(flag: bool = False) -> str | None:
    """What allows user code to run here (for the run's note), or None."""
    if flag:
        return "--allow-code"
    if os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes"):
        return f"{ENV}=1"
    if _project_allows(Path.cwd() / "pyproject.toml"):
        return "[tool.evalkit] allow_code in ./pyproject.toml"
    return None


@contextlib.contextmanager
def allowed(flag: bool) -> Iterator[None]:
    """Consent for the block (a run): `load` imports user code inside it."""
    token = _allowed.set(flag)
    try:
        yield
    finally:
        _allowed.reset(token)


def refusal(code: UserCode) -> SuiteError:
    shown = code.found[0].name if code.found else f"{code.module}.py"
    return code.error(
        f"{code.kind} '{code.target}' is user code: evalkit imports '{code.module}' only with"
        " --allow-code",
        hint=f"review {shown}, then run with --allow-code (or {ENV}=1, or"
        " [tool.evalkit] allow_code = true in ./pyproject.toml)",
    )


def _project_allows(path: Path) -> bool:
    try:
        import tomllib

        with open(path, "rb") as handle:
            settings = tomllib.load(handle).get("tool", {}).get("evalkit", {})
    except (OSError, ValueError):  # no pyproject.toml, or not TOML: no consent
        return False
    return isinstance(settings, dict) and settings.get("allow_code") is True


# --- static checks (validate, --dry-run) ------------------------------------------------------


def search_path(base_dir: Path) -> list[Path]:
    """Where user modules are found: the working directory, the suite's folder, sys.path."""
    roots = [Path.cwd(), base_dir, *(Path(p) for p in sys.path if p)]
    return list(dict.fromkeys(r for r in roots if r.is_dir()))


def find(code: UserCode) -> inspect.Signature | None:
    """Check `code` without importing it; its signature when the file says (else None)."""
    module, attr = code.module, code.attr
    if not module or not attr or not all(p.isidentifier() for p in module.split(".")):
        raise code.error(
            f"{code.kind} '{code.target}' is not in the form 'module:function'",
            hint="e.g. my_metrics:tone_ok, for tone_ok() in my_metrics.py",
        )
    path = _module_file(module, code.base_dir)
    if path is None:
        raise code.error(
            f"{code.kind} '{code.target}': no module '{module}' on the import path",
            hint=f"put {module.split('.')[-1]}.py in the working directory or beside the suite",
        )
    code.found[:] = [path]
    if path.suffix != ".py":
        return None  # a compiled extension: nothing to read
    return _check_names(code, path, _parse(code, path))


def _module_file(module: str, base_dir: Path) -> Path | None:
    parts = module.split(".")
    for root in search_path(base_dir):
        candidate = root.joinpath(*parts)
        for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if path.is_file():
                return path
        if candidate.parent.is_dir():
            compiled = sorted(candidate.parent.glob(f"{parts[-1]}.*.so"))
            if compiled:
                return compiled[0]
    return None


def _parse(code: UserCode, path: Path) -> ast.Module:
    try:
        with open(path, "rb") as handle:
            source = handle.read(_MAX_MODULE_BYTES + 1)
        if len(source) > _MAX_MODULE_BYTES:
            raise code.error(f"{path} is larger than {_MAX_MODULE_BYTES:,} bytes")
        return ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise SuiteError(
            f"{code.kind} '{code.target}': {path.name} does not parse: {exc.msg}",
            file=str(path),
            line=exc.lineno,
        ) from None
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        raise code.error(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def _check_names(code: UserCode, path: Path, tree: ast.Module) -> inspect.Signature | None:
    names = _defined(tree.body)
    if "__getattr__" in names or "*" in names:
        return None  # names made at import time or star-imported: only importing would tell
    node: ast.AST | None = None
    scope = names
    for part in code.attr.split("."):
        node = scope.get(part)
        if node is None:
            raise code.error(
                f"{code.kind} '{code.target}': {path.name} defines no '{part}'",
                hint=did_you_mean(part, [n for n in scope if not n.startswith("_")])
                or f"check the name after ':' in '{code.target}'",
            )
        scope = _defined(node.body) if isinstance(node, ast.ClassDef) else {}
    if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
        node.value, ast.Constant | ast.List | ast.Dict | ast.Tuple | ast.Set | ast.JoinedStr
    ):
        raise SuiteError(
            f"{code.kind} '{code.target}' is not callable (a plain value)",
            file=str(path),
            line=node.lineno,
            hint="point at a function",
        )
    return _signature(node)


def _defined(body: list[ast.stmt]) -> dict[str, ast.AST]:
    """Top-level names a module (or class) body binds, if/try blocks included."""
    names: dict[str, ast.AST] = {}
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = stmt
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names[stmt.target.id] = stmt
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                names[(alias.asname or alias.name).split(".")[0]] = stmt
        elif isinstance(stmt, ast.If | ast.Try | ast.With):
            blocks = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
            blocks += [h.body for h in getattr(stmt, "handlers", [])]
            for block in blocks:
                names.update(_defined(block))
    return names


def _signature(node: ast.AST | None) -> inspect.Signature | None:
    """A plain function's parameters as the file writes them (decorated: unknown)."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.decorator_list:
        return None
    args, kind = node.args, inspect.Parameter
    params: list[inspect.Parameter] = []
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    for index, arg in enumerate(positional):
        default = None if index >= first_default else kind.empty
        params.append(kind(arg.arg, kind.POSITIONAL_OR_KEYWORD, default=default))
    if args.vararg:
        params.append(kind(args.vararg.arg, kind.VAR_POSITIONAL))
    for arg, default_node in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        default = kind.empty if default_node is None else None
        params.append(kind(arg.arg, kind.KEYWORD_ONLY, default=default))
    if args.kwarg:
        params.append(kind(args.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(params)


# --- importing (run, with consent) ------------------------------------------------------------


def import_module(code: UserCode, hint: str | None = None) -> Any:
    """Import `code.module` when consent was given; every failure is one SuiteError."""
    if not (_allowed.get() or consent()):
        raise refusal(code)
    for folder in (str(code.base_dir.resolve()), str(Path.cwd())):
        if folder not in sys.path:  # a module beside the suite or in the project is found
            sys.path.insert(0, folder)
    name = code.module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or name
        if name == missing or name.startswith(f"{missing}."):
            raise code.error(f"cannot import module '{name}'", hint=hint) from exc
        raise code.error(
            f"importing '{name}' failed: it needs the missing module '{missing}'",
            hint="install it in the environment that runs evalkit",
        ) from exc
    except Exception as exc:  # a SyntaxError or an error at import time in the user's module
        raise code.error(f"importing '{name}' failed: {type(exc).__name__}: {exc}") from exc


def load(code: UserCode) -> Callable[..., Any]:
    """The callable `code` names (a dotted attribute like Class.method works), with consent."""
    obj = import_module(code)
    for part in code.attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise code.error(
                f"'{code.module}' has no attribute '{code.attr}'",
                hint=did_you_mean(part, names) or f"check the name after ':' in '{code.target}'",
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise code.error(f"{code.kind} '{code.target}' is not callable", hint="point at a function")
    fn: Callable[..., Any] = obj
    return fn


class UserFunction:
    """A user's function found statically; imported on first use (or `load()`), with consent.

    Its `__signature__` is what the module's file says, so metric arguments are checked at
    validate time without importing anything."""

    def __init__(self, code: UserCode, signature: inspect.Signature | None) -> None:
        self.code = code
        self.__signature__ = signature or inspect.Signature(
            [
                inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
            ]
        )
        self._fn: Callable[..., Any] | None = None

    def load(self) -> Callable[..., Any]:
        if self._fn is None:
            self._fn = load(self.code)
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)
