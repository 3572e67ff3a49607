"""The fast codecs give exactly the converter's result, over many generated variants.

"Exactly": the same types (an enum member, not an equal string), the same
key order in every dict, the same timezone, the same error when the
converter refuses. And the fast functions, not the fallback, do the work for
the shapes the contract promises.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agencyaccess_async import _fast_codec as fast
from agencyaccess_async import _json
from agencyaccess_async import _models as m
from agencyaccess_async._converter import CONVERTER
from agencyaccess_async._services import RequestedServices

pytestmark = pytest.mark.unit

MANY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exact(value: Any) -> Any:
    """A form of ``value`` that is equal only for the same types, order and timezone."""
    if attrs.has(type(value)):
        return type(value), tuple(
            (f.name, exact(getattr(value, f.name))) for f in attrs.fields(type(value))
        )
    if isinstance(value, dict):
        return dict, tuple((exact(k), exact(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value), tuple(exact(v) for v in value)
    if isinstance(value, datetime):
        return datetime, value, value.tzinfo
    return type(value), value


def outcome(convert: Any, *args: Any) -> Any:
    try:
        return "ok", exact(convert(*args))
    except Exception as error:
        return "error", type(error), str(error)


# ------------------------------------------------------------------ wire values


leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**13), st.text(max_size=6))
json_value = st.recursive(
    leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
text = st.one_of(st.text(max_size=12), st.none(), leaf, json_value)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
timestamp = st.one_of(
    moments.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"),
    moments.map(lambda d: d.isoformat().replace("+00:00", "Z")),
    moments.map(lambda d: d.astimezone(timezone(timedelta(hours=2))).isoformat()),
    moments.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%Sz")),
    moments.map(lambda d: int(d.timestamp())),
    moments.map(lambda d: int(d.timestamp() * 1000)),
    moments.map(lambda d: str(int(d.timestamp()))),
    st.none(),
    leaf,
)


def enum_values(enum_cls: type[m._WireEnum]) -> st.SearchStrategy[Any]:
    values = [member.value for member in enum_cls]
    return st.one_of(
        st.sampled_from(values),
        st.sampled_from(values).map(str.upper),
        st.sampled_from(values).map(str.title),
        st.none(),
        leaf,
    )


strings = st.one_of(
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=4),
    st.dictionaries(st.text(max_size=5), leaf, max_size=3),
    st.none(),
    leaf,
)
record_id = st.one_of(st.text(min_size=1, max_size=10), st.none(), st.integers(0, 99))


def wire(fields: dict[str, st.SearchStrategy[Any]], known: set[str]) -> st.SearchStrategy[Any]:
    """A wire object: any subset of ``fields``, plus unknown keys; sometimes not an object."""
    extras = st.dictionaries(
        st.text(max_size=8).filter(lambda key: key not in known), json_value, max_size=3
    )
    objects = st.builds(lambda a, b: {**a, **b}, st.fixed_dictionaries({}, optional=fields), extras)
    return st.one_of(objects, objects, objects, objects, leaf)


services = st.dictionaries(
    st.sampled_from(["google", "facebook", "linkedin"]),
    st.dictionaries(
        st.sampled_from(["ads", "analytics", "pages"]),
        st.fixed_dictionaries(
            {"agencyAccountID": st.text(max_size=5)},
            optional={"accessLevel": st.sampled_from(["admin", "read"]), "label": leaf},
        ),
        min_size=1,
        max_size=2,
    ),
    max_size=2,
)

GRANT_FIELDS = {
    "platform": text, "service": text, "agencyAccountID": text,
    "status": enum_values(m.GrantStatus), "accessLevel": text, "grantedAt": timestamp,
}  # fmt: skip
grant = wire(GRANT_FIELDS, set(GRANT_FIELDS))
CLIENT_FIELDS = {
    "clientID": record_id, "name": text, "email": text, "createdAt": timestamp,
    "updatedAt": timestamp, "company": text, "website": text,
    "type": enum_values(m.ClientType), "language": enum_values(m.Language), "metadata": strings,
    "id": record_id, "clientId": record_id, "created": timestamp, "updated": timestamp,
}  # fmt: skip
LINK_FIELDS = {
    "linkID": record_id, "clientID": text, "inviteUrl": text, "status": enum_values(m.LinkStatus),
    "requestedServices": st.one_of(services, st.none(), leaf), "createdAt": timestamp,
    "updatedAt": timestamp, "grants": st.one_of(st.lists(grant, max_size=3), st.none(), leaf),
    "intakeForm": st.one_of(st.booleans(), leaf), "sendEmail": st.one_of(st.booleans(), leaf),
    "thankYouMessage": text, "redirectURL": text,
    "intakeFormStatus": enum_values(m.IntakeFormStatus),
    "source": st.one_of(st.fixed_dictionaries({}, optional={"accessPageID": text, "name": text}), st.none(), leaf),
    "id": record_id, "linkId": record_id, "clientId": record_id, "created": timestamp,
}  # fmt: skip


@MANY
@given(wire(CLIENT_FIELDS, set(CLIENT_FIELDS)))
def test_client_decodes_as_the_converter_does(value: Any) -> None:
    assert outcome(fast.structure, value, m.Client) == outcome(CONVERTER.structure, value, m.Client)


@pytest.mark.parametrize(
    ("created", "updated"),
    [("2026-11-28T05:00:00.000Z", "2026-11-28T05:00:00.000Z"), ("1764306000", "1764306000"),
     (1, True), (True, 1), (1, 1.0), (None, None), ("x", "x")],
)  # fmt: skip
def test_a_client_with_equal_timestamps_decodes_as_the_converter_does(
    created: Any, updated: Any
) -> None:
    """A new record's createdAt and updatedAt are read once: only when they are equal strings."""
    value = {"clientID": "cl_1", "createdAt": created, "updatedAt": updated}
    assert outcome(fast.structure, value, m.Client) == outcome(CONVERTER.structure, value, m.Client)


@MANY
@given(wire(LINK_FIELDS, set(LINK_FIELDS)))
def test_link_decodes_as_the_converter_does(value: Any) -> None:
    assert outcome(fast.structure, value, m.Link) == outcome(CONVERTER.structure, value, m.Link)


@MANY
@given(grant)
def test_grant_decodes_as_the_converter_does(value: Any) -> None:
    assert outcome(fast.structure, value, m.Grant) == outcome(CONVERTER.structure, value, m.Grant)


# ------------------------------------------------------------------ request models

unset_or = lambda strategy: st.one_of(st.just(m.UNSET), strategy)  # noqa: E731
plain = st.one_of(st.text(max_size=10), st.none())
new_client = st.builds(
    m.NewClient,
    name=st.one_of(st.text(max_size=10), st.integers()),
    email=st.text(max_size=10),
    company=unset_or(plain),
    website=unset_or(st.one_of(plain, st.integers())),
    type=unset_or(st.one_of(st.sampled_from(list(m.ClientType)), st.text(max_size=6))),
    language=unset_or(st.one_of(st.sampled_from(list(m.Language)), st.text(max_size=6))),
    metadata=unset_or(strings.filter(lambda v: isinstance(v, dict))),
)
new_link = st.builds(
    m.NewLink,
    client_id=st.text(max_size=10),
    requested_services=st.one_of(
        services.map(lambda raw: RequestedServices.from_json(raw, validate=False)), services
    ),
    intake_form=unset_or(st.booleans()),
    send_email=unset_or(st.one_of(st.booleans(), st.integers(0, 1))),
    thank_you_message=unset_or(plain),
    redirect_url=unset_or(plain),
)


@MANY
@given(st.one_of(new_client, new_link))
def test_requests_encode_as_the_converter_does(new: Any) -> None:
    assert exact(fast.unstructure(new)) == exact(CONVERTER.unstructure(new))
    assert outcome(_json.dumps, fast.unstructure(new)) == outcome(
        _json.dumps, CONVERTER.unstructure(new)
    )


# ------------------------------------------------------------------ the fast path is taken

CONTRACT_CLIENT = {
    "clientID": "cl_1", "name": "Acme", "email": "ops@acme.example", "company": "Acme Ltd",
    "website": "https://acme.example", "type": "client", "language": "en",
    "metadata": {"crm": "42"}, "createdAt": "2026-11-28T05:00:00.000Z",
    "updatedAt": "2026-11-28T05:00:00.000Z", "somethingNew": [1],
}  # fmt: skip
CONTRACT_LINK = {
    "linkID": "ln_1", "clientID": "cl_1", "inviteUrl": "https://x.example/i/1", "status": "pending",
    "requestedServices": {"google": {"ads": {"agencyAccountID": "1", "accessLevel": "admin"}}},
    "createdAt": "2026-11-28T05:00:00Z", "updatedAt": "2026-11-28T05:00:00Z",
    "grants": [{"platform": "google", "service": "ads", "agencyAccountID": "1", "status": "pending",
                "accessLevel": "admin", "grantedAt": None}],
    "intakeForm": False, "sendEmail": True, "thankYouMessage": None, "redirectURL": None,
    "intakeFormStatus": "not_requested", "source": {"accessPageID": "ap_1", "name": "Main"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "value"), [(m.Client, CONTRACT_CLIENT), (m.Link, CONTRACT_LINK)], ids=["client", "link"]
)
def test_contract_shaped_answers_take_the_fast_path(cls: type, value: dict[str, Any]) -> None:
    decoded = fast.FAST_STRUCTURE[cls](value)  # raises if it gave up
    assert exact(decoded) == exact(CONVERTER.structure(value, cls))


def test_request_models_take_the_fast_path() -> None:
    new_client = m.NewClient(
        name="A", email="a@b.c", type=m.ClientType.PROSPECT, metadata={"k": "v"}
    )
    services_ = RequestedServices.from_json(
        {"google": {"ads": {"agencyAccountID": "1"}}}, validate=False
    )
    new_link = m.NewLink(client_id="cl_1", requested_services=services_, send_email=False)
    for new in (new_client, new_link):
        assert exact(fast.FAST_UNSTRUCTURE[type(new)](new)) == exact(CONVERTER.unstructure(new))
