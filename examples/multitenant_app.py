"""A platform's FastAPI backend serving many agencies, each with its own AgencyAccess key.

One Session for the whole process, opened in the lifespan; each request
takes a view for its tenant's key with ``session.with_options(api_key=...)``.
Views share the Session's connection pool (sockets stay bounded, whatever the
number of tenants) and each key gets its own limiter, so one agency's rate
limit never holds another's requests back. The key never appears in a repr,
a log line or a traceback rendered with locals.

The tenant's key is looked up per request (here a dict; in production your
database or secrets manager). A tenant whose key is not stored yet gets a
404 from us, never the platform's own key: ``with_options`` refuses ``None``.

    AGENCYACCESS_BASE_URL=... uvicorn examples.multitenant_app:app

FastAPI is not a dependency of the SDK: install it yourself (the test extra has it).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import agencyaccess_async as aa

#: tenant id -> that agency's AgencyAccess key (stand-in for the platform's own store).
TENANT_KEYS: dict[str, str] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One Session for every tenant: one pool; each key its own limiter.

    The Session itself is given a key of the platform's (for its own health
    checks); tenants never use it.
    """
    platform_key = os.environ.get("AGENCYACCESS_API_KEY", "platform-health-check-only")
    async with aa.Session(platform_key, max_concurrency=32) as session:
        app.state.agencyaccess = session
        yield


app = FastAPI(lifespan=lifespan)


@app.exception_handler(aa.AgencyAccessError)
async def agencyaccess_error(request: Request, error: aa.AgencyAccessError) -> JSONResponse:
    status, body, headers = aa.error_response(error)
    return JSONResponse(body, status_code=status, headers=headers)


def agency(request: Request, tenant: str) -> aa.SessionView:
    """The view of ``tenant``'s key, with a web-sized deadline."""
    key = TENANT_KEYS.get(tenant)
    if key is None:
        raise HTTPException(404, f"no AgencyAccess key stored for tenant {tenant!r}")
    session: aa.Session = request.app.state.agencyaccess
    return session.with_options(api_key=key, tenant=tenant, retry=aa.RetryPolicy.web())


class NewClient(BaseModel):
    name: str
    email: str


@app.post("/tenants/{tenant}/clients", status_code=201)
async def create_client(tenant: str, body: NewClient, request: Request) -> dict[str, Any]:
    client = await agency(request, tenant).clients.create(name=body.name, email=body.email)
    return client.to_dict(mode="json")


@app.get("/tenants/{tenant}/clients")
async def list_clients(tenant: str, request: Request) -> list[dict[str, Any]]:
    clients = await agency(request, tenant).clients.list().collect(max_items=100)
    return [client.to_dict(mode="json") for client in clients]
