"""Third-party plugins: a provider, a grader type and a reporter from an installed distribution
(entry point group `evalkit`) are used by a suite with no change to evalkit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit.plugins.registry import Registry, registry, reset_registry

PLUGIN = '''
"""evalkit-acme: one file, three extensions."""
from pathlib import Path
from typing import Literal

from evalkit.graders.levels import binary
from evalkit.graders.types import GraderType
from evalkit.records import Generation, Usage
from evalkit.suite.graders import ItemGraderConfig


class ShoutyProvider:
    """Answers in capitals; as a judge, says whether the judged output shouts."""

    capabilities = frozenset()

    def __init__(self, config):
        self.config = config

    async def generate(self, request):
        last = request.messages[-1]["content"]
        if "OUTPUT:" in last:
            judged = last.split("OUTPUT:", 1)[1].split("\\n", 1)[0].strip()
            verdict = "loud" if judged and judged.isupper() else "quiet"
            text = '{"reasoning": "looked at the case", "score": "%s"}' % verdict
        else:
            text = last.upper() if "whisper" not in last else last.lower()
        return Generation(output=text, usage=Usage(1, 1))

    async def aclose(self):
        return None


def create_provider(config, base_dir):
    return ShoutyProvider(config)


class LoudnessGrader(ItemGraderConfig):
    type: Literal["loudness"]


LOUDNESS = GraderType(
    name="loudness",
    config=LoudnessGrader,
    levels=lambda config: binary("loud", "quiet", None, ("all capitals", "not all capitals")),
    prompt="Is this output in capitals?\\nOUTPUT: {{ output }}\\n{{ format_instructions }}",
)


class CountReporter:
    name = "acme-count"

    def write(self, run, path, options):
        cells = {c.label: c.items for c in run.summary.cells}
        Path(path).write_text(f"{run.run_id} {sorted(cells.items())} {options}\\n")


def register(registry):
    registry.add_provider("acme", create_provider)
    registry.add_grader("loudness", LOUDNESS)
    registry.add_reporter("acme-count", CountReporter)
'''

SUITE = """
name: acme-suite
dataset:
  rows:
    - {id: a, text: "hello there"}
    - {id: b, text: "please whisper"}
prompts:
  plain: "{{ text }}"
models:
  - {id: shout, provider: acme}
judges:
  - {id: judge, provider: acme}
graders:
  - {type: loudness, name: loud, judge: judge}
reports:
  - {type: acme-count, path: counts.txt, options: {flavour: plain}}
"""


def install_plugin(site: Path) -> None:
    """A distribution as pip lays it out: the module and its .dist-info with an entry point."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "evalkit_acme.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "evalkit_acme-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: evalkit-acme\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[evalkit]\nacme = evalkit_acme:register\n")


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install_plugin(site)
    return site


def _evalkit(args: list[str], cwd: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    cmd = [sys.executable, "-m", "evalkit", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_suite_uses_a_plugin_provider_grader_and_reporter(plugin_site: Path, tmp_path: Path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    validated = _evalkit(["validate", str(suite)], tmp_path, plugin_site)
    assert validated.returncode == 0, validated.stderr
    assert "loud (loudness: judge)" in validated.stdout

    runs = tmp_path / "runs"
    report = tmp_path / "again.txt"
    args = ["run", str(suite), "-q", "--runs-dir", str(runs), "--run-id", "r1"]
    done = _evalkit([*args, "--report", f"acme-count={report}"], tmp_path, plugin_site)
    assert done.returncode == 0, done.stderr + done.stdout
    records = {
        json.loads(line)["example_id"]: json.loads(line)
        for line in (runs / "r1" / "results.jsonl").read_text().splitlines()
    }
    assert records["a"]["output"] == "HELLO THERE"
    assert records["a"]["scores"]["loud"]["value"] == 1.0  # the plugin judge read the capitals
    assert records["b"]["scores"]["loud"]["value"] == 0.0
    assert (
        tmp_path / "counts.txt"
    ).read_text() == "r1 [('plain x shout', 2)] {'flavour': 'plain'}\n"
    assert report.read_text().startswith("r1 [('plain x shout', 2)]")


def test_without_the_plugin_the_suite_names_what_is_missing(tmp_path: Path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    result = _evalkit(["validate", str(suite)], tmp_path, tmp_path / "empty-site")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown grader type 'loudness'" in result.stderr


def test_a_broken_plugin_warns_and_the_builtins_still_work(tmp_path: Path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "evalkit_broken.py").write_text("raise RuntimeError('half installed')\n")
    info = site / "evalkit_broken-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: evalkit-broken\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[evalkit]\nbroken = evalkit_broken:register\n")
    monkeypatch.syspath_prepend(str(site))
    reset_registry()
    try:
        with pytest.warns(UserWarning, match="evalkit plugin broken .* failed to load"):
            reg = registry()
        assert reg.has("provider", "mock")
        error = reg.unknown("provider", "acme")
        assert "half installed" in (error.hint or "")
    finally:
        reset_registry()


def test_builtins_register_through_the_same_seam() -> None:
    reg = Registry()
    from evalkit.plugins.builtins import register

    reg.load_plugin("builtins", register)
    assert {"mock", "openai", "transformers"} <= set(reg.names("provider"))
    assert {"rubric", "closed_qa", "factuality", "pairwise"} <= set(reg.names("grader"))
    assert {"junit", "markdown"} <= set(reg.names("reporter"))
    assert "mlflow" in reg.names("tracker")
    assert {"contains", "regex"} <= set(registry().names("metric"))
