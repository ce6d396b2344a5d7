"""Small HTTP helpers the HTTP-based providers share (no SDK imported here)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 120.0  # seconds per call for remote providers


def is_loopback_url(url: str | None) -> bool:
    """True for http://127.0.0.1:8000/v1, http://localhost/..., http://[::1]/...: this machine."""
    host = urlsplit(str(url)).hostname if url else None
    if not host:
        return False
    if host in ("localhost", "0.0.0.0"):  # 0.0.0.0: how local servers often print their address
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
