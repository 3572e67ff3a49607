"""Helpers for tests that run the CLI as a process: run it, read its files, drive an emulator."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLI = [sys.executable, "-m", "agencyaccess_async"]


#: A CLI process under test turns every DeprecationWarning into an error, as the suite's
#: own filterwarnings does: the CLI must not use the SDK's deprecated names (nor lean
#: on anything its dependencies deprecate).
DEPRECATIONS_FAIL = "error::DeprecationWarning"


def cli_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a CLI process gets: none of ours, the warnings filter, ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    environment["PYTHONWARNINGS"] = DEPRECATIONS_FAIL
    environment.update(env or {})
    return environment


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = cli_environment(env)
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=300, env=environment, cwd=cwd
    )


def read_results(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)  # results may carry a huge (refused) cell
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def clean_rows(n: int) -> list[dict[str, str]]:
    return [
        {"external_id": f"ext-{i}", "name": f"Client {i}", "email": f"c{i}@example.test"}
        for i in range(n)
    ]


def onboarded(emulator: Emulator, folder: Path, rows: int) -> Path:
    """``rows`` clean rows onboarded against ``emulator`` from ``folder``; their results file."""
    path = write_csv(folder / "clients.csv", clean_rows(rows))
    result = run_cli(
        "onboard", str(path), "--services", str(EXAMPLES / "services.json"),
        "--base-url", emulator.base_url, env=emulator.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder / "clients.results.csv"


def requests_of(emulator: Emulator, operation: str) -> int:
    """How many ``operation`` requests the emulator served, whatever their status."""
    counted: dict[str, int] = emulator.admin("counters")["requests"].get(operation, {})
    return sum(counted.values())


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


@attrs.frozen
class Emulator:
    base_url: str
    key: str
    process: Any

    def env(self, key: str | None = None) -> dict[str, str]:
        return {"AGENCYACCESS_API_KEY": key or self.key}

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return asyncio.run(_admin(self.base_url, path, body))


#: The admin token the test emulators are started with (their admin API needs it).
ADMIN_TOKEN = "cli-test-admin-token"
ADMIN_HEADERS = {"X-Emulator-Admin": ADMIN_TOKEN}


async def _admin(base_url: str, path: str, body: dict[str, Any] | None) -> Any:
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        method = http.post if body is not None else http.get
        async with method(f"{base_url}/_emulator/{path}", json=body) as answer:
            return (await answer.json())["data"]


def answered_on_a_terminal(
    args: list[str], env: dict[str, str], answer: bytes = b"n\n"
) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its stdin, typing ``answer``: (exit code, stderr)."""
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    process = subprocess.Popen(
        [*CLI, *args], stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**environment, **env},
    )  # fmt: skip
    os.close(terminal)
    os.write(controller, answer)
    _, stderr = process.communicate(timeout=60)
    os.close(controller)
    return process.returncode, stderr


def start_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    environment = cli_environment(env)
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def wait_for_clients(emulator: Emulator, at_least: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while emulator.admin("counters")["records"]["clients"] < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


@contextlib.contextmanager
def running_emulator(*options: str) -> Iterator[Emulator]:
    """A standalone emulator process (``agencyaccess-async emulator``), stopped afterwards."""
    process = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", "cli-test-key",
         "--admin-token", ADMIN_TOKEN, *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    base_url = process.stdout.readline().strip().rsplit(" ", 1)[1]
    try:
        yield Emulator(base_url, "cli-test-key", process)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


#: Runs the CLI in this child and prints its peak resident memory (KiB) last on stderr: the
#: kernel's VmHWM of this process image (ru_maxrss would count the forking parent's pages).
_MEASURED = (
    "import re, sys\n"
    "from agencyaccess_async._cli import main\n"
    "code = main(sys.argv[1:])\n"
    "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "print(f'peak-rss-kib {peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def measured_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], float]:
    """Run the CLI: its exit code, its stderr lines, and its peak RSS in MiB (Linux only)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args],
        capture_output=True, text=True, timeout=300, env={**environment, **(env or {})},
    )  # fmt: skip
    *lines, peak = result.stderr.strip().splitlines()
    assert peak.startswith("peak-rss-kib "), result.stderr
    return result.returncode, lines, int(peak.split()[1]) / 1024
