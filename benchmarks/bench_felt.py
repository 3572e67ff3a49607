"""What a user feels: onboarding against the service's rate limit, added latency, import time.

Three measurements, each against a baseline at its natural best:

- ``onboarding``: ``onboard`` of ``--rows`` CSV rows against an emulator
  limited to ``--rate`` requests per second per key with ``--latency-ms`` of
  latency, from one process and from ``--processes`` processes sharing a
  ``RedisLimiter`` (a real redis-server on a free loopback port). The floor
  is the service's own: 2N/R seconds (a client and a link per row). Goal:
  wall <= 1.03 x 2N/R, no failed row, <= 0.5% of requests answered 429.
- ``latency``: one request at a time (c=1), the SDK's ``clients.create``
  and raw aiohttp's POST alternating request by request against the same
  minimal server (``bench_throughput.py --serve``): the added p50 and p99.
  Goal: p50 <= 0.1 ms and p99 <= 0.3 ms over raw.
- ``import``: ``python -c "import agencyaccess_async"`` against
  ``python -c "import aiohttp"``, whole processes, alternating pairs: the
  median of the per-pair ratios. Goal: <= 1.2.

    python benchmarks/bench_felt.py                       # all three
    python benchmarks/bench_felt.py latency import        # the quick two
    python benchmarks/bench_felt.py onboarding --rows 2000 --rate 50 --latency-ms 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_shared_limit import free_port, run_case, start_redis  # noqa: E402
from bench_throughput import KEY, pinned, wait_for  # noqa: E402


def onboarding(rows: int, rate: int, latency_ms: float, processes: int) -> None:
    floor = 2 * rows / rate
    print(
        f"onboarding {rows} rows at {rate} req/s and {latency_ms:g} ms latency: 2N/R = {floor:.1f} s"
    )
    print(f"  {'case':<32}{'wall s':>8}{'wall/(2N/R)':>13}{'failed rows':>13}{'429 share':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, int, str | None]] = [("one process", 1, None)]
        redis_server = shutil.which("redis-server")
        redis = None
        if redis_server is None:
            print("  redis-server not found: the shared case is not run")
        else:
            redis, url = start_redis(redis_server)
            cases.append((f"{processes} processes, RedisLimiter", processes, url))
        try:
            for index, (name, count, url) in enumerate(cases):
                result = run_case(Path(tmp, str(index)), rows, count, rate, url, latency_ms)
                print(
                    f"  {name:<32}{result['wall']:>8.1f}{result['wall'] / floor:>13.3f}"
                    f"{result['failed rows']:>13.0f}{result['share']:>10.2%}"
                )
        finally:
            if redis is not None:
                redis.terminate()
                redis.wait(10)


async def _latencies(url: str, requests: int) -> tuple[list[float], list[float]]:
    import aiohttp

    import agencyaccess_async as aa

    payload = {"name": "Acme Bakery", "email": "ops@acme.example"}
    headers = {"X-Auth": KEY, "Content-Type": "application/json"}
    raw_times: list[float] = []
    sdk_times: list[float] = []
    async with aiohttp.ClientSession() as http, aa.Session(KEY, base_url=url) as session:

        async def raw() -> None:
            async with http.post(
                url + "/api/clients/create", data=json.dumps(payload).encode(), headers=headers
            ) as answer:
                if json.loads(await answer.read())["error"]:
                    raise RuntimeError("error answer")

        async def sdk() -> None:
            await session.clients.create(**payload)

        for _ in range(200):  # warm up both
            await raw()
            await sdk()
        for index in range(requests):
            order = (raw, sdk) if index % 2 else (sdk, raw)  # alternate who goes first
            for one in order:
                started = time.perf_counter()
                await one()
                (raw_times if one is raw else sdk_times).append(time.perf_counter() - started)
    return raw_times, sdk_times


def latency(requests: int) -> None:
    port = free_port()
    serve = [sys.executable, str(HERE / "bench_throughput.py"), "--serve", str(port), "minimal"]
    server = subprocess.Popen([*pinned(0), *serve])
    try:
        wait_for(port)
        raw, sdk = asyncio.run(_latencies(f"http://127.0.0.1:{port}", requests))
    finally:
        server.terminate()
        server.wait()

    def quantile(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    print(f"latency at c=1, {requests} requests each, alternating (ms)")
    print(f"  {'':<8}{'raw':>8}{'sdk':>8}{'added':>8}   goal")
    for name, q, goal in (("p50", 50, 0.1), ("p99", 99, 0.3)):
        r, s = quantile(raw, q), quantile(sdk, q)
        print(f"  {name:<8}{r:>8.3f}{s:>8.3f}{s - r:>+8.3f}   <= {goal}")


def _process_seconds(module: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - started


def import_time(pairs: int) -> None:
    ratios: list[float] = []
    sdk_times: list[float] = []
    aiohttp_times: list[float] = []
    for index in range(pairs):
        order = ("aiohttp", "agencyaccess_async")
        if index % 2:
            order = order[::-1]
        seconds = {module: _process_seconds(module) for module in order}
        aiohttp_times.append(seconds["aiohttp"])
        sdk_times.append(seconds["agencyaccess_async"])
        ratios.append(seconds["agencyaccess_async"] / seconds["aiohttp"])
    print(f"import, whole processes, {pairs} alternating pairs")
    print(
        f"  python -c 'import aiohttp'            {statistics.median(aiohttp_times) * 1000:7.1f} ms"
    )
    print(f"  python -c 'import agencyaccess_async' {statistics.median(sdk_times) * 1000:7.1f} ms")
    print(
        f"  ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}); goal <= 1.2"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "what", nargs="*", default=["onboarding", "latency", "import"],
        choices=["onboarding", "latency", "import"],
    )  # fmt: skip
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000, help="latency: per side")
    parser.add_argument("--pairs", type=int, default=21, help="import: process pairs")
    args = parser.parse_args()
    if "import" in args.what:
        import_time(args.pairs)
    if "latency" in args.what:
        latency(args.requests)
    if "onboarding" in args.what:
        onboarding(args.rows, args.rate, args.latency_ms, args.processes)


if __name__ == "__main__":
    main()
