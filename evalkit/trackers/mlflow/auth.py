"""A tracking server that refuses the login, said in one line instead of MLflow's exception.

MLflow reports a 401 as "API request to endpoint /api/2.0/mlflow/... failed with error code
401 != 200. Response body: '<the server's HTML or JSON>'" (and an artifact upload as a requests
"401 Client Error"). What the user must do is the same whichever request hit it, so every
MLflow error that leaves evalkit passes through `explain`:

    explain(exc, "http://mlflow.internal:5000")
    # 'MLflow at http://mlflow.internal:5000 refused the credentials (HTTP 401): check
    #  MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)'

No mlflow import: the status is read from the exception's attributes or its text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from evalkit.trackers.base import one_line

# MLflow's text for a non-JSON error response, and requests' raise_for_status text
_STATUS_TEXT = re.compile(r"error code (401|403)\b|\b(401|403) Client Error")
# MLflow's error codes for the two statuses (a JSON error body becomes a RestException)
_CODES = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403}


def refusal_status(exc: BaseException) -> int | None:
    """401 or 403 when the server refused the request's credentials, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the cause may hold the status
        seen.add(id(current))
        response = getattr(current, "response", None)
        status = getattr(response, "status_code", None)
        if status in (401, 403):
            return int(status)
        code = _CODES.get(str(getattr(current, "error_code", "")))
        if code is not None:
            return code
        found = _STATUS_TEXT.search(str(current))
        if found:
            return int(found.group(1) or found.group(2))
        current = current.__cause__ or current.__context__
    return None


def refused_message(status: int, uri: str) -> str:
    if status == 401:
        return (
            f"MLflow at {uri} refused the credentials (HTTP 401): check"
            " MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
        )
    # 403: the login worked, the user lacks a permission (basic-auth's default_permission)
    return (
        f"MLflow at {uri} denied access (HTTP 403): the user in MLFLOW_TRACKING_USERNAME needs"
        " EDIT permission on the experiment (ask the server's admin)"
    )


def explain(exc: BaseException, uri: str) -> str:
    """One line for any MLflow failure: the refusal said plainly, else the error itself."""
    status = refusal_status(exc)
    return refused_message(status, uri) if status is not None else one_line(exc)


class CredentialsRefused(RuntimeError):
    """The server refused the login: the message says which variables to check."""


@contextlib.contextmanager
def plain_refusals(uri: str) -> Iterator[None]:
    """Re-raise a refused login as CredentialsRefused with its one line; others unchanged."""
    try:
        yield
    except Exception as exc:
        status = refusal_status(exc)
        if status is None:
            raise
        raise CredentialsRefused(refused_message(status, uri)) from exc
