"""Reporters: the terminal comparison table, Markdown and JUnit XML."""
