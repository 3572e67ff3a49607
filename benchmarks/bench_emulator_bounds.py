"""The emulator under a hostile burst: 20,000 unique junk paths, then 1,500 slow connections.

The emulator runs as ``agencyaccess-async emulator`` (its own process). A
client sends ``--junk`` requests to unique unknown paths, then opens
``--slow`` connections that send half a request's headers and stop. While
they are held, a health check (``clients/list`` with the seeded key) is timed
``--checks`` times. Printed: the emulator's RSS before and after (from
/proc), the size of its counters, and the health checks' latencies. Goal:
RSS under 80 MB and health checks answering in milliseconds.

    python benchmarks/bench_emulator_bounds.py [--junk 20000] [--slow 1500] [--checks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

CLI = [sys.executable, "-m", "agencyaccess_async"]
ADMIN = {"X-Emulator-Admin": "bench-admin-token"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def burst(base_url: str, pid: int, junk: int, slow: int, checks: int) -> None:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    before = rss_mb(pid)
    async with aiohttp.ClientSession() as http:
        left = junk

        async def junk_worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with http.post(f"{base_url}/junk/{left}", json={}) as answer:
                    await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(junk_worker() for _ in range(64)))
        junk_seconds = time.perf_counter() - started
        async with http.get(f"{base_url}/_emulator/counters", headers=ADMIN) as answer:
            counters = await answer.read()
        held = []
        for _ in range(slow):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"POST /api/clients/list HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append((reader, writer))
        await asyncio.sleep(0.5)
        latencies = []
        headers = {"X-Auth": "bench-key"}
        for _ in range(checks):
            started = time.perf_counter()
            async with http.post(f"{base_url}/api/clients/list", json={}, headers=headers) as a:
                assert a.status == 200, a.status
                await a.read()
            latencies.append((time.perf_counter() - started) * 1000)
        during = rss_mb(pid)
        for _, writer in held:
            writer.close()
    print(f"{junk} junk paths in {junk_seconds:.1f} s; counters answer {len(counters):,} bytes")
    print(f"{slow} slow connections held; emulator RSS {before:.1f} MB before, {during:.1f} MB "
          "with them (goal < 80 MB)")  # fmt: skip
    print(f"health checks meanwhile: median {statistics.median(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--junk", type=int, default=20_000)
    parser.add_argument("--slow", type=int, default=1_500)
    parser.add_argument("--checks", type=int, default=20)
    args = parser.parse_args()
    emulator = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", "bench-key", "--admin-token",
         ADMIN["X-Emulator-Admin"]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert emulator.stdout is not None
    base_url = emulator.stdout.readline().strip().rsplit(" ", 1)[1]
    try:
        asyncio.run(burst(base_url, emulator.pid, args.junk, args.slow, args.checks))
    finally:
        emulator.terminate()
        emulator.wait(10)


if __name__ == "__main__":
    main()
