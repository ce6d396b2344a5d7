"""A promptfoo config (promptfooconfig.yaml) as an evalkit suite with per-example assertions.

Each test becomes a dataset row (one per combination of its list-of-text vars, as promptfoo
expands them) carrying its assertions in the `assert` column; `defaultTest`'s assertions become
the suite's metrics and graders and its vars are in every row; prompts (text, `file://` .txt
with `---` between prompts, .md, .j2, JSON/YAML chats) become variants; `openai:*` and `echo`
providers become models; `assertionTemplates` and `$ref` become `assertion_templates:` and
`{template: NAME}`. Everything else is listed with its file:line (`Imported.notes`); the table
per key is in docs/porting.md.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError
from evalkit.importers import Imported, Note, slug, unique
from evalkit.importers.promptfoo_mapping import (
    JUDGE_ID,
    AssertionMapper,
    Shape,
    chat_file,
    csv_tests,
    inline_prompt,
    js_transform,
    load_yaml12,
    provider_model,
)
from evalkit.importers.stubs import StubModule
from evalkit.suite.loader import display_path
from evalkit.suite.yaml_lines import LineMap, line_of

STUB_MODULE = "promptfoo_asserts"  # the generated module of code assertions
PROMPT_TEXT = (".txt", ".md", ".j2", ".jinja", ".jinja2")
KNOWN_KEYS = {"description", "prompts", "providers", "tests", "defaultTest", "assertionTemplates"}
KNOWN_KEYS |= {"evaluateOptions", "tags", "$schema", "outputPath", "sharing", "metadata"}
VERDICT = "assertions"


def import_promptfoo(config: Path) -> Imported:
    """The suite, rows and notes for one promptfoo config file."""
    return _Importer(config).run()


class _Importer:
    def __init__(self, config: Path) -> None:
        self.base = config.resolve().parent
        self.file = display_path(config)
        try:
            text = config.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise SuiteError(f"cannot read {config}: {exc.strerror}") from None
        data, self.lines = load_yaml12(text, self.file)
        if not isinstance(data, dict):
            raise SuiteError("a promptfoo config is a YAML mapping", file=self.file, line=1)
        self.data: dict[str, Any] = data
        self.notes: list[Note] = []
        self.stubs = StubModule(STUB_MODULE)
        self.mapper = AssertionMapper(self.stubs, self._note_at)
        self.copies: dict[str, Path] = {}

    def note(self, loc: tuple[Any, ...], message: str, lines: LineMap | None = None) -> None:
        self.notes.append(Note(self.file, line_of(lines or self.lines, loc), message))

    def _note_at(self, where: str, message: str) -> None:
        file, _, line = where.rpartition(":")
        self.notes.append(Note(file, int(line) if line.isdigit() else None, message))

    def where(self, loc: tuple[Any, ...], file: str | None = None, line: int | None = None) -> str:
        return f"{file or self.file}:{line if file else line_of(self.lines, loc) or ''}"

    def run(self) -> Imported:
        data = self.data
        for key in sorted(set(data) - KNOWN_KEYS):
            self.note((key,), f"'{key}' is not imported (no evalkit equivalent yet)")
        found = data.get("defaultTest")
        default: dict[str, Any] = found if isinstance(found, dict) else {}
        templates = self.templates(data.get("assertionTemplates"))
        shape = self.shape((default.get("options") or {}).get("transform"), ("defaultTest",))
        suite_entries = self.entries(default.get("assert"), ("defaultTest", "assert"), shape, set())
        taken = {_name(e) for e in suite_entries}
        suite: dict[str, Any] = {"name": self.suite_name()}
        if data.get("description"):
            suite["description"] = str(data["description"])
        rows = self.rows(data.get("tests"), default, taken)
        suite["dataset"] = "dataset.jsonl"
        suite["prompts"] = self.prompts(data.get("prompts"))
        suite["models"] = self.models(data.get("providers"))
        if self.mapper.uses_judge:
            suite["judges"] = [self.judge(default)]
        metrics = [e for e in suite_entries if "judge" not in e]
        graders = [e for e in suite_entries if "judge" in e]
        suite.update({k: v for k, v in (("metrics", metrics), ("graders", graders)) if v})
        if templates:
            suite["assertion_templates"] = templates
        self.options(data.get("evaluateOptions"), suite)
        files = {f"{STUB_MODULE}.py": self.stubs.text()} if self.stubs.functions else {}
        return Imported(
            name="suite",
            suite=suite,
            rows=rows,
            dataset="dataset.jsonl",
            files=files,
            copies=self.copies,
            notes=self.notes,
            stubs=[f"{STUB_MODULE}:{name}" for name in self.stubs.names],
            stub_module=f"{STUB_MODULE}.py" if files else "",
        )

    def suite_name(self) -> str:
        described = self.data.get("description")
        return slug(str(described)) if described else slug(self.base.name, "promptfoo")

    # --- assertions -----------------------------------------------------------------------------

    def templates(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            return {}
        self.mapper.templates = set(value)
        out = {}
        for name, assertion in value.items():
            entry = self.mapper.map(assertion, self.where(("assertionTemplates", name)), Shape())
            if entry is None or "template" in entry:
                self.mapper.templates.discard(name)
                continue
            out[str(name)] = entry
        return out

    def shape(self, transform: Any, loc: tuple[Any, ...]) -> Shape:
        if transform is None:
            return Shape()
        translated = js_transform(transform, Shape())
        if translated is None:
            self.note(
                (*loc, "options", "transform"),
                f"the transform {transform!r} is JavaScript"
                " evalkit cannot translate: its assertions score the untransformed output",
            )
            return Shape()
        return translated

    def entries(
        self,
        items: Any,
        loc: tuple[Any, ...],
        shape: Shape,
        taken: set[str],
        where: tuple[str, int | None] | None = None,
    ) -> list[dict[str, Any]]:
        """A test's (or defaultTest's) assertions, each named uniquely on its row."""
        names = {*taken, VERDICT}
        out = []
        for j, assertion in enumerate(items or []):
            at = self.where((*loc, j), *where) if where else self.where((*loc, j))
            entry = self.mapper.map(assertion, at, shape)
            if entry is None:
                continue
            name = unique(_name(entry), names)
            if name != _name(entry):
                entry["name"] = name
            names.add(name)
            out.append(entry)
        return out

    def judge(self, default: dict[str, Any]) -> dict[str, Any]:
        provider = (default.get("options") or {}).get("provider")
        model = "gpt-4o-mini"
        if isinstance(provider, str) and provider.startswith("openai:"):
            model = provider.split(":")[-1]
        self.note(
            ("defaultTest",),
            f"graders ask the judge '{JUDGE_ID}' (openai {model}); promptfoo"
            " grades with its own default provider: change judges: if needed",
        )
        return {"id": JUDGE_ID, "provider": "openai", "model": model}

    # --- tests ------------------------------------------------------------------------------

    def rows(self, tests: Any, default: dict[str, Any], taken: set[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        ids: set[str] = set()
        for test in self.test_list(tests):
            if not isinstance(test.data, dict):
                self._note_at(test.where, "a test must be a mapping")
                continue
            options = {**(default.get("options") or {}), **(test.data.get("options") or {})}
            shape = self.shape(options.get("transform"), test.loc)
            for key in ("threshold", "provider", "providerOutput", "prompts", "providers"):
                if key in test.data:
                    self._note_at(test.where, f"the test's '{key}' is not imported")
            entries = self.entries(
                test.data.get("assert"), (*test.loc, "assert"), shape, taken, test.file_line
            )
            if not entries and not taken:
                self._note_at(
                    test.where,
                    "this test has no assertion: promptfoo passes it when"
                    " the call succeeds; evalkit's `assertions` verdict is unscored",
                )
            variables = {**(default.get("vars") or {}), **(test.data.get("vars") or {})}
            described = slug(str(test.data.get("description") or ""), "")
            for combo in self.combinations(variables, options, test.loc):
                row_id = unique(described or f"test-{len(rows) + 1}", ids)
                ids.add(row_id)
                row = {"id": row_id, **combo} if "id" not in combo else dict(combo)
                if entries:
                    row["assert"] = entries
                rows.append(row)
        return rows or [{"id": "test-1"}]

    def test_list(self, tests: Any) -> list[_Test]:
        """Every test, inline or from a `file://` tests file, with where it was written."""
        items = tests if isinstance(tests, list) else [] if tests is None else [tests]
        out: list[_Test] = []
        for i, item in enumerate(items):
            loc = ("tests", i) if isinstance(tests, list) else ("tests",)
            if isinstance(item, str) and item.startswith("file://"):
                out.extend(self.tests_file(item.removeprefix("file://"), loc))
            else:
                out.append(_Test(item, loc, self.where(loc)))
        return out

    def tests_file(self, relpath: str, loc: tuple[Any, ...]) -> list[_Test]:
        path = (self.base / relpath).resolve()
        if not path.is_file():
            self.note(loc, f"tests file not found: {relpath}")
            return []
        file = display_path(path)
        if path.suffix.lower() == ".csv":
            return [_Test(t, loc, f"{file}:{n}", (file, n)) for t, n in csv_tests(path)]
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            data, lines = load_yaml12(path.read_text(encoding="utf-8-sig"), file)
            items = data if isinstance(data, list) else [data]
            found = [(t, line_of(lines, (i,))) for i, t in enumerate(items)]
            return [_Test(t, loc, f"{file}:{n or ''}", (file, n)) for t, n in found]
        self.note(loc, f"tests from {relpath} are not imported (csv, yaml or json only)")
        return []

    def combinations(
        self, variables: dict[str, Any], options: dict[str, Any], loc: tuple[Any, ...]
    ) -> list[dict[str, Any]]:
        """promptfoo runs a test once per combination of its list-of-text vars."""
        values = {k: self.var_value(v, (*loc, "vars", k)) for k, v in variables.items()}
        if options.get("disableVarExpansion"):
            return [values]
        keys = list(values)
        choices = [
            v if isinstance(v, list) and v and isinstance(v[0], str) else [v]
            for v in values.values()
        ]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)]

    def var_value(self, value: Any, loc: tuple[Any, ...]) -> Any:
        if not (isinstance(value, str) and value.startswith("file://")):
            return value
        path = (self.base / value.removeprefix("file://")).resolve()
        if path.suffix.lower() in (".js", ".py", ".ts") or not path.is_file():
            self.note(loc, f"the var {value!r} is not imported (a script, or no such file)")
            return value
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".json":
            return json.loads(text)
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return text

    # --- prompts and providers ------------------------------------------------------------------

    def prompts(self, value: Any) -> dict[str, Any]:
        items: list[Any] = value if isinstance(value, list) else [] if value is None else [value]
        if isinstance(value, dict) and not {"raw", "id", "label"} & set(value):
            items = [{"id": k, "label": v} for k, v in value.items()]  # {file: label}
        out: dict[str, Any] = {}
        for i, item in enumerate(items):
            loc = ("prompts", i) if isinstance(value, list) else ("prompts",)
            label = item.get("label") if isinstance(item, dict) else None
            raw = (item.get("raw") or item.get("id")) if isinstance(item, dict) else item
            if not isinstance(raw, str):
                self.note(loc, "a prompt must be text or {raw|id, label}")
                continue
            for name, variant in self.prompt(raw, loc):
                out[unique(slug(str(label or name), "prompt"), out)] = variant
        if not out:
            raise SuiteError("the config has no prompts evalkit can import", file=self.file, line=1)
        return out

    def prompt(self, raw: str, loc: tuple[Any, ...]) -> list[tuple[str, Any]]:
        if not raw.startswith("file://"):
            return [
                (f"prompt-{loc[-1] + 1 if isinstance(loc[-1], int) else 1}", inline_prompt(raw))
            ]
        found = sorted(self.base.glob(raw.removeprefix("file://")))
        if not found:
            self.note(loc, f"prompt file not found: {raw}")
        out = []
        for path in found:
            suffix = path.suffix.lower()
            if suffix in PROMPT_TEXT:
                target = f"prompts/{slug(path.stem)}{suffix}"
                self.copies[target] = path
                out.append((path.stem, target))
            elif suffix in (".json", ".yaml", ".yml"):
                out.append((path.stem, chat_file(path)))
            else:
                self.note(loc, f"the prompt {path.name} is code (a prompt function): not imported")
        return out

    def models(self, value: Any) -> list[dict[str, Any]]:
        items = value if isinstance(value, list) else [] if value is None else [value]
        models: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            loc = ("providers", i) if isinstance(value, list) else ("providers",)
            if isinstance(item, str):
                item = {"id": item}
            elif isinstance(item, dict) and "id" not in item and len(item) == 1:
                ((pid, config),) = item.items()  # {openai:gpt-4o: {config: ...}}
                item = {"id": pid, **(config if isinstance(config, dict) else {})}
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                self.note(loc, "a provider must be an id or {id, config, label}")
                continue
            model = self.model(item["id"], item.get("config") or {}, item.get("label"), loc)
            if model is not None:
                model["id"] = unique(model["id"], {m["id"] for m in models})
                models.append(model)
        if not models:
            self.note(("providers",), "no provider maps to evalkit: a mock model stands in")
            models = [{"id": "mock", "provider": "mock"}]
        return models

    def model(
        self, pid: str, config: dict[str, Any], label: Any, loc: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        model, problems = provider_model(pid, config, label)
        for problem in problems:
            self.note(loc, problem)
        return model

    def options(self, value: Any, suite: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            return
        if isinstance(value.get("repeat"), int):
            suite["repeats"] = value["repeat"]
        if isinstance(value.get("maxConcurrency"), int):
            suite["concurrency"] = value["maxConcurrency"]
        for key in sorted(set(value) - {"repeat", "maxConcurrency"}):
            self.note(("evaluateOptions", key), f"evaluateOptions.{key} is not imported")


@dataclass(frozen=True)
class _Test:
    data: Any
    loc: tuple[Any, ...]  # its key path in the config (a tests file's own entry: `tests[i]`)
    where: str  # file:line, for notes
    file_line: tuple[str, int | None] | None = None  # set when it came from a tests file


def _expands(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], str)


def _name(entry: dict[str, Any]) -> str:
    if entry.get("name"):
        return str(entry["name"])
    if "template" in entry:
        return str(entry["template"])
    return str(entry.get("type"))
