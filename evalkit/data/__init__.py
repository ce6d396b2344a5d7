"""Datasets: jsonl, csv, parquet and inline rows, each example with a stable id."""

from evalkit.data.loaders import (
    dataset_digest,
    dataset_name,
    dataset_source,
    load_dataset,
    load_examples,
)

__all__ = ["dataset_digest", "dataset_name", "dataset_source", "load_dataset", "load_examples"]
