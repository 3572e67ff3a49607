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

from typing import TYPE_CHECKING, Any

from ._auth import APIKey, KeyProvider
from ._clients import Clients
from ._contract import CATALOG
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
    RedirectError,
    RemoteDisconnected,
    RequestTimeout,
    ServerError,
    SessionError,
    TransportError,
    error_response,
)
from ._hooks import Hooks, RateLimitWaitEvent, RequestEvent, ResponseEvent, RetryEvent
from ._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_SERVER_WAIT,
    Request,
    Response,
    Timeout,
    build_request,
    parse_response,
    parse_retry_after,
)
from ._idempotency import IDEMPOTENCY_METADATA_KEY
from ._lease import JobLease, LeaseHeldError, LeaseLostError
from ._limiter import Limiter
from ._links import Links, WaitTimeoutError
from ._models import (
    UNSET,
    AccessPageSource,
    Client,
    ClientType,
    ClientTypeName,
    DeletedClient,
    DeletedLink,
    Grant,
    GrantStatus,
    IntakeFormStatus,
    Language,
    LanguageName,
    Link,
    LinkStatus,
    Model,
    NewClient,
    NewLink,
    Page,
    Unset,
)
from ._paginator import Paginator
from ._redis_limiter import RedisLimiter
from ._retry import RetryPolicy
from ._routes import ROUTES, Route
from ._services import RequestedServices, ServiceRequest, ServicesBuilder
from ._session import DEFAULT_BASE_URL, ResponseInfo, Session, SessionStats, SessionView
from ._telemetry import Telemetry
from ._transport import MockCall, MockTransport, Transport
from ._version import __version__

if TYPE_CHECKING:
    from ._aiohttp_transport import AiohttpTransport
    from ._bulk import (
        Bulk,
        BulkProgress,
        BulkRun,
        BulkSummary,
        Failed,
        ItemResult,
        JournalError,
        JournalLocked,
        JournalMismatch,
        Onboarded,
        OnboardItem,
        Succeeded,
    )
    from ._httpx_transport import HttpxTransport

# Imported on first use, to keep ``import agencyaccess_async`` light: the bulk helpers
# bring sqlite3, and the default transport brings aiohttp. Each of these names is
# in ``__all__`` and imported above for type checkers only: a name of ``__all__``
# not bound here is the bulk helpers', unless it is a transport's.
_TRANSPORTS = {
    "AiohttpTransport": "._aiohttp_transport",  # aiohttp itself: on first use
    "HttpxTransport": "._httpx_transport",  # the httpx extra: only when asked for
}


def __getattr__(name: str) -> Any:
    """Import the bulk helpers' names and the default transport when first used."""
    if name not in __all__:  # the names bound above never reach here
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(_TRANSPORTS.get(name, "._bulk"), __name__)
    except ModuleNotFoundError as missing:
        if name != "HttpxTransport":
            raise  # not an extra: the environment lacks it (sqlite3, aiohttp)
        raise ImportError(
            f"{name} needs {missing.name}: pip install 'agencyaccess-async[httpx]'"
        ) from missing
    value = getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "APIError",
    "APIKey",
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
    "ClientTypeName",
    "Clients",
    "ConnectError",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DecodeError",
    "DeletedClient",
    "DeletedLink",
    "Failed",
    "Grant",
    "GrantStatus",
    "Hooks",
    "HttpxTransport",
    "IDEMPOTENCY_METADATA_KEY",
    "IntakeFormNotEnabledError",
    "IntakeFormStatus",
    "InvalidRequestError",
    "InvalidServiceError",
    "ItemResult",
    "JobLease",
    "JournalError",
    "JournalLocked",
    "JournalMismatch",
    "KeyProvider",
    "Language",
    "LanguageName",
    "LeaseHeldError",
    "LeaseLostError",
    "Limiter",
    "Link",
    "LinkStatus",
    "Links",
    "MAX_SERVER_WAIT",
    "MockCall",
    "MockTransport",
    "Model",
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
    "RedirectError",
    "RedisLimiter",
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
    "SessionView",
    "Succeeded",
    "Telemetry",
    "Timeout",
    "Transport",
    "TransportError",
    "UNSET",
    "Unset",
    "WaitTimeoutError",
    "__version__",
    "build_request",
    "error_response",
    "parse_response",
    "parse_retry_after",
]
