"""Shared fixtures: the SDK's own pytest plugin (dogfooded), instant retries, sample data,
an emulator process and a headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agencyaccess_async import RequestedServices

from .cli_helpers import Emulator, running_emulator

pytest_plugins = ["agencyaccess_async.testing"]


@pytest.fixture(autouse=True)
def _instant_backoff() -> Iterator[None]:
    from agencyaccess_async.testing import instant_retries  # loaded by pytest_plugins

    with instant_retries():
        yield


@pytest.fixture
def services() -> RequestedServices:
    return (
        RequestedServices.build()
        .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
        .add("shopify", "storeCollaborator", agency_account_id="acct_shopify_1")
        .build()
    )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A standalone emulator process, for tests that run the CLI against it."""
    with running_emulator() as running:
        yield running


@pytest.fixture
def real_waits() -> Iterator[None]:
    """Real waits for a test about the waits themselves (the rest of the suite skips them)."""
    from agencyaccess_async._retry import set_testing

    with set_testing(False):
        yield


CHROMIUM = os.environ.get("AGENCYACCESS_CHROMIUM") or shutil.which("chromium") or ""
HAVE_CHROMIUM = bool(CHROMIUM) and Path(CHROMIUM).exists()
# As the probe of this machine runs it: no sandbox as root, and no background
# networking (this machine's network is closed; Chromium would keep trying).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium driven by Playwright; skipped (or failed, in CI) without one.

    Tests that use it are marked ``browser``: ``-m "not browser"`` leaves them out
    where no browser can be installed. In CI (``$CI`` set) a missing browser is a
    failure, not a skip.
    """
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install Debian's chromium")
        pytest.skip("no chromium here; run with -m 'not browser' or install it")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()
