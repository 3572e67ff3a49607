"""Tiers 2-3: what cannot be sent is refused before any I/O; an explicit idempotency key is honoured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agencyaccess_async import (
    InvalidRequestError,
    NewClient,
    OnboardItem,
    RequestedServices,
    Session,
    SessionError,
    _json,
)
from agencyaccess_async.testing import MockTransport, RunningEmulator

from .helpers import SECRET_KEY, client_json, ok

pytestmark = pytest.mark.socket


@pytest.fixture(params=["json", "orjson"])
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test with each JSON codec: they fail on different exceptions."""
    if request.param == "orjson":
        pytest.importorskip("orjson")
    _json.use_stdlib(request.param == "json")
    yield request.param
    _json.use_stdlib(False)


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"name": "Acme \udc80"}, "name"),
        ({"metadata": {"note": "x\ud800y"}}, "metadata.note"),
        ({"company": "\udfff"}, "company"),
    ],
)
async def test_a_lone_surrogate_is_an_invalid_request_naming_the_field(
    codec: str, fields: dict[str, object], path: str
) -> None:
    """Text UTF-8 cannot carry is an InvalidRequestError with the field's path; nothing is sent."""
    transport = MockTransport(lambda r: ok(client_json()))
    base = {"name": "Acme", "email": "ops@acme.test"}
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport) as session:
        with pytest.raises(InvalidRequestError) as info:
            await session.clients.create(**{**base, **fields})  # type: ignore[arg-type]
    assert info.value.path == path
    assert info.value.status == 0
    assert "nothing was sent" in str(info.value)
    assert transport.requests == []


def _circular() -> dict[str, object]:
    services: list[object] = ["googleAds"]
    extra = {"services": services}
    services.append(extra)
    return {"clientID": "cl_1", "extra": extra}


def _deep(levels: int) -> dict[str, object]:
    payload: dict[str, object] = {}
    inner = payload
    for _ in range(levels):
        inner["k"] = inner = {}
    return payload


@pytest.mark.parametrize(
    ("payload", "path", "why"),
    [
        (_circular(), "extra.services[1]", "circular reference"),
        (_deep(100_000), ".".join(["k"] * 200), "nested more than 200 levels deep"),
    ],
    ids=["circular", "deep"],
)
async def test_a_circular_or_bottomless_payload_is_an_invalid_request(
    codec: str, payload: dict[str, object], path: str, why: str
) -> None:
    """Raw JSON that contains itself, or nests past what a codec writes, names where; no
    RecursionError escapes and nothing is sent."""
    transport = MockTransport(lambda r: ok(client_json()))
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport) as session:
        with pytest.raises(InvalidRequestError) as info:
            await session.post("/api/clients/retrieve", payload)
    assert info.value.path == path
    assert why in str(info.value)
    assert "nothing was sent" in str(info.value)
    assert transport.requests == []


def test_an_api_key_is_stripped_of_surrounding_whitespace() -> None:
    """A key read from a file with its newline works as the key."""
    session = Session(f"  {SECRET_KEY}\n", base_url="https://api.test")
    other = Session(SECRET_KEY, base_url="https://api.test")
    assert session.key_fingerprint == other.key_fingerprint


@pytest.mark.parametrize("bad", ["abc\ndef", "abc\x00def", "abc\rdef", "clé-secrète"])
def test_a_key_with_an_inner_control_character_is_a_session_error(bad: str) -> None:
    """Header injection is refused at construction, and the message never shows the key."""
    with pytest.raises(SessionError) as info:
        Session(bad, base_url="https://api.test")
    assert bad not in str(info.value)
    assert "position" in str(info.value)


async def test_the_sent_key_is_the_stripped_one() -> None:
    """X-Auth carries the key without its newline."""
    transport = MockTransport(lambda r: ok(client_json()))
    async with Session(SECRET_KEY + "\n", base_url="https://api.test", transport=transport) as s:
        await s.clients.retrieve("cl_1")
    assert transport.requests[0].api_key.reveal() == SECRET_KEY


async def test_a_given_idempotency_key_makes_a_second_create_return_the_first(
    agencyaccess_session: Session, agencyaccess_emulator: RunningEmulator
) -> None:
    """Two creates with idempotency_key="crm-42" make one client; the second returns it."""
    first = await agencyaccess_session.clients.create(
        name="Acme", email="ops@acme.test", idempotency_key="crm-42"
    )
    second = await agencyaccess_session.clients.create(
        name="Acme", email="ops@acme.test", idempotency_key="crm-42"
    )
    other = await agencyaccess_session.clients.create(
        name="Acme", email="ops@acme.test", idempotency_key="crm-43"
    )
    assert second.client_id == first.client_id
    assert other.client_id != first.client_id
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"]["clients"] == 2


async def test_a_given_key_with_full_metadata_is_refused_not_dropped() -> None:
    """50 metadata entries leave no room for the key: refused before any I/O."""
    transport = MockTransport(lambda r: ok(client_json()))
    metadata = {f"k{i}": "v" for i in range(50)}
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport) as session:
        with pytest.raises(InvalidRequestError) as info:
            await session.clients.create(
                name="Acme", email="ops@acme.test", metadata=metadata, idempotency_key="crm-42"
            )
        generated = await session.clients.create(
            name="Acme", email="ops@acme.test", metadata=metadata
        )
    assert info.value.path == "metadata"
    assert generated.client_id == "cl_1"  # without a given key, the create still goes
    assert len(transport.requests) == 1


async def test_rerunning_keyed_rows_without_a_journal_creates_nothing_twice(
    agencyaccess_session: Session,
    agencyaccess_emulator: RunningEmulator,
    services: RequestedServices,
) -> None:
    """The same OnboardItem(key=...) rows run twice (a notebook cell re-run): 5 clients, 5 links."""
    rows = [
        OnboardItem(NewClient(name=f"Client {i}", email=f"c{i}@example.test"), key=f"crm-{i}")
        for i in range(5)
    ]
    first = await agencyaccess_session.bulk.onboard(rows, services=services).collect()
    again = await agencyaccess_session.bulk.onboard(rows, services=services).collect()
    assert all(r.ok for r in first + again)
    assert {r.value.link_id for r in again if r.value} == {
        r.value.link_id for r in first if r.value
    }
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 5, "links": 5}
