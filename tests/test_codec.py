"""The JSON codec behaves the same with the stdlib and with orjson (the speedups extra)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agencyaccess_async import Link, _json
from agencyaccess_async._converter import CONVERTER
from agencyaccess_async.lowlevel import Response, parse_response

from .helpers import link_json

pytestmark = pytest.mark.unit

try:
    import orjson  # noqa: F401

    CODECS = ["json", "orjson"]
except ImportError:  # pragma: no cover - depends on the environment
    CODECS = ["json"]


@pytest.fixture(params=CODECS)
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    _json.use_stdlib(request.param == "json")
    yield request.param
    _json.use_stdlib(False)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [True, False, None], "c": "text"},
        {"unicode": "Café \u2013 東京 \u2013 🚀", "escape": 'quote " and \\ backslash \n newline'},
        {"nested": {"deep": [{"x": 1.5}, {"y": -2}]}, "empty": {}, "list": []},
    ],
)
def test_round_trip_and_compact_utf8(codec: str, value: dict[str, Any]) -> None:
    """dumps gives compact UTF-8 bytes and loads reads them back, in either codec."""
    encoded = _json.dumps(value)
    assert isinstance(encoded, bytes)
    assert _json.loads(encoded) == value
    assert b": " not in encoded and b", " not in encoded
    assert "Café".encode() in _json.dumps({"x": "Café"})


def test_same_bytes_from_both_codecs(codec: str) -> None:
    """Both codecs produce the same bytes for request bodies."""
    body = {
        "clientID": "cl_1",
        "name": "Café",
        "metadata": {"k": "v"},
        "n": 3,
        "ok": True,
        "none": None,
    }
    assert (
        _json.dumps(body)
        == b'{"clientID":"cl_1","name":"Caf\xc3\xa9","metadata":{"k":"v"},"n":3,"ok":true,"none":null}'
    )


def test_decoding_a_link_envelope(codec: str) -> None:
    """A full answer decodes identically with either codec."""
    envelope = parse_response(Response.json({"error": False, "data": link_json()}))
    link = CONVERTER.structure(envelope["data"], Link)
    assert link.link_id == "ln_1"
    assert codec == _json.CODEC


def test_bad_json_is_a_protocol_error_in_both(codec: str) -> None:
    """Truncated JSON is a ProtocolError whichever codec reads it."""
    from agencyaccess_async import ProtocolError

    with pytest.raises(ProtocolError):
        parse_response(Response(200, {}, b'{"error": false, "data": {'))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"x": [float("-inf")]}, {1j: 1}])
def test_stdlib_dumps_refuses_what_the_json_encoder_refuses(value: Any) -> None:
    """Numbers JSON cannot carry, and keys it cannot write, raise the same error type."""
    reference = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    with pytest.raises((TypeError, ValueError)) as expected:
        reference.encode(value)
    with pytest.raises(type(expected.value)):
        _json._std_dumps(value)
