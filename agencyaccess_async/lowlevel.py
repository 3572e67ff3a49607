"""The wire format without I/O, for writing a transport or driving the API yourself.

A ``Session`` does all of this for you; these are the pieces it is built from,
in the style of gidgethub's ``sansio``:

- ``build_request`` turns an operation and a body into a ``Request`` (the API
  key left out), and ``parse_response`` reads a ``Response`` into its JSON
  envelope or raises the SDK's error for it;
- ``Transport`` is what a Session sends through (``AiohttpTransport`` by
  default, ``HttpxTransport``, or your own), with ``Request`` and ``Response``
  its arguments and results;
- ``ROUTES`` is the typed route table (one ``Route`` per endpoint), and
  ``CATALOG`` the contract's services;
- the constants the SDK applies: the hosted API's URL, the metadata entry that
  holds a created client's idempotency key, the cap on a server's
  ``Retry-After`` and on an answer's size.
"""

from ._contract import CATALOG
from ._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_SERVER_WAIT,
    Request,
    Response,
    build_request,
    parse_response,
    parse_retry_after,
)
from ._idempotency import IDEMPOTENCY_METADATA_KEY
from ._routes import ROUTES, Route
from ._session import DEFAULT_BASE_URL
from ._transport import Transport

__all__ = [
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
]
