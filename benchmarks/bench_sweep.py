"""What finding existing records costs: a re-run of N rows with no journal, at R requests/s.

An emulator process holds N clients, each with its access request, made by
an earlier ``onboard`` of the same file. Then, limited to ``--rate``
requests per second with ``--latency-ms`` of latency, ``onboard`` runs
again with another ``--out`` (so a new journal that knows no row): every row
must be reported ``onboarded (found)``, and nothing made. Printed: the
requests that run used (the emulator's own count) against the minimum of
2 x ceil(N/100) list pages, and its wall time against that minimum's time
at the rate. For scale: looking each row up would be N requests at least,
and creating them again 2N. Then ``status`` of the N links, against its
minimum of ceil(N/100) list pages.

    python benchmarks/bench_sweep.py --rows 10000 --rate 50 --latency-ms 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLI = [sys.executable, "-m", "agencyaccess_async"]
KEY = "bench-sweep-key"
ADMIN = {"X-Emulator-Admin": "bench-admin-token"}


async def admin(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        method = http.post if body is not None else http.get
        async with method(f"{base_url}/_emulator/{path}", json=body) as answer:
            return (await answer.json())["data"]


def onboard(base_url: str, clients: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "onboard", str(clients), "--services", str(ROOT / "examples" / "services.json"),
         "--base-url", base_url, "--out", str(out)],
        capture_output=True, text=True, env={"AGENCYACCESS_API_KEY": KEY, "PATH": ""},
        check=False, timeout=3600,
    )  # fmt: skip


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    """An emulator process with the benchmark's key and admin token; yields its base URL."""
    emulator = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", KEY, "--admin-token",
         ADMIN["X-Emulator-Admin"]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert emulator.stdout is not None
        yield emulator.stdout.readline().strip().rsplit(" ", 1)[1]
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        clients = Path(tmp) / "clients.csv"
        with clients.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "email", "stage"])
            for i in range(args.rows):
                writer.writerow([f"Client {i}", f"ops{i}@client{i}.example", "lead"])
        seeded = onboard(base_url, clients, Path(tmp) / "first.csv")
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        asyncio.run(admin(base_url, "rate-limit", {"limit": args.rate, "window": 1.0}))
        asyncio.run(admin(base_url, "faults", {"latencyMs": args.latency_ms}))
        before = asyncio.run(admin(base_url, "counters"))
        started = time.perf_counter()
        again = onboard(base_url, clients, Path(tmp) / "second.csv")
        wall = time.perf_counter() - started
        after = asyncio.run(admin(base_url, "counters"))
        assert again.returncode == 0, again.stderr[-2000:]
        with (Path(tmp) / "second.csv").open(newline="") as handle:
            statuses = {row["status"] for row in csv.DictReader(handle)}
        started = time.perf_counter()
        checked = subprocess.run(
            [*CLI, "status", str(Path(tmp) / "second.csv"), "--base-url", base_url, "--json"],
            capture_output=True, text=True, env={"AGENCYACCESS_API_KEY": KEY, "PATH": ""},
            check=False, timeout=3600,
        )  # fmt: skip
        status_wall = time.perf_counter() - started
        assert checked.returncode == 0, checked.stderr[-2000:]
        status_summary = json.loads(checked.stdout)
    used = after["total"] - before["total"]
    minimum = 2 * math.ceil(args.rows / 100)
    print(f"re-run of {args.rows} rows, no journal, {args.rate} req/s, {args.latency_ms:g} ms")
    print(f"  statuses: {sorted(statuses)}; records {after['records']} (were {before['records']})")
    print(f"  requests: {used} (minimum {minimum} list pages, +1 access check)")
    print(f"  wall: {wall:.1f} s (the minimum's time at the rate: {minimum / args.rate:.1f} s)")
    pages = math.ceil(args.rows / 100)
    print(f"status of {args.rows} links at the same rate and latency:")
    print(f"  requests: {status_summary['requests']} (minimum {pages}); "
          f"pending {status_summary['pending']}")  # fmt: skip
    print(f"  wall: {status_wall:.1f} s, process start included "
          f"(the minimum's time at the rate: {pages / args.rate:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
