"""Deterministic metrics registered by name; see base.py."""
