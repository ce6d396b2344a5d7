"""LLM judges (graders): rubric, closed_qa, factuality and pairwise.

A judge is another model call, made through the engine (cache, retries, rate limits, cost).
Item graders run as a scoring hook after the metrics; pairwise graders run after the run.
See docs/graders.md. This package's __init__ imports nothing heavy: the suite schema imports
evalkit.suite.graders at load time.
"""
