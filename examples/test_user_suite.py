"""How your own test suite can use the SDK without the real API.

Two ways, both shown here:

- the emulator fixtures (a real local server, faults on demand): add
  ``pytest_plugins = ["agencyaccess_async.testing"]`` to your top-level
  ``conftest.py`` (this example is run with ``-p agencyaccess_async.testing``);
- ``MockTransport`` for fast unit tests of your own code paths.

Both need pytest-asyncio (``asyncio_mode = "auto"`` or ``@pytest.mark.asyncio``).
"""

from __future__ import annotations

import pytest

import agencyaccess_async as aa
from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport, RunningEmulator

pytestmark = pytest.mark.asyncio

SERVICES = {
    "google": {"googleAds": {"accessLevel": "readOnly", "agencyAccountID": "acct_google_1"}}
}


async def onboard_customer(session: aa.Session, name: str, email: str) -> str:
    """The code under test: your application's onboarding function."""
    client = await session.clients.create(name=name, email=email)
    link = await session.links.create(client.client_id, services=SERVICES)
    return link.invite_url


async def test_onboarding_against_the_emulator(agencyaccess_session: aa.Session) -> None:
    """The whole flow against a real (local) server."""
    invite_url = await onboard_customer(agencyaccess_session, "Acme", "ops@acme.example")
    assert "/invite/" in invite_url  # the emulator's own invite page, openable in a browser


async def test_onboarding_survives_flaky_network(
    agencyaccess_emulator: RunningEmulator, agencyaccess_session: aa.Session
) -> None:
    """Half the creates are processed but their answer is lost: still exactly one client and link."""
    await agencyaccess_emulator.admin.set_faults(
        dropAfter=0.5, routes=["clients.create", "links.create"]
    )
    await onboard_customer(agencyaccess_session, "Acme", "ops@acme.example")
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 1, "links": 1}


async def test_onboarding_reports_a_refused_email() -> None:
    """A unit test with MockTransport: no server at all."""

    def handler(request: Request) -> Response:
        return Response.json(
            {"error": True, "msg": "Invalid field email: must be a valid e-mail address"},
            status=400,
        )

    transport = MockTransport(handler)
    async with aa.Session("test-key", transport=transport) as session:
        with pytest.raises(aa.InvalidRequestError) as info:
            await onboard_customer(session, "Acme", "not-an-email")
    assert info.value.path == "email"
    assert [r.url.path for r in transport.requests] == ["/api/clients/create"]
