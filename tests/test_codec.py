"""The JSON codec behaves the same with the stdlib and with orjson (the speedups extra)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agencyaccess_async import Link, Response, _json, parse_response
from agencyaccess_async._converter import CONVERTER

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


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"]


@given(value=_JSON_VALUES)
def test_stdlib_dumps_writes_what_the_json_encoder_writes(value: Any) -> None:
    """The prebuilt C encoder gives the bytes of ``JSONEncoder.encode`` with the same options."""
    reference = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert _json._std_dumps(value) == reference.encode(value).encode("utf-8")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"x": [float("-inf")]}, {1j: 1}])
def test_stdlib_dumps_refuses_what_the_json_encoder_refuses(value: Any) -> None:
    """Numbers JSON cannot carry, and keys it cannot write, raise the same error type."""
    reference = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    with pytest.raises((TypeError, ValueError)) as expected:
        reference.encode(value)
    with pytest.raises(type(expected.value)):
        _json._std_dumps(value)


@given(
    value=st.dictionaries(st.text(), _JSON_VALUES, max_size=4), encoding=st.sampled_from(_ENCODINGS)
)
def test_stdlib_loads_reads_what_json_loads_reads(value: dict[str, Any], encoding: str) -> None:
    """In any encoding ``json.loads`` detects, with or without a BOM, the answer is its answer."""
    try:
        body = json.dumps(value, ensure_ascii=False).encode(encoding)
    except UnicodeEncodeError:  # a lone surrogate: not text in any of these encodings
        return
    assert _json._std_loads(body) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [b'{"a":"\xed\xa0\x80"}', b"{ }", b"{", b"{\x00}", b"\xff{}", b"{} \t\r\n", b"{}x",
     b"{} {}", b"{}\x0c", b'{"a":1,}'],
)  # fmt: skip
def test_stdlib_loads_fails_or_reads_as_json_loads_does(body: bytes) -> None:
    """Odd bytes (a UTF-8-encoded surrogate, a NUL, a bad start or end) end as ``json.loads``
    ends."""
    try:
        expected: Any = json.loads(body)
    except ValueError as error:
        with pytest.raises(type(error)):
            _json._std_loads(body)
    else:
        assert _json._std_loads(body) == expected
