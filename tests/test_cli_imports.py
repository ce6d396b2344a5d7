"""`evalkit --help` stays fast: the CLI must not import heavy SDKs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["torch", "transformers", "mlflow", "openai", "pandas"]


def test_importing_cli_does_not_import_heavy_sdks():
    code = (
        "import sys, evalkit.cli.main, evalkit.cli.run;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_commands_without_heavy_imports():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from evalkit.cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'run' in r.output and 'validate' in r.output\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
