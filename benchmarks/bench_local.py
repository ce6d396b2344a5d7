"""Benchmark the local transformers provider against a bare batched `generate` script.

The workload is the demo suite's (suites/capitals.yaml): 30 countries x 2 prompt variants (a
terse prompt of about 42 tokens, a few-shot one of about 78 tokens with the chat template), the
embedded SmolLM2-135M-Instruct, greedy, `--max-tokens` new tokens. Every measured run is a
fresh subprocess that loads the model before its clock starts, so model loading and imports
are excluded for all of them:

- bare, batched: the 60 prompts in the order the engine sends them (example-major, the two
  variants interleaved), left-padded batches of 8, one `model.generate` per batch;
- bare, sorted: the same, the prompts sorted by token length first (the best batching of 8);
- bare, one by one: 60 `generate` calls of one prompt;
- evalkit: `run_suite()` on the suite (provider `transformers`, batch_size 8, no tracking, a
  fresh response cache) at concurrency 8 (the demo's) and 16; the clock covers the whole call.

Runs alternate within each round; the table gives medians and the best run of each (on a
shared machine the best run is the least disturbed one), wall and CPU time (the process's,
all threads: the work done, less sensitive to other load than wall time). Outputs are
compared with the bare batched run's (greedy: they should be equal).

    python benchmarks/bench_local.py                   # 3 rounds, the README's table
    python benchmarks/bench_local.py --rounds 1 --json benchmarks/results-local.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "datasets" / "capitals.jsonl"
BATCH = 8
SYSTEM = "You answer geography questions with the name of the capital city only, nothing else."
SHOTS = [
    {"role": "user", "content": "What is the capital of Sweden?"},
    {"role": "assistant", "content": "Stockholm"},
    {"role": "user", "content": "What is the capital of Argentina?"},
    {"role": "assistant", "content": "Buenos Aires"},
]


def rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines()]


def prompts() -> list[tuple[str, str, list[dict[str, str]]]]:
    """(example id, variant, messages) in the engine's order: example-major, variants inner."""
    out = []
    for row in rows():
        terse = f"What is the capital of {row['country']}? Answer in one word."
        fewshot = [
            {"role": "system", "content": SYSTEM},
            *SHOTS,
            {"role": "user", "content": f"What is the capital of {row['country']}?"},
        ]
        out.append((row["id"], "terse", [{"role": "user", "content": terse}]))
        out.append((row["id"], "fewshot", fewshot))
    return out


def write_suite(
    folder: Path, model: Path, concurrency: int, max_tokens: int, threads: int | None
) -> Path:
    """The demo suite's prompts (as in prompts()) with the model folder and settings given."""
    fewshot = [{"role": "system", "content": SYSTEM}, *SHOTS]
    fewshot.append({"role": "user", "content": "What is the capital of {{ country }}?"})
    options: dict[str, Any] = {"batch_size": BATCH, **({"threads": threads} if threads else {})}
    suite = {
        "name": "bench-local",
        "dataset": {"path": str(DATASET), "id_field": "id"},
        "prompts": {
            "terse": "What is the capital of {{ country }}? Answer in one word.",
            "fewshot": fewshot,
        },
        "models": [
            {
                "id": "local",
                "provider": "transformers",
                "model": str(model),
                "params": {"max_tokens": max_tokens, "temperature": 0},
                "options": options,
            }
        ],
        "metrics": [{"icontains": "{{ capital }}"}],
        "concurrency": concurrency,
        "tracking": False,
    }
    path = folder / f"local-c{concurrency}.yaml"
    path.write_text(json.dumps(suite, indent=2), encoding="utf-8")  # JSON is YAML
    return path


# --- children: one measured run each ----------------------------------------------------------


def load(folder: Path, threads: int | None) -> Any:
    """The model as evalkit loads it (shared with the provider in the same process)."""
    from evalkit.providers.local.loader import load_model, set_threads

    loaded = load_model(folder)
    set_threads(loaded.torch, threads)  # the same thread count as the provider's
    return loaded


def child_bare(folder: Path, mode: str, max_tokens: int, threads: int | None) -> dict[str, Any]:
    loaded = load(folder, threads)
    tok = loaded.tokenizer
    items = prompts()
    texts = [
        tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for *_, m in items
    ]
    order = list(range(len(items)))
    if mode == "sorted":
        order.sort(key=lambda i: len(tok(texts[i], add_special_tokens=False)["input_ids"]))
    size = 1 if mode == "one" else BATCH
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    outputs: dict[str, str] = {}
    tokens = 0
    start, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        replies = generate(loaded, [texts[i] for i in batch], max_tokens)
        for i, (text, count) in zip(batch, replies, strict=True):
            outputs[f"{items[i][0]}|{items[i][1]}"] = text
            tokens += count
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    sizes = [len(b) for b in batches]
    return {"wall": wall, "cpu": cpu, "tokens": tokens, "sizes": sizes, "outputs": outputs}


def generate(loaded: Any, texts: list[str], max_tokens: int) -> list[tuple[str, int]]:
    """One left-padded greedy batch; each reply cut at the first end-of-sequence token."""
    torch, tok = loaded.torch, loaded.tokenizer
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    config = loaded.transformers.GenerationConfig(
        max_new_tokens=max_tokens,
        do_sample=False,
        pad_token_id=loaded.pad_id,
        eos_token_id=sorted(loaded.eos_ids),
    )
    with torch.inference_mode():
        out = loaded.model.generate(**enc, generation_config=config)
    replies = []
    for ids in out[:, enc["input_ids"].shape[1] :].tolist():
        stops = [i for i, t in enumerate(ids) if t in loaded.eos_ids or t == loaded.pad_id]
        end = stops[0] if stops else len(ids)
        replies.append((tok.decode(ids[:end], skip_special_tokens=True).strip(), end))
    return replies


def child_evalkit(folder: Path, suite: Path, work: Path, threads: int | None) -> dict[str, Any]:
    from evalkit.api import RunOptions, run_suite
    from evalkit.providers.local import batcher

    load(folder, threads)
    made: list[Any] = []
    original = batcher.Batcher.__init__

    def recording(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    batcher.Batcher.__init__ = recording  # type: ignore[method-assign]
    options = RunOptions(runs_dir=work / "runs", cache_path=work / "cache.sqlite", tracking=False)
    start, cpu = time.perf_counter(), time.process_time()
    result = run_suite(suite, options)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    records = [json.loads(line) for line in (result.run_dir / "results.jsonl").open()]
    outputs = {f"{r['example_id']}|{r['variant']}": r["output"] for r in records}
    tokens = sum(r["usage"]["output_tokens"] for r in records)
    assert not any(r["error"] for r in records), [r["error"] for r in records if r["error"]]
    sizes = [s for b in made for s in b.sizes]
    return {"wall": wall, "cpu": cpu, "tokens": tokens, "sizes": sizes, "outputs": outputs}


def run_child(args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "EVALKIT_NO_TRACKING": "1", "PYTHONHASHSEED": "0"}
    command = [sys.executable, __file__, "--child", *args]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def child_main(argv: list[str]) -> None:
    kind, folder, max_tokens, threads_arg, *rest = argv
    threads = int(threads_arg) or None
    if kind == "evalkit":
        result = child_evalkit(Path(folder), Path(rest[0]), Path(tempfile.mkdtemp()), threads)
    else:
        result = child_bare(Path(folder), kind, int(max_tokens), threads)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# --- the comparison ---------------------------------------------------------------------------


def model_folder() -> Path:
    """The converted default model (converted once into the evalkit cache if needed)."""
    from evalkit.providers.local.files import local_folder, resolve_model_path

    return local_folder(resolve_model_path(None, ROOT))


def measure(rounds: int, max_tokens: int, threads: int | None) -> dict[str, list[dict[str, Any]]]:
    folder = model_folder()
    work = Path(tempfile.mkdtemp(prefix="bench-local-"))
    suites = {c: write_suite(work, folder, c, max_tokens, threads) for c in (8, 16)}
    plan = [
        ("bare batched", ["batched"]),
        ("evalkit C=8", ["evalkit", "", str(suites[8])]),
        ("bare sorted", ["sorted"]),
        ("evalkit C=16", ["evalkit", "", str(suites[16])]),
        ("bare one by one", ["one"]),
    ]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in plan}
    for round_ in range(rounds):
        for name, (kind, *rest) in plan:
            args = [kind, str(folder), str(max_tokens), str(threads or 0), *[r for r in rest if r]]
            runs[name].append(run_child(args))
            print(f"round {round_ + 1}: {name}: {runs[name][-1]['wall']:.2f} s", flush=True)
    return runs


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    floor = statistics.median(r["wall"] for r in runs["bare batched"])
    cpu_floor = statistics.median(r["cpu"] for r in runs["bare batched"])
    reference = runs["bare batched"][0]["outputs"]
    table = {}
    for name, results in runs.items():
        wall = statistics.median(r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        tokens = results[0]["tokens"]
        same = sum(results[0]["outputs"].get(k) == v for k, v in reference.items())
        table[name] = {
            "wall_s": round(wall, 2),
            "best_wall_s": round(min(r["wall"] for r in results), 2),
            "cpu_s": round(cpu, 2),
            "tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1),
            "vs_bare_batched": round(wall / floor, 3),
            "best_vs_bare_batched": round(
                min(r["wall"] for r in results) / min(r["wall"] for r in runs["bare batched"]), 3
            ),
            "cpu_vs_bare_batched": round(cpu / cpu_floor, 3),
            "batches": len(results[0]["sizes"]),
            "batch_sizes": results[0]["sizes"],
            "outputs_equal_to_bare_batched": f"{same}/{len(reference)}",
            "runs_s": [round(r["wall"], 2) for r in results],
            "peak_mb": round(statistics.median(r["peak_mb"] for r in results)),
        }
    one = table["bare one by one"]["wall_s"]
    table["one_by_one_over_batched"] = round(one / table["bare batched"]["wall_s"], 2)
    return table


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per scenario (medians)")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument(
        "--threads", type=int, help="torch threads for every run (default: as evalkit picks)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": load_average(), "python": sys.version.split()[0]}
    report["settings"] = {"max_tokens": args.max_tokens, "threads": args.threads, "batch": BATCH}
    report["results"] = summarise(measure(args.rounds, args.max_tokens, args.threads))
    report["machine_after"] = load_average()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
