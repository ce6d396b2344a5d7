"""A refused login (HTTP 401/403) becomes one line naming the variables to check."""

from __future__ import annotations

import pytest

from evalkit.trackers.mlflow.auth import (
    CredentialsRefused,
    explain,
    plain_refusals,
    refusal_status,
)

URI = "http://mlflow.internal:5000"


class Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


class HttpError(Exception):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.response = Response(status)


class CodedError(Exception):
    def __init__(self, text: str, error_code: str) -> None:
        super().__init__(text)
        self.error_code = error_code


MLFLOW_401 = (
    "API request to endpoint /api/2.0/mlflow/experiments/get-by-name failed with error code"
    " 401 != 200. Response body: 'You are not authenticated. Please see ...'"
)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (RuntimeError(MLFLOW_401), 401),
        (CodedError("Permission denied", "PERMISSION_DENIED"), 403),
        (CodedError("who are you", "UNAUTHENTICATED"), 401),
        (HttpError("upload failed", 403), 403),
        (RuntimeError("401 Client Error: UNAUTHORIZED for url: http://x/artifacts"), 401),
        (RuntimeError("connection refused"), None),
        (CodedError("no such run", "RESOURCE_DOES_NOT_EXIST"), None),
    ],
)
def test_the_status_is_found_in_attributes_or_text(exc: Exception, status: int | None) -> None:
    assert refusal_status(exc) == status


def test_a_refusal_wrapped_in_another_error_is_still_found() -> None:
    try:
        try:
            raise RuntimeError(MLFLOW_401)
        except RuntimeError as inner:
            raise ValueError("logging failed") from inner
    except ValueError as outer:
        assert refusal_status(outer) == 401


def test_a_401_is_one_line_naming_the_variables() -> None:
    line = explain(RuntimeError(MLFLOW_401), URI)
    assert line == (
        f"MLflow at {URI} refused the credentials (HTTP 401): check MLFLOW_TRACKING_USERNAME"
        " / MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
    )
    assert "Response body" not in line


def test_a_403_says_the_permission_is_missing() -> None:
    line = explain(CodedError("Permission denied", "PERMISSION_DENIED"), URI)
    assert line.startswith(f"MLflow at {URI} denied access (HTTP 403)")


def test_other_errors_stay_as_they_were() -> None:
    assert explain(RuntimeError("tracking server x unreachable"), URI) == (
        "tracking server x unreachable"
    )
    with pytest.raises(KeyError), plain_refusals(URI):
        raise KeyError("other")
    with pytest.raises(CredentialsRefused, match="HTTP 401"), plain_refusals(URI):
        raise RuntimeError(MLFLOW_401)
