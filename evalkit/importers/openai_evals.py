"""An OpenAI Evals registry file (evals/registry/evals/NAME.yaml) as evalkit suites.

Each eval in the file (an entry with `id:` naming its spec `name.split.version`) becomes a suite
NAME.yaml with its samples NAME.jsonl. A sample's `input` (chat messages, `name` kept on
few-shot turns, or a string) is the prompt (`from_row: input`), `ideal` the reference (a list
is "any of"). The eval class decides the metrics and graders:

| class | evalkit |
|---|---|
| basic.match:Match, test.match:TestMatch | `starts_with` "{{ ideal }}", strip: false (accuracy) |
| basic.includes:Includes (ignore_case) | `contains` "{{ ideal }}" (ignore_case) (accuracy) |
| basic.fuzzy_match:FuzzyMatch | `fuzzy_match` (accuracy) and `token_f1` (f1_score) |
| basic.json_match:JsonMatch | `equals` "{{ ideal }}", json: true (accuracy) |
| modelgraded.classify:ModelBasedClassify | fact: `factuality`; closedqa: a `rubric` per criterion |

Samples are read from `--data-dir` (default: the registry's ../data folder); a Git LFS pointer
is refused with the command that fetches the file. What does not map is listed with file:line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError
from evalkit.importers import Imported, Note, slug
from evalkit.suite.loader import display_path
from evalkit.suite.yaml_lines import LineMap, line_of, parse_yaml

IDEAL = "{{ ideal }}"
# what a judge sees as the task: the sample's messages (or its text prompt)
INPUT = "{{ input if input is string else input | map(attribute='content') | join('\\n') }}"
IDEAL_TEXT = "{{ ideal if ideal is string else ideal | join('\\n') }}"
CLASSES = {
    "evals.elsuite.basic.match:Match": "match",
    "evals.elsuite.test.match:TestMatch": "match",
    "evals.elsuite.basic.includes:Includes": "includes",
    "evals.elsuite.basic.fuzzy_match:FuzzyMatch": "fuzzy",
    "evals.elsuite.basic.json_match:JsonMatch": "json",
    "evals.elsuite.modelgraded.classify:ModelBasedClassify": "modelgraded",
}
# the sampling each class hard-codes (their eval_sample), as the model's params
PARAMS = {"match": {"temperature": 0.0, "max_tokens": 500}, "fuzzy": {"temperature": 0.0}}


def import_openai_evals(
    registry: Path,
    *,
    data_dir: Path | None = None,
    model: str = "openai:gpt-4o-mini",
    evals: list[str] | None = None,
    samples: Path | None = None,
) -> list[Imported]:
    """One Imported per eval of the registry file (or of `evals`, when given)."""
    file = display_path(registry)
    try:
        text = registry.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read {registry}: {exc.strerror}") from None
    data, lines = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise SuiteError("an OpenAI Evals registry file is a YAML mapping", file=file, line=1)
    aliases = [k for k, v in data.items() if isinstance(v, dict) and "id" in v]
    unknown = sorted(set(evals or []) - set(aliases))
    if unknown:
        raise SuiteError(
            f"no eval '{unknown[0]}' in {file}", hint=f"its evals: {', '.join(aliases) or 'none'}"
        )
    chosen = [a for a in aliases if not evals or a in evals]
    if not chosen:
        raise SuiteError(f"{file} registers no eval (an entry with id:)", file=file, line=1)
    folder = data_dir if data_dir is not None else registry.resolve().parent.parent / "data"
    context = _Registry(file, data, lines, folder, model, samples)
    return [context.eval(alias) for alias in chosen]


class _Registry:
    def __init__(
        self,
        file: str,
        data: dict[str, Any],
        lines: LineMap,
        data_dir: Path,
        model: str,
        samples: Path | None,
    ) -> None:
        self.file, self.data, self.lines = file, data, lines
        self.data_dir, self.samples = data_dir, samples
        provider, _, name = model.partition(":")
        if not name:
            raise SuiteError(f"--model {model!r}: write it as provider:model (openai:gpt-4o-mini)")
        self.model = {"id": name.replace("/", "-"), "provider": provider, "model": name}

    def eval(self, alias: str) -> Imported:
        notes: list[Note] = []

        def note(loc: tuple[Any, ...], message: str) -> None:
            notes.append(Note(self.file, line_of(self.lines, loc), message))

        entry = self.data[alias]
        spec_key = str(entry["id"])
        spec = self.data.get(spec_key)
        if not isinstance(spec, dict) or "class" not in spec:
            raise SuiteError(
                f"eval '{alias}' names the spec '{spec_key}', which the file does not define",
                file=self.file,
                line=line_of(self.lines, (alias, "id")),
            )
        args = dict(spec.get("args") or {})
        kind = CLASSES.get(str(spec["class"]))
        rows = self.rows(alias, spec_key, args)
        if kind == "match" and args.get("num_few_shot"):
            rows = self.few_shot(rows, args, (spec_key, "args"))
        params: dict[str, Any] = dict(PARAMS.get(kind or "", {}))
        if "max_tokens" in args:
            params["max_tokens"] = args["max_tokens"]
        if kind == "modelgraded":
            params.update(args.get("sample_kwargs") or {})
        model: dict[str, Any] = {**self.model, **({"params": params} if params else {})}
        suite: dict[str, Any] = {"name": alias}
        if entry.get("description"):
            suite["description"] = str(entry["description"])
        suite.update(
            dataset=f"{slug(alias)}.jsonl",
            prompts={"sample": {"from_row": "input"}},
            models=[model],
        )
        if kind is None:
            note(
                (spec_key, "class"),
                f"the class {spec['class']} has no evalkit equivalent: the"
                " suite runs the samples without scoring them; add metrics:",
            )
        elif kind == "modelgraded":
            suite["graders"] = self.graders(args, rows, (spec_key, "args"), note)
        else:
            suite["metrics"] = _metrics(kind, args)
        known = {"samples_jsonl", "max_tokens", "num_few_shot", "few_shot_jsonl", "ignore_case"}
        known |= {"modelgraded_spec", "modelgraded_spec_args", "eval_type", "sample_kwargs"}
        known |= {"metaeval", "multicomp_n"}  # the graders' own notes cover them
        for key in sorted(set(args) - known):
            note((spec_key, "args", key), f"args.{key} is not imported")
        return Imported(
            name=slug(alias), suite=suite, rows=rows, dataset=f"{slug(alias)}.jsonl", notes=notes
        )

    def rows(self, alias: str, spec_key: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        relpath = args.get("samples_jsonl")
        if not relpath and self.samples is not None:
            return read_samples(self.samples)  # TestMatch & co. make theirs in Python
        if not relpath:
            raise SuiteError(
                f"eval '{alias}' has no samples_jsonl (its samples are made in Python)",
                file=self.file,
                line=line_of(self.lines, (spec_key, "class")),
                hint="write them as a JSONL file and pass it with --samples FILE",
            )
        path = self.data_dir / str(relpath)
        if not path.is_file():
            raise SuiteError(
                f"samples file not found: {path}",
                file=self.file,
                line=line_of(self.lines, (spec_key, "args", "samples_jsonl")),
                hint="point --data-dir at the registry's data folder (evals/registry/data)",
            )
        return read_samples(path)

    def few_shot(
        self, rows: list[dict[str, Any]], args: dict[str, Any], loc: tuple[Any, ...]
    ) -> list[dict[str, Any]]:
        """Match's few-shot prompt, made once here: input[:-1] + shots' `sample` + input[-1:]."""
        shots = read_samples(self.data_dir / str(args.get("few_shot_jsonl", "")), "sample")
        extra = [m for shot in shots[: int(args["num_few_shot"])] for m in shot.get("sample", [])]
        out = []
        for row in rows:
            prompt = row.get("input")
            if not isinstance(prompt, list):
                line = line_of(self.lines, loc)
                raise SuiteError("few-shot needs chat samples", file=self.file, line=line)
            out.append({**row, "input": [*prompt[:-1], *extra, *prompt[-1:]]})
        return out

    def graders(
        self, args: dict[str, Any], rows: list[dict[str, Any]], loc: tuple[Any, ...], note: Any
    ) -> list[dict[str, Any]]:
        spec = str(args.get("modelgraded_spec", ""))
        judge = self.model["id"]  # OpenAI Evals grades with the last completion fn: the same model
        base = {"judge": judge, "input": INPUT}
        for key in ("metaeval", "multicomp_n"):
            if args.get(key) not in (None, False, 1):
                note((*loc, key), f"args.{key} is not imported")
        if spec == "fact":
            lists = any(isinstance(r.get("ideal"), list) for r in rows)
            reference = IDEAL_TEXT if lists else IDEAL
            return [{"type": "factuality", "name": "fact", **base, "reference": reference}]
        if spec == "closedqa":
            criteria = (args.get("modelgraded_spec_args") or {}).get("criteria") or {}
            if not criteria:
                note((*loc, "modelgraded_spec"), "closedqa without criteria: nothing to grade")
            return [
                {"type": "rubric", "name": slug(str(name)), **base, "rubric": str(text)}
                for name, text in criteria.items()
            ]
        note(
            (*loc, "modelgraded_spec"),
            f"the modelgraded spec '{spec}' has no built-in"
            " equivalent: write a rubric grader with its prompt",
        )
        return []


def _metrics(kind: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "match":
        return [{"type": "starts_with", "name": "accuracy", "value": IDEAL, "strip": False}]
    if kind == "includes":
        metric: dict[str, Any] = {"type": "contains", "name": "accuracy", "value": IDEAL}
        return [{**metric, "ignore_case": True}] if args.get("ignore_case") else [metric]
    if kind == "fuzzy":
        return [
            {"type": "fuzzy_match", "name": "accuracy", "reference": IDEAL},
            {"type": "token_f1", "name": "f1_score", "reference": IDEAL},
        ]
    return [{"type": "equals", "name": "accuracy", "value": IDEAL, "json": True}]


def read_samples(path: Path, key: str = "input") -> list[dict[str, Any]]:
    """A samples JSONL file, each row with `key`; a Git LFS pointer (the registry's data before
    `git lfs pull`) is refused."""
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SuiteError(f"cannot read {file}: {exc.strerror}") from None
    if text.startswith("version https://git-lfs"):
        raise SuiteError(
            f"{file} is a Git LFS pointer, not the samples",
            file=file,
            line=1,
            hint="fetch the data first: git lfs pull (in the evals repository)",
        )
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"invalid JSON: {exc.msg}", file=file, line=number) from None
        if not isinstance(row, dict) or key not in row:
            raise SuiteError(f"a sample is an object with '{key}'", file=file, line=number)
        rows.append(row)
    if not rows:
        raise SuiteError(f"{file} has no samples", file=file)
    return rows
