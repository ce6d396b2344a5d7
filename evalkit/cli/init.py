"""`evalkit init [DIR] [--name NAME]`: scaffold a small suite that validates and runs offline.

It writes DIR/suite.yaml, DIR/data/examples.jsonl and DIR/prompts/friendly.jinja. The model is
the deterministic `mock` provider, so `evalkit run` works at once without a key or a download;
the suite's comments show how to switch to a local transformers model or an OpenAI endpoint.
Existing files are never overwritten.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.errors import SuiteError

SUITE = """\
# An evalkit suite. Check it:  evalkit validate suite.yaml
#                   Run it:    evalkit run suite.yaml
name: __NAME__
description: A starter suite. Replace the rows, prompts and model with your own.

dataset:
  path: data/examples.jsonl     # one JSON object per line (csv and parquet work too)
  id_field: id                  # stable ids pair results across runs; omit to hash rows

prompts:                        # the variants under comparison; contents are Jinja2 templates
  terse:
    system: You are a helpful assistant. Answer in as few words as possible.
    user: "{{ question }}"
  friendly: prompts/friendly.jinja

models:
  # `mock` answers from the table below: instant, offline, deterministic. For a real model:
  #   - id: local
  #     provider: transformers    # runs on CPU; needs: pip install 'evalkit[local]'
  #     model: smollm2-135m-instruct
  #     params: {max_tokens: 64, temperature: 0}
  #   - id: gpt
  #     provider: openai          # any OpenAI-compatible endpoint (options.base_url)
  #     model: gpt-4o-mini
  #     options: {api_key_env: OPENAI_API_KEY}
  - id: mock
    provider: mock
    options:
      responses:
        "2 + 2": "4"
        "capital of France": "Paris is the capital of France."
        "sky": "The sky is blue on a clear day."

metrics:
  - contains: "{{ expected }}"  # the answer mentions the expected value
  - type: length
    max_words: 30

repeats: 1
"""

ROWS = [
    {"id": "math-1", "question": "What is 2 + 2?", "expected": "4"},
    {"id": "geo-1", "question": "What is the capital of France?", "expected": "Paris"},
    {"id": "sci-1", "question": "What colour is the sky on a clear day?", "expected": "blue"},
]

FRIENDLY = """\
{# system #}
You are a friendly assistant. Answer warmly, in one or two sentences.
{# user #}
A customer asks: {{ question }}
"""


def scaffold_files(name: str) -> dict[str, str]:
    """Relative path -> content of the files `init` writes."""
    rows = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS)
    return {
        "suite.yaml": SUITE.replace("__NAME__", json.dumps(name)),
        "data/examples.jsonl": rows,
        "prompts/friendly.jinja": FRIENDLY,
    }


def scaffold(directory: Path, name: str) -> list[Path]:
    """Write the starter suite into `directory`; refuse if any of its files exist."""
    files = {directory / rel: text for rel, text in scaffold_files(name).items()}
    if directory.exists() and not directory.is_dir():
        raise SuiteError(f"{directory} exists and is not a folder")
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise SuiteError(
            f"refusing to overwrite existing files: {', '.join(existing)}",
            hint="choose another folder (evalkit init NEW_DIR) or move those files away",
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def default_name(directory: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
    return slug or "my-suite"


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The suite's name [default: the folder's name].")
@handle_errors
def init_cmd(directory: Path, name: str | None) -> None:
    """Scaffold a small working suite in DIRECTORY (default: the current folder).

    \b
    evalkit init my-eval && evalkit validate my-eval/suite.yaml
    """
    written = scaffold(directory, name or default_name(directory))
    for path in written:
        click.echo(f"created {path}")
    suite = directory / "suite.yaml"
    click.echo(f"\nnext:  evalkit validate {suite}\n       evalkit run {suite}")
