"""The requested-services builder: catalog checks, typo suggestions, prospects, round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agencyaccess_async import InvalidServiceError, RequestedServices
from agencyaccess_async._contract import READ_ONLY_LEVELS
from agencyaccess_async.lowlevel import CATALOG

pytestmark = pytest.mark.unit


def test_builder_builds_the_wire_object(services: RequestedServices) -> None:
    """The builder's result serializes to the contract's nested object, in order."""
    assert services.to_json() == {
        "google": {"googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}},
        "shopify": {"storeCollaborator": {"agencyAccountID": "acct_shopify_1"}},
    }


@pytest.mark.parametrize(
    ("platform", "service", "level", "account", "path", "hint"),
    [
        ("google", "googleAd", "admin", "a", "google.googleAd", "did you mean 'googleAds'?"),
        ("Google", "googleAds", "admin", "a", "Google", "did you mean 'google'?"),
        ("gogle", "googleAds", "admin", "a", "gogle", "did you mean 'google'?"),
        (
            "google",
            "googleAds",
            "standrd",
            "a",
            "google.googleAds.accessLevel",
            "did you mean 'standard'?",
        ),
        (
            "google",
            "googleAds",
            None,
            "a",
            "google.googleAds.accessLevel",
            "required, one of admin",
        ),
        (
            "shopify",
            "storeCollaborator",
            "admin",
            "a",
            "shopify.storeCollaborator.accessLevel",
            "omit it",
        ),
        ("google", "googleAds", "admin", "", "google.googleAds.agencyAccountID", "required"),
    ],
)
def test_typos_name_the_path_and_suggest(
    platform: str, service: str, level: str | None, account: str, path: str, hint: str
) -> None:
    """Each mistake is an InvalidServiceError (a ValueError) naming its path, with the closest name."""
    builder = RequestedServices.build()
    with pytest.raises(ValueError) as info:
        builder.add(platform, service, access_level=level, agency_account_id=account)
    assert isinstance(info.value, InvalidServiceError)
    assert info.value.path == path
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("platform", "service", "hint"),
    [("facebook", "metaAds", "'meta'"), ("google", "ga4", "'googleAnalytics'")],
)
def test_common_names_are_suggested(platform: str, service: str, hint: str) -> None:
    """The builder's hint knows the names people reach for (facebook, ga4)."""
    with pytest.raises(InvalidServiceError, match=f"did you mean {hint}"):
        RequestedServices.build().add(platform, service, agency_account_id="a")


def test_empty_and_duplicate_services_are_refused() -> None:
    """At least one service, and each service once."""
    with pytest.raises(ValueError, match="at least one"):
        RequestedServices.build().build()
    builder = RequestedServices.build().add("hubspot", "partner", agency_account_id="a")
    with pytest.raises(ValueError, match="hubspot.partner: already added"):
        builder.add("hubspot", "partner", agency_account_id="b")


def test_from_json_validates_and_names_paths() -> None:
    """Raw dashboard JSON is validated with the same paths; extra entry keys are kept."""
    with pytest.raises(
        ValueError, match=r"^Requested service is invalid. meta.metaAds.accessLevel: unknown level"
    ):
        RequestedServices.from_json(
            {"meta": {"metaAds": {"accessLevel": "owner", "agencyAccountID": "a"}}}
        )
    with pytest.raises(ValueError, match="agencyAccountID, not agencyAccountId"):
        RequestedServices.from_json(
            {"meta": {"metaAds": {"accessLevel": "admin", "agencyAccountId": "a"}}}
        )
    raw = {
        "meta": {
            "metaAds": {"agencyAccountID": "a", "accessLevel": "admin", "agencyAccountName": "Ours"}
        }
    }
    assert RequestedServices.from_json(raw).to_json() == raw


def test_lenient_decoding_accepts_services_the_sdk_does_not_know() -> None:
    """validate=False reads the shape only, for catalog additions newer than the SDK."""
    raw = {"threads": {"threadsAds": {"accessLevel": "boss", "agencyAccountID": "acct_t"}}}
    assert RequestedServices.from_json(raw, validate=False).to_json() == raw


def test_prospect_check_and_read_only_copy(services: RequestedServices) -> None:
    """check_prospect names the first non-read-only level; read_only() fixes them all."""
    with pytest.raises(
        ValueError, match=r"google.googleAds.accessLevel: prospects may only request 'readOnly'"
    ):
        services.check_prospect()
    read_only = services.read_only()
    read_only.check_prospect()
    assert read_only.to_json()["google"]["googleAds"]["accessLevel"] == "readOnly"
    assert "accessLevel" not in read_only.to_json()["shopify"]["storeCollaborator"]


def test_repr_is_compact(services: RequestedServices) -> None:
    """The repr lists path=level pairs."""
    assert (
        repr(services) == "RequestedServices(google.googleAds=standard, shopify.storeCollaborator)"
    )


def _raw_services() -> st.SearchStrategy[dict]:
    entries = [(p, s, levels) for p, svc in CATALOG.items() for s, levels in svc.items()]

    def entry(choice: tuple[str, str, tuple[str, ...]]) -> st.SearchStrategy[tuple[str, str, dict]]:
        platform, service, levels = choice
        account = st.text(min_size=1, max_size=12).filter(str.strip)
        if not levels:
            return account.map(lambda a: (platform, service, {"agencyAccountID": a}))
        # The dashboard writes accessLevel first, as the contract's example does.
        return st.tuples(st.sampled_from(levels), account).map(
            lambda la: (platform, service, {"accessLevel": la[0], "agencyAccountID": la[1]})
        )

    def nest(items: list[tuple[str, str, dict]]) -> dict:
        raw: dict = {}
        for platform, service, body in items:
            raw.setdefault(platform, {})[service] = body
        return raw

    return st.lists(st.sampled_from(entries).flatmap(entry), min_size=1, max_size=8,
                    unique_by=lambda t: (t[0], t[1])).map(nest)  # fmt: skip


@given(_raw_services())
def test_dashboard_json_round_trips_byte_for_byte(raw: dict) -> None:
    """from_json -> to_json gives back the dashboard's JSON, same keys, same order."""
    services = RequestedServices.from_json(raw)
    assert json.dumps(services.to_json()) == json.dumps(raw)


@given(_raw_services())
def test_builder_round_trip(raw: dict) -> None:
    """builder -> JSON -> builder is the identity."""
    builder = RequestedServices.build()
    for platform, entries in raw.items():
        for service, body in entries.items():
            builder.add(platform, service, access_level=body.get("accessLevel"),
                        agency_account_id=body["agencyAccountID"])  # fmt: skip
    built = builder.build()
    assert RequestedServices.from_json(built.to_json()) == built


def test_catalog_read_only_levels_are_marked() -> None:
    """Every service with levels has a read-only level, and it is one of its levels."""
    for platform, entries in CATALOG.items():
        for service, levels in entries.items():
            if levels:
                assert READ_ONLY_LEVELS[(platform, service)] in levels
    assert READ_ONLY_LEVELS[("google", "googleAds")] == "readOnly"
    assert sum(len(s) for s in CATALOG.values()) == 40
