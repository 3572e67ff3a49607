"""Tier 2: every endpoint through MockTransport — route, headers, body, result type, errors."""

from __future__ import annotations

from typing import Any

import pytest

from agencyaccess_async import (
    APIError,
    AuthenticationError,
    CapabilityError,
    Client,
    ClientType,
    DecodeError,
    InvalidRequestError,
    InvalidServiceError,
    Language,
    Link,
    LinkStatus,
    NewLink,
    NotFoundError,
    RateLimitError,
    RequestedServices,
    RetryPolicy,
    ServerError,
    Session,
    WaitTimeoutError,
)
from agencyaccess_async.lowlevel import IDEMPOTENCY_METADATA_KEY, Request, Response
from agencyaccess_async.testing import MockTransport
from agencyaccess_async.types import DeletedClient, DeletedLink

from .helpers import SECRET_KEY, body_of, client_json, fail, link_json, ok

pytestmark = pytest.mark.unit


class FakeApi:
    """A MockTransport handler answering each route with canned, contract-shaped data."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.pages: list[tuple[list[Any], str | None]] = []

    def __call__(self, request: Request) -> Response:
        route = request.url.path
        body = body_of(request)
        self.calls.append((route, body))
        if route.endswith("/list"):
            items, cursor = self.pages.pop(0)
            return ok(items, nextCursor=cursor)
        if route.endswith("/delete"):
            return ok({**body, "deleted": True})
        if route.startswith("/api/clients"):
            return ok(
                client_json(
                    body.get("clientID", "cl_new"),
                    **{k: v for k, v in body.items() if k != "clientID"},
                )
            )
        return ok(link_json(body.get("linkID", "ln_new"), body.get("clientID", "cl_1")))


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def session(api: FakeApi) -> Any:
    async with Session(SECRET_KEY, base_url="https://api.test", transport=MockTransport(api)) as s:
        yield s


async def test_clients_create(session: Session, api: FakeApi) -> None:
    """clients.create looks a given idempotency key up, then posts NewClient carrying it."""
    api.pages = [([], None)]  # nothing made with that key yet
    client = await session.clients.create(
        name="Acme", email="ops@acme.test", type=ClientType.PROSPECT, language=Language.ES,
        metadata={"crm": "42"}, idempotency_key="row-1",
    )  # fmt: skip
    assert isinstance(client, Client)
    assert api.calls == [
        ("/api/clients/list", {"search": "row-1", "limit": 100}),
        (
            "/api/clients/create",
            {
                "name": "Acme", "email": "ops@acme.test", "type": "prospect", "language": "es",
                "metadata": {"crm": "42", IDEMPOTENCY_METADATA_KEY: "row-1"},
            },
        )
    ]  # fmt: skip


async def test_clients_retrieve_update_delete(session: Session, api: FakeApi) -> None:
    """retrieve/update/delete post the id (and changes) to their routes."""
    assert isinstance(await session.clients.retrieve("cl_1"), Client)
    updated = await session.clients.update("cl_1", company=None, name="New")
    assert isinstance(updated, Client)
    deleted = await session.clients.delete("cl_1")
    assert deleted == DeletedClient("cl_1", True)
    assert api.calls == [
        ("/api/clients/retrieve", {"clientID": "cl_1"}),
        ("/api/clients/update", {"clientID": "cl_1", "name": "New", "company": None}),
        ("/api/clients/delete", {"clientID": "cl_1"}),
    ]


async def test_links_create_with_builder_or_raw_json(
    session: Session, api: FakeApi, services: RequestedServices
) -> None:
    """links.create sends a RequestedServices, or the dashboard's raw JSON exactly as given."""
    link = await session.links.create(
        "cl_1", services=services, send_email=True, thank_you_message="Thanks"
    )
    assert isinstance(link, Link)
    await session.links.create("cl_1", services=services.to_json())
    assert api.calls[0] == (
        "/api/links/create",
        {
            "clientID": "cl_1",
            "requestedServices": services.to_json(),
            "sendEmail": True,
            "thankYouMessage": "Thanks",
        },
    )
    assert api.calls[1][1] == {"clientID": "cl_1", "requestedServices": services.to_json()}
    unknown = {"google": {"googleAd": {"agencyAccountID": "a", "agencyAccountName": "Ours"}}}
    await session.links.create("cl_1", services=unknown)  # advice, not refusal: the API decides
    assert api.calls[2][1]["requestedServices"] == unknown
    strict = Session(SECRET_KEY, base_url="https://api.test", transport=MockTransport(api),
                     strict_services=True)  # fmt: skip
    async with strict:
        with pytest.raises(InvalidServiceError, match="did you mean 'googleAds'"):
            await strict.links.create("cl_1", services=unknown)
    assert len(api.calls) == 3


async def test_links_retrieve_update_delete(
    session: Session, api: FakeApi, services: RequestedServices
) -> None:
    """Link retrieve/update/delete hit their routes with the contract's bodies."""
    assert isinstance(await session.links.retrieve("ln_1"), Link)
    await session.links.update("ln_1", services=services, redirect_url="https://a.test")
    assert await session.links.delete("ln_1") == DeletedLink("ln_1", True)
    assert [c[0] for c in api.calls] == [
        "/api/links/retrieve",
        "/api/links/update",
        "/api/links/delete",
    ]
    assert api.calls[1][1] == {
        "linkID": "ln_1",
        "requestedServices": services.to_json(),
        "redirectURL": "https://a.test",
    }


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.clients.retrieve(""),
        lambda s: s.clients.update("  ", name="x"),
        lambda s: s.clients.delete(""),
        lambda s: s.links.retrieve(""),
        lambda s: s.links.create("", services={}),
        lambda s: s.links.delete(""),
        lambda s: s.links.update("", send_email=True),
        lambda s: s.links.wait_until_granted(""),
    ],
)
async def test_empty_id_is_value_error_before_io(session: Session, api: FakeApi, call: Any) -> None:
    """An empty id raises ValueError and sends nothing."""
    with pytest.raises(ValueError, match="non-empty"):
        await call(session)
    assert api.calls == []


async def test_update_without_changes_is_value_error(session: Session, api: FakeApi) -> None:
    """An update with nothing to change is refused locally."""
    with pytest.raises(ValueError, match="at least one field"):
        await session.clients.update("cl_1")
    with pytest.raises(ValueError, match="at least one field"):
        await session.links.update("ln_1")
    assert api.calls == []


async def test_list_follows_cursors_lazily(session: Session, api: FakeApi) -> None:
    """async for follows nextCursor one page at a time, only as far as iterated."""
    api.pages = [([client_json("cl_1"), client_json("cl_2")], "c1"), ([client_json("cl_3")], None)]
    seen = []
    async for client in session.clients.list(search="acme", limit=2):
        seen.append(client.client_id)
        if len(seen) == 1:
            assert len(api.calls) == 1  # the second page is not fetched yet
    assert seen == ["cl_1", "cl_2", "cl_3"]
    assert api.calls == [
        ("/api/clients/list", {"limit": 2, "search": "acme"}),
        ("/api/clients/list", {"limit": 2, "cursor": "c1", "search": "acme"}),
    ]


async def test_list_single_page_and_links_filter(session: Session, api: FakeApi) -> None:
    """page() fetches one page; links.list filters by client."""
    api.pages = [([link_json()], "next")]
    page = await session.links.list(client_id="cl_1").page()
    assert [link.link_id for link in page] == ["ln_1"]
    assert page.next_cursor == "next"
    assert api.calls == [("/api/links/list", {"clientID": "cl_1"})]


@pytest.mark.parametrize(
    ("status", "msg", "cls"),
    [
        (400, "Invalid field email: bad", InvalidRequestError),
        (401, "Missing or invalid API key.", AuthenticationError),
        (403, "Key does not have the required capability. clients:create", CapabilityError),
        (404, "Client does not exist. cl_1", NotFoundError),
        (429, "Rate limit exceeded", RateLimitError),
        (500, "boom", ServerError),
        (200, "a 200 with error true", APIError),
    ],
)
async def test_each_error_class_through_an_endpoint(status: int, msg: str, cls: type) -> None:
    """Endpoint calls raise the error class of the answer."""
    transport = MockTransport(
        lambda r: fail(status, msg, {"Retry-After": "0"} if status == 429 else None)
    )
    async with Session(
        SECRET_KEY, base_url="https://api.test", transport=transport, retry=RetryPolicy.none()
    ) as s:
        with pytest.raises(cls) as info:
            await s.clients.retrieve("cl_1")
    assert info.value.operation == "clients.retrieve"


async def test_wait_until_granted_times_out_with_the_last_link_seen() -> None:
    """Polling a link that stays pending ends in WaitTimeoutError carrying that link."""
    pending = ok(link_json())
    async with Session(
        SECRET_KEY, base_url="https://api.test", transport=MockTransport(lambda r: pending)
    ) as s:
        with pytest.raises(WaitTimeoutError, match="still 'pending'") as polled:
            await s.links.wait_until_granted("ln_1", deadline=0.2, poll_interval=0.05)
    assert polled.value.last_seen.status is LinkStatus.PENDING


async def test_a_unit_test_needs_no_wire_json() -> None:
    """MockTransport.respond answers an operation with a model made by the testing factories."""
    from agencyaccess_async import NotFoundError
    from agencyaccess_async.testing import make_client, make_link

    transport = (
        MockTransport()
        .respond("clients.create", make_client(name="Acme Ltd"))
        .respond("links.create", make_link(client_id="cl_test"))
        .respond("clients.list", [make_client(client_id="cl_1"), make_client(client_id="cl_2")])
        .respond("clients.retrieve", NotFoundError("Client does not exist.", status=404))
    )
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport) as s:
        client = await s.clients.create(name="Acme Ltd", email="ops@acme.example")
        link = await s.links.create(client.client_id, services={"google": {}})
        listed = await s.clients.list().collect()
        with pytest.raises(NotFoundError):
            await s.clients.retrieve("cl_nobody")
    assert client == make_client(name="Acme Ltd")
    assert link.invite_url == make_link().invite_url
    assert [c.client_id for c in listed] == ["cl_1", "cl_2"]


async def test_with_options_and_extra_headers_share_the_session() -> None:
    """A with_options view sends its headers and policy through the same pool; a call's own win."""
    from agencyaccess_async import Timeout

    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(client_json())

    transport = MockTransport(handler)
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport) as s:
        tagged = s.with_options(headers={"X-Tenant": "t1"}, timeout=Timeout(total=5))
        await tagged.clients.retrieve("cl_1")
        await tagged.with_options(headers={"X-Trace": "abc"}).clients.retrieve("cl_1")
        await s.clients.retrieve("cl_1", extra_headers={"X-Trace": "own"})
        with pytest.raises(ValueError, match="X-Auth"):
            await s.clients.retrieve("cl_1", extra_headers={"x-auth": "other-key"})
        assert s.stats.requests == 3  # one Session's counters, one pool
    assert seen[0].headers["X-Tenant"] == "t1" and seen[0].timeout == Timeout(total=5)
    assert seen[1].headers["X-Tenant"] == "t1" and seen[1].headers["X-Trace"] == "abc"
    assert "X-Tenant" not in seen[2].headers and seen[2].headers["X-Trace"] == "own"
    assert all(r.api_key.reveal() == SECRET_KEY and "X-Auth" not in r.headers for r in seen)


async def test_the_finders_read_what_a_create_made(session: Session, api: FakeApi) -> None:
    """find_by_idempotency_key and find_like return the model, None, or a DecodeError."""
    keyed = client_json("cl_7", metadata={IDEMPOTENCY_METADATA_KEY: "k-7"})
    api.pages = [([client_json("cl_6"), keyed], None), ([], None)]
    found = await session.clients.find_by_idempotency_key("k-7")
    assert isinstance(found, Client) and found.client_id == "cl_7"
    assert await session.clients.find_by_idempotency_key("k-7") is None

    made = link_json("ln_9", "cl_1")
    new = NewLink(client_id="cl_1", services=made["requestedServices"])
    api.pages = [([made], None), ([{**made, "grants": "not a list"}], None)]
    like = await session.links.find_like(new)
    assert isinstance(like, Link) and like.link_id == "ln_9"
    with pytest.raises(DecodeError, match="links.list as Link"):
        await session.links.find_like(new)
