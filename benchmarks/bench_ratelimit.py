"""Rate pacing: how close the SDK runs to an emulator's limit, and how many 429s it draws.

For each limit (requests per second per key) 64 tasks call the emulator
without pause for the duration; the emulator counts what it served. Prints
achieved/allowed rate and the share of 429s. Goal: >= 0.97 and <= 0.5%.

    python benchmarks/bench_ratelimit.py [--limits 20 100 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

from agencyaccess_async import AgencyAccessError, Session
from agencyaccess_async.testing import run_emulator


async def measure(limit: int, seconds: float, concurrency: int) -> tuple[float, float, int]:
    async with run_emulator() as emulator:
        await emulator.admin.set_rate_limit(limit, window=1.0)
        async with Session(
            emulator.api_key, base_url=emulator.base_url, max_concurrency=concurrency
        ) as session:
            deadline = time.monotonic() + seconds

            async def worker() -> None:
                while time.monotonic() < deadline:
                    with contextlib.suppress(AgencyAccessError):
                        await session.clients.list(limit=1).page()

            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.monotonic() - started
        log = await emulator.admin.requests()
    served = [e for e in log if e["status"] == 200]
    limited = [e for e in log if e["status"] == 429]
    # Rate over whole seconds of the run, so a partial last window does not flatter or hurt.
    first = min(e["t"] for e in served)
    window = [e for e in served if e["t"] < first + int(elapsed)]
    achieved = len(window) / int(elapsed)
    return achieved / limit, len(limited) / max(1, len(log)), len(log)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limits", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    print(f"{'limit/s':>8} {'achieved/allowed':>17} {'429 share':>10} {'requests':>9}")
    for limit in args.limits:
        ratio, share, count = await measure(limit, args.seconds, args.concurrency)
        print(f"{limit:>8} {ratio:>17.3f} {share:>10.2%} {count:>9}")


if __name__ == "__main__":
    asyncio.run(main())
