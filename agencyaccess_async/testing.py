"""Test helpers for your own test suite: a local emulator, its admin API, instant retries.

With pytest and pytest-asyncio, add ``pytest_plugins = ["agencyaccess_async.testing"]``
to your ``conftest.py`` and use the fixtures:

- ``agencyaccess_emulator``: an emulator on a free loopback port, started in
  the test's event loop; a ``RunningEmulator`` with ``base_url``, ``api_key``
  (every capability) and ``admin`` (an ``EmulatorAdmin``);
- ``agencyaccess_session``: a ``Session`` connected to it, closed afterwards;
- ``agencyaccess_idempotency_keys``: creates given no idempotency key get
  ``idem-1``, ``idem-2``..., so exact bodies can be asserted.

Every test of a suite that loads the plugin runs with instant retries (see
below); mark one ``@pytest.mark.agencyaccess_real_waits`` for real waits.
``MockTransport`` answers in memory instead (no socket), from a handler or a
queue of canned ``Response``s, and records each ``MockCall``.
The emulator and its admin work without pytest too: ``async with
run_emulator() as emu: ...``.
``instant_retries()`` makes every wait between attempts instant: backoff, a
server's ``Retry-After`` and the pause after a 429 are recorded (``with
instant_retries() as waits``), not slept, so retry tests run fast and can
still check what would have been waited. The rate limiter's pacing is not a
wait between attempts: it stays real.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any

import aiohttp
import attrs

from . import _idempotency
from ._models import (
    Client,
    ClientType,
    Grant,
    GrantStatus,
    IntakeFormStatus,
    Language,
    Link,
    LinkStatus,
)
from ._retry import TestingMode, set_testing
from ._services import RequestedServices
from ._session import Session
from ._transport import MockCall, MockTransport
from .emulator import EmulatorConfig, EmulatorServer

__all__ = [
    "REAL_WAITS_MARKER",
    "EmulatorAdmin",
    "MockCall",
    "MockTransport",
    "RunningEmulator",
    "deterministic_idempotency_keys",
    "instant_retries",
    "make_client",
    "make_link",
    "run_emulator",
]

_STAMP = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_client(**overrides: Any) -> Client:
    """A complete ``Client`` for unit tests; any field can be overridden by keyword."""
    fields: dict[str, Any] = {
        "client_id": "cl_test", "name": "Acme", "email": "ops@acme.example",
        "type": ClientType.CLIENT, "language": Language.EN,
        "created_at": _STAMP, "updated_at": _STAMP,
    }  # fmt: skip
    return Client(**{**fields, **overrides})


def make_link(**overrides: Any) -> Link:
    """A complete ``Link`` (one pending Google Ads grant) for unit tests; override any field."""
    services = (
        RequestedServices.build()
        .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
        .build()
    )
    grant = Grant("google", "googleAds", "acct_google_1", GrantStatus.PENDING, "standard")
    fields: dict[str, Any] = {
        "link_id": "ln_test", "client_id": "cl_test",
        "invite_url": "http://127.0.0.1/invite/test-token", "status": LinkStatus.PENDING,
        "services": services, "grants": (grant,),
        "intake_form_status": IntakeFormStatus.NOT_REQUESTED,
        "created_at": _STAMP, "updated_at": _STAMP,
    }  # fmt: skip
    return Link(**{**fields, **overrides})


def instant_retries() -> TestingMode:
    """Make every wait between attempts instant inside the ``with`` block.

    ``with instant_retries() as waits:`` lists what was skipped: backoff,
    ``Retry-After`` and the pause after a 429 are recorded, not slept, so a
    fault test of ten calls takes milliseconds. The state before comes back
    after, so it nests: an inner ``with set_testing(False):`` gets real waits
    for its block only.
    """
    return set_testing(True)


class EmulatorAdmin:
    """A small client of the emulator's ``/_emulator/`` admin API."""

    def __init__(
        self, base_url: str, http: aiohttp.ClientSession, token: str | None = None
    ) -> None:
        self._base = base_url.rstrip("/") + "/_emulator/"
        self._http = http
        # The token the emulator printed at start-up (default: its environment variable).
        token = token or os.environ.get("AGENCYACCESS_EMULATOR_ADMIN_TOKEN", "")
        self._headers = {"X-Emulator-Admin": token}

    def __repr__(self) -> str:
        return f"<EmulatorAdmin {self._base}>"

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._http.post(
            self._base + path, json=body or {}, headers=self._headers
        ) as answer:
            return _data(path, answer.status, await answer.json())

    async def _get(self, path: str) -> Any:
        async with self._http.get(self._base + path, headers=self._headers) as answer:
            return _data(path, answer.status, await answer.json())

    async def create_key(
        self,
        capabilities: list[str] | None = None,
        key: str | None = None,
        *,
        agency: str | None = None,
    ) -> str:
        """Create an API key with these capabilities (default: all); return it.

        Keys of one ``agency`` share its clients, links and connected accounts,
        and see nothing of another agency's (default: the seeded key's agency),
        so a platform's tenant isolation can be tested.
        """
        body: dict[str, Any] = {} if capabilities is None else {"capabilities": capabilities}
        if key is not None:
            body["key"] = key
        if agency is not None:
            body["agency"] = agency
        return str((await self._post("keys", body))["key"])

    async def revoke_key(self, key: str) -> None:
        """Revoke an API key: its next call gets a 401."""
        await self._post("keys/revoke", {"key": key})

    async def add_account(
        self, platform: str, account_id: str | None = None, *, expired: bool = False
    ) -> str:
        """Connect an agency account on ``platform``; return its id."""
        body = {"platform": platform, "agencyAccountID": account_id, "expired": expired}
        return str((await self._post("accounts", body))["agencyAccountID"])

    async def set_intake_form(self, enabled: bool) -> None:
        """Enable or disable the agency's intake form."""
        await self._post("intake-form", {"enabled": enabled})

    async def grant(
        self, link_id: str, platform: str, service: str, status: str = "granted"
    ) -> dict[str, Any]:
        """Act as the client on the invite page: grant (or reject) one service of a link."""
        body = {"linkID": link_id, "platform": platform, "service": service, "status": status}
        result: dict[str, Any] = await self._post("links/grant", body)
        return result

    async def complete_intake(self, link_id: str) -> dict[str, Any]:
        """Act as the client: fill in the intake form of a link."""
        result: dict[str, Any] = await self._post("links/complete-intake", {"linkID": link_id})
        return result

    async def set_rate_limit(self, limit: int | None, window: float = 1.0) -> None:
        """Allow ``limit`` requests per ``window`` seconds per key (``None``: unlimited)."""
        await self._post("rate-limit", {"limit": limit, "window": window})

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the injected faults, e.g. ``errorRates={"503": 0.2}, dropAfter=0.1``."""
        result: dict[str, Any] = await self._post("faults", faults)
        return result

    async def reset(self) -> str:
        """Forget every record and fault; return the seeded API key."""
        return str((await self._post("reset"))["apiKey"])

    async def counters(self) -> dict[str, Any]:
        """Requests served by operation and status, and records held by type."""
        result: dict[str, Any] = await self._get("counters")
        return result

    async def state(self) -> dict[str, Any]:
        """Connected accounts, the rate limit, and whether the intake form is enabled."""
        result: dict[str, Any] = await self._get("state")
        return result

    async def requests(self) -> list[dict[str, Any]]:
        """The request log: arrival time, operation, status and request id of each request."""
        result: list[dict[str, Any]] = await self._get("requests")
        return result


def _data(path: str, status: int, payload: Any) -> Any:
    if status >= 400 or not isinstance(payload, dict) or payload.get("error"):
        message = payload.get("msg") if isinstance(payload, dict) else payload
        raise RuntimeError(f"emulator admin {path}: HTTP {status}: {message}")
    return payload["data"]


@attrs.frozen
class RunningEmulator:
    """A started emulator: where it listens, its full-capability key, and its admin API."""

    base_url: str
    api_key: str = attrs.field(repr=False)
    admin: EmulatorAdmin
    server: EmulatorServer

    def session(self, **kwargs: Any) -> Session:
        """A new ``Session`` pointed at this emulator (use it with ``async with``)."""
        return Session(self.api_key, base_url=self.base_url, **kwargs)


@contextlib.asynccontextmanager
async def run_emulator(config: EmulatorConfig | None = None) -> AsyncIterator[RunningEmulator]:
    """Start an emulator on a free loopback port for the duration of the block."""
    async with EmulatorServer(config) as server, aiohttp.ClientSession() as http:
        admin = EmulatorAdmin(server.base_url, http, server.admin_token)
        yield RunningEmulator(server.base_url, server.api_key, admin, server)


@contextlib.contextmanager
def deterministic_idempotency_keys(prefix: str = "idem-") -> Iterator[None]:
    """Inside the block, a create given no idempotency key gets ``idem-1``, ``idem-2``...

    So a test can assert a create's exact body. The random keys come back after.
    """
    numbers = itertools.count(1)
    previous = _idempotency.generated_key
    _idempotency.generated_key = lambda: f"{prefix}{next(numbers)}"
    try:
        yield
    finally:
        _idempotency.generated_key = previous


#: The marker that gives a test real waits between attempts (the plugin's default
#: is instant: waits are recorded, not slept).
REAL_WAITS_MARKER = "agencyaccess_real_waits"

try:
    import pytest
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need pytest and pytest-asyncio
    pass
else:

    def pytest_configure(config: pytest.Config) -> None:
        """Register the plugin's marker."""
        config.addinivalue_line(
            "markers",
            f"{REAL_WAITS_MARKER}: real waits between the SDK's attempts in this test "
            "(by default the agencyaccess_async plugin makes them instant)",
        )

    @pytest.fixture(autouse=True)
    def _agencyaccess_instant_retries(request: pytest.FixtureRequest) -> Iterator[None]:
        """Every test runs with instant retries, unless marked ``agencyaccess_real_waits``."""
        if request.node.get_closest_marker(REAL_WAITS_MARKER):
            with set_testing(False):
                yield
            return
        with instant_retries():
            yield

    @pytest.fixture
    def agencyaccess_idempotency_keys() -> Iterator[None]:
        """Deterministic idempotency keys (``idem-1``, ``idem-2``...) for exact-body asserts."""
        with deterministic_idempotency_keys():
            yield

    @pytest_asyncio.fixture
    async def agencyaccess_emulator() -> AsyncIterator[RunningEmulator]:
        """An emulator on a free loopback port, in the test's event loop."""
        async with run_emulator() as running:
            yield running

    @pytest_asyncio.fixture
    async def agencyaccess_session(
        agencyaccess_emulator: RunningEmulator,
    ) -> AsyncIterator[Session]:
        """A Session connected to ``agencyaccess_emulator``, with instant retries."""
        with instant_retries():
            async with agencyaccess_emulator.session() as session:
                yield session
