"""The doctor command, run as a real process against the emulator and against the dialect server."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from .cli_helpers import CLI, EXAMPLES, Emulator, run_cli
from .dialect_server import KEY, serve_dialect

pytestmark = pytest.mark.process


def test_doctor_against_the_emulator_reads_and_writes_and_cleans_up(emulator: Emulator) -> None:
    """With --write it makes and deletes one client and one link; exit 0; nothing left behind."""
    result = run_cli(
        "doctor", "--base-url", emulator.base_url, "--write",
        "--services", str(EXAMPLES / "services.json"), env=emulator.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for needle in ("the key is accepted", "clients:create", "links:create", "clients:delete",
                   "the SDK can work"):  # fmt: skip
        assert needle in result.stderr
    assert emulator.admin("counters")["records"] == {"clients": 0, "links": 0}


def test_doctor_without_write_creates_nothing_and_names_missing_capabilities(
    emulator: Emulator,
) -> None:
    """A key without links:retrieve is reported; the run stays read-only."""
    weak = emulator.admin("keys", {"capabilities": ["clients:retrieve"]})["key"]
    result = run_cli("doctor", "--base-url", emulator.base_url, env=emulator.env(weak))
    assert result.returncode == 0, result.stderr
    assert "links:retrieve: not granted" in result.stderr
    assert "not checked" in result.stderr
    assert emulator.admin("counters")["records"] == {"clients": 0, "links": 0}


def test_doctor_with_a_refused_key_exits_1(emulator: Emulator) -> None:
    """A refused key: exit 1, one clear line, no traceback."""
    result = run_cli("doctor", "--base-url", emulator.base_url, env=emulator.env("wrong-key"))
    assert result.returncode == 1
    assert "the key is refused" in result.stderr
    assert "Traceback" not in result.stderr


async def test_doctor_reports_a_different_dialect_and_still_works() -> None:
    """Against the dialect server it lists the unknown and missing fields and headers, and exits 0."""
    async with serve_dialect() as (server, url):
        server.clients["c" * 20] = {"id": "c" * 20, "name": "A", "email": "a@x.test", "created": 1}
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYACCESS_")}
        process = await asyncio.create_subprocess_exec(
            *CLI, "doctor", "--base-url", url, "--write", stderr=subprocess.PIPE,
            env={**environment, "AGENCYACCESS_API_KEY": KEY},
        )  # fmt: skip
        _, stderr_bytes = await asyncio.wait_for(process.communicate(), 60)
    stderr = stderr_bytes.decode()
    assert process.returncode == 0, stderr
    assert "fields the SDK does not model (kept in .extra): created, id" in stderr
    assert "fields the SDK expected but did not get: clientID" in stderr
    assert "no X-RateLimit-* headers" in stderr
    assert "no X-Request-ID header" in stderr
    assert len(server.clients) == 1  # the --write client was deleted again
