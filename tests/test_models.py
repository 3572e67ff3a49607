"""Tier 1 and 4: golden wire bodies, decoding of contract-shaped answers, and round trips."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any, get_args

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agencyaccess_async import (
    UNSET,
    Client,
    ClientType,
    GrantStatus,
    IntakeFormStatus,
    Language,
    Link,
    LinkStatus,
    NewClient,
    NewLink,
    RequestedServices,
    _contract,
)
from agencyaccess_async._converter import CONVERTER, format_datetime, wire_name
from agencyaccess_async._models import (
    IDEMPOTENCY_METADATA_KEY,
    ClientTypeName,
    ClientUpdate,
    LanguageName,
    LinkUpdate,
    ListQuery,
)
from agencyaccess_async.types import AccessPageSource, Grant, Page, ServiceRequest

from .helpers import STAMP, client_json, link_json

pytestmark = pytest.mark.unit


def test_wire_names_follow_the_contract() -> None:
    """Odd wire names are exactly the contract's."""
    assert [wire_name(n) for n in ("client_id", "link_id", "redirect_url", "invite_url")] == [
        "clientID", "linkID", "redirectURL", "inviteUrl",
    ]  # fmt: skip
    assert wire_name("agency_account_id") == "agencyAccountID"
    assert wire_name("thank_you_message") == "thankYouMessage"
    assert wire_name("created_at") == "createdAt"


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (ClientType, _contract.CLIENT_TYPES),
        (Language, _contract.LANGUAGES),
        (LinkStatus, _contract.LINK_STATUSES),
        (GrantStatus, _contract.GRANT_STATUSES),
        (IntakeFormStatus, _contract.INTAKE_FORM_STATUSES),
    ],
)
def test_each_enum_spells_the_contracts_values(enum: Any, values: tuple[str, ...]) -> None:
    """The SDK's enums and Literal names hold the values the emulator validates with."""
    assert tuple(member.value for member in enum) == values


def test_the_literal_names_are_the_contracts_values() -> None:
    """``ClientTypeName`` and ``LanguageName`` list the same values as the contract."""
    assert get_args(ClientTypeName) == _contract.CLIENT_TYPES
    assert get_args(LanguageName) == _contract.LANGUAGES


def test_new_client_body_omits_unset_and_sends_none_as_null() -> None:
    """Fields not given are left out; None is sent as null; enums as their values."""
    body = CONVERTER.unstructure(
        NewClient(name="Acme", email="a@b.co", company=None, type=ClientType.PROSPECT)
    )
    assert body == {"name": "Acme", "email": "a@b.co", "company": None, "type": "prospect"}


def test_new_link_golden_body(services: RequestedServices) -> None:
    """A NewLink serializes to exactly the contract's shape."""
    body = CONVERTER.unstructure(
        NewLink(
            client_id="cl_1",
            services=services,
            intake_form=True,
            redirect_url="https://agency.test/done",
        )
    )
    assert body == {
        "clientID": "cl_1",
        "requestedServices": {
            "google": {
                "googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}
            },
            "shopify": {"storeCollaborator": {"agencyAccountID": "acct_shopify_1"}},
        },
        "intakeForm": True,
        "redirectURL": "https://agency.test/done",
    }


def test_update_and_query_bodies() -> None:
    """Update and list bodies carry the id and only the fields given."""
    assert CONVERTER.unstructure(ClientUpdate(client_id="cl_1", language=Language.NL)) == {
        "clientID": "cl_1",
        "language": "nl",
    }
    assert CONVERTER.unstructure(LinkUpdate(link_id="ln_1", thank_you_message=None)) == {
        "linkID": "ln_1",
        "thankYouMessage": None,
    }
    assert CONVERTER.unstructure(ListQuery(limit=10, client_id="cl_1")) == {
        "limit": 10,
        "clientID": "cl_1",
    }


def test_decode_client() -> None:
    """A contract-shaped Client decodes to the model, timestamps in UTC."""
    client = CONVERTER.structure(client_json(metadata={"crm": "7"}), Client)
    assert client == Client(
        client_id="cl_1",
        name="Acme",
        email="ops@acme.test",
        created_at=datetime(2026, 11, 28, 5, tzinfo=timezone.utc),
        updated_at=datetime(2026, 11, 28, 5, tzinfo=timezone.utc),
        type=ClientType.CLIENT,
        language=Language.EN,
        metadata={"crm": "7"},
    )


def test_decode_link_with_grants_and_source() -> None:
    """A contract-shaped Link decodes with grants, enums, source and services."""
    payload = link_json(
        source={"accessPageID": "ap_1", "name": "Onboarding page"}, status="partial"
    )
    payload["grants"][0].update(status="granted", grantedAt=STAMP)
    link = CONVERTER.structure(payload, Link)
    assert link.status is LinkStatus.PARTIAL
    assert link.intake_form_status is IntakeFormStatus.NOT_REQUESTED
    assert link.source == AccessPageSource("ap_1", "Onboarding page")
    assert link.grants[0].status is GrantStatus.GRANTED
    assert link.grants[0].granted_at == datetime(2026, 11, 28, 5, tzinfo=timezone.utc)
    assert link.services.entries == (
        ServiceRequest("google", "googleAds", "acct_google_1", "standard"),
    )


def test_unknown_fields_and_enum_values_are_kept() -> None:
    """A newer server's fields land in extra and new enum values stay strings; nothing fails."""
    payload = link_json(status="expired", priority="high", intakeFormStatus="skipped")
    payload["grants"][0]["status"] = "revoked"
    payload["grants"][0]["scope"] = ["x"]
    link = CONVERTER.structure(payload, Link)
    assert link.status == "expired"
    assert link.intake_form_status == "skipped"
    assert link.extra == {"priority": "high"}
    assert link.grants[0].status == "revoked"
    assert link.grants[0].extra == {"scope": ["x"]}
    assert CONVERTER.unstructure(link) == payload  # and nothing is lost on the way back
    client = CONVERTER.structure(client_json(type="agency", tier="gold"), Client)
    assert (client.type, client.extra) == ("agency", {"tier": "gold"})


def test_reprs_are_short_and_informative() -> None:
    """Notebook reprs show ids and key fields, and cut long values."""
    client = CONVERTER.structure(client_json(name="A" * 80), Client)
    assert repr(client).startswith("Client(client_id='cl_1', name='AAAA")
    assert "…" in repr(client) and len(repr(client)) < 160
    link = CONVERTER.structure(link_json(), Link)
    assert repr(link).startswith(
        "Link(link_id='ln_1', client_id='cl_1', status='pending', granted=0/1"
    )


def test_models_and_pages_render_as_escaped_tables_in_jupyter() -> None:
    """_repr_html_: a column per field, every value escaped (a name is the user's data)."""
    client = CONVERTER.structure(client_json(name="<script>alert(1)</script>"), Client)
    shown = client._repr_html_()
    assert shown.startswith("<table><thead><tr><th>client_id</th><th>name</th>")
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert f"<td>{client.to_dict(mode='json')['created_at']}</td>" in shown  # as JSON text
    assert "<td></td>" in shown and "null" not in shown  # None is an empty cell
    page = Page((client, client), next_cursor="c2")
    table = page._repr_html_()
    assert table.count("<tr><td>cl_1</td>") == 2
    assert "<caption>2 items; next page: c2</caption>" in table
    assert page.to_dicts(mode="json")[0] == client.to_dict(mode="json")


# ------------------------------------------------------------ property tests

text = st.text(min_size=1, max_size=30)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
enum_or_new = lambda enum: st.sampled_from(list(enum)) | st.sampled_from(["brandNew", "other"])  # noqa: E731
extras = st.dictionaries(
    st.sampled_from(["zeta", "newField", "x_y"]), st.integers() | text, max_size=2
)


def _services() -> st.SearchStrategy[RequestedServices]:
    entry = st.builds(ServiceRequest, text, text, text, st.none() | text)
    return st.lists(entry, min_size=1, max_size=5, unique_by=lambda e: (e.platform, e.service)).map(
        lambda entries: RequestedServices(tuple(sorted(entries, key=lambda e: e.platform)))
    )


clients = st.builds(
    Client,
    client_id=text, name=text, email=text, created_at=stamps, updated_at=stamps,
    company=st.none() | text, website=st.none() | text,
    type=enum_or_new(ClientType), language=enum_or_new(Language),
    metadata=st.dictionaries(text, text, max_size=3), idempotency_key=st.none() | text,
    extra=extras,
)  # fmt: skip
grants = st.builds(
    Grant, text, text, text, enum_or_new(GrantStatus), st.none() | text, st.none() | stamps, extras
)
links = st.builds(
    Link,
    link_id=text, client_id=text, invite_url=text, status=enum_or_new(LinkStatus),
    services=_services(), created_at=stamps, updated_at=stamps,
    grants=st.lists(grants, max_size=3).map(tuple), intake_form=st.booleans(),
    send_email=st.booleans(), thank_you_message=st.none() | text, redirect_url=st.none() | text,
    intake_form_status=enum_or_new(IntakeFormStatus),
    source=st.none() | st.builds(AccessPageSource, text, text, extras), extra=extras,
)  # fmt: skip


@given(clients)
def test_client_round_trip(client: Client) -> None:
    """Client -> wire -> Client is the identity."""
    assert CONVERTER.structure(CONVERTER.unstructure(client), Client) == client


@given(links)
def test_link_round_trip(link: Link) -> None:
    """Link -> wire -> Link is the identity."""
    wire: Any = CONVERTER.unstructure(link)
    assert CONVERTER.structure(wire, Link) == link


@given(st.builds(NewClient, name=text, email=text, company=st.just(UNSET) | st.none() | text))
def test_new_client_never_sends_unset(new: NewClient) -> None:
    """No UNSET value ever reaches the wire."""
    body = CONVERTER.unstructure(new)
    assert not any(value is UNSET for value in body.values())  # the sentinel, not the word
    assert set(body) <= {wire_name(f.name) for f in attrs.fields(NewClient)}


@pytest.mark.parametrize("modern", [True, False], ids=["fromisoformat", "3.10-fallback"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T05:00:00Z", datetime(2026, 11, 28, 5, tzinfo=timezone.utc)),
        ("2026-11-28T05:00:00.1z", datetime(2026, 11, 28, 5, 0, 0, 100000, tzinfo=timezone.utc)),
        ("2026-11-28T05:00:00.123Z", datetime(2026, 11, 28, 5, 0, 0, 123000, tzinfo=timezone.utc)),
        (
            "2026-11-28T05:00:00.1234567Z",
            datetime(2026, 11, 28, 5, 0, 0, 123456, tzinfo=timezone.utc),
        ),
        ("2026-11-28T06:00:00+01:00", datetime(2026, 11, 28, 5, tzinfo=timezone.utc)),
        ("2026-11-28T05:00:00", datetime(2026, 11, 28, 5, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_parse_alike_on_every_python(
    monkeypatch: pytest.MonkeyPatch, modern: bool, text: str, expected: datetime
) -> None:
    """Both the 3.11+ path and the 3.10 fallback read Z, 1-9 fraction digits and offsets as UTC."""
    from agencyaccess_async import _converter

    if modern and sys.version_info < (3, 11):
        pytest.skip("3.10's fromisoformat is the fallback's reason to exist")
    monkeypatch.setattr(_converter, "MODERN_ISOFORMAT", modern)
    parsed = _converter.parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is timezone.utc


@given(clients)
def test_to_dict_by_alias_in_json_mode_is_the_wire_form(client: Client) -> None:
    """to_dict(by_alias=True, mode="json") is exactly what the converter sends and reads back."""
    assert client.to_dict(by_alias=True, mode="json") == CONVERTER.unstructure(client)


@given(links)
def test_every_view_of_a_model_is_the_wire_form_renamed(link: Link) -> None:
    """to_dict's four forms and Page.to_dicts are one path: the converter's, renamed or not."""
    wire = CONVERTER.unstructure(link)
    python = link.to_dict()
    json_plain = link.to_dict(mode="json")
    assert link.to_dict(by_alias=True, mode="json") == wire
    dated = json.loads(json.dumps(link.to_dict(by_alias=True), default=format_datetime))
    assert dated == json.loads(json.dumps(wire))  # the same, with datetimes kept
    assert json_plain["created_at"] == wire["createdAt"] and python["created_at"] == link.created_at
    assert json_plain["services"] == wire["requestedServices"] == link.services.to_json()
    assert all(type(g["status"]) is str for g in wire["grants"])  # values, not enum members
    assert isinstance(python["grants"], list)  # JSON's shape in every view, not a tuple
    page = Page((link, link), None)
    assert page.to_dicts() == [python, python]
    assert page.to_dicts(by_alias=True, mode="json") == [wire, wire]


def test_the_sdks_idempotency_key_is_not_in_a_clients_metadata() -> None:
    """The wire keeps it among the user's entries; the model holds it apart, and sends it back."""
    wire = client_json("cl_1", metadata={"crm": "42", IDEMPOTENCY_METADATA_KEY: "aa1_x"})
    client = CONVERTER.structure(wire, Client)
    assert client.idempotency_key == "aa1_x"
    assert client.metadata == {"crm": "42"} and dict(client.metadata) == {"crm": "42"}
    assert json.dumps(client.metadata) == '{"crm": "42"}'  # a dict, as metadata always was
    assert len(client.metadata) == 1 and list(client.metadata) == ["crm"]
    assert client.to_dict()["metadata"] == {"crm": "42"}
    assert client.to_dict()["idempotency_key"] == "aa1_x"
    assert "aa1_x" not in client._repr_html_().split("metadata")[0]  # not in the metadata cell
    assert CONVERTER.unstructure(client)["metadata"] == {
        "crm": "42",
        IDEMPOTENCY_METADATA_KEY: "aa1_x",
    }
    # 0.1 read the key from metadata: it still answers, with a warning naming the new home.
    with pytest.warns(DeprecationWarning, match="Client.idempotency_key"):
        assert client.metadata[IDEMPOTENCY_METADATA_KEY] == "aa1_x"
    with pytest.warns(DeprecationWarning, match="idempotency_key"):
        assert client.metadata.get(IDEMPOTENCY_METADATA_KEY) == "aa1_x"
    with pytest.warns(DeprecationWarning, match="idempotency_key"):
        assert IDEMPOTENCY_METADATA_KEY in client.metadata
    plain = CONVERTER.structure(client_json("cl_2", metadata={"crm": "1"}), Client)
    assert plain.idempotency_key is None and IDEMPOTENCY_METADATA_KEY not in plain.metadata
    # A record whose own field is called idempotencyKey keeps it in extra, not in the SDK's.
    odd = CONVERTER.structure(client_json("cl_3", idempotencyKey="theirs"), Client)
    assert odd.idempotency_key is None and odd.extra == {"idempotencyKey": "theirs"}


def test_services_is_the_one_name_and_requested_services_still_answers() -> None:
    """Methods take services=, models say services; 0.1's requested_services warns until 0.3.0."""
    services = {"google": {"googleAds": {"accessLevel": "admin", "agencyAccountID": "a"}}}
    with pytest.warns(DeprecationWarning, match=r"NewLink\.requested_services .* use services"):
        old = NewLink(client_id="cl_1", requested_services=services)
    assert old == NewLink(client_id="cl_1", services=services)
    with pytest.warns(DeprecationWarning, match="LinkUpdate"):
        assert LinkUpdate(link_id="ln_1", requested_services=services).services == services
    link = CONVERTER.structure(link_json("ln_1", requestedServices=services), Link)
    with pytest.warns(DeprecationWarning, match="Link.requested_services"):
        assert link.requested_services is link.services
    assert CONVERTER.unstructure(old)["requestedServices"] == services
    assert "requested_services" not in inspect.signature(NewLink).parameters


@pytest.mark.skipif(sys.version_info < (3, 11), reason="pandas is a test dependency on 3.11+")
def test_to_dataframe_gives_a_column_per_field_for_models_and_bulk_results() -> None:
    """pd.DataFrame(clients) is one column of objects; to_dataframe is a table with typed columns."""
    pd = pytest.importorskip("pandas")
    from agencyaccess_async import Succeeded, to_dataframe

    clients = [
        CONVERTER.structure(client_json(f"cl_{i}", metadata={"crm": str(i)}), Client)
        for i in range(3)
    ]
    frame = to_dataframe(clients)
    assert list(frame.columns) == [f.name for f in attrs.fields(Client) if f.name != "extra"]
    assert list(frame["client_id"]) == ["cl_0", "cl_1", "cl_2"]
    assert str(frame["created_at"].dtype).startswith("datetime64")
    assert frame["metadata"][1] == {"crm": "1"}  # a nested value stays one column
    assert to_dataframe(clients, by_alias=True).columns[0] == "clientID"
    assert len(to_dataframe(Page(tuple(clients), None))) == 3
    results = [Succeeded(i, f"k{i}", c) for i, c in enumerate(clients)]
    assert list(to_dataframe(results)["outcome"]) == ["created"] * 3
    assert to_dataframe([]).empty
    with pytest.raises(TypeError, match="models or bulk results, not dict"):
        to_dataframe([{"a": 1}])  # type: ignore[list-item]
    assert isinstance(frame, pd.DataFrame)


def test_to_dataframe_without_pandas_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from agencyaccess_async import to_dataframe

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError, match="pip install pandas"):
        to_dataframe([])


@given(links)
def test_a_link_as_json_reads_back_as_the_same_link(link: Link) -> None:
    """to_json(by_alias=True) round-trips through the converter; snake_case to_dict is plain data."""
    assert CONVERTER.structure(json.loads(link.to_json(by_alias=True)), Link) == link
    plain = link.to_dict(mode="json")
    assert json.loads(json.dumps(plain)) == plain
    assert "link_id" in plain and "linkID" not in plain


def test_enums_print_as_their_values_and_reprs_stay_short() -> None:
    """str() of an enum is its value; a Page shows its first items; a summary rounds time."""
    from agencyaccess_async import GrantStatus, LinkStatus

    assert str(LinkStatus.PENDING) == "pending" and f"{GrantStatus.GRANTED}" == "granted"
    assert repr(GrantStatus.PENDING) == "GrantStatus.PENDING"
    client = CONVERTER.structure(client_json(), Client)
    page = Page((client, client, client), "next")
    assert repr(page).startswith("Page([Client(client_id='cl_1'")
    assert "…+1 more" in repr(page) and "next_cursor='next'" in repr(page)
    assert page.to_dicts()[0]["client_id"] == "cl_1"


FORK_CHECK = """
import os
from agencyaccess_async._idempotency import generated_key
parent = generated_key()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, generated_key().encode())
    os._exit(0)
os.waitpid(pid, 0)
print(parent[:16], os.read(read, 100).decode()[:16])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_generated_idempotency_keys_differ_across_a_fork() -> None:
    """A forked worker (uvicorn --workers) draws its own key prefix: no two processes share keys.

    In a fresh interpreter: forking this (threaded) test process would itself warn.
    """
    from agencyaccess_async._idempotency import generated_key

    assert generated_key() != generated_key()
    result = subprocess.run(
        [sys.executable, "-c", FORK_CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    parent, child = result.stdout.split()
    assert parent != child
