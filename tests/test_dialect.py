"""Tier 3: first contact with a service that speaks another dialect — every endpoint still works."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agencyaccess_async import (
    AuthenticationError,
    CapabilityError,
    ClientType,
    InvalidServiceError,
    LinkStatus,
    NotFoundError,
    OutcomeUnknownError,
    Session,
)
from agencyaccess_async.lowlevel import Response
from agencyaccess_async.testing import MockTransport

from .dialect_server import KEY, DialectServer, serve_dialect

pytestmark = pytest.mark.socket

SERVICES = {
    "google": {
        "googleAds": {
            "accessLevel": "standard",
            "agencyAccountID": "acct_1",
            "agencyAccountName": "Our Ads account",
        }
    },
    "threads": {"threadsAds": {"agencyAccountID": "acct_t"}},  # not in our catalog
}


@pytest.fixture
async def dialect() -> AsyncIterator[tuple[DialectServer, Session]]:
    async with serve_dialect() as (server, url):
        session = Session(KEY, base_url=url, routes={"links.retrieve": "/api/links/get"})
        async with session:
            yield server, session


async def test_clients_endpoints_read_minimal_records(
    dialect: tuple[DialectServer, Session],
) -> None:
    """create/retrieve/list/update/delete work with id, epoch ms, "Prospect" and no updatedAt."""
    _, session = dialect
    client = await session.clients.create(name="Acme", email="ops@acme.test", type="prospect")  # type: ignore[arg-type]
    assert len(client.client_id) == 20
    assert client.type is ClientType.PROSPECT
    assert client.created_at is not None and client.created_at.year >= 2026
    assert client.updated_at is None
    assert client.extra == {}  # "id" and "created" were read as clientID and createdAt
    retrieved = await session.clients.retrieve(client.client_id)
    assert retrieved.client_id == client.client_id
    listed = await session.clients.list().collect()
    assert [c.client_id for c in listed] == [client.client_id]
    updated = await session.clients.update(client.client_id, name="Acme 2")
    assert updated.name == "Acme 2"
    deleted = await session.clients.delete(client.client_id)
    assert deleted.deleted
    with pytest.raises(NotFoundError, match="Client does not exist"):  # at HTTP 200
        await session.clients.retrieve(client.client_id)


async def test_links_endpoints_with_invite_url_beside_data_and_raw_services(
    dialect: tuple[DialectServer, Session],
) -> None:
    """links.create finds inviteUrl beside data; the dashboard JSON goes out unchanged."""
    server, session = dialect
    client = await session.clients.create(name="Acme", email="ops@acme.test")
    link = await session.links.create(client.client_id, services=SERVICES)
    assert link.invite_url is not None and link.invite_url.startswith("https://dialect.test/i/")
    assert link.status is LinkStatus.PENDING
    assert server.bodies[-1][1]["requestedServices"] == SERVICES
    assert (await session.links.retrieve(link.link_id)).link_id == link.link_id
    assert [x.link_id for x in await session.links.list(client_id=client.client_id).collect()] == [
        link.link_id
    ]
    changed = dict(SERVICES, meta={"metaAds": {"agencyAccountID": "acct_m"}})
    updated = await session.links.update(link.link_id, services=changed)
    assert updated.services.to_json() == changed
    server.grant_all(link.link_id)
    granted = await session.links.wait_until_granted(link.link_id, deadline=5, poll_interval=0.01)
    assert granted.status is LinkStatus.GRANTED
    assert (await session.links.delete(link.link_id)).deleted


async def test_the_guides_causes_at_http_200_choose_the_error_class(
    dialect: tuple[DialectServer, Session],
) -> None:
    """Capability, authentication and service causes, all at HTTP 200, get their classes."""
    server, session = dialect
    server.keys["clients-only"] = {"clients"}
    session.api_key = "clients-only"
    client = await session.clients.create(name="Acme", email="ops@acme.test")
    with pytest.raises(CapabilityError):
        await session.links.create(client.client_id, services=SERVICES)
    session.api_key = "nobody"
    with pytest.raises(AuthenticationError):
        await session.clients.retrieve(client.client_id)
    session.api_key = KEY
    with pytest.raises(InvalidServiceError):
        await session.links.create(client.client_id, services={}, retry=None)


async def test_key_rotation_takes_effect_on_the_next_request(
    dialect: tuple[DialectServer, Session],
) -> None:
    """session.api_key = new: the old key stops, the new one works, the pool stays."""
    server, session = dialect
    await session.clients.list().page()
    server.keys = {"rolled-key": {"clients", "links"}}  # the owner rolled the key
    with pytest.raises(AuthenticationError):
        await session.clients.list().page()
    session.api_key = "rolled-key\n"  # as read from a file
    assert (await session.clients.list().page()).items == ()


async def test_escape_hatches_for_what_the_model_does_not_know(
    dialect: tuple[DialectServer, Session],
) -> None:
    """extra_body reaches the server; session.post reaches a route the SDK does not know."""
    server, session = dialect
    await session.clients.create(
        name="Acme", email="ops@acme.test", extra_body={"externalRef": "crm-7"}
    )
    assert server.bodies[-1][1]["externalRef"] == "crm-7"
    info = await session.post("/api/account/info", {})
    assert info == {"agency": "Dialect Agency", "plan": "Pro"}


async def test_an_explicit_idempotency_key_is_found_by_search(
    dialect: tuple[DialectServer, Session],
) -> None:
    """The lookup-first create works on a server whose search matches metadata values."""
    server, session = dialect
    first = await session.clients.create(name="A", email="a@x.test", idempotency_key="crm-1")
    again = await session.clients.create(name="A", email="a@x.test", idempotency_key="crm-1")
    assert again.client_id == first.client_id
    assert len(server.clients) == 1


async def test_an_unknown_route_is_not_blindly_resent(
    dialect: tuple[DialectServer, Session],
) -> None:
    """session.post of a non-idempotent call answered 502 says the outcome is unknown, once sent."""
    server, session = dialect
    with pytest.raises(OutcomeUnknownError):
        await session.post("/api/account/flaky", {"x": 1})
    assert [path for path, _ in server.bodies] == ["/api/account/flaky"]


async def test_a_created_link_without_an_invite_url_keeps_its_id_on_the_error() -> None:
    """No inviteUrl inside data or beside it: DecodeError, with the raw data (the link exists)."""
    from agencyaccess_async import DecodeError

    answer = Response.json({"error": False, "data": {"id": "ln_made"}})
    transport = MockTransport(lambda request: answer)
    async with Session(KEY, base_url="https://api.test", transport=transport) as session:
        with pytest.raises(DecodeError) as info:
            await session.links.create("cl_1", services=SERVICES)
    assert info.value.data == {"id": "ln_made"}
    assert "inviteUrl" in str(info.value)


@pytest.mark.parametrize(
    "stamp", [1795842000, 1795842000000, "1795842000000", "2026-11-28T05:00:00Z", 1795842000.0]
)
def test_timestamps_read_as_iso_or_epoch_seconds_or_milliseconds(stamp: object) -> None:
    """ISO 8601, epoch seconds and epoch milliseconds (numbers or digits) read as one instant."""
    from datetime import datetime, timezone

    from agencyaccess_async import Client
    from agencyaccess_async._converter import CONVERTER

    client = CONVERTER.structure({"id": "c1", "createdAt": stamp}, Client)
    assert client.created_at == datetime(2026, 11, 28, 5, tzinfo=timezone.utc)


async def test_an_update_with_only_extra_body_is_sent(
    dialect: tuple[DialectServer, Session],
) -> None:
    """extra_body alone is a change: update() sends it instead of refusing an empty update."""
    server, session = dialect
    client = await session.clients.create(name="Acme", email="ops@acme.test")
    await session.clients.update(client.client_id, extra_body={"name": "Renamed"})
    assert server.bodies[-1] == (
        "/api/clients/update",
        {"clientID": client.client_id, "name": "Renamed"},
    )
