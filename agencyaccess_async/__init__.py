"""agencyaccess-async: an async SDK for the AgencyAccess REST API.

>>> import asyncio, agencyaccess_async as aa
>>> async def main():  # doctest: +SKIP
...     async with aa.Session() as s:
...         client = await s.clients.create(name="Acme", email="ops@acme.test")
...         services = aa.RequestedServices.build().add(
...             "google", "googleAds", access_level="standard", agency_account_id="acct_google_1"
...         ).build()
...         link = await s.links.create(client.client_id, services=services)
...         print(link.invite_url)
"""

from ._aiohttp_transport import AiohttpTransport
from ._bulk import (
    Bulk,
    BulkProgress,
    BulkRun,
    BulkSummary,
    ItemResult,
    Onboarded,
    OnboardItem,
)
from ._catalog import CATALOG
from ._endpoints import Clients, Links, Paginator
from ._errors import (
    AgencyAccessError,
    AgencyAccountError,
    APIError,
    AuthenticationError,
    CapabilityError,
    ConnectError,
    DecodeError,
    IntakeFormNotEnabledError,
    InvalidRequestError,
    InvalidServiceError,
    NotFoundError,
    OutcomeUnknownError,
    ProspectAccessError,
    ProtocolError,
    RateLimitError,
    RemoteDisconnected,
    RequestTimeout,
    ServerError,
    SessionError,
    TransportError,
    WaitTimeoutError,
)
from ._hooks import Hooks, RateLimitWaitEvent, RequestEvent, ResponseEvent, RetryEvent
from ._http import Request, Response, Timeout, build_request, parse_response, parse_retry_after
from ._models import (
    UNSET,
    AccessPageSource,
    Client,
    ClientType,
    DeletedClient,
    DeletedLink,
    Grant,
    GrantStatus,
    IntakeFormStatus,
    Language,
    Link,
    LinkStatus,
    NewClient,
    NewLink,
    Page,
    Unset,
)
from ._reconcile import IDEMPOTENCY_METADATA_KEY
from ._retry import RetryPolicy
from ._routes import ROUTES, Route
from ._services import RequestedServices, ServiceRequest, ServicesBuilder
from ._session import DEFAULT_BASE_URL, ResponseInfo, Session, SessionStats
from ._transport import MockTransport, Transport
from ._version import __version__

__all__ = [
    "APIError",
    "AccessPageSource",
    "AgencyAccessError",
    "AgencyAccountError",
    "AiohttpTransport",
    "AuthenticationError",
    "Bulk",
    "BulkProgress",
    "BulkRun",
    "BulkSummary",
    "CATALOG",
    "CapabilityError",
    "Client",
    "ClientType",
    "Clients",
    "ConnectError",
    "DEFAULT_BASE_URL",
    "DecodeError",
    "DeletedClient",
    "DeletedLink",
    "Grant",
    "GrantStatus",
    "Hooks",
    "IDEMPOTENCY_METADATA_KEY",
    "IntakeFormNotEnabledError",
    "IntakeFormStatus",
    "InvalidRequestError",
    "InvalidServiceError",
    "ItemResult",
    "Language",
    "Link",
    "LinkStatus",
    "Links",
    "MockTransport",
    "NewClient",
    "NewLink",
    "NotFoundError",
    "OnboardItem",
    "Onboarded",
    "OutcomeUnknownError",
    "Page",
    "Paginator",
    "ProspectAccessError",
    "ProtocolError",
    "ROUTES",
    "RateLimitError",
    "RateLimitWaitEvent",
    "RemoteDisconnected",
    "Request",
    "RequestEvent",
    "RequestTimeout",
    "RequestedServices",
    "Response",
    "ResponseEvent",
    "ResponseInfo",
    "RetryEvent",
    "RetryPolicy",
    "Route",
    "ServerError",
    "ServiceRequest",
    "ServicesBuilder",
    "Session",
    "SessionError",
    "SessionStats",
    "Timeout",
    "Transport",
    "TransportError",
    "UNSET",
    "Unset",
    "WaitTimeoutError",
    "__version__",
    "build_request",
    "parse_response",
    "parse_retry_after",
]
