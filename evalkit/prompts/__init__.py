"""Prompts: sandboxed Jinja2 templates (StrictUndefined) compiled into chat-message variants.

`render` is not re-exported here: it would shadow the `evalkit.prompts.render` module.
"""

from evalkit.prompts.render import compile_template, template_variables
from evalkit.prompts.variants import (
    CompiledVariant,
    check_variables,
    compile_loaded,
    compile_variants,
)

__all__ = [
    "CompiledVariant",
    "check_variables",
    "compile_loaded",
    "compile_template",
    "compile_variants",
    "template_variables",
]
