"""A FastAPI backend that onboards its customers through AgencyAccess.

One Session for the whole application, opened in the lifespan; routes return
models as plain JSON with ``to_dict(mode="json")``; one exception handler turns
any SDK error into the HTTP answer a customer should get (422 with the field,
404, 503 with Retry-After, 504, or 502 when AgencyAccess or our own key
failed), never a 500 with a traceback.

    AGENCYACCESS_API_KEY=... AGENCYACCESS_BASE_URL=... uvicorn examples.fastapi_app:app

FastAPI is not a dependency of the SDK: install it yourself (the test extra has it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import agencyaccess_async as aa

SERVICES = (
    aa.RequestedServices.build()
    .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
    .build()
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One Session for the app's lifetime (it reads AGENCYACCESS_API_KEY and _BASE_URL).

    Web-sized waits: RetryPolicy.web() gives each call a few seconds in all,
    never holding a request longer than a browser will wait.
    """
    async with aa.Session(max_concurrency=16, retry=aa.RetryPolicy.web()) as session:
        app.state.agencyaccess = session
        yield


app = FastAPI(lifespan=lifespan)


@app.exception_handler(aa.AgencyAccessError)
async def agencyaccess_error(request: Request, error: aa.AgencyAccessError) -> JSONResponse:
    """Every SDK error as the answer our own client should get."""
    status, body, headers = aa.error_response(error)
    if status >= 500:
        logging.getLogger(__name__).warning("AgencyAccess call failed: %r", error)
    return JSONResponse(body, status_code=status, headers=headers)


class Signup(BaseModel):
    """What a new customer sends us."""

    name: str
    email: str


@app.post("/signup", status_code=201)
async def signup(customer: Signup, request: Request) -> dict[str, Any]:
    """Create the customer's client record and access request; answer with the invite."""
    session: aa.Session = request.app.state.agencyaccess
    client = await session.clients.create(name=customer.name, email=customer.email)
    link = await session.links.create(client.client_id, services=SERVICES)
    return {"client": client.to_dict(mode="json"), "link": link.to_dict(mode="json")}


@app.get("/clients/{client_id}")
async def client(client_id: str, request: Request) -> dict[str, Any]:
    """One client record, as plain JSON."""
    session: aa.Session = request.app.state.agencyaccess
    return (await session.clients.retrieve(client_id)).to_dict(mode="json")
