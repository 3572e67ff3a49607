"""The testing kit, as a user's suite uses it: MockTransport answers, calls and asserts,
deterministic idempotency keys, and the plugin's instant retries with an opt-out marker.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import agencyaccess_async as aa
from agencyaccess_async.lowlevel import IDEMPOTENCY_METADATA_KEY
from agencyaccess_async.testing import MockTransport, make_client

from .helpers import SECRET_KEY

pytestmark = pytest.mark.unit


def test_respond_refuses_an_operation_the_sdk_does_not_know() -> None:
    with pytest.raises(ValueError, match="no operation 'client.create'.*clients.create"):
        MockTransport().respond("client.create", make_client())


async def test_a_side_effect_answers_in_turn_and_records_every_call() -> None:
    transport = MockTransport().respond(
        "clients.retrieve",
        side_effect=[
            aa.ConnectError("refused"),
            aa.ServerError("busy", status=503),
            make_client(client_id="cl_7"),
        ],
    )
    async with aa.Session(SECRET_KEY, base_url="https://api.test", transport=transport) as s:
        client = await s.clients.retrieve("cl_7")
        again = await s.clients.retrieve("cl_7")  # the last answer, again
    assert client.client_id == again.client_id == "cl_7"
    assert [call.operation for call in transport.calls] == ["clients.retrieve"] * 4
    assert transport.calls[0].json == {"clientID": "cl_7"}
    assert all("X-Auth" not in call.headers for call in transport.calls)
    assert transport.requests[0].json() == {"clientID": "cl_7"}


async def test_assert_called_once_with_checks_the_fields_by_python_or_wire_name(
    agencyaccess_idempotency_keys: None,
) -> None:
    transport = MockTransport().respond("clients.create", make_client())
    async with aa.Session(SECRET_KEY, base_url="https://api.test", transport=transport) as s:
        await s.clients.create(name="Acme", email="ops@acme.test", type="prospect")
    call = transport.assert_called_once_with("clients.create", name="Acme", type="prospect")
    assert call.json == {  # exact, with the deterministic key
        "name": "Acme", "email": "ops@acme.test", "type": "prospect",
        "metadata": {IDEMPOTENCY_METADATA_KEY: "idem-1"},
    }  # fmt: skip
    with pytest.raises(AssertionError, match="name: sent 'Acme', expected 'Other'"):
        transport.assert_called_once_with("clients.create", name="Other")
    with pytest.raises(AssertionError, match="called 0 times"):
        transport.assert_called_once_with("links.create")


@pytest.mark.process
def test_the_plugin_makes_retries_instant_unless_a_test_opts_out(tmp_path: Path) -> None:
    """Run as a user's own suite: a 429 asking for 30 s, then success; deadline 5 s."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["agencyaccess_async.testing"]\n')
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent("""
        import pytest
        import agencyaccess_async as aa
        from agencyaccess_async.lowlevel import Response
        from agencyaccess_async.testing import MockTransport, make_client

        def transport():
            answer = Response.json({"error": True, "msg": "Rate limit exceeded"}, status=429,
                                   headers={"Retry-After": "30"})
            return MockTransport().respond(
                "clients.retrieve", side_effect=[answer, make_client()])

        async def call():
            async with aa.Session("k", base_url="https://api.test", transport=transport(),
                                  retry=aa.RetryPolicy(deadline=5)) as s:
                return await s.clients.retrieve("cl_test")

        @pytest.mark.asyncio
        async def test_instant_by_default():
            assert (await call()).client_id == "cl_test"

        @pytest.mark.asyncio
        @pytest.mark.agencyaccess_real_waits
        async def test_real_waits_when_marked():
            with pytest.raises(aa.RateLimitError):  # the 30 s pause outlasts the 5 s deadline
                await call()
    """)
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "--strict-markers", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
