"""Tier 3: the emulator over a real loopback socket, row by row of the contract."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest

from agencyaccess_async import LinkStatus, RequestedServices, Session, WaitTimeoutError
from agencyaccess_async.testing import RunningEmulator

from .emulator_client import GOOGLE_ADS, TWO_SERVICES, Raw

pytestmark = pytest.mark.socket


@pytest.fixture
async def raw(agencyaccess_emulator: RunningEmulator) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as http:
        yield Raw(http, agencyaccess_emulator.base_url, agencyaccess_emulator.api_key)


# ------------------------------------------------------------ error table


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b""])
async def test_400_invalid_json_body(raw: Raw, body: bytes) -> None:
    """A body that is not a JSON object is 400 Invalid JSON body."""
    answer = await raw.post("/api/clients/create", raw=body)
    assert answer.status == 400
    assert answer.msg == "Invalid JSON body"


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ({"email": "a@b.co"}, "Invalid field name: required"),
        ({"name": "", "email": "a@b.co"}, "Invalid field name: must be 1-200 characters"),
        ({"name": "x" * 201, "email": "a@b.co"}, "Invalid field name: must be 1-200 characters"),
        ({"name": 5, "email": "a@b.co"}, "Invalid field name: must be a string"),
        ({"name": "A", "email": "nope"}, "Invalid field email: must be a valid e-mail address"),
        ({"name": "A", "email": "a@b.co", "colour": "red"}, "Invalid field colour: unknown field"),
        (
            {"name": "A", "email": "a@b.co", "type": "vip"},
            "Invalid field type: must be one of client, prospect",
        ),
        (
            {"name": "A", "email": "a@b.co", "language": "de"},
            "Invalid field language: must be one of en, es, nl",
        ),
        (
            {"name": "A", "email": "a@b.co", "website": "ftp://x"},
            "Invalid field website: must be an http(s) URL",
        ),
        (
            {"name": "A", "email": "a@b.co", "metadata": {"k": 1}},
            "Invalid field metadata.k: must be a string of at most 500 characters",
        ),
        (
            {"name": "A", "email": "a@b.co", "metadata": {str(i): "v" for i in range(51)}},
            "Invalid field metadata: at most 50 keys",
        ),
    ],
)
async def test_400_invalid_field_names_the_path(raw: Raw, body: dict, msg: str) -> None:
    """Missing, mistyped, unknown or out-of-range fields are 400 Invalid field <path>."""
    answer = await raw.post("/api/clients/create", body)
    assert (answer.status, answer.msg) == (400, msg)


async def test_400_list_limit_out_of_range(raw: Raw) -> None:
    """limit outside 1..100 is an invalid field."""
    answer = await raw.post("/api/clients/list", {"limit": 101})
    assert (answer.status, answer.msg) == (
        400,
        "Invalid field limit: must be an integer from 1 to 100",
    )


@pytest.mark.parametrize(
    ("services", "msg"),
    [
        ({"gogle": {}}, "Requested service is invalid. requestedServices.gogle: unknown platform"),
        (
            {"google": {"googleAd": {"accessLevel": "admin", "agencyAccountID": "acct_google_1"}}},
            "Requested service is invalid. requestedServices.google.googleAd: unknown service",
        ),
        (
            {"google": {"googleAds": {"accessLevel": "owner", "agencyAccountID": "acct_google_1"}}},
            "Requested service is invalid. requestedServices.google.googleAds.accessLevel: unknown access level 'owner'",
        ),
        (
            {
                "shopify": {
                    "storeCollaborator": {
                        "accessLevel": "admin",
                        "agencyAccountID": "acct_shopify_1",
                    }
                }
            },
            "Requested service is invalid. requestedServices.shopify.storeCollaborator.accessLevel: this service has no access levels",
        ),
        ({}, "Invalid field requestedServices: at least one platform is required"),
        (
            {"google": {}},
            "Invalid field requestedServices.google: at least one service is required",
        ),
        (
            {"google": {"googleAds": {"agencyAccountID": "acct_google_1"}}},
            "Invalid field requestedServices.google.googleAds.accessLevel: required",
        ),
        (
            {"google": {"googleAds": {"accessLevel": "admin"}}},
            "Invalid field requestedServices.google.googleAds.agencyAccountID: required, a string",
        ),
    ],
)
async def test_400_requested_services_name_the_path(raw: Raw, services: dict, msg: str) -> None:
    """Each requested-services rule is a 400 naming the offending path."""
    client = await raw.client()
    answer = await raw.post(
        "/api/links/create", {"clientID": client["clientID"], "requestedServices": services}
    )
    assert (answer.status, answer.msg) == (400, msg)


@pytest.mark.parametrize("account", ["acct_nobody", "acct_google_expired", "acct_meta_1"])
async def test_400_agency_account_missing_expired_or_other_platform(raw: Raw, account: str) -> None:
    """An unknown, expired, or other-platform agency account is refused."""
    client = await raw.client()
    services = {"google": {"googleAds": {"accessLevel": "admin", "agencyAccountID": account}}}
    answer = await raw.post(
        "/api/links/create", {"clientID": client["clientID"], "requestedServices": services}
    )
    assert (answer.status, answer.msg) == (
        400,
        f"Connected agency account is missing or expired. {account}",
    )


async def test_400_intake_form_not_enabled_then_enabled(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """intakeForm true needs the agency's intake form enabled."""
    client = await raw.client()
    body = {"clientID": client["clientID"], "requestedServices": GOOGLE_ADS, "intakeForm": True}
    answer = await raw.post("/api/links/create", body)
    assert (answer.status, answer.msg) == (400, "Intake form is requested but not enabled.")
    await agencyaccess_emulator.admin.set_intake_form(True)
    link = (await raw.post("/api/links/create", body)).data
    assert link["intakeFormStatus"] == "pending"
    completed = await agencyaccess_emulator.admin.complete_intake(link["linkID"])
    assert completed["intakeFormStatus"] == "completed"


async def test_400_prospect_only_read_only(raw: Raw) -> None:
    """A prospect may only be asked for read-only levels; read-only and level-less pass."""
    prospect = await raw.client(type="prospect")
    answer = await raw.post(
        "/api/links/create", {"clientID": prospect["clientID"], "requestedServices": GOOGLE_ADS}
    )
    assert answer.status == 400
    assert (
        answer.msg
        == "Prospect clients may only request read-only access: requestedServices.google.googleAds.accessLevel"
    )
    read_only = {
        "google": {"googleAds": {"accessLevel": "readOnly", "agencyAccountID": "acct_google_1"}},
        "shopify": {"storeCollaborator": {"agencyAccountID": "acct_shopify_1"}},
    }
    ok = await raw.post(
        "/api/links/create", {"clientID": prospect["clientID"], "requestedServices": read_only}
    )
    assert ok.status == 200


async def test_401_without_or_with_unknown_key(raw: Raw) -> None:
    """No X-Auth header, or an unknown key, is 401."""
    for key in (None, "aa_unknown"):
        answer = await raw.post("/api/clients/list", {}, key=key)
        assert (answer.status, answer.msg) == (401, "Missing or invalid API key.")


async def test_403_names_the_missing_capability(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """A key without the route's capability gets 403 naming it."""
    key = await agencyaccess_emulator.admin.create_key(["clients:retrieve"])
    assert (await raw.post("/api/clients/list", {}, key=key)).status == 200
    answer = await raw.post("/api/clients/create", {"name": "A", "email": "a@b.co"}, key=key)
    assert (answer.status, answer.msg) == (
        403,
        "Key does not have the required capability. clients:create",
    )


async def test_revoked_key_is_401(raw: Raw, agencyaccess_emulator: RunningEmulator) -> None:
    """A revoked key stops working."""
    key = await agencyaccess_emulator.admin.create_key()
    await agencyaccess_emulator.admin.revoke_key(key)
    assert (await raw.post("/api/clients/list", {}, key=key)).status == 401


async def test_404_unknown_route_client_and_link(raw: Raw) -> None:
    """Unknown routes, clients and access requests are 404 with the envelope."""
    assert (await raw.post("/api/clients/frobnicate", {})).status == 404
    client = await raw.post("/api/clients/retrieve", {"clientID": "cl_nope"})
    assert (client.status, client.msg) == (404, "Client does not exist. cl_nope")
    link = await raw.post("/api/links/retrieve", {"linkID": "ln_nope"})
    assert (link.status, link.msg) == (404, "Not found: access request ln_nope")
    orphan = await raw.post(
        "/api/links/create", {"clientID": "cl_nope", "requestedServices": GOOGLE_ADS}
    )
    assert orphan.status == 404


async def test_413_body_over_one_mebibyte(raw: Raw) -> None:
    """A body over 1 MiB is 413 with the envelope."""
    answer = await raw.post("/api/clients/create", raw=io.BytesIO(b" " * (1024 * 1024 + 1)))
    assert (answer.status, answer.msg) == (413, "Request body too large")


async def test_429_with_retry_after_and_rate_headers(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """Over the per-key limit is 429 with Retry-After; every answer has X-RateLimit-*."""
    await agencyaccess_emulator.admin.set_rate_limit(3, window=30)
    answers = [await raw.post("/api/clients/list", {}) for _ in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[3].msg == "Rate limit exceeded"
    assert 0 < int(answers[3].headers["Retry-After"]) <= 30
    assert float(answers[0].headers["X-RateLimit-Reset"]) <= 30
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    other = await agencyaccess_emulator.admin.create_key()
    assert (await raw.post("/api/clients/list", {}, key=other)).status == 200  # limits are per key


async def test_rate_headers_on_errors_too(raw: Raw) -> None:
    """Errors carry the rate-limit headers and a request id as well."""
    answer = await raw.post("/api/clients/retrieve", {"clientID": "cl_x"})
    assert {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-Request-ID",
    } <= set(answer.headers)


async def test_request_id_echoed_or_generated(raw: Raw) -> None:
    """X-Request-ID is echoed when sent and generated otherwise."""
    echoed = await raw.post("/api/clients/list", {}, headers={"X-Request-ID": "mine-123"})
    assert echoed.headers["X-Request-ID"] == "mine-123"
    generated = await raw.post("/api/clients/list", {})
    assert generated.headers["X-Request-ID"]


# ------------------------------------------------------------ records


async def test_client_lifecycle_and_defaults(raw: Raw) -> None:
    """Clients get cl_ ids, defaults, timestamps; update changes fields; delete removes."""
    client = await raw.client(metadata={"crm": "42"})
    assert client["clientID"].startswith("cl_")
    assert (client["type"], client["language"], client["company"]) == ("client", "en", None)
    assert client["createdAt"].endswith("Z")
    updated = (
        await raw.post(
            "/api/clients/update", {"clientID": client["clientID"], "company": "Acme BV"}
        )
    ).data
    assert updated["company"] == "Acme BV"
    nothing = await raw.post("/api/clients/update", {"clientID": client["clientID"]})
    assert nothing.status == 400
    deleted = (await raw.post("/api/clients/delete", {"clientID": client["clientID"]})).data
    assert deleted == {"clientID": client["clientID"], "deleted": True}
    assert (await raw.post("/api/clients/retrieve", {"clientID": client["clientID"]})).status == 404


async def test_link_invite_status_grants_and_cascade(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """Links get ln_ ids and https invite URLs; status follows grants; deleting the client deletes them."""
    client = await raw.client()
    link = await raw.link(client["clientID"], TWO_SERVICES)
    other = await raw.link(client["clientID"])
    assert link["linkID"].startswith("ln_")
    assert (
        link["inviteUrl"].startswith(raw.base_url + "/invite/")
        and len(link["inviteUrl"].rsplit("/", 1)[1]) >= 24
    )
    assert link["inviteUrl"] != other["inviteUrl"]
    assert link["status"] == "pending" and len(link["grants"]) == 2
    admin = agencyaccess_emulator.admin
    partial = await admin.grant(link["linkID"], "google", "googleAds")
    assert partial["status"] == "partial"
    rejected = await admin.grant(link["linkID"], "shopify", "storeCollaborator", "rejected")
    assert rejected["status"] == "partial"
    granted = await admin.grant(link["linkID"], "shopify", "storeCollaborator")
    assert granted["status"] == "granted"
    assert all(g["grantedAt"] for g in granted["grants"])
    await raw.post("/api/clients/delete", {"clientID": client["clientID"]})
    for link_id in (link["linkID"], other["linkID"]):
        assert (await raw.post("/api/links/retrieve", {"linkID": link_id})).status == 404


async def test_link_update_keeps_grant_status_of_services_that_stay(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """Replacing requestedServices keeps the grant status of services that stay."""
    client = await raw.client()
    link = await raw.link(client["clientID"], TWO_SERVICES)
    await agencyaccess_emulator.admin.grant(link["linkID"], "google", "googleAds")
    body = {"linkID": link["linkID"], "requestedServices": GOOGLE_ADS, "thankYouMessage": "Thanks!"}
    updated = (await raw.post("/api/links/update", body)).data
    assert [g["status"] for g in updated["grants"]] == ["granted"]
    assert updated["status"] == "granted"
    assert updated["thankYouMessage"] == "Thanks!"


async def test_search_semantics(raw: Raw) -> None:
    """search: case-insensitive substring of name/company/email, exact id or metadata value."""
    a = await raw.client(name="Alpha Bakery", email="ops@alpha.test", metadata={"crm": "CRM-77"})
    b = await raw.client(name="Beta", email="x@beta.test", company="Bakers United")

    async def ids(search: str) -> list[str]:
        return [
            c["clientID"] for c in (await raw.post("/api/clients/list", {"search": search})).data
        ]

    assert await ids("bak") == [a["clientID"], b["clientID"]]
    assert await ids("BETA.TEST") == [b["clientID"]]
    assert await ids(a["clientID"]) == [a["clientID"]]
    assert await ids("CRM-77") == [a["clientID"]]
    assert await ids("CRM-7") == []  # metadata values match exactly


async def test_links_list_filters_by_client(raw: Raw) -> None:
    """links/list with clientID lists that client's links in creation order."""
    one, two = await raw.client(), await raw.client()
    first = await raw.link(one["clientID"])
    await raw.link(two["clientID"])
    second = await raw.link(one["clientID"])
    data = (await raw.post("/api/links/list", {"clientID": one["clientID"]})).data
    assert [link["linkID"] for link in data] == [first["linkID"], second["linkID"]]
    unknown = await raw.post("/api/clients/list", {"clientID": one["clientID"]})
    assert unknown.status == 400  # clients/list has no clientID field


async def test_wait_until_granted(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    """wait_until_granted returns once every grant is in; times out with the last Link."""
    client = await agencyaccess_session.clients.create(name="Acme", email="ops@acme.test")
    link = await agencyaccess_session.links.create(client.client_id, services=services)
    with pytest.raises(WaitTimeoutError) as info:
        await agencyaccess_session.links.wait_until_granted(
            link.link_id, deadline=0.2, poll_interval=0.05
        )
    assert info.value.last_seen.status is LinkStatus.PENDING
    await agencyaccess_emulator.admin.grant(link.link_id, "google", "googleAds")
    partial = await agencyaccess_session.links.wait_until_granted(
        link.link_id, deadline=5, poll_interval=0.05, statuses=[LinkStatus.PARTIAL]
    )
    assert partial.status is LinkStatus.PARTIAL
    await agencyaccess_emulator.admin.grant(link.link_id, "shopify", "storeCollaborator")
    granted = await agencyaccess_session.links.wait_until_granted(
        link.link_id, deadline=5, poll_interval=0.05
    )
    assert granted.status is LinkStatus.GRANTED
