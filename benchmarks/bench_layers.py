"""The SDK against raw aiohttp in ONE process: interleaved rounds, medians of per-round ratios.

Separate-process runs on a shared machine swing too much to compare (0.43 to
1.56 for the same code). Here every variant ("layer") runs in the same
process and the same event loop against the same server; each round runs
every layer for ``--requests`` calls, in a rotating order, so drift in the
machine's speed hits all layers alike. A layer's figure is the median over
rounds of (its req/s / its baseline's req/s in that round), with the min-max
spread. Every concurrency runs in this same process, one after the other, as
in a long-running application: raw aiohttp at its natural best, nothing set
for or against it.

The layers, each one more of the SDK over raw aiohttp (``POST
/api/clients/create``, the bulk onboarding call):

- ``raw``: ``aiohttp.ClientSession.post`` + ``json.dumps``/``json.loads``, checking ``error``;
- ``raw+orjson``: the same with ``orjson``: the baseline of ``sdk+orjson``;
- ``raw+promises``: ``raw`` keeping, by hand and at its cheapest, only the promises
  the SDK keeps on this call: a fresh idempotency key in ``metadata`` (identity),
  a total and a connect timeout (every wait bounded), the key added by a
  per-request middleware (no mapping a frame renders holds it), no redirect
  followed, the body's size checked against the cap, and a typed ``Client``
  out. No limiter, retry, request id, classification, hook or telemetry: the
  floor under any client that keeps those promises on aiohttp;
- ``transport``: the SDK's ``AiohttpTransport.send`` of a built ``Request``, and ``parse_response``;
- ``call``: ``session.post(path, dict)``: request ids, limiter, the request loop;
- ``sdk``: ``session.clients.create(name=, email=)``: a ``NewClient`` in, a typed ``Client`` out;
- ``sdk+orjson``: the same with the ``speedups`` codec (skipped if orjson is missing);
- ``sdk+tracing``: ``sdk`` with OpenTelemetry on (a span per call through
  opentelemetry-api's no-op tracer, as when no OTel SDK is configured); the
  other SDK layers run with ``tracing=False``, as without opentelemetry-api;
- ``httpx``: raw ``httpx.AsyncClient.post`` + ``json``, checking ``error``: what
  an httpx shop writes by hand (compared with raw aiohttp too);
- ``generated``: the client ``openapi-python-client`` generates from our OpenAPI
  document (``generated_client.py``): ``clients_create.asyncio``, a typed model
  in and out, on httpx.

At concurrency 1 each layer's p50 and p99 latency is reported too.

The server (a minimal aiohttp app answering a contract-shaped Client) runs in
its own process pinned to CPU 0, the client in this one, pinned to CPU 1.

    python benchmarks/bench_layers.py                       # layers at concurrency 64
    python benchmarks/bench_layers.py --concurrency 1 64 256 --layers raw sdk raw+orjson sdk+orjson
    python benchmarks/bench_layers.py --loop uvloop --layers raw sdk
    python benchmarks/bench_layers.py --concurrency 1 64 --layers raw sdk httpx generated
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_throughput import KEY, free_port, pinned, share, wait_for  # noqa: E402

LAYERS = [
    "raw", "raw+orjson", "raw+promises", "transport", "call", "sdk", "sdk+orjson",
    "sdk+tracing", "httpx", "generated",
]  # fmt: skip
#: The baseline each layer is compared with: raw aiohttp with the same JSON codec.
BASELINE = {"raw+orjson": "raw+orjson", "sdk+orjson": "raw+orjson"}
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
    import attrs

    from agencyaccess_async import APIKey, Session, _json
    from agencyaccess_async._aiohttp_transport import AiohttpTransport
    from agencyaccess_async._http import Timeout, build_request, parse_response

    create_url = url + "/api/clients/create"
    headers = {"X-Auth": KEY, "Content-Type": "application/json"}
    sdk_headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=max(100, concurrency))
    http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))

    async def raw() -> None:
        async with http.post(create_url, data=json.dumps(PAYLOAD).encode(), headers=headers) as r:
            envelope = json.loads(await r.read())
            if envelope["error"]:
                raise RuntimeError(envelope["msg"])

    layers: dict[str, tuple[One, bool]] = {"raw": (raw, True)}
    layers["raw+promises"] = (_raw_with_promises(http, create_url), True)
    try:
        import orjson
    except ImportError:
        orjson = None
    if orjson is not None:
        dumps, loads = orjson.dumps, orjson.loads

        async def raw_orjson() -> None:
            async with http.post(create_url, data=dumps(PAYLOAD), headers=headers) as r:
                envelope = loads(await r.read())
                if envelope["error"]:
                    raise RuntimeError(envelope["msg"])

        layers["raw+orjson"] = (raw_orjson, False)

    transport = AiohttpTransport(limit=max(100, concurrency))
    stack.push_async_callback(transport.aclose)
    from yarl import URL

    target, timeout, key = URL(create_url), Timeout(), APIKey(KEY)

    async def through_transport() -> None:
        request = build_request(
            "clients.create", target, PAYLOAD, headers=sdk_headers, request_id="r", timeout=timeout
        )
        request = attrs.evolve(request, api_key=key)
        parse_response(await transport.send(request), operation="clients.create")

    def session(tracing: bool = False) -> Session:
        return Session(KEY, base_url=url, max_concurrency=concurrency, tracing=tracing)

    call_session = await stack.enter_async_context(session())
    sdk_session = await stack.enter_async_context(session())
    traced_session = await stack.enter_async_context(session(tracing=True))

    async def traced() -> None:
        await traced_session.clients.create(name="Acme Bakery", email="ops@acme.example")

    async def call() -> None:
        await call_session.post("/api/clients/create", PAYLOAD, idempotent=True)

    async def sdk() -> None:
        await sdk_session.clients.create(name="Acme Bakery", email="ops@acme.example")

    # Each layer with the codec it runs under: True for the stdlib json.
    layers["transport"] = (through_transport, True)
    layers["call"] = (call, True)
    layers["sdk"] = (sdk, True)
    layers["sdk+tracing"] = (traced, True)
    _json.use_stdlib(False)
    if _json.CODEC == "orjson":
        layers["sdk+orjson"] = (sdk, False)
    layers.update(await _httpx_layers(url, concurrency, stack))
    return layers


def _raw_with_promises(http: Any, create_url: str) -> One:
    """Raw aiohttp keeping the SDK's promises on ``clients.create``, and nothing more."""
    import secrets

    import aiohttp

    from agencyaccess_async._converter import CONVERTER
    from agencyaccess_async._http import DEFAULT_MAX_RESPONSE_BYTES
    from agencyaccess_async._models import IDEMPOTENCY_METADATA_KEY, Client

    headers = {"Content-Type": "application/json"}

    async def add_key(request: Any, handler: Any) -> Any:
        request.headers["X-Auth"] = KEY
        return await handler(request)

    # Made once: what does not change from call to call is no per-request work here.
    timeout, middlewares = aiohttp.ClientTimeout(total=60, sock_connect=10), (add_key,)

    async def raw_with_promises() -> None:
        metadata = {IDEMPOTENCY_METADATA_KEY: secrets.token_hex(16)}
        async with http.post(
            create_url, data=json.dumps({**PAYLOAD, "metadata": metadata}).encode(),
            headers=headers, timeout=timeout, allow_redirects=False, middlewares=middlewares,
        ) as r:  # fmt: skip
            if (r.content_length or 0) > DEFAULT_MAX_RESPONSE_BYTES:
                raise RuntimeError("answer too large")
            envelope = json.loads(await r.read())
            if envelope["error"]:
                raise RuntimeError(envelope["msg"])
            CONVERTER.structure(envelope["data"], Client)

    return raw_with_promises


async def _httpx_layers(
    url: str, concurrency: int, stack: AsyncExitStack
) -> dict[str, tuple[One, bool]]:
    """Raw httpx, and the generated client on httpx (skipped without openapi-python-client)."""
    import httpx

    limits = httpx.Limits(max_connections=max(100, concurrency))
    plain = await stack.enter_async_context(httpx.AsyncClient(limits=limits))
    headers = {"X-Auth": KEY, "Content-Type": "application/json"}

    async def raw_httpx() -> None:
        answer = await plain.post(url + "/api/clients/create", content=json.dumps(PAYLOAD),
                                  headers=headers)  # fmt: skip
        envelope = json.loads(answer.content)
        if envelope["error"]:
            raise RuntimeError(envelope["msg"])

    layers: dict[str, tuple[One, bool]] = {"httpx": (raw_httpx, True)}
    try:
        from generated_client import generate

        api = generate(Path(tempfile.mkdtemp(prefix="generated-")))
    except (ImportError, OSError, subprocess.CalledProcessError) as error:
        print(f"  (no generated layer: {error})")
        return layers
    generated = api.client.AuthenticatedClient(
        base_url=url, token=KEY, prefix="", auth_header_name="X-Auth",
        httpx_args={"limits": limits},
    )  # fmt: skip
    await stack.enter_async_context(generated)
    body = api.NewClient(name=PAYLOAD["name"], email=PAYLOAD["email"])

    async def through_generated() -> None:
        created = await api.clients_create.asyncio(client=generated, body=body)
        if created is None or isinstance(created, api.Error):
            raise RuntimeError(f"not created: {created!r}")

    layers["generated"] = (through_generated, True)
    return layers


async def drive(
    one: One, requests: int, concurrency: int, latencies: list[float] | None = None
) -> tuple[float, float]:
    """Run ``requests`` calls with ``concurrency`` workers; (req/s, CPU µs per request).

    At concurrency 1, each call's latency is appended to ``latencies``.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    if concurrency == 1 and latencies is not None:
        for _ in range(requests):
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)
    else:
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
            name: {"ratio": [], "cpu": [], "rate": [], "latency": []} for name in names
        }
        for round_number in range(rounds):
            shift = round_number % len(names)
            rates: dict[str, float] = {}
            for name in names[shift:] + names[:shift]:
                one, stdlib = layers[name]
                _json.use_stdlib(stdlib)
                rates[name], cpu = await drive(one, requests, concurrency, figures[name]["latency"])
                figures[name]["cpu"].append(cpu)
                figures[name]["rate"].append(rates[name])
            for name in names:
                baseline = rates.get(BASELINE.get(name, "raw"), rates[names[0]])
                figures[name]["ratio"].append(rates[name] / baseline)
        return figures


def report(concurrency: int, figures: dict[str, dict[str, list[float]]]) -> None:
    print(f"\nconcurrency {concurrency}")
    latency = "   p50 / p99 ms" if concurrency == 1 else ""
    print(
        f"  {'layer':<12} {'req/s':>8} {'CPU µs/req':>11} {'+µs':>6}   ratio to baseline (min-max)"
        f"{latency}"
    )
    previous: float | None = None
    for name, values in figures.items():
        cpu = statistics.median(values["cpu"])
        delta = "" if previous is None else f"{cpu - previous:+.1f}"
        ratio = values["ratio"]
        shown = ""
        if values["latency"]:
            cuts = statistics.quantiles(values["latency"], n=100)
            shown = f"   {cuts[49] * 1e3:.3f} / {cuts[98] * 1e3:.3f}"
        print(
            f"  {name:<12} {statistics.median(values['rate']):>8.0f} {cpu:>11.1f} {delta:>6}"
            f"   {statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f}){shown}"
        )
        previous = cpu


def client(args: argparse.Namespace) -> None:
    """Measure every concurrency in this one process, one after the other."""
    if hasattr(os, "sched_setaffinity") and pinned(1):
        os.sched_setaffinity(0, {1})
    run: Callable[[Any], Any] = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run

    async def every_concurrency() -> None:
        for concurrency in args.concurrency:
            figures = await measure(args.url, concurrency, args.layers, args.rounds, args.requests)
            report(concurrency, figures)

    run(every_concurrency())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64])
    parser.add_argument("--layers", nargs="+", default=LAYERS, choices=LAYERS)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2_000, help="per layer per round")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if "raw" not in args.layers:
        args.layers.insert(0, "raw")
    if "sdk+orjson" in args.layers and "raw+orjson" not in args.layers:
        args.layers.insert(1, "raw+orjson")
    port = free_port()
    serve = [sys.executable, str(HERE / "bench_throughput.py"), "--serve", str(port), "minimal"]
    server = subprocess.Popen([*pinned(0), *serve])
    try:
        wait_for(port)
        args.url = f"http://127.0.0.1:{port}"
        print(
            f"server on CPU 0, the client on CPU 1, every concurrency in this one process; "
            f"{args.loop}; python {sys.version.split()[0]}; {args.rounds} rounds x "
            f"{args.requests} requests per layer"
        )
        client(args)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
