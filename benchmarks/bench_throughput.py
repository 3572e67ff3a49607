"""Throughput and client CPU per request: raw aiohttp, the SDK, and httpx, in one run.

A server runs in its own process (pinned to CPU 0 with taskset where
available): a minimal aiohttp app answering contract-shaped bodies, or the
emulator. Each client runs in a fresh process pinned to CPU 1 and POSTs
``/api/clients/retrieve`` M times at a given concurrency; it reports
requests/second and its own CPU time per request (resource.getrusage).
Every figure is the median of --runs runs; ratios come from the same run.

    python benchmarks/bench_throughput.py [--requests 20000] [--concurrency 1 16 64 256] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

CLIENT_JSON = {
    "clientID": "cl_0123456789abcdef", "name": "Acme Bakery", "email": "ops@acme.example",
    "company": "Acme Bakery Ltd", "website": "https://acme.example", "type": "client",
    "language": "en", "metadata": {"crm": "42"},
    "createdAt": "2026-11-28T05:00:00.000Z", "updatedAt": "2026-11-28T05:00:00.000Z",
}  # fmt: skip
BODY = json.dumps({"error": False, "data": CLIENT_JSON}).encode()
KEY = "bench-key"

# client kind -> (description, needs orjson, uses uvloop)
CLIENTS = {
    "raw": "raw aiohttp + stdlib json (the floor)",
    "sdk": "SDK, stdlib json",
    "sdk+orjson": "SDK with the speedups extra (orjson)",
    "sdk+orjson+uvloop": "SDK with orjson, on uvloop",
    "httpx": "httpx.AsyncClient + stdlib json",
}


# ------------------------------------------------------------ server


def serve(port: int, kind: str) -> None:
    from aiohttp import web

    if kind == "emulator":
        from agencyaccess_async.emulator import EmulatorConfig, make_app

        app = make_app(EmulatorConfig(api_key=KEY))
    else:
        headers = {
            "X-RateLimit-Limit": "1000000",
            "X-RateLimit-Remaining": "999999",
            "X-RateLimit-Reset": "0.5",
        }

        async def handler(request: web.Request) -> web.Response:
            await request.read()
            rid = {"X-Request-ID": request.headers.get("X-Request-ID", "r")}
            return web.Response(
                body=BODY, content_type="application/json", headers={**headers, **rid}
            )

        app = web.Application()
        app.router.add_post("/api/clients/retrieve", handler)
        app.router.add_post("/api/clients/create", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ------------------------------------------------------------ clients


async def run_raw(url: str, requests: int, concurrency: int) -> None:
    import aiohttp

    payload = {"clientID": "cl_0123456789abcdef"}
    headers = {"X-Auth": KEY, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=max(100, concurrency))
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            async with http.post(
                url + "/api/clients/retrieve", data=json.dumps(payload).encode(), headers=headers
            ) as answer:
                envelope = json.loads(await answer.read())
                if envelope["error"]:
                    raise RuntimeError(envelope["msg"])

        await share(one, requests, concurrency)


async def run_sdk(url: str, requests: int, concurrency: int) -> None:
    from agencyaccess_async import Session

    async with Session(KEY, base_url=url, max_concurrency=concurrency) as session:

        async def one() -> None:
            await session.clients.retrieve("cl_0123456789abcdef")

        await share(one, requests, concurrency)


async def run_httpx(url: str, requests: int, concurrency: int) -> None:
    import httpx

    payload = {"clientID": "cl_0123456789abcdef"}
    headers = {"X-Auth": KEY, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=max(100, concurrency))
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def one() -> None:
            answer = await http.post(
                url + "/api/clients/retrieve", content=json.dumps(payload).encode(), headers=headers
            )
            envelope = json.loads(answer.content)
            if envelope["error"]:
                raise RuntimeError(envelope["msg"])

        await share(one, requests, concurrency)


async def share(one: Any, requests: int, concurrency: int) -> None:
    """``concurrency`` workers share ``requests`` calls (the same shape for every client)."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def client_main(kind: str, url: str, requests: int, concurrency: int) -> None:
    if kind.startswith("sdk"):
        from agencyaccess_async import _json

        _json.use_stdlib("orjson" not in kind)
    if kind.endswith("uvloop"):
        import uvloop

        uvloop.install()
    runner = {"raw": run_raw, "httpx": run_httpx}.get(kind, run_sdk)
    asyncio.run(runner(url, max(100, requests // 20), concurrency))  # warm up: connections, caches
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    asyncio.run(runner(url, requests, concurrency))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"req_s": requests / elapsed, "cpu_us": cpu / requests * 1e6}))


# ------------------------------------------------------------ orchestration


def pinned(cpu: int) -> list[str]:
    return (
        ["taskset", "-c", str(cpu)]
        if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1
        else []
    )  # type: ignore[operator]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the server did not start")


def measure(kind: str, url: str, requests: int, concurrency: int) -> dict[str, float]:
    command = [
        *pinned(1),
        sys.executable,
        __file__,
        "--client",
        kind,
        url,
        str(requests),
        str(concurrency),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--httpx-requests", type=int, default=2_000, help="httpx is slow: fewer requests"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", choices=["minimal", "emulator"], default="minimal")
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=list(CLIENTS))
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    if args.client:
        kind, url, requests, concurrency = args.client
        client_main(kind, url, int(requests), int(concurrency))
        return

    port = free_port()
    server = subprocess.Popen(
        [*pinned(0), sys.executable, __file__, "--serve", str(port), args.server]
    )
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}"
        print(f"server: {args.server} on CPU 0, clients on CPU 1; {args.requests} requests "
              f"({args.httpx_requests} for httpx); median of {args.runs} runs; python {sys.version.split()[0]}")  # fmt: skip
        for concurrency in args.concurrency:
            # Runs are interleaved (raw, sdk, ..., raw, sdk, ...) so that drift in
            # the machine's speed affects every client alike.
            runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in args.clients}
            for _ in range(args.runs):
                for kind in args.clients:
                    n = args.httpx_requests if kind == "httpx" else args.requests
                    runs[kind].append(measure(kind, url, n, concurrency))
            results = {
                kind: {k: statistics.median(r[k] for r in kind_runs) for k in ("req_s", "cpu_us")}
                for kind, kind_runs in runs.items()
            }
            print(f"\nconcurrency {concurrency}")
            print(f"  {'client':<22} {'req/s':>9} {'CPU µs/req':>11}")
            for kind, figures in results.items():
                print(f"  {kind:<22} {figures['req_s']:>9.0f} {figures['cpu_us']:>11.1f}")
            raw = results.get("raw")
            for kind in results:
                if kind.startswith("sdk") and raw:
                    sdk = results[kind]
                    line = f"  {kind}/raw: {sdk['req_s'] / raw['req_s']:.3f}x req/s, {sdk['cpu_us'] - raw['cpu_us']:+.1f} µs CPU/req"
                    if "httpx" in results:
                        line += f"; {kind}/httpx: {sdk['req_s'] / results['httpx']['req_s']:.1f}x"
                    print(line)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
