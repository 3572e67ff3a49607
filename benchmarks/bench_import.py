"""Import time of the SDK against aiohttp alone (median of fresh interpreters).

Goal: ``import agencyaccess_async`` adds at most 30% over ``import aiohttp``;
the emulator, CLI and extras are not imported by it.

    python benchmarks/bench_import.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys


def import_us(module: str) -> int:
    output = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for line in reversed(output.splitlines()):
        _, cumulative, name = (part.strip() for part in line.split("|"))
        if name == module:
            return int(cumulative)
    raise RuntimeError(f"no import line for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results: dict[str, list[int]] = {"aiohttp": [], "agencyaccess_async": []}
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        for module in results:
            results[module].append(import_us(module))
    base = statistics.median(results["aiohttp"])
    sdk = statistics.median(results["agencyaccess_async"])
    print(f"import aiohttp            {base / 1000:7.1f} ms (median of {args.runs})")
    print(
        f"import agencyaccess_async {sdk / 1000:7.1f} ms ({sdk / base - 1:+.0%} over aiohttp; goal <= +30%)"
    )


if __name__ == "__main__":
    main()
