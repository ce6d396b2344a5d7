"""Translating the openai SDK's errors into ProviderError: retryable or not, Retry-After, hints.

Every message is scrubbed of the API key (a proxy may echo it back) and kept short.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from evalkit.errors import ProviderError

if TYPE_CHECKING:  # the SDK is imported by the first call, not by loading the provider
    import openai

MESSAGE_LIMIT = 300
# The SDK retries these statuses itself; we mirror its judgement for the engine's retries.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def malformed(detail: str) -> ProviderError:
    return ProviderError(
        f"openai: malformed response: {detail}",
        retryable=True,
        hint="a proxy or the server answered with something that is not a chat completion",
    )


def map_error(
    exc: openai.APIError, secrets: list[str], timeout: float | None = None
) -> ProviderError:
    """Translate an SDK error; secrets are scrubbed from every message."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, secrets)
    if isinstance(exc, openai.APITimeoutError) and type(exc.__cause__).__name__ == "ConnectTimeout":
        # the aiohttp transport reports a refused connection as a connect timeout, at once
        cause = scrub(str(exc.__cause__), secrets)
        return ProviderError(f"openai: connection error: {cause}", retryable=True)
    if isinstance(exc, openai.APITimeoutError):
        after = f" after {timeout:g}s" if timeout else ""
        return ProviderError(f"openai: the request timed out{after}", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = scrub(str(exc.__cause__ or exc), secrets)
        return ProviderError(f"openai: connection error: {cause}", retryable=True)
    if isinstance(exc, openai.APIResponseValidationError):
        return malformed(scrub(exc.message, secrets))
    return ProviderError(f"openai: {scrub(str(exc), secrets)}", retryable=True)


def _status_error(exc: openai.APIStatusError, secrets: list[str]) -> ProviderError:
    status = exc.status_code
    body = exc.body
    detail = body.get("message") if isinstance(body, dict) else None
    text = scrub(str(detail or exc.message), secrets)
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return ProviderError(
        f"openai: HTTP {status}: {text}",
        retryable=retryable,
        retry_after=retry_after(exc.response.headers),
        status=status,
        hint=_HINTS.get(status),
    )


_HINTS = {
    401: "check the API key in the environment variable named by options.api_key_env",
    403: "the key lacks access to this model or endpoint",
    404: "check the model name and options.base_url",
}


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 3] + "..."
    return text


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from retry-after-ms, or Retry-After (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
