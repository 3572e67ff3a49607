"""The CLI against a slow API: ``onboard`` with default flags, emulator latency 20 ms.

Each row is two creates one after the other, so with C requests in flight
and L seconds per answer no run can beat C / (2 L) rows/s: 1,600 rows/s at
the default 64 and 20 ms. This runs the emulator (``--latency-ms``) and then
``agencyaccess-async onboard`` as processes, as a user would, ``--runs``
times on fresh CSVs, and prints the rows/s of each run two ways: over the
whole process (interpreter start, import and results file included) and as
the CLI's own last progress line reports it. The ratio to the bound is the
median with its min-max.

    python benchmarks/bench_cli.py [--rows 6000] [--latency-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agencyaccess_async._cli._onboard import DEFAULT_CONCURRENCY

SERVICES = Path(__file__).resolve().parent.parent / "examples" / "services.json"
CLI = [sys.executable, "-m", "agencyaccess_async"]
RATE = re.compile(r"(\d+)/(\d+) rows, (\d+) rows/s")


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "email"])
        writer.writerows([f"Client {i}", f"c{i}@example.test"] for i in range(rows))


def onboard(folder: Path, rows: int, base_url: str) -> tuple[float, float]:
    """One CLI run on a fresh CSV; (rows/s over the process, rows/s the CLI reports)."""
    table = folder / f"rows-{time.monotonic_ns()}.csv"
    write_rows(table, rows)
    env = {**os.environ, "AGENCYACCESS_API_KEY": "bench"}
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI, "onboard", str(table), "--services", str(SERVICES), "--base-url", base_url],
        capture_output=True, text=True, env=env, timeout=600, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    reported = [int(m.group(3)) for m in RATE.finditer(done.stdout + done.stderr)]
    if f"{rows} of {rows} rows onboarded" not in done.stdout + done.stderr:
        raise RuntimeError(f"not every row was onboarded:\n{done.stdout}{done.stderr}")
    return rows / elapsed, float(reported[-1]) if reported else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bound = DEFAULT_CONCURRENCY / (2 * args.latency_ms / 1000)
    emulator = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", "bench", "--latency-ms", str(args.latency_ms)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().split()[-1]
        print(
            f"{args.rows} rows, emulator latency {args.latency_ms:g} ms, default flags "
            f"({DEFAULT_CONCURRENCY} in flight): bound {bound:,.0f} rows/s"
        )
        whole, own = [], []
        with tempfile.TemporaryDirectory() as folder:
            for run in range(args.runs):
                process_rate, reported_rate = onboard(Path(folder), args.rows, base_url)
                whole.append(process_rate / bound)
                own.append(reported_rate / bound)
                print(f"  run {run + 1}: {process_rate:,.0f} rows/s over the process, "
                      f"{reported_rate:,.0f} as the CLI reports")  # fmt: skip
        for name, ratios in (("over the process", whole), ("as reported", own)):
            print(
                f"CLI / bound, {name}: {statistics.median(ratios):.2f} "
                f"({min(ratios):.2f}-{max(ratios):.2f}; goal >= 0.80)"
            )
    finally:
        emulator.terminate()
        emulator.wait()


if __name__ == "__main__":
    main()
