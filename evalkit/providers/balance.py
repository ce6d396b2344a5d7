"""Spread one model's calls over several endpoints that serve it: the least busy one first.

    pool = LeastInFlight([Endpoint(url, client) for url, client in clients])
    endpoint = pool.acquire()        # the endpoint with the fewest calls in flight
    try: ... await endpoint.client.post(...) ...
    except ...: pool.failed(endpoint)   # a connection error, a timeout, a 429 or a 5xx
    finally: pool.release(endpoint)

Least in-flight adapts to replicas of different speed (a slow one holds its calls longer, so it
is picked less) without measuring anything; ties go to the endpoint with fewer calls so far,
so a sequential run goes round-robin. An endpoint that just failed is left out for
`cooldown_s` (unless all have failed), so the engine's retry of that call goes elsewhere.
Nothing here knows HTTP: the openai provider keeps one SDK client per endpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

COOLDOWN_S = 5.0


@dataclass(eq=False)
class Endpoint:
    url: str | None  # None: the SDK's default (api.openai.com, or the Azure endpoint)
    client: Any
    in_flight: int = 0
    calls: int = 0
    failures: int = 0
    failed_until: float = 0.0


class LeastInFlight:
    def __init__(self, endpoints: list[Endpoint], cooldown_s: float = COOLDOWN_S) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint")
        self.endpoints = endpoints
        self.cooldown_s = cooldown_s

    def acquire(self) -> Endpoint:
        endpoints = self.endpoints
        if len(endpoints) == 1:  # the common case costs nothing
            best = endpoints[0]
        else:
            now = time.monotonic()
            healthy = [e for e in endpoints if e.failed_until <= now] or endpoints
            best = min(healthy, key=lambda e: (e.in_flight, e.calls))
        best.in_flight += 1
        best.calls += 1
        return best

    def release(self, endpoint: Endpoint) -> None:
        endpoint.in_flight -= 1

    def failed(self, endpoint: Endpoint) -> None:
        endpoint.failures += 1
        endpoint.failed_until = time.monotonic() + self.cooldown_s

    def calls(self) -> dict[str | None, int]:
        """Calls sent to each endpoint so far (tests and logs read it)."""
        return {e.url: e.calls for e in self.endpoints}
