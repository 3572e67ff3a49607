"""An aiohttp.web backend that onboards a customer at sign-up, sharing one Session.

The Session is opened once in the app's cleanup context (its lifespan) and
shared by every request handler: one connection pool, one rate limiter. SDK
errors become sensible HTTP answers, never a 500 with a traceback.

Run it against the emulator:

    agencyaccess-async emulator &            # prints the two variables to export
    python examples/webapp.py                # then POST /signup {"name": ..., "email": ...}
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

import agencyaccess_async as aa

SESSION = web.AppKey("agencyaccess_session", aa.Session)
SERVICES = (
    aa.RequestedServices.build()
    .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
    .add("meta", "metaAds", access_level="advertiser", agency_account_id="acct_meta_1")
    .build()
)


async def agencyaccess_session(app: web.Application) -> AsyncIterator[None]:
    """Open one Session for the app's whole life, and close it on shutdown."""
    async with aa.Session(max_concurrency=16) as session:
        app[SESSION] = session
        yield


async def signup(request: web.Request) -> web.Response:
    """Create a client and an access request for a new customer; answer with the invite URL."""
    body = await request.json()
    session = request.app[SESSION]
    try:
        client = await session.clients.create(
            name=str(body.get("name", "")),
            email=str(body.get("email", "")),
            company=body.get("company", aa.UNSET),
        )
        link = await session.links.create(client.client_id, services=SERVICES)
    except aa.AgencyAccessError as error:
        # 422 with the field, 404, 503 with Retry-After, 504, or 502 (our key, their outage).
        status, payload, headers = aa.error_response(error)
        if status >= 500:
            logging.getLogger(__name__).warning("AgencyAccess call failed: %r", error)
        return web.json_response(payload, status=status, headers=headers)
    return web.json_response(
        {"clientID": client.client_id, "linkID": link.link_id, "inviteUrl": link.invite_url},
        status=201,
    )


def make_app() -> web.Application:
    """The application: one route, one shared Session."""
    app = web.Application()
    app.cleanup_ctx.append(agencyaccess_session)
    app.router.add_post("/signup", signup)
    return app


def main(**kwargs: Any) -> None:
    """Serve on 127.0.0.1:8080 (the Session reads AGENCYACCESS_API_KEY / _BASE_URL)."""
    if not os.environ.get("AGENCYACCESS_API_KEY"):
        raise SystemExit(
            "set AGENCYACCESS_API_KEY and AGENCYACCESS_BASE_URL (see: agencyaccess-async emulator)"
        )
    web.run_app(make_app(), host="127.0.0.1", port=8080, **kwargs)


if __name__ == "__main__":
    main()
