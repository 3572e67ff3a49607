"""Tier 3: the emulator's admin API and fault injection, over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agencyaccess_async.emulator import EmulatorConfig
from agencyaccess_async.testing import RunningEmulator, run_emulator

from .emulator_client import GOOGLE_ADS, TWO_SERVICES, Raw

pytestmark = pytest.mark.socket


@pytest.fixture
async def raw(agencyaccess_emulator: RunningEmulator) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as http:
        yield Raw(http, agencyaccess_emulator.base_url, agencyaccess_emulator.api_key)


async def test_seeded_accounts_and_added_accounts(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """One account per platform is seeded; new ones (optionally expired) can be added."""
    client = await raw.client()
    for platform in ("meta", "linkedin", "wix"):
        account = f"acct_{platform}_1"
        service = {"meta": "metaAds", "linkedin": "linkedinAds", "wix": "site"}[platform]
        level = {"meta": "admin", "linkedin": "viewer", "wix": "editor"}[platform]
        services = {platform: {service: {"accessLevel": level, "agencyAccountID": account}}}
        assert (
            await raw.post(
                "/api/links/create", {"clientID": client["clientID"], "requestedServices": services}
            )
        ).status == 200
    admin = agencyaccess_emulator.admin
    fresh = await admin.add_account("google", "acct_google_2")
    expired = await admin.add_account("google", expired=True)
    for account, status in ((fresh, 200), (expired, 400)):
        services = {"google": {"googleAds": {"accessLevel": "admin", "agencyAccountID": account}}}
        answer = await raw.post(
            "/api/links/create", {"clientID": client["clientID"], "requestedServices": services}
        )
        assert answer.status == status


async def test_admin_rejects_bad_input(agencyaccess_emulator: RunningEmulator) -> None:
    """Admin calls with bad input fail clearly instead of corrupting state."""
    admin = agencyaccess_emulator.admin
    with pytest.raises(RuntimeError, match="capabilities"):
        await admin.create_key(["clients:everything"])
    with pytest.raises(RuntimeError, match="platform"):
        await admin.add_account("myspace")
    with pytest.raises(RuntimeError, match="errorRates"):
        await admin.set_faults(errorRates={"418": 0.5})
    with pytest.raises(RuntimeError, match="dropAfter"):
        await admin.set_faults(dropAfter=2)


async def test_counters_and_reset(raw: Raw, agencyaccess_emulator: RunningEmulator) -> None:
    """Counters count requests by operation and status and records by type; reset clears all."""
    client = await raw.client()
    await raw.link(client["clientID"])
    await raw.post("/api/clients/retrieve", {"clientID": "cl_nope"})
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["requests"]["clients.create"] == {"200": 1}
    assert counters["requests"]["clients.retrieve"] == {"404": 1}
    assert counters["records"] == {"clients": 1, "links": 1}
    new_key = await agencyaccess_emulator.admin.reset()
    assert new_key == agencyaccess_emulator.api_key  # the configured/seeded key stays valid
    after = await agencyaccess_emulator.admin.counters()
    assert after["records"] == {"clients": 0, "links": 0}
    assert after["total"] == 0


async def test_latency_fault(raw: Raw, agencyaccess_emulator: RunningEmulator) -> None:
    """latencyMs delays the answers of its routes only.

    A list (delayed 500 ms) and a retrieve (not delayed) sent together: the
    retrieve's answer comes first, and the list is answered all the same.
    """
    await agencyaccess_emulator.admin.set_faults(latencyMs=500, routes=["clients.list"])
    answered: list[str] = []

    async def post(path: str, body: dict[str, Any]) -> int:
        answer = await raw.post(path, body)
        answered.append(path)
        return answer.status

    statuses = await asyncio.gather(
        post("/api/clients/list", {}), post("/api/clients/retrieve", {"clientID": "cl_none"})
    )
    assert answered == ["/api/clients/retrieve", "/api/clients/list"]
    assert statuses == [200, 404]


async def test_error_rate_faults_are_500_json_502_html_503_retry_after(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """Injected 500s are JSON, 502s are HTML as from a proxy, 503s carry Retry-After."""
    admin = agencyaccess_emulator.admin
    await admin.set_faults(errorRates={"500": 1.0})
    answer = await raw.post("/api/clients/list", {})
    assert answer.status == 500 and answer.json["error"] is True
    await admin.set_faults(errorRates={"502": 1.0})
    answer = await raw.post("/api/clients/list", {})
    assert answer.status == 502 and answer.body.startswith(b"<html>")
    await admin.set_faults(errorRates={"503": 1.0}, retryAfter503=3)
    answer = await raw.post("/api/clients/list", {})
    assert answer.status == 503 and answer.headers["Retry-After"] == "3"
    await admin.set_faults(errorRates={"503": 1.0}, routes=["links.create"])
    assert (await raw.post("/api/clients/list", {})).status == 200  # faults limited to routes


async def test_drop_before_processing_creates_nothing(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """dropBefore closes the connection without creating the record."""
    await agencyaccess_emulator.admin.set_faults(dropBefore=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw.post("/api/clients/create", {"name": "A", "email": "a@b.co"})
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"]["clients"] == 0
    assert counters["requests"]["clients.create"] == {"dropped_before": 1}


async def test_drop_after_processing_creates_the_record(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """dropAfter processes the request, then closes the connection: the client never hears."""
    await agencyaccess_emulator.admin.set_faults(dropAfter=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw.post("/api/clients/create", {"name": "A", "email": "a@b.co"})
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"]["clients"] == 1
    assert counters["requests"]["clients.create"] == {"dropped_after": 1}


async def test_errors_as_200(raw: Raw, agencyaccess_emulator: RunningEmulator) -> None:
    """errorsAs200 answers failures with HTTP 200 and error true."""
    await agencyaccess_emulator.admin.set_faults(errorsAs200=True)
    answer = await raw.post("/api/clients/retrieve", {"clientID": "cl_nope"})
    assert answer.status == 200
    assert answer.json == {"error": True, "msg": "Client does not exist. cl_nope"}


async def test_force_429(raw: Raw, agencyaccess_emulator: RunningEmulator) -> None:
    """force429 answers the next N requests with 429 and the chosen Retry-After."""
    await agencyaccess_emulator.admin.set_faults(force429={"count": 2, "retryAfter": 2})
    statuses = [(await raw.post("/api/clients/list", {})) for _ in range(3)]
    assert [a.status for a in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "2"


async def test_request_log(raw: Raw, agencyaccess_emulator: RunningEmulator) -> None:
    """The request log has arrival time, operation, status and request id of each request."""
    before = time.time()
    await raw.post("/api/clients/list", {}, headers={"X-Request-ID": "trace-1"})
    log = await agencyaccess_emulator.admin.requests()
    assert log[-1]["operation"] == "clients.list"
    assert log[-1]["status"] == 200
    assert log[-1]["requestID"] == "trace-1"
    assert log[-1]["t"] >= before - 1


async def test_admin_is_loopback_only() -> None:
    """The admin API refuses non-loopback clients unless configured otherwise."""
    from aiohttp.test_utils import make_mocked_request

    from agencyaccess_async.emulator import make_app

    app = make_app()
    route = next(
        r
        for r in app.router.routes()
        if r.resource and r.resource.canonical == "/_emulator/counters"
    )
    request = make_mocked_request("GET", "/_emulator/counters", app=app)
    request = request.clone(remote="203.0.113.9")
    answer = await route.handler(request)
    assert answer.status == 403


# ------------------------------------------------------------ pagination


async def test_pagination_is_stable_under_concurrent_creates_and_deletes(raw: Raw) -> None:
    """With 1,000 records and creates/deletes between pages, every survivor is seen once."""
    created = [
        c["clientID"]
        for c in await asyncio.gather(*(raw.client(name=f"Client {i}") for i in range(1000)))
    ]
    deleted: set[str] = set()
    seen: list[str] = []
    cursor = None
    page_number = 0
    while True:
        body: dict[str, Any] = {"limit": 37}
        if cursor:
            body["cursor"] = cursor
        page = (await raw.post("/api/clients/list", body)).json
        seen += [c["clientID"] for c in page["data"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
        page_number += 1
        # Churn between pages: new records, and deletions both behind and ahead.
        await asyncio.gather(*(raw.client(name=f"Late {page_number}-{i}") for i in range(5)))
        for victim in (created[(page_number * 7) % 1000], created[(page_number * 53 + 500) % 1000]):
            if victim not in deleted:
                deleted.add(victim)
                await raw.post("/api/clients/delete", {"clientID": victim})
    survivors = [c for c in created if c not in deleted]
    assert len(seen) == len(set(seen)), "a record was repeated"
    assert set(survivors) <= set(seen), "a record that existed throughout was skipped"


async def test_bad_cursor_is_400(raw: Raw) -> None:
    """A cursor the server did not issue is an invalid field."""
    answer = await raw.post("/api/clients/list", {"cursor": "garbage!"})
    assert answer.status == 400 and "cursor" in answer.msg


# ------------------------------------------------------------ fuzzing

ROUTES = [
    "/api/clients/create", "/api/clients/list", "/api/clients/retrieve", "/api/clients/update",
    "/api/clients/delete", "/api/links/create", "/api/links/list", "/api/links/retrieve",
    "/api/links/update", "/api/links/delete",
]  # fmt: skip
FIELDS = [
    "name", "email", "company", "website", "type", "language", "metadata", "clientID", "linkID",
    "requestedServices", "intakeForm", "sendEmail", "thankYouMessage", "redirectURL", "limit",
    "cursor", "search", "google", "googleAds", "accessLevel", "agencyAccountID",
]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_fuzzed_bodies_never_yield_5xx(route: str, body: Any) -> None:
    """Random bodies of wrong types get a 2xx or 4xx with the JSON envelope, never a 5xx."""
    asyncio.run(_post_fuzzed(route, body))


async def _post_fuzzed(route: str, body: Any) -> None:
    async with (
        run_emulator(EmulatorConfig(api_key="fuzz")) as emulator,
        aiohttp.ClientSession() as http,
    ):
        raw = Raw(http, emulator.base_url, "fuzz")
        client = await raw.client()
        if isinstance(body, dict) and "clientID" in body:
            body["clientID"] = client["clientID"]
        answer = await raw.post(route, body)
    assert answer.status < 500, (route, body, answer.body)
    payload = answer.json
    assert isinstance(payload["error"], bool)
    assert payload["error"] == (answer.status >= 400)


# ------------------------------------------------------------ OpenAPI


def _openapi() -> dict[str, Any]:
    from agencyaccess_async.emulator import openapi_document

    return openapi_document()


def _check(schema: dict[str, Any], value: Any, doc: dict[str, Any], path: str = "$") -> None:
    """A small JSON Schema checker for the keywords the document uses."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _check(doc["components"]["schemas"][name], value, doc, path)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return _check(option, value, doc, path)
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{path}: matches no option: {errors}")
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        python = {
            "string": str,
            "object": dict,
            "array": list,
            "boolean": bool,
            "null": type(None),
            "integer": int,
            "number": (int, float),
        }
        assert any(
            isinstance(value, python[n])
            and not (n in ("integer", "number") and isinstance(value, bool))
            for n in names
        ), f"{path}: {value!r} is not {names}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in enum"
    if "const" in schema:
        assert value == schema["const"], f"{path}: {value!r} != {schema['const']!r}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value, f"{path}: missing {name}"
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                _check(properties[name], item, doc, f"{path}.{name}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(schema["additionalProperties"], item, doc, f"{path}.{name}")
            else:
                assert schema.get("additionalProperties", True) is not False, (
                    f"{path}: unexpected {name}"
                )
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(schema["items"], item, doc, f"{path}[{index}]")
    return None


async def test_openapi_is_served_and_matches_real_answers(
    raw: Raw, agencyaccess_emulator: RunningEmulator
) -> None:
    """The served OpenAPI document is the repository's, and real answers validate against it."""
    doc = _openapi()
    async with raw.http.get(raw.base_url + "/_emulator/openapi.json") as answer:
        assert await answer.json() == doc
    assert doc["openapi"].startswith("3.1")
    client = await raw.client(metadata={"a": "b"})
    link = await raw.link(client["clientID"], TWO_SERVICES)
    await agencyaccess_emulator.admin.grant(link["linkID"], "google", "googleAds")
    calls = [
        ("/api/clients/create", {"name": "B", "email": "b@c.co", "website": "https://b.co"}, 200),
        ("/api/clients/list", {"limit": 1}, 200),
        ("/api/clients/retrieve", {"clientID": client["clientID"]}, 200),
        ("/api/clients/update", {"clientID": client["clientID"], "language": "nl"}, 200),
        (
            "/api/links/create",
            {"clientID": client["clientID"], "requestedServices": GOOGLE_ADS},
            200,
        ),
        ("/api/links/list", {"clientID": client["clientID"]}, 200),
        ("/api/links/retrieve", {"linkID": link["linkID"]}, 200),
        ("/api/links/update", {"linkID": link["linkID"], "sendEmail": True}, 200),
        ("/api/links/delete", {"linkID": link["linkID"]}, 200),
        ("/api/clients/delete", {"clientID": client["clientID"]}, 200),
        ("/api/clients/create", {"name": ""}, 400),
        ("/api/clients/retrieve", {"clientID": "cl_x"}, 404),
    ]
    for path, body, status in calls:
        operation = doc["paths"][path]["post"]
        if status == 200:
            _check(operation["requestBody"]["content"]["application/json"]["schema"], body, doc)
        answer = await raw.post(path, body)
        assert answer.status == status, (path, answer.body)
        spec = operation["responses"][str(status)]
        _check(spec["content"]["application/json"]["schema"], answer.json, doc, path)
        for header in spec["headers"]:
            assert header in answer.headers, (path, header)


# ------------------------------------------------------------ curl


@pytest.mark.process
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_documented_curl_example_works(agencyaccess_emulator: RunningEmulator) -> None:
    """The README's curl call creates a link with an inviteUrl, verbatim."""
    url, key = agencyaccess_emulator.base_url, agencyaccess_emulator.api_key
    async with agencyaccess_emulator.session() as session:
        client = await session.clients.create(name="Acme", email="ops@acme.test")
    services = (
        '{"google":{"googleAds":{"accessLevel":"standard","agencyAccountID":"acct_google_1"}}}'
    )
    command = [
        "curl", "-sS", "-X", "POST", f"{url}/api/links/create",
        "-H", f"X-Auth: {key}", "-H", "Content-Type: application/json",
        "-d", f'{{"clientID":"{client.client_id}","requestedServices":{services}}}',
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    payload = json.loads(stdout)
    assert payload["error"] is False
    assert payload["data"]["inviteUrl"].startswith(url + "/invite/")


async def test_state_shows_accounts_rate_limit_and_intake_form(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """GET /_emulator/state reports connected accounts, the rate limit and the intake form."""
    admin = agencyaccess_emulator.admin
    await admin.set_rate_limit(7, window=2)
    await admin.set_intake_form(True)
    state = await admin.state()
    assert state["rateLimit"] == {"limit": 7, "window": 2.0}
    assert state["intakeFormEnabled"] is True
    accounts = {a["agencyAccountID"]: a for a in state["accounts"]}
    assert accounts["acct_google_expired"]["expired"] is True
    assert len([a for a in accounts if a.endswith("_1")]) == 24


README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.process
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_guides_curl_example_gets_the_documented_error_shape(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """The guide's example, as the README quotes it, answers {"error": true, "msg": <the guide's words>}."""
    readme = README.read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```bash\n")[1:]]
    example = next(b for b in blocks if '"clientID":"client-id"' in b)
    expected = json.loads(example.rsplit("# ", 1)[1])
    environment = {**os.environ, "AGENCYACCESS_BASE_URL": agencyaccess_emulator.base_url}
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", example.replace("curl ", "curl -sS ", 1), stdout=subprocess.PIPE,
        env=environment,
    )  # fmt: skip
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    assert json.loads(stdout) == expected == {"error": True, "msg": "Missing or invalid API key."}
