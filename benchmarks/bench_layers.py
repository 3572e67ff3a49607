"""The SDK against raw aiohttp in ONE process: interleaved rounds, medians of per-round ratios.

Separate-process runs on a shared machine swing too much to compare (0.43 to
1.56 for the same code). Here every variant ("layer") runs in the same
process and the same event loop against the same server; each round runs
every layer for ``--requests`` calls, in a rotating order, so drift in the
machine's speed hits all layers alike. A layer's figure is the median over
rounds of (its req/s / raw's req/s in that round), with the min-max spread.

The layers, each one more of the SDK over raw aiohttp (``POST
/api/clients/create``, the bulk onboarding call):

- ``raw``: ``aiohttp.ClientSession.post`` + ``json.dumps``/``json.loads``, checking ``error``;
- ``transport``: the SDK's ``AiohttpTransport.send`` of a built ``Request``, and ``parse_response``;
- ``call``: ``session.post(path, dict)``: request ids, limiter, ``Call``, retries-if-needed;
- ``sdk``: ``session.clients.create(name=, email=)``: a ``NewClient`` in, a typed ``Client`` out;
- ``sdk+orjson``: the same with the ``speedups`` codec (skipped if orjson is missing).

The server (a minimal aiohttp app answering a contract-shaped Client) runs in
its own process pinned to CPU 0. Each ``--concurrency`` is measured in a
fresh process pinned to CPU 1, with glibc's mmap threshold fixed
(``--malloc``, see ``fix_malloc``), so that no phase changes the next one's.

    python benchmarks/bench_layers.py                       # layers at concurrency 64
    python benchmarks/bench_layers.py --concurrency 1 64 256 --layers raw sdk sdk+orjson
    python benchmarks/bench_layers.py --loop uvloop --layers raw sdk sdk+orjson
    python benchmarks/bench_layers.py --malloc heap     # raw aiohttp at its best
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_throughput import KEY, free_port, pinned, share, wait_for  # noqa: E402

LAYERS = ["raw", "transport", "call", "sdk", "sdk+orjson"]
PAYLOAD = {"name": "Acme Bakery", "email": "ops@acme.example"}

One = Callable[[], Awaitable[Any]]


async def make_layers(
    url: str, concurrency: int, stack: AsyncExitStack
) -> dict[str, tuple[One, bool]]:
    """Per layer, a zero-argument coroutine function and whether it uses the stdlib json.

    The functions share nothing but the server, and each is the layer's call
    itself, with no wrapper around it: raw aiohttp has none either.
    """
    import aiohttp

    from agencyaccess_async import Session, _json
    from agencyaccess_async._aiohttp_transport import AiohttpTransport
    from agencyaccess_async._http import Timeout, build_request, parse_response

    create_url = url + "/api/clients/create"
    headers = {"X-Auth": KEY, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=max(100, concurrency))
    http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))

    async def raw() -> None:
        async with http.post(create_url, data=json.dumps(PAYLOAD).encode(), headers=headers) as r:
            envelope = json.loads(await r.read())
            if envelope["error"]:
                raise RuntimeError(envelope["msg"])

    transport = AiohttpTransport(limit=max(100, concurrency))
    stack.push_async_callback(transport.aclose)
    from yarl import URL

    target, timeout = URL(create_url), Timeout()

    async def through_transport() -> None:
        request = build_request(
            "clients.create", target, PAYLOAD, headers=headers, request_id="r", timeout=timeout
        )
        parse_response(await transport.send(request), operation="clients.create")

    def session() -> Session:
        return Session(KEY, base_url=url, max_concurrency=concurrency)

    call_session = await stack.enter_async_context(session())
    sdk_session = await stack.enter_async_context(session())

    async def call() -> None:
        await call_session.post("/api/clients/create", PAYLOAD, idempotent=True)

    async def sdk() -> None:
        await sdk_session.clients.create(name="Acme Bakery", email="ops@acme.example")

    # Each layer with the codec it runs under: True for the stdlib json.
    layers: dict[str, tuple[One, bool]] = {
        "raw": (raw, True),
        "transport": (through_transport, True),
        "call": (call, True),
        "sdk": (sdk, True),
    }
    _json.use_stdlib(False)
    if _json.CODEC == "orjson":
        layers["sdk+orjson"] = (sdk, False)
    return layers


async def drive(one: One, requests: int, concurrency: int) -> tuple[float, float]:
    """Run ``requests`` calls with ``concurrency`` workers; (req/s, CPU µs per request)."""
    cpu, wall = time.process_time(), time.perf_counter()
    await share(one, requests, concurrency)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu / requests * 1e6


async def measure(
    url: str, concurrency: int, names: list[str], rounds: int, requests: int
) -> dict[str, dict[str, list[float]]]:
    """Per layer: its req/s ratio to raw and its CPU µs/request, one value per round."""
    from agencyaccess_async import _json

    async with AsyncExitStack() as stack:
        layers = await make_layers(url, concurrency, stack)
        names = [name for name in names if name in layers]
        for name in names:  # warm up: connections, caches, the converter's hooks
            one, stdlib = layers[name]
            _json.use_stdlib(stdlib)
            await drive(one, max(200, requests // 10), concurrency)
        figures: dict[str, dict[str, list[float]]] = {
            name: {"ratio": [], "cpu": [], "rate": []} for name in names
        }
        for round_number in range(rounds):
            shift = round_number % len(names)
            rates: dict[str, float] = {}
            for name in names[shift:] + names[:shift]:
                one, stdlib = layers[name]
                _json.use_stdlib(stdlib)
                rates[name], cpu = await drive(one, requests, concurrency)
                figures[name]["cpu"].append(cpu)
                figures[name]["rate"].append(rates[name])
            for name in names:
                figures[name]["ratio"].append(rates[name] / rates.get("raw", rates[names[0]]))
        return figures


def report(concurrency: int, figures: dict[str, dict[str, list[float]]], malloc: str) -> None:
    print(f"\nconcurrency {concurrency}; {malloc}")
    print(f"  {'layer':<12} {'req/s':>8} {'CPU µs/req':>11} {'+µs':>6}   ratio to raw (min-max)")
    previous: float | None = None
    for name, values in figures.items():
        cpu = statistics.median(values["cpu"])
        delta = "" if previous is None else f"{cpu - previous:+.1f}"
        ratio = values["ratio"]
        print(
            f"  {name:<12} {statistics.median(values['rate']):>8.0f} {cpu:>11.1f} {delta:>6}"
            f"   {statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f})"
        )
        previous = cpu


def fix_malloc(mode: str) -> str:
    """Fix glibc's mmap threshold for this process; say what was done.

    glibc serves an allocation above the threshold (128 KiB at start) with
    ``mmap`` when no free heap chunk fits it, and raises the threshold when
    such a block is freed. Raw aiohttp's 256 KiB read buffer is one: whether
    each response costs an ``mmap``/``munmap`` pair depends on what the process
    freed before, so raw's cost drifted with the order of phases (63-92 us a
    request for the same code). Setting the threshold turns the raising off:
    ``fixed`` keeps glibc's starting 128 KiB (a fresh process: at c=64 raw maps
    its buffer on every response), ``heap`` sets 1 MiB (the buffer comes from
    the heap, as in a process whose history raised the threshold: raw at its
    best). The SDK reads with 64 KiB either way. At c=1 a free heap chunk often
    serves raw's buffer even under ``fixed`` (``benchmarks/README.md`` has the
    counts).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "malloc as it is (not glibc)"
    threshold = 128 * 1024 if mode == "fixed" else 1024 * 1024
    if not mallopt(_M_MMAP_THRESHOLD, threshold):
        return "malloc as it is (mallopt refused)"
    return f"glibc mmap threshold fixed at {threshold // 1024} KiB ({mode})"


_M_MMAP_THRESHOLD = -3


def child(args: argparse.Namespace) -> None:
    """Measure one concurrency in this fresh process; print the figures as JSON."""
    if hasattr(os, "sched_setaffinity") and pinned(1):
        os.sched_setaffinity(0, {1})
    malloc = fix_malloc(args.malloc)
    run: Callable[[Any], Any] = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    concurrency = args.concurrency[0]
    figures = run(measure(args.child, concurrency, args.layers, args.rounds, args.requests))
    print(json.dumps({"malloc": malloc, "figures": figures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64])
    parser.add_argument("--layers", nargs="+", default=LAYERS, choices=LAYERS)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2_000, help="per layer per round")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--malloc", choices=["fixed", "heap"], default="fixed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "raw" not in args.layers:
        args.layers.insert(0, "raw")
    if args.child:
        child(args)
        return
    port = free_port()
    serve = [sys.executable, str(HERE / "bench_throughput.py"), "--serve", str(port), "minimal"]
    server = subprocess.Popen([*pinned(0), *serve])
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}"
        print(
            f"server on CPU 0, each concurrency in a fresh process on CPU 1; {args.loop}; python "
            f"{sys.version.split()[0]}; {args.rounds} rounds x {args.requests} requests per layer"
        )
        for concurrency in args.concurrency:
            command = [sys.executable, __file__, "--child", url, "--concurrency", str(concurrency),
                       "--layers", *args.layers, "--rounds", str(args.rounds),
                       "--requests", str(args.requests), "--loop", args.loop,
                       "--malloc", args.malloc]  # fmt: skip
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(output.strip().splitlines()[-1])
            report(concurrency, result["figures"], result["malloc"])
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
