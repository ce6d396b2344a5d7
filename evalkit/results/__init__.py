"""The run store: runs/<run_id>/ holds run.json, suite.yaml, results.jsonl and summary.json."""
