"""A raw HTTP client of the emulator for its own tests: no SDK models in the way."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import attrs


@attrs.frozen
class Answer:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def data(self) -> Any:
        payload = self.json
        assert payload["error"] is False, payload
        return payload["data"]

    @property
    def msg(self) -> str:
        payload = self.json
        assert payload["error"] is True, payload
        return str(payload["msg"])


class Raw:
    """POSTs raw bodies to an emulator and returns status, headers and body."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, key: str) -> None:
        self.http = http
        self.base_url = base_url
        self.key = key

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = "default",
        raw: bytes | io.BytesIO | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key == "default":
            key = self.key
        if key is not None:
            all_headers["X-Auth"] = key
        data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        async with self.http.post(self.base_url + path, data=data, headers=all_headers) as answer:
            return Answer(answer.status, answer.headers, await answer.read())

    async def client(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Acme", "email": "ops@acme.test", **fields}
        return dict((await self.post("/api/clients/create", body)).data)

    async def link(
        self, client_id: str, services: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {"clientID": client_id, "requestedServices": services or GOOGLE_ADS, **fields}
        return dict((await self.post("/api/links/create", body)).data)


GOOGLE_ADS = {
    "google": {"googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}}
}
TWO_SERVICES = {
    "google": {"googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}},
    "shopify": {"storeCollaborator": {"agencyAccountID": "acct_shopify_1"}},
}
