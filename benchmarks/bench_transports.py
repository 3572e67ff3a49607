"""The SDK over HttpxTransport beside the SDK over AiohttpTransport: same server, same process.

One minimal server process (``bench_throughput.py``'s, pinned to CPU 0);
one client process runs both Sessions, alternating rounds of --requests
``clients.retrieve`` calls at --concurrency, and prints each transport's
requests per second and the median (min-max) of the per-round ratios
httpx/aiohttp. Choosing a transport is a matter of fit (your app already
has an httpx client, its proxies, respx in its tests), not of speed: this
says what the choice costs.

    python benchmarks/bench_transports.py [--rounds 10] [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import KEY, free_port, pinned, share, wait_for

import agencyaccess_async as aa


async def rounds(url: str, count: int, requests: int, concurrency: int) -> None:
    httpx_transport = aa.HttpxTransport(limit=concurrency, http2=False)
    sessions = {
        "aiohttp": aa.Session(KEY, base_url=url, max_concurrency=concurrency, tracing=False),
        "httpx": aa.Session(
            KEY, base_url=url, max_concurrency=concurrency, tracing=False,
            transport=httpx_transport,
        ),
    }  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name in sessions}
    try:
        for index in range(count + 1):  # the first round warms up and is not counted
            for name, session in sessions.items():

                async def one(session: aa.Session = session) -> None:
                    await session.clients.retrieve("cl_0123456789abcdef")

                started = time.perf_counter()
                await share(one, requests, concurrency)
                if index:
                    rates[name].append(requests / (time.perf_counter() - started))
    finally:
        for session in sessions.values():
            await session.aclose()
        await httpx_transport.aclose()  # the caller's: a Session never closes it
    ratios = [h / a for h, a in zip(rates["httpx"], rates["aiohttp"], strict=True)]
    for name, values in rates.items():
        print(f"  SDK over {name:<8} {statistics.median(values):8.0f} req/s (median of {count})")
    print(
        f"  httpx / aiohttp: {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f}) at concurrency {concurrency}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [*pinned(0), sys.executable, str(Path(__file__).with_name("bench_throughput.py")),
         "--serve", str(port), "minimal"],
    )  # fmt: skip
    try:
        wait_for(port)
        asyncio.run(rounds(f"http://127.0.0.1:{port}", args.rounds, args.requests,
                           args.concurrency))  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
