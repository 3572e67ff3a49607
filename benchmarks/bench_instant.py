"""The SDK's own CPU per call, with no network: over a transport that answers at once.

``bench_layers.py`` measures against a real server, where every line costs two
to three times what it costs alone and runs differ by ±10 µs. This measures the
code itself, in one task, in interleaved rounds of ``--calls`` calls each (CPU
µs per call, medians with the min-max spread):

- ``json``: ``json.dumps`` of the body and ``json.loads`` of the answer: what raw
  aiohttp's own call does besides I/O;
- ``promises``: that, plus what the SDK promises on ``clients.create`` that is
  not I/O: a fresh idempotency key in ``metadata`` and a typed ``Client`` out
  (the non-I/O part of ``bench_layers.py``'s ``raw+promises``);
- ``sdk``: ``session.clients.create`` over ``MockTransport`` (``tracing=False``);
- ``sdk+tracing``: the same with OpenTelemetry on (with only opentelemetry-api
  installed and no provider set: the no-op path; skipped without the package).

The answer carries rate-limit headers with a budget too large to wait for, so
the limiter does all its work and never sleeps.

    python benchmarks/bench_instant.py
    python benchmarks/bench_instant.py --rounds 15 --calls 50000
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

from multidict import CIMultiDict, CIMultiDictProxy

import agencyaccess_async as aa
from agencyaccess_async._converter import CONVERTER
from agencyaccess_async._models import IDEMPOTENCY_METADATA_KEY, Client
from agencyaccess_async.lowlevel import Response
from agencyaccess_async.testing import MockTransport

PAYLOAD = {"name": "Acme Bakery", "email": "ops@acme.example"}
HEADERS = CIMultiDictProxy(
    CIMultiDict(
        {
            "Content-Type": "application/json",
            "X-RateLimit-Limit": "100000000",
            "X-RateLimit-Remaining": "99999999",
            "X-RateLimit-Reset": "1",
            "X-Request-ID": "req_1",
            "Date": "Tue, 08 Dec 2026 02:00:00 GMT",
        }
    )
)
BODY = json.dumps(
    {
        "error": False,
        "data": {
            "clientID": "cl_1", "name": PAYLOAD["name"], "email": PAYLOAD["email"],
            "type": "client", "language": "en",
            "metadata": {IDEMPOTENCY_METADATA_KEY: "0123456789abcdef0123456789abcdef"},
            "createdAt": "2026-12-08T02:00:00Z", "updatedAt": "2026-12-08T02:00:00Z",
        },
    }
).encode()  # fmt: skip

One = Callable[[], Awaitable[object]]


async def bare_json() -> None:
    json.dumps(PAYLOAD).encode()
    if json.loads(BODY)["error"]:
        raise RuntimeError("error")


async def promises() -> None:
    metadata = {IDEMPOTENCY_METADATA_KEY: secrets.token_hex(16)}
    json.dumps({**PAYLOAD, "metadata": metadata}).encode()
    envelope = json.loads(BODY)
    if envelope["error"]:
        raise RuntimeError("error")
    CONVERTER.structure(envelope["data"], Client)


async def measure(rounds: int, calls: int) -> dict[str, list[float]]:
    """CPU µs per call of each variant, one value per round, in a rotating order."""
    transport = MockTransport(lambda request: Response(200, HEADERS, BODY), record=False)
    sessions = [aa.Session("k" * 32, transport=transport, tracing=False)]
    variants: dict[str, One] = {"json": bare_json, "promises": promises}
    variants["sdk"] = lambda: sessions[0].clients.create(**PAYLOAD)
    if importlib.util.find_spec("opentelemetry") is not None:
        traced = aa.Session("k" * 32, transport=transport, tracing=True)
        sessions.append(traced)
        variants["sdk+tracing"] = lambda: traced.clients.create(**PAYLOAD)
    else:
        print("  (no sdk+tracing: opentelemetry-api is not installed)")
    figures: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for one in variants.values():  # warm up: the converter's hooks, the limiter
            for _ in range(max(1_000, calls // 10)):
                await one()
        names = list(variants)
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                one, started = variants[name], time.process_time()
                for _ in range(calls):
                    await one()
                figures[name].append((time.process_time() - started) / calls * 1e6)
    finally:
        for session in sessions:
            await session.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20_000, help="per variant per round")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.rounds, args.calls))
    print(f"{args.rounds} interleaved rounds of {args.calls} calls; CPU µs per call")
    print(f"  {'variant':<12} {'median':>7}   (min-max)   over the one above")
    previous: float | None = None
    for name, values in figures.items():
        median = statistics.median(values)
        delta = "" if previous is None else f"{median - previous:+.2f}"
        print(f"  {name:<12} {median:>7.2f}   ({min(values):.2f}-{max(values):.2f})   {delta}")
        previous = median


if __name__ == "__main__":
    main()
