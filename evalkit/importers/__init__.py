"""Importers: another tool's eval as an evalkit suite, a dataset and a list of what did not map.

    imported = import_promptfoo(Path("promptfooconfig.yaml"))
    paths = write_imported(imported, Path("ported"))
    for note in imported.notes:
        print(note)                 # promptfooconfig.yaml:31: 'webhook' has no evalkit equivalent

An importer maps everything it can (every assertion type with an evalkit metric or grader), and
lists the rest with the file and line it came from, so nothing is dropped in silence. Code
assertions (promptfoo's javascript and python) become functions in a generated module, used as
custom metrics `module:function`: a person reviews them, and running them needs `--allow-code`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError

__all__ = ["Imported", "Note", "check_written", "slug", "write_imported"]


@dataclass(frozen=True)
class Note:
    """Something the importer could not map (or mapped with a caveat), where it was written."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Imported:
    """What an importer produced, before it is written: the suite, its rows, extra files."""

    name: str  # the suite file's stem
    suite: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    dataset: str = ""  # the dataset file name ("" without rows)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text
    copies: dict[str, Path] = field(default_factory=dict)  # relative path -> file to copy
    notes: list[Note] = field(default_factory=list)
    stubs: list[str] = field(default_factory=list)  # custom metrics that need --allow-code
    stub_module: str = ""  # the module holding them (written in `files`)


def write_imported(imported: Imported, out_dir: Path, *, force: bool = False) -> list[Path]:
    """Write the suite, dataset and files into `out_dir`; existing files need `force`."""
    import shutil

    import yaml

    planned: dict[Path, str | Path] = {out_dir / f"{imported.name}.yaml": ""}
    if imported.dataset:
        planned[out_dir / imported.dataset] = ""
    planned.update({out_dir / rel: text for rel, text in imported.files.items()})
    planned.update({out_dir / rel: source for rel, source in imported.copies.items()})
    existing = [p for p in planned if p.exists()]
    if existing and not force:
        raise SuiteError(
            f"{existing[0]} already exists",
            hint="choose another folder with -o DIR, or overwrite with --force",
        )
    for path, content in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
    suite_text = yaml.safe_dump(imported.suite, sort_keys=False, allow_unicode=True, width=100)
    (out_dir / f"{imported.name}.yaml").write_text(suite_text, encoding="utf-8")
    if imported.dataset:
        lines = (json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in imported.rows)
        (out_dir / imported.dataset).write_text("".join(lines), encoding="utf-8")
    for rel, text in imported.files.items():
        (out_dir / rel).write_text(text, encoding="utf-8")
    return list(planned)


def check_written(suite_path: Path) -> str | None:
    """None when the written suite validates, else the one-line problem (file:line: message)."""
    from evalkit.errors import EvalkitError
    from evalkit.plan import prepare

    try:
        prepare(suite_path)
    except EvalkitError as exc:
        return exc.format()
    return None


def slug(text: str, fallback: str = "item") -> str:
    """A short name made of letters, digits, '-' and '_' ("Check for JSON!" -> "check-for-json")."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "-", text.strip().lower()).strip("-")
    return cleaned[:48].rstrip("-") or fallback


def unique(name: str, taken: set[str] | dict[str, Any]) -> str:
    """`name`, or `name_2`, `name_3`, ... when it is taken."""
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"
