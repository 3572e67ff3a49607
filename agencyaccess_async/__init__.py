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
    RemoteDisconnectedError,
    RequestTimeoutError,
    ServerError,
    SessionError,
    TransportError,
    error_response,
)
from ._frames import to_dataframe
from ._hooks import Hooks
from ._http import Timeout
from ._lazy import module_getattr
from ._lease import JobLease, LeaseHeldError, LeaseLostError
from ._limiter import Limiter
from ._links import WaitTimeoutError
from ._models import (
    UNSET,
    Client,
    ClientType,
    GrantStatus,
    IntakeFormStatus,
    Language,
    Link,
    LinkStatus,
    NewClient,
    NewLink,
)
from ._redis_limiter import RedisLimiter
from ._retry import RetryPolicy
from ._services import RequestedServices
from ._session import Session, SessionView
from ._telemetry import Telemetry
from ._version import __version__

if TYPE_CHECKING:
    from ._aiohttp_transport import AiohttpTransport
    from ._bulk import (
        BulkSummary,
        Failed,
        JournalError,
        JournalLockedError,
        JournalMismatchError,
        OnboardItem,
        Succeeded,
    )
    from ._httpx_transport import HttpxTransport

#: Names imported on first use, to keep ``import agencyaccess_async`` light: the bulk
#: helpers bring sqlite3, the default transport aiohttp, the other one the httpx extra.
_LAZY = {
    "AiohttpTransport": "._aiohttp_transport",
    "HttpxTransport": "._httpx_transport",
    **dict.fromkeys(
        [
            "BulkSummary",
            "Failed",
            "JournalError",
            "JournalLockedError",
            "JournalMismatchError",
            "OnboardItem",
            "Succeeded",
        ],
        "._bulk",
    ),
}

#: Names of 0.1 that moved or were renamed: each still works, with a DeprecationWarning,
#: until ``_lazy.REMOVED_IN`` (the CHANGELOG's migration table is generated from this).
MOVED = {
    **{
        old: f"agencyaccess_async:{old}Error"
        for old in ("JournalLocked", "JournalMismatch", "RemoteDisconnected", "RequestTimeout")
    },
    **{name: f"agencyaccess_async.testing:{name}" for name in ("MockCall", "MockTransport")},
    **{
        name: f"agencyaccess_async.lowlevel:{name}"
        for name in (
            "CATALOG",
            "DEFAULT_BASE_URL",
            "DEFAULT_MAX_RESPONSE_BYTES",
            "IDEMPOTENCY_METADATA_KEY",
            "MAX_SERVER_WAIT",
            "ROUTES",
            "Request",
            "Response",
            "Route",
            "Transport",
            "build_request",
            "parse_response",
            "parse_retry_after",
        )
    },
    **{
        name: f"agencyaccess_async.types:{name}"
        for name in (
            "AccessPageSource",
            "Bulk",
            "BulkProgress",
            "BulkRun",
            "ClientTypeName",
            "Clients",
            "DeletedClient",
            "DeletedLink",
            "Grant",
            "ItemResult",
            "LanguageName",
            "Links",
            "Model",
            "Onboarded",
            "Page",
            "Paginator",
            "RateLimitWaitEvent",
            "RequestEvent",
            "ResponseEvent",
            "ResponseInfo",
            "RetryEvent",
            "ServiceRequest",
            "ServicesBuilder",
            "SessionStats",
            "Unset",
        )
    },
}

_getattr = module_getattr(__name__, _LAZY, moved=MOVED, extras={"._httpx_transport": "httpx"})


def __getattr__(name: str) -> Any:
    """The lazy names on first use; a deprecated name of 0.1, with its warning."""
    return _getattr(name)


__all__ = [
    "APIError",
    "APIKey",
    "AgencyAccessError",
    "AgencyAccountError",
    "AiohttpTransport",
    "AuthenticationError",
    "BulkSummary",
    "CapabilityError",
    "Client",
    "ClientType",
    "ConnectError",
    "DecodeError",
    "Failed",
    "GrantStatus",
    "Hooks",
    "HttpxTransport",
    "IntakeFormNotEnabledError",
    "IntakeFormStatus",
    "InvalidRequestError",
    "InvalidServiceError",
    "JobLease",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "KeyProvider",
    "Language",
    "LeaseHeldError",
    "LeaseLostError",
    "Limiter",
    "Link",
    "LinkStatus",
    "NewClient",
    "NewLink",
    "NotFoundError",
    "OnboardItem",
    "OutcomeUnknownError",
    "ProspectAccessError",
    "ProtocolError",
    "RateLimitError",
    "RedirectError",
    "RedisLimiter",
    "RemoteDisconnectedError",
    "RequestTimeoutError",
    "RequestedServices",
    "RetryPolicy",
    "ServerError",
    "Session",
    "SessionError",
    "SessionView",
    "Succeeded",
    "Telemetry",
    "Timeout",
    "TransportError",
    "UNSET",
    "WaitTimeoutError",
    "__version__",
    "error_response",
    "to_dataframe",
]
