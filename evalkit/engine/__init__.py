"""The run engine: scheduling, retries, the response cache and progress."""
