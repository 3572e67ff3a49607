"""Shared fixtures: the SDK's own pytest plugin (dogfooded), instant retries, sample data."""

from __future__ import annotations

from collections.abc import Iterator

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
