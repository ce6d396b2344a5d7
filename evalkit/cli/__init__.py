"""The evalkit command line: a thin shell over evalkit.api, one module per command."""
