"""evalkit: evaluate prompts and models as YAML suites, gate releases on the results."""

__version__ = "0.1.0"
