"""Tier 1: the sans-I/O core, without an event loop."""

from __future__ import annotations

import email.utils

import pytest
from yarl import URL

from agencyaccess_async import (
    APIError,
    AuthenticationError,
    CapabilityError,
    InvalidRequestError,
    InvalidServiceError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from agencyaccess_async._errors import (
    AgencyAccountError,
    IntakeFormNotEnabledError,
    ProspectAccessError,
)
from agencyaccess_async.lowlevel import Response, build_request, parse_response, parse_retry_after

from .helpers import SECRET_KEY

pytestmark = pytest.mark.unit


def test_build_request_is_a_json_post_with_request_id() -> None:
    """build_request posts compact JSON and adds the call's request id."""
    request = build_request(
        "clients.retrieve",
        URL("https://api.example/api/clients/retrieve"),
        {"clientID": "cl_1"},
        headers={"X-Auth": SECRET_KEY},
        request_id="rid-1",
    )
    assert request.method == "POST"
    assert request.body == b'{"clientID":"cl_1"}'
    assert request.headers["X-Request-ID"] == "rid-1"
    assert request.operation == "clients.retrieve"
    assert SECRET_KEY not in repr(request) and SECRET_KEY not in str(request)


def test_success_returns_envelope() -> None:
    """A 200 with error false and data returns the whole envelope."""
    envelope = parse_response(Response.json({"error": False, "data": [], "nextCursor": "c"}))
    assert envelope["nextCursor"] == "c"


@pytest.mark.parametrize("status", [200, 400, 500])
def test_error_true_is_a_failure_on_any_status(status: int) -> None:
    """ "error": true is an APIError whatever the HTTP status."""
    response = Response.json({"error": True, "msg": "Something broke"}, status=status)
    with pytest.raises(APIError) as info:
        parse_response(response, operation="clients.create")
    assert info.value.status == status
    assert info.value.message == "Something broke"
    assert info.value.operation == "clients.create"


def test_html_502_is_a_server_error_with_excerpt() -> None:
    """A proxy's HTML 502 page is a ServerError quoting the body, not a JSON crash."""
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    response = Response(502, {"Content-Type": "text/html", "X-Request-ID": "r1"}, html)
    with pytest.raises(ServerError) as info:
        parse_response(response)
    assert info.value.status == 502
    assert "502 Bad Gateway" in str(info.value)
    assert info.value.request_id == "r1"


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 200), (b'{"error": false, "data": {', 200), (b"[1, 2]", 200), (b"<html>", 404)],
)
def test_non_envelope_bodies_are_protocol_errors(body: bytes, status: int) -> None:
    """Empty, truncated, non-object or HTML bodies below 500 are ProtocolErrors."""
    with pytest.raises(ProtocolError) as info:
        parse_response(Response(status, {}, body))
    assert info.value.status == status


def test_2xx_without_data_is_a_protocol_error() -> None:
    """A success envelope must carry data."""
    with pytest.raises(ProtocolError, match="without 'data'"):
        parse_response(Response.json({"error": False}))


def test_missing_error_flag_is_a_protocol_error() -> None:
    """An object without a boolean error flag is not the envelope."""
    with pytest.raises(ProtocolError):
        parse_response(Response.json({"data": {}}))


@pytest.mark.parametrize(
    ("status", "msg", "cls"),
    [
        (400, "Invalid field email: must be a valid e-mail address", InvalidRequestError),
        (400, "Requested service is invalid. requestedServices.google: x", InvalidServiceError),
        (400, "Connected agency account is missing or expired. acct_1", AgencyAccountError),
        (400, "Intake form is requested but not enabled.", IntakeFormNotEnabledError),
        (400, "Prospect clients may only request read-only access: a.b", ProspectAccessError),
        (400, "Some future wording", InvalidRequestError),
        (401, "Missing or invalid API key.", AuthenticationError),
        (403, "Key does not have the required capability. links:create", CapabilityError),
        (404, "Client does not exist. cl_1", NotFoundError),
        (413, "Request body too large", InvalidRequestError),
        (422, "Unprocessable", InvalidRequestError),
        (429, "Rate limit exceeded", RateLimitError),
        (500, "boom", ServerError),
        (503, "Service unavailable", ServerError),
        (418, "teapot", APIError),
    ],
)
def test_each_status_maps_to_its_error_class(status: int, msg: str, cls: type) -> None:
    """The status (refined by the contract's messages) picks the error class."""
    with pytest.raises(APIError) as info:
        parse_response(Response.json({"error": True, "msg": msg}, status=status))
    assert type(info.value) is cls


def test_error_details_path_capability_and_retry_after() -> None:
    """Errors expose the path, the capability and Retry-After they carry."""
    invalid = _error(400, "Invalid field requestedServices.google.googleAds.accessLevel: required")
    assert isinstance(invalid, InvalidRequestError)
    assert invalid.path == "requestedServices.google.googleAds.accessLevel"
    capability = _error(403, "Key does not have the required capability. clients:delete")
    assert isinstance(capability, CapabilityError)
    assert capability.capability == "clients:delete"
    limited = _error(429, "Rate limit exceeded", {"Retry-After": "2"})
    assert isinstance(limited, RateLimitError)
    assert limited.retry_after == 2.0


def test_errors_as_200_are_classified_from_headers_and_message() -> None:
    """A 200 with error true and Retry-After is a RateLimitError; otherwise a best guess."""
    assert isinstance(_error(200, "Rate limit exceeded", {"Retry-After": "1"}), RateLimitError)
    assert isinstance(_error(200, "Client does not exist. cl_9"), NotFoundError)
    assert isinstance(_error(200, "Missing or invalid API key."), AuthenticationError)
    assert type(_error(200, "Something unheard of")) is APIError


def _error(status: int, msg: str, headers: dict[str, str] | None = None) -> APIError:
    with pytest.raises(APIError) as info:
        parse_response(Response.json({"error": True, "msg": msg}, status=status, headers=headers))
    return info.value


def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After reads delta-seconds and HTTP dates; junk and the past give safe values."""
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_response_headers_are_case_insensitive() -> None:
    """Response headers given as a plain dict are looked up case-insensitively."""
    response = Response(200, {"x-request-id": "abc"}, b"{}")
    assert response.request_id == "abc"
    assert response.headers["X-REQUEST-ID"] == response.headers["x-request-id"] == "abc"
