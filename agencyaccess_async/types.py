"""Types you meet as return values and annotations, but do not construct yourself.

The top-level package holds what you build and catch (``Session``, the models
you send, the errors); this module holds the rest of the public surface:

- the resources a Session hands out (``session.clients`` is a ``Clients``,
  ``session.links`` a ``Links``, ``session.bulk`` a ``Bulk``), and what they
  return: ``Page``, ``Paginator``, ``DeletedClient``, ``DeletedLink``, ``Grant``,
  and the async iterators with a ``collect()`` (``Stream``, and ``Batches`` of
  ``links.statuses``);
- the pieces of a request's services (``ServiceRequest``, ``ServicesBuilder``)
  and the literal types of a field (``ClientTypeName``, ``LanguageName``,
  ``AccessPageSource``), ``Model`` (every model's base) and ``Unset`` (the type of
  ``UNSET``);
- what hooks receive (``RequestEvent``, ``ResponseEvent``, ``RetryEvent``,
  ``RateLimitWaitEvent``) and the Session's counters (``SessionStats``,
  ``ResponseInfo``);
- a bulk run and what it reports (``BulkRun``, ``BulkProgress``,
  ``ItemResult``, ``Onboarded``).
"""

from typing import TYPE_CHECKING, Any

from ._clients import Clients
from ._hooks import (
    RateLimitWaitEvent,
    RequestEvent,
    ResponseEvent,
    ResponseInfo,
    RetryEvent,
    SessionStats,
)
from ._lazy import module_getattr
from ._links import Links
from ._models import (
    AccessPageSource,
    ClientTypeName,
    DeletedClient,
    DeletedLink,
    Grant,
    LanguageName,
    Model,
    Page,
    Unset,
)
from ._paginator import Paginator
from ._services import ServiceRequest, ServicesBuilder
from ._stream import Batches, Stream

if TYPE_CHECKING:
    from ._bulk import Bulk, BulkProgress, BulkRun, ItemResult, Onboarded

#: The bulk helpers' names, imported on first use (they bring sqlite3).
_BULK = ["Bulk", "BulkProgress", "BulkRun", "ItemResult", "Onboarded"]
_getattr = module_getattr(__name__, dict.fromkeys(_BULK, "._bulk"))


def __getattr__(name: str) -> Any:
    """The bulk helpers' names, on first use."""
    return _getattr(name)


__all__ = [
    "AccessPageSource",
    "Batches",
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
    "Stream",
    "Unset",
]
