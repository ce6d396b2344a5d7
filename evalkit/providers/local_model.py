"""Kept for `python -m evalkit.providers.local_model` and older imports: see local/files.py."""

from evalkit.providers.local.files import (
    DEFAULT_MODEL,
    MARKER,
    ResolvedModel,
    cache_root,
    converted_path,
    default_gguf_path,
    ensure_converted,
    import_local_stack,
    is_converted,
    local_folder,
    main,
    prepare_default_model,
    resolve_model_path,
)

__all__ = [
    "DEFAULT_MODEL",
    "MARKER",
    "ResolvedModel",
    "cache_root",
    "converted_path",
    "default_gguf_path",
    "ensure_converted",
    "import_local_stack",
    "is_converted",
    "local_folder",
    "main",
    "prepare_default_model",
    "resolve_model_path",
]

if __name__ == "__main__":
    raise SystemExit(main())
