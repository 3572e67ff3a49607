"""The emulator's invite page, opened in a real headless browser (Debian's Chromium via Playwright).

The browser tests are marked ``browser``; the ``browser`` fixture (``conftest.py``)
says what happens where no browser is installed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agencyaccess_async import Link, LinkStatus, RequestedServices, Session
from agencyaccess_async.testing import RunningEmulator

pytestmark = pytest.mark.socket


@pytest.mark.browser
async def test_a_client_grants_in_the_browser_and_the_sdk_sees_it(
    browser: Any,
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    """Open an invite made by the SDK, grant both services, fill the intake form: granted, redirected."""
    await agencyaccess_emulator.admin.set_intake_form(True)
    client = await agencyaccess_session.clients.create(name="Acme", email="ops@acme.test")
    link = await agencyaccess_session.links.create(
        client.client_id,
        services=services,
        intake_form=True,
        thank_you_message="Thanks, Acme!",
        redirect_url=f"{agencyaccess_emulator.base_url}/_emulator/state",
    )
    assert link.invite_url is not None
    shots = Path(tempfile.mkdtemp(prefix="invite-page-"))
    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    await page.goto(link.invite_url)
    assert await page.title() == "Emulated Agency asks for access"
    await page.screenshot(path=str(shots / "before.png"), full_page=True)

    async with page.expect_navigation():
        await page.get_by_role("button", name="Grant google · googleAds, standard").click()
    partial = await agencyaccess_session.links.retrieve(link.link_id)
    assert partial.status is LinkStatus.PARTIAL  # the same state change as the admin grant

    await page.get_by_role("button", name="Grant shopify · storeCollaborator").click()
    await page.get_by_label("Your name").fill("Ada Client")
    await page.get_by_label("Your e-mail address").fill("ada@acme.test")
    await page.get_by_role("button", name="Send the intake form").click()
    await page.get_by_text("Thanks, Acme!").wait_for()
    await page.screenshot(path=str(shots / "after.png"), full_page=True)

    granted = await agencyaccess_session.links.wait_until_granted(link.link_id, deadline=5)
    assert granted.status is LinkStatus.GRANTED
    assert granted.intake_form_status is not None
    await page.wait_for_url(f"{agencyaccess_emulator.base_url}/_emulator/state", timeout=10_000)
    assert (shots / "before.png").stat().st_size > 0 and (shots / "after.png").stat().st_size > 0
    print(f"screenshots: {shots}")


@pytest.fixture
async def pending_link(agencyaccess_session: Session, services: RequestedServices) -> Link:
    """A fresh access request for a new client, made through the SDK: two services pending."""
    client = await agencyaccess_session.clients.create(name="Acme", email="ops@acme.test")
    return await agencyaccess_session.links.create(client.client_id, services=services)


@pytest.mark.browser
async def test_the_page_is_reachable_by_keyboard(
    browser: Any,
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    pending_link: Link,
) -> None:
    """Tab reaches the first Grant button and Enter presses it: no mouse needed."""
    link = pending_link
    page = await browser.new_page()
    await page.goto(str(link.invite_url))
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "Grant google · googleAds, standard"
    async with page.expect_navigation():  # the form posts, then the page comes back
        await page.keyboard.press("Enter")
    assert (await agencyaccess_session.links.retrieve(link.link_id)).status is LinkStatus.PARTIAL


async def test_only_the_token_opens_the_page(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    pending_link: Link,
) -> None:
    """A wrong token is a 404; the right one needs no API key; an unknown service is refused."""
    link = pending_link
    assert link.invite_url is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(link.invite_url) as page:
            assert page.status == 200
            text = await page.text()
            assert "Requested services" in text
        async with http.get(link.invite_url[:-3] + "xyz") as wrong:
            assert wrong.status == 404
        csrf = text.split("name='csrf' value='", 1)[1].split("'", 1)[0]
        answer = {"csrf": csrf, "platform": "meta", "service": "metaAds", "decision": "granted"}
        async with http.post(link.invite_url + "/answer", data=answer) as refused:
            assert refused.status == 404
    assert (await agencyaccess_session.links.retrieve(link.link_id)).status is LinkStatus.PENDING


async def test_the_admin_grant_still_works_and_the_api_document_is_unchanged(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    pending_link: Link,
) -> None:
    """The page is not part of the API: the OpenAPI document has no /invite route."""
    link = pending_link
    await agencyaccess_emulator.admin.grant(link.link_id, "google", "googleAds")
    assert (await agencyaccess_session.links.retrieve(link.link_id)).status is LinkStatus.PARTIAL
    async with (
        aiohttp.ClientSession() as http,
        http.get(agencyaccess_emulator.base_url + "/_emulator/openapi.json") as answer,
    ):
        document = await answer.json()
    assert not [path for path in document["paths"] if "invite" in path]


@pytest.mark.browser
async def test_the_page_sends_its_security_headers_and_refuses_another_sites_form(
    browser: Any,
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    pending_link: Link,
) -> None:
    """A form on another origin that posts a grant is refused; the grant stays pending."""
    from aiohttp import web

    from .helpers import serve_app

    link = pending_link
    invite = str(link.invite_url)
    page = await browser.new_page()
    response = await page.goto(invite)
    headers = await response.all_headers()
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "form-action 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"

    async def attacker(request: web.Request) -> web.Response:
        form = (
            f"<form id='f' method='post' action='{invite}/answer'>"
            "<input name='platform' value='google'><input name='service' value='googleAds'>"
            "<button name='decision' value='granted'>Win a prize</button></form>"
        )
        return web.Response(text=form, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", attacker)
    async with serve_app(app, host="127.0.0.2") as other_site:  # another origin
        evil = await browser.new_page()
        await evil.goto(other_site + "/")
        async with evil.expect_navigation():
            await evil.get_by_role("button", name="Win a prize").click()
        assert "did not come from this page" in await evil.content()
    assert (await agencyaccess_session.links.retrieve(link.link_id)).status is LinkStatus.PENDING


async def test_answers_are_locked_once_the_thank_you_page_was_shown(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    pending_link: Link,
) -> None:
    """After every service is answered and the page shown, a later post changes nothing."""
    import re

    link = pending_link
    invite = str(link.invite_url)
    async with aiohttp.ClientSession() as http:
        async with http.get(invite) as page:
            csrf = re.search(r"name='csrf' value='([0-9a-f]+)'", await page.text())
        assert csrf is not None
        for platform, service in (("google", "googleAds"), ("shopify", "storeCollaborator")):
            answer = {"csrf": csrf.group(1), "platform": platform, "service": service,
                      "decision": "granted"}  # fmt: skip
            async with http.post(invite + "/answer", data=answer) as posted:
                assert posted.status == 200
        async with http.get(invite) as page:  # the thank-you page
            assert "everything is answered" in await page.text()
        change = {"csrf": csrf.group(1), "platform": "google", "service": "googleAds",
                  "decision": "rejected"}  # fmt: skip
        async with http.post(invite + "/answer", data=change) as refused:
            assert refused.status == 409
    assert (await agencyaccess_session.links.retrieve(link.link_id)).status is LinkStatus.GRANTED
