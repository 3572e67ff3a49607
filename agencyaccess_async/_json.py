"""The JSON codec: orjson when the ``speedups`` extra is installed, else the stdlib.

Both produce compact UTF-8 bytes and read bytes or str; behaviour is the same
either way (the test suite runs its codec tests against both).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

__all__ = ["CODEC", "dumps", "loads"]

_std_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_std_decoder = json.JSONDecoder()
_JSON_SPACE = " \t\n\r"  # what JSON allows around a value


def _c_encoder() -> Callable[[Any, int], list[str]] | None:
    """The C encoder that ``JSONEncoder.encode`` builds on every call, built once.

    Same arguments as ``_std_encoder``'s (saves ~0.8 us a call), but without
    the circular check: a payload that contains itself ends in a
    RecursionError, not a ValueError, and the request builder names the place
    either way. None where the C accelerator is missing.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it
        return None
    # markers, default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan
    encoder: Callable[[Any, int], list[str]] = make(
        None, _std_encoder.default, json.encoder.encode_basestring, None, ":", ",", False,
        False, False,
    )  # fmt: skip
    return encoder


_c_encode = _c_encoder()


def _std_dumps(obj: Any) -> bytes:
    if _c_encode is None:  # pragma: no cover - CPython always has the C encoder
        return _std_encoder.encode(obj).encode("utf-8")
    return "".join(_c_encode(obj, 0)).encode("utf-8")


def _std_loads(data: bytes | str) -> Any:
    """``json.loads``, without its encoding detection for a body that is plainly UTF-8.

    An object's first byte ``{`` followed by a non-zero byte is what
    ``json.detect_encoding`` calls UTF-8 (no BOM, not UTF-16 or 32): such a
    body is decoded as ``json.loads`` would (saves ~1 us). Anything else is
    ``json.loads``'s.
    """
    if type(data) is bytes and data[:1] == b"{" and data[1:2] != b"\x00":
        text = data.decode("utf-8", "surrogatepass")
        # raw_decode: no leading whitespace to skip; the rest checked here, not by regex.
        value, end = _std_decoder.raw_decode(text)
        if end == len(text) or not text[end:].strip(_JSON_SPACE):
            return value
    return json.loads(data)  # or json.loads's own error for extra data


dumps: Callable[[Any], bytes]
loads: Callable[[bytes | str], Any]

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    CODEC = "json"
    dumps = _std_dumps
    loads = _std_loads
else:  # pragma: no cover - depends on the environment
    CODEC = "orjson"
    dumps = orjson.dumps
    loads = orjson.loads


def use_stdlib(enabled: bool = True) -> None:
    """Switch the codec to the stdlib (``True``) or back to the fastest available (tests)."""
    global CODEC, dumps, loads
    if enabled:
        CODEC, dumps, loads = "json", _std_dumps, _std_loads
        return
    try:
        import orjson
    except ImportError:
        return
    CODEC, dumps, loads = "orjson", orjson.dumps, orjson.loads
