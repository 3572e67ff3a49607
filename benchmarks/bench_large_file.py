"""A CRM export of --rows rows, 5% bad in five ways, onboarded against an emulator process.

Checks what issue "CRM exports" asks of a big file: every good row reaches
the server, every bad row is reported with its number, nothing else is
lost. Prints the wall time, the rows per second and the peak memory of the
onboard process (ru_maxrss of the child).

    python benchmarks/bench_large_file.py --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_sweep import CLI, KEY, ROOT, admin, emulator_process

BAD = (
    {"email": "not-an-address"},
    {"name": ""},
    {"website": "ftp://files.example"},
    {"type": "partner"},
    {"email": "two@@example.test"},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        bad = 0
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Company Name", "E-mail Address", "Website URL", "type"])
            for i in range(args.rows):
                row = {"name": f"Client {i}", "email": f"c{i}@example.test",
                       "website": f"client{i}.example", "type": ""}  # fmt: skip
                if i % 20 == 0:
                    row.update(BAD[(i // 20) % len(BAD)])
                    bad += 1
                writer.writerow(row.values())
        started = time.perf_counter()
        result = subprocess.run(
            [*CLI, "onboard", str(path), "--services", str(ROOT / "examples" / "services.json"),
             "--base-url", base_url],
            capture_output=True, text=True, env={"AGENCYACCESS_API_KEY": KEY, "PATH": ""},
            check=False, timeout=7200,
        )  # fmt: skip
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with path.with_suffix(".results.csv").open(newline="") as handle:
            statuses: dict[str, int] = {}
            for row in csv.DictReader(handle):
                statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        records = asyncio.run(admin(base_url, "counters"))["records"]
    print(f"{args.rows} rows ({bad} bad): exit {result.returncode}, {wall:.1f} s, "
          f"{args.rows / wall:.0f} rows/s, peak RSS {peak:.0f} MiB")  # fmt: skip
    print(f"  results: {statuses}; on the server: {records}")
    print("  " + result.stderr.strip().splitlines()[-1][:300])
    sys.exit(0 if statuses.get("invalid") == bad and records["clients"] == args.rows - bad else 1)


if __name__ == "__main__":
    main()
