"""Where users live: a FastAPI backend, a pandas DataFrame, and error statuses for proxies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import agencyaccess_async as aa
from agencyaccess_async.types import ItemResult, Onboarded

from .cli_helpers import ADMIN_TOKEN, Emulator

pytestmark = pytest.mark.process  # the FastAPI app runs its own loop; the emulator its own process

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_fastapi_example_returns_models_and_maps_errors(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signup answers 201 with plain JSON models; bad input 422 with the field; unknown 404."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AGENCYACCESS_API_KEY", emulator.key)
    monkeypatch.setenv("AGENCYACCESS_BASE_URL", emulator.base_url)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("fastapi_app", None)
    import fastapi_app

    with TestClient(fastapi_app.app) as http:
        created = http.post("/signup", json={"name": "Acme", "email": "ops@acme.example"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["client"]["name"] == "Acme" and body["link"]["status"] == "pending"
        assert body["link"]["invite_url"].startswith(emulator.base_url + "/invite/")
        refused = http.post("/signup", json={"name": "Acme", "email": "not-an-address"})
        assert refused.status_code == 422
        assert refused.json()["field"] == "email"
        missing = http.get("/clients/cl_nobody")
        assert missing.status_code == 404
        blank = http.get("/clients/%20")  # a blank id: the caller's mistake, not a 500
        assert blank.status_code == 422 and blank.json()["field"] == "client_id"
        assert (
            http.get(f"/clients/{body['client']['client_id']}").json()["email"]
            == "ops@acme.example"
        )
    monkeypatch.setenv("AGENCYACCESS_API_KEY", "not-our-key")
    with TestClient(fastapi_app.app) as http:
        upstream = http.post("/signup", json={"name": "Acme", "email": "ops@acme.example"})
    assert upstream.status_code == 502  # our own key failed: not the customer's fault
    assert "not-our-key" not in upstream.text


def test_a_bulk_run_becomes_a_dataframe_in_one_line(emulator: Emulator) -> None:
    """pd.DataFrame(r.to_row() for r in results): one row per item, typed columns."""
    pd = pytest.importorskip("pandas")
    import asyncio

    async def onboard() -> list[ItemResult[Onboarded]]:
        async with aa.Session(emulator.key, base_url=emulator.base_url) as session:
            rows = [aa.NewClient(name=f"C{i}", email=f"c{i}@example.test") for i in range(4)]
            services = {
                "google": {
                    "googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}
                }
            }
            return await session.bulk.onboard(rows, services=services).collect()

    results = asyncio.run(onboard())
    frame = pd.DataFrame(r.to_row() for r in results)
    assert len(frame) == 4
    assert set(frame["outcome"]) == {"created"}
    assert frame["invite_url"].str.contains("/invite/").all()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (aa.InvalidRequestError("Invalid field email: bad", status=400), 422),
        (aa.NotFoundError("Client does not exist.", status=404), 404),
        (aa.AuthenticationError("Missing or invalid API key.", status=401), 502),
        (aa.CapabilityError("Key does not have the required capability.", status=403), 502),
        (aa.RateLimitError("Rate limit exceeded", status=429, retry_after=7), 503),
        (aa.RequestTimeoutError("read timeout", kind="read"), 504),
        (aa.ServerError("boom", status=500), 502),
        (aa.AgencyAccountError("Connected agency account is missing or expired.", status=400), 502),
    ],
)
def test_each_error_suggests_the_status_a_proxying_backend_should_answer(
    error: aa.AgencyAccessError, status: int
) -> None:
    """error_response gives the status, a safe body and Retry-After for rate limits."""
    answer_status, body, headers = aa.error_response(error)
    assert answer_status == status == error.suggested_status
    assert body["error"] == type(error).__name__
    if isinstance(error, aa.RateLimitError):
        assert headers == {"Retry-After": "7"}
    assert set(body) <= {"error", "detail", "field"}  # upstream details stay upstream


def test_the_multitenant_example_keeps_each_agencys_clients_to_itself(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two agencies' keys on one Session: each tenant sees only its own clients; no key, 404."""
    pytest.importorskip("fastapi")
    import asyncio

    from fastapi.testclient import TestClient

    from agencyaccess_async.testing import EmulatorAdmin

    async def two_agency_keys() -> tuple[str, str]:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            admin = EmulatorAdmin(emulator.base_url, http, ADMIN_TOKEN)
            return await admin.create_key(agency="north"), await admin.create_key(agency="south")

    north, south = asyncio.run(two_agency_keys())
    monkeypatch.setenv("AGENCYACCESS_BASE_URL", emulator.base_url)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("multitenant_app", None)
    import multitenant_app

    monkeypatch.setattr(multitenant_app, "TENANT_KEYS", {"north": north, "south": south})
    with TestClient(multitenant_app.app) as http:
        for tenant in ("north", "south"):
            made = http.post(
                f"/tenants/{tenant}/clients",
                json={"name": f"{tenant.title()} Bakery", "email": f"ops@{tenant}.example"},
            )
            assert made.status_code == 201, made.text
        assert [c["name"] for c in http.get("/tenants/north/clients").json()] == ["North Bakery"]
        assert [c["name"] for c in http.get("/tenants/south/clients").json()] == ["South Bakery"]
        assert http.get("/tenants/east/clients").status_code == 404
