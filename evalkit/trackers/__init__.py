"""Trackers: subscribers that receive finished runs (MLflow is one). See base.py."""
