"""Four onboard processes on one key against a 40 req/s limit: with and without a shared budget.

An emulator (its own process, limited to --limit requests per second) and,
for the shared case, a redis-server on a free loopback port. Each case runs
--processes ``onboard`` processes at once, one shard each of a CSV of
--rows rows, all with the same API key; then it reads the emulator's
counters. It prints the requests sent, the 429s, their share, and the wall
time against the ideal (successful requests / limit).

    python benchmarks/bench_shared_limit.py [--rows 480] [--processes 4] [--limit 40]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLI = [sys.executable, "-m", "agencyaccess_async"]
KEY = "bench-shared-key"
#: The emulators here are started with this admin token (the admin API needs it).
ADMIN_TOKEN = "bench-admin-token"
ADMIN = {"X-Emulator-Admin": ADMIN_TOKEN}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(redis_server: str) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server on a free loopback port (no persistence); the process and its URL."""
    port = free_port()
    redis = subprocess.Popen(
        [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return redis, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    redis.kill()
    raise RuntimeError("redis-server did not start")


def counters(base_url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Requests by status, and records held, from the emulator's counters."""
    request = urllib.request.Request(f"{base_url}/_emulator/counters", headers=ADMIN)
    with urllib.request.urlopen(request) as answer:
        data = json.load(answer)["data"]
    by_status: dict[str, int] = {}
    for statuses in data["requests"].values():
        for status, count in statuses.items():
            by_status[status] = by_status.get(status, 0) + count
    return by_status, data["records"]


def run_case(
    folder: Path,
    rows: int,
    processes: int,
    limit: int,
    redis_url: str | None,
    latency_ms: float = 0.0,
    stop_redis: Callable[[], None] | None = None,
) -> dict[str, float]:
    """``processes`` onboard processes on one key; what the emulator counted, and the time."""
    emulator = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", KEY, "--rate-limit", str(limit),
         "--latency-ms", str(latency_ms), "--admin-token", ADMIN_TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert emulator.stdout is not None
    base_url = emulator.stdout.readline().strip().rsplit(" ", 1)[1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        table = folder / "clients.csv"
        with table.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["external_id", "name", "email"])
            writer.writerows([f"e{i}", f"Client {i}", f"c{i}@example.test"] for i in range(rows))
        env = {"AGENCYACCESS_API_KEY": KEY, "PATH": "/usr/bin:/bin"}
        started = time.monotonic()
        jobs = [
            subprocess.Popen(
                [
                    *CLI,
                    "onboard",
                    str(table),
                    "--services",
                    str(EXAMPLES / "services.json"),
                    "--out",
                    str(folder / f"out-{i}.csv"),
                    "--base-url",
                    base_url,
                    *(["--shard", f"{i}/{processes}"] if processes > 1 else []),
                    "--concurrency",
                    "16",
                    *(["--redis-url", redis_url, "--redis-fallback"] if redis_url else []),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(1, processes + 1)
        ]
        if stop_redis is not None:  # Redis goes away two seconds into the run
            threading.Timer(2.0, stop_redis).start()
        failures = [job.communicate(timeout=900)[1] for job in jobs if job.wait(900) not in (0, 1)]
        wall = time.monotonic() - started
        failed_rows = sum(
            row["status"] != "onboarded"
            for i in range(1, processes + 1)
            for row in csv.DictReader((folder / f"out-{i}.csv").open(newline=""))
        )
        if failures:
            raise SystemExit("an onboard process failed:\n" + failures[0])
        statuses, records = counters(base_url)
    finally:
        emulator.terminate()
        emulator.wait(10)
    sent = sum(statuses.values())
    ok = statuses.get("200", 0)
    return {
        "requests": sent,
        "429s": statuses.get("429", 0),
        "share": statuses.get("429", 0) / sent if sent else 0.0,
        "wall": wall,
        "ideal": ok / limit,
        "all rows once": float(records == {"clients": rows, "links": rows}),
        "failed rows": failed_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=480)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--limit", type=int, default=40)
    args = parser.parse_args()
    redis_server = shutil.which("redis-server")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["no shared budget"] = run_case(
            Path(tmp, "a"), args.rows, args.processes, args.limit, None
        )
        # Redis unreachable from the start (a closed port), with --redis-fallback: each
        # process paces at its shard's share of the limit (rate / N from --shard I/N).
        results["Redis never up"] = run_case(
            Path(tmp, "d"),
            args.rows,
            args.processes,
            args.limit,
            f"redis://127.0.0.1:{free_port()}/0",
        )
        if redis_server is None:
            print("redis-server not found: the shared case was not run")
        else:
            redis, url = start_redis(redis_server)
            try:
                results["RedisLimiter"] = run_case(
                    Path(tmp, "b"), args.rows, args.processes, args.limit, url
                )
                results["Redis down at 2 s"] = run_case(
                    Path(tmp, "c"), args.rows, args.processes, args.limit, url,
                    stop_redis=redis.kill,
                )  # fmt: skip
            finally:
                redis.terminate()
                redis.wait(10)
    print(f"{args.processes} onboard processes x {args.rows // args.processes} rows, one key, "
          f"limit {args.limit} req/s")  # fmt: skip
    print(f"{'case':<20}{'requests':>10}{'429s':>8}{'429 share':>11}{'wall s':>9}"
          f"{'ideal s':>9}{'wall/ideal':>12}{'all rows once':>15}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<20}{r['requests']:>10.0f}{r['429s']:>8.0f}{r['share']:>10.2%}"
              f"{r['wall']:>9.1f}{r['ideal']:>9.1f}{r['wall'] / r['ideal']:>12.2f}"
              f"{'yes' if r['all rows once'] else 'no':>15}")  # fmt: skip


if __name__ == "__main__":
    main()
