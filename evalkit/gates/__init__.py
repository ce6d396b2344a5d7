"""Release gates: thresholds, run health, flakiness and baseline regressions -> a verdict.

    schema.py      the `gates:` section of a suite (pydantic; imported by evalkit.suite.schema)
    values.py      result records -> one value per example (repeats averaged) or per call
    estimates.py   estimates with intervals for threshold gates (Wilson, t, order statistics)
    regression.py  paired tests against a baseline run, Holm-adjusted across all of them
    evaluate.py    decide(gates, records, ...) -> Verdict; the decision rules are documented there
    verdict.py     GateResult / Verdict, written into summary.json as plain JSON
    baseline.py    named baselines (runs/baselines.json, and MLflow via the tracking plug-in)
    apply.py       check gates before a run, decide and store them after it, exit codes

Nothing is imported here: evalkit.suite.schema imports gates.schema while it loads.
"""
