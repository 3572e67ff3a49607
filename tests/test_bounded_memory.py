"""Memory that does not grow with the file: the CLI's peak RSS, read from the kernel.

Each command runs as a process; its peak resident set is the kernel's
VmHWM of that process (``cli_helpers.measured_cli``). The bounds are generous (an interpreter with aiohttp is about
40 MiB), and still well under what holding the file cost before: 120 MiB
for the dry run of 200,000 rows, 4.4 KiB a link for ``status`` (about 93
MiB for 12,000 links).
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

from .cli_helpers import CLI, EXAMPLES, measured_cli, running_emulator

pytestmark = [
    pytest.mark.process,
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM"),
]


def _rows(path: Path, count: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name", "email"])
        writer.writerows((f"ext-{i}", f"Client {i}", f"c{i}@example.test") for i in range(count))
    return path


def test_a_dry_run_of_200k_rows_stays_small(tmp_path: Path) -> None:
    table = _rows(tmp_path / "clients.csv", 200_000)
    verdicts = tmp_path / "verdicts.csv"
    code, lines, peak = measured_cli(
        "onboard", str(table), "--services", str(EXAMPLES / "services.json"), "--dry-run",
        "--out", str(verdicts),
    )  # fmt: skip
    assert code == 0, lines
    assert "200000 valid" in "\n".join(lines)
    with verdicts.open() as written:
        assert sum(1 for _ in written) == 200_001  # every row's verdict, streamed
    assert peak < 80, f"{peak:.0f} MiB"


def test_status_of_12k_links_keeps_no_link_in_memory(tmp_path: Path) -> None:
    """12,000 links onboarded, then their status: the statuses go to SQLite, rows stream."""
    table = _rows(tmp_path / "clients.csv", 12_000)
    with running_emulator() as emulator:
        onboard = subprocess.run(
            [*CLI, "onboard", str(table), "--services", str(EXAMPLES / "services.json"),
             "--base-url", emulator.base_url, "--concurrency", "32"],
            capture_output=True, text=True, timeout=300, env={**os.environ, **emulator.env()},
        )  # fmt: skip
        assert onboard.returncode == 0, onboard.stderr
        code, lines, peak = measured_cli(
            "status",
            str(tmp_path / "clients.results.csv"),
            "--base-url",
            emulator.base_url,
            env=emulator.env(),
        )
    assert code == 0, lines
    assert "12000 links: 12000 pending; 121 requests" in "\n".join(lines)
    assert peak < 75, f"{peak:.0f} MiB"
