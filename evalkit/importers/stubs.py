"""Code assertions (promptfoo's `javascript` and `python`) as a generated module of custom metrics.

A Python assertion is copied into a function that gives it promptfoo's names (`output`,
`context`); a JavaScript one becomes a function that raises NotImplementedError with the code
in its docstring, so the metric is unscored, with that reason, until someone ports it (never a
silent pass). Every function is a custom metric `module:function`: user code, which evalkit
runs only with `--allow-code`.

    stubs = StubModule("promptfoo_asserts")
    stubs.add("python", "len(output) < 300", "promptfooconfig.yaml:12")
    # -> "promptfoo_asserts:python_1", and stubs.text() is the module
"""

from __future__ import annotations

import textwrap

HEADER = '''"""Custom metrics made by `evalkit import` from code assertions: review each function.

Each is used in the suite as `type: {module}:NAME`.
They are user code: evalkit runs them only with --allow-code; a module beside the suite is
found without PYTHONPATH (evalkit run <this folder>/suite.yaml --allow-code).
"""

from __future__ import annotations

from typing import Any

from evalkit.metrics.base import ScoreContext


def _context(ctx: ScoreContext) -> dict[str, Any]:
    """promptfoo's `context`: the test's vars and the rendered prompt."""
    prompt = ctx.messages[-1]["content"] if ctx.messages else ""
    return {{"vars": ctx.row, "prompt": prompt}}
'''

PYTHON = '''

def {name}(ctx: ScoreContext) -> Any:
    """promptfoo `python` assertion,
    from {where}."""
    output, context = ctx.text, _context(ctx)
{body}
'''

JAVASCRIPT = '''

def {name}(ctx: ScoreContext) -> Any:
    """promptfoo `javascript` assertion: port it to Python.
    From {where}:

{code}
    """
    raise NotImplementedError("port this JavaScript assertion to Python ({where})")
'''


class StubModule:
    """The functions of one generated module, in the order they were added."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.functions: list[str] = []
        self.names: list[str] = []
        self.counts: dict[str, int] = {}

    def add(self, kind: str, code: str, where: str) -> str:
        """One assertion as a function; returns its metric type (`module:function`)."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        name = f"{kind}_{self.counts[kind]}"
        if kind == "python":
            text = PYTHON.format(name=name, where=where, body=_python_body(code))
        else:
            quoted = textwrap.indent(code.strip().replace('"""', r"\"\"\""), "        ")
            text = JAVASCRIPT.format(name=name, where=where, code=quoted)
        self.functions.append(text)
        self.names.append(name)
        return f"{self.module}:{name}"

    def text(self) -> str:
        return HEADER.format(module=self.module) + "".join(self.functions)


def _python_body(code: str) -> str:
    """promptfoo runs a one-line value as an expression and a multi-line one as a function body."""
    code = textwrap.dedent(code).strip("\n")
    if "\n" not in code.strip():
        return f"    return {code.strip()}"
    return textwrap.indent(code, "    ")
