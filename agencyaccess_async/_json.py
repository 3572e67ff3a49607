"""The JSON codec: orjson when the ``speedups`` extra is installed, else the stdlib.

Both produce compact UTF-8 bytes, refuse NaN and infinities, and read bytes
or str; behaviour is the same either way (the test suite runs its codec
tests against both).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["CODEC", "dumps", "loads", "use_stdlib"]

_std_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _std_dumps(obj: Any) -> bytes:
    return _std_encoder.encode(obj).encode("utf-8")


dumps: Callable[[Any], bytes]
loads: Callable[[bytes | str], Any]

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    CODEC = "json"
    dumps = _std_dumps
    loads = json.loads
else:  # pragma: no cover - depends on the environment
    CODEC = "orjson"
    dumps = orjson.dumps
    loads = orjson.loads


def use_stdlib(enabled: bool = True) -> None:
    """Switch the codec to the stdlib (``True``) or back to the fastest available (tests)."""
    global CODEC, dumps, loads
    if enabled:
        CODEC, dumps, loads = "json", _std_dumps, json.loads
        return
    try:
        import orjson
    except ImportError:
        return
    CODEC, dumps, loads = "orjson", orjson.dumps, orjson.loads
