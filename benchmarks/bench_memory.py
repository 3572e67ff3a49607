"""Peak memory and time to the first request of each CLI command, on one --rows export.

``onboard --dry-run``, ``onboard``, ``status``, ``update`` and ``delete`` run
in turn as processes against an emulator process, on the same file: each one's
peak resident set is that process's own ``ru_maxrss`` (``os.wait4``), and its time to the
first request is from its start to the emulator's first answer to it (the
emulator's counters, polled every 20 ms; the dry run sends nothing, so its
figure is "—"). Issue #38's bound: 150 MiB and 2 s for each, at 1,000,000
rows.

    python benchmarks/bench_memory.py --rows 200000
    python benchmarks/bench_memory.py --rows 1000000 --first-requests   # update, delete only
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench_sweep import CLI, KEY, ROOT, admin, emulator_process

SERVICES = str(ROOT / "examples" / "services.json")


def write_export(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name", "email"])
        writer.writerows((f"ext-{i}", f"Client {i}", f"c{i}@example.test") for i in range(rows))


def total_requests(base_url: str) -> int:
    return int(asyncio.run(admin(base_url, "counters"))["total"])


def measure(base_url: str, label: str, *args: str, sends: bool = True) -> dict[str, object]:
    """Run one command: exit code, peak MiB, seconds to its first request, wall seconds."""
    before = total_requests(base_url)
    environment = {"AGENCYACCESS_API_KEY": KEY, "PATH": os.environ.get("PATH", "")}
    with tempfile.TemporaryFile("w+") as log:  # a file: a pipe read at the end could fill
        started = time.perf_counter()
        process = subprocess.Popen(
            [*CLI, *args], stdout=subprocess.DEVNULL, stderr=log, text=True, env=environment
        )
        first: float | None = None
        while True:  # wait4: this child's own rusage, so its own peak resident set
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if first is None and sends and total_requests(base_url) > before:
                first = time.perf_counter() - started
            time.sleep(0.02)
        wall = time.perf_counter() - started
        code = process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        lines = log.read().strip().splitlines()
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    sent = total_requests(base_url) - before
    summary = next((line for line in reversed(lines) if label.split()[0] in line), "")
    return {
        "command": label, "exit": code, "peak_mib": round(peak, 1),
        "first_request_s": None if first is None else round(first, 2), "wall_s": round(wall, 1),
        "requests": sent, "summary": summary[:160],
    }  # fmt: skip


def first_requests(rows: int) -> None:
    """update and delete on a --rows results file: seconds to their first request, then stop.

    With ``--any-account`` (the emulator holds none of the file's records) and
    ``--yes``: what a scheduled run on a big file waits before it sends.
    """
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "clients.results.csv"
        with results.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "email", "client_id", "link_id", "status", "target"])
            writer.writerows(
                (f"Client {i}", f"c{i}@example.test", f"cl_{i:020d}", f"ln_{i:020d}",
                 "onboarded", base_url)
                for i in range(rows)
            )  # fmt: skip
        environment = {"AGENCYACCESS_API_KEY": KEY, "PATH": os.environ.get("PATH", "")}
        for command in (["update", "--thank-you-message", "Thanks"], ["delete"]):
            before = total_requests(base_url)
            started = time.perf_counter()
            process = subprocess.Popen(
                [*CLI, command[0], str(results), *command[1:], "--yes", "--any-account"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
            )  # fmt: skip
            first = None
            while process.poll() is None and time.perf_counter() - started < 300:
                if total_requests(base_url) > before:
                    first = time.perf_counter() - started
                    break
                time.sleep(0.02)
            process.terminate()
            process.wait(timeout=60)
            shown = "none" if first is None else f"{first:.2f} s"
            print(f"{command[0]} of {rows} rows: first request after {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--first-requests",
        action="store_true",
        help="only time update's and delete's first request on a --rows results file",
    )
    args = parser.parse_args()
    if args.first_requests:
        first_requests(args.rows)
        return
    concurrency = ("--concurrency", str(args.concurrency))
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "clients.csv"
        write_export(export, args.rows)
        size = export.stat().st_size
        results = Path(tmp) / "clients.results.csv"
        status = Path(tmp) / "clients.status.csv"
        verdicts = Path(tmp) / "verdicts.csv"
        base = ("--base-url", base_url)
        runs = [
            measure(base_url, "onboard --dry-run", "onboard", str(export), "--services", SERVICES,
                    "--dry-run", "--out", str(verdicts), *base, sends=False),
            measure(base_url, "onboard", "onboard", str(export), "--services", SERVICES,
                    "--out", str(results), *base, *concurrency),
            measure(base_url, "status", "status", str(results), "--out", str(status), *base),
            measure(base_url, "update", "update", str(status), "--thank-you-message", "Thanks",
                    "--yes", *base, *concurrency),
            measure(base_url, "delete", "delete", str(status), "--yes", *base, *concurrency),
        ]  # fmt: skip
    print(f"{args.rows} rows ({size / 2**20:.0f} MiB of CSV), concurrency {args.concurrency}")
    print("| command | exit | peak RSS | first request | wall | requests |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for run in runs:
        first = "—" if run["first_request_s"] is None else f"{run['first_request_s']} s"
        print(
            f"| `{run['command']}` | {run['exit']} | {run['peak_mib']} MiB | {first} "
            f"| {run['wall_s']} s | {run['requests']} |"
        )
    for run in runs:
        print(f"{run['command']}: {run['summary']}")


if __name__ == "__main__":
    main()
