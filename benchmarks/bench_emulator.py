"""How many clients/create per second the emulator sustains on one core.

The emulator runs in its own process pinned to CPU 0 (taskset where
available); a raw aiohttp load generator in another process, pinned to CPU 1,
POSTs valid NewClient bodies at the given concurrency. Goal: >= 5,000 creates
per second, so the emulator is never the bottleneck of the SDK's benchmarks.

    python benchmarks/bench_emulator.py [--requests 30000] [--concurrency 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

from bench_throughput import free_port, pinned, wait_for

KEY = "bench-key"


def serve(port: int) -> None:
    from aiohttp import web

    from agencyaccess_async.emulator import EmulatorConfig, make_app

    web.run_app(
        make_app(EmulatorConfig(api_key=KEY)),
        host="127.0.0.1",
        port=port,
        print=None,
        access_log=None,
    )


async def load(url: str, requests: int, concurrency: int) -> float:
    import aiohttp

    headers = {"X-Auth": KEY, "Content-Type": "application/json"}
    left = requests
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                body = json.dumps(
                    {
                        "name": f"Client {left}",
                        "email": f"c{left}@example.test",
                        "metadata": {"crm": str(left)},
                    }
                )
                async with http.post(
                    url + "/api/clients/create", data=body, headers=headers
                ) as answer:
                    if answer.status != 200:
                        raise RuntimeError(await answer.text())
                    await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.load:
        print(asyncio.run(load(args.load[0], int(args.load[1]), int(args.load[2]))))
        return
    port = free_port()
    server = subprocess.Popen([*pinned(0), sys.executable, __file__, "--serve", str(port)])
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}"
        rates = []
        for _ in range(args.runs):
            command = [
                *pinned(1),
                sys.executable,
                __file__,
                "--load",
                url,
                str(args.requests),
                str(args.concurrency),
            ]
            rates.append(
                float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            )
        print(f"emulator on one core: clients/create {statistics.median(rates):.0f}/s "
              f"(median of {args.runs} runs of {args.requests} at concurrency {args.concurrency}; "
              f"runs: {', '.join(f'{r:.0f}' for r in rates)}); goal >= 5000/s")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
