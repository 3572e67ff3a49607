"""The ``emulator`` command, run as a real process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

import agencyaccess_async as aa

pytestmark = pytest.mark.process


async def test_emulator_command_serves_and_stops_on_ctrl_c() -> None:
    """It prints the URL and a key that works, seeds accounts, and exits 0 on SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agencyaccess_async", "emulator", "--port", "0",
        "--api-key", "cli-key", "--rate-limit", "1000",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(4)]
    base_url = lines[1].strip().split("=", 1)[1]
    assert lines[2].strip() == "export AGENCYACCESS_API_KEY=cli-key"
    assert lines[3].startswith("connected agency accounts: acct_activecampaign_1, ")
    assert "acct_google_expired (expired)" in lines[3]
    try:
        async with aa.Session("cli-key", base_url=base_url) as session:
            client = await session.clients.create(name="Acme", email="ops@acme.test")
            services = {
                "meta": {"metaAds": {"accessLevel": "analyst", "agencyAccountID": "acct_meta_1"}}
            }
            link = await session.links.create(client.client_id, services=services)
            assert link.invite_url is not None
            assert link.invite_url.startswith(base_url + "/invite/")  # the emulator's own page
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr
    assert b"emulator stopped" in stdout
    assert b"Traceback" not in stderr


def test_non_loopback_host_needs_explicit_flag() -> None:
    """Binding a non-loopback address without --allow-non-loopback is a one-line usage error."""
    result = subprocess.run(
        [sys.executable, "-m", "agencyaccess_async", "emulator", "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--allow-non-loopback" in result.stderr


def test_print_openapi_writes_the_document_built_from_the_emulators_tables() -> None:
    """One command writes the OpenAPI document; it is the one the emulator serves."""
    import json

    from agencyaccess_async.emulator import openapi_document

    result = subprocess.run(
        [sys.executable, "-m", "agencyaccess_async", "emulator", "--print-openapi"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    document = json.loads(result.stdout)
    assert document == openapi_document()
    assert set(document["paths"]) == {
        "/api/clients/create", "/api/clients/list", "/api/clients/retrieve",
        "/api/clients/update", "/api/clients/delete", "/api/links/create", "/api/links/list",
        "/api/links/retrieve", "/api/links/update", "/api/links/delete",
    }  # fmt: skip
    # Each body schema is the validation table's: a field the emulator refuses is not in it.
    new_client = document["components"]["schemas"]["NewClient"]
    assert new_client["required"] == ["name", "email"]
    assert new_client["properties"]["name"] == {"type": "string", "maxLength": 200, "minLength": 1}
