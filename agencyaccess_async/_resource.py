"""What the resources (``session.clients``, ``session.links``) share.

Each resource method builds a request model and names its route; ``Resource``
sends it through the Requester with one typed helper, so a method reads as
"this model to that route" and its return type follows from the route. Ids
are positional, everything else keyword-only, and an empty id is a
``ValueError`` before any I/O. Every method takes ``extra_body={...}``, merged
into the JSON body last, for fields the SDK does not model yet (the guide
calls its optional fields "common", not all).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from ._contract import LIST_LIMIT_MAX
from ._converter import CONVERTER
from ._errors import DecodeError, InvalidRequestError
from ._idempotency import lookup_for
from ._models import Unset
from ._requester import Requester
from ._retry import RetryPolicy
from ._routes import Route
from ._scope import CallOptions, Scope
from ._services import RequestedServices, advise

__all__ = [
    "CallOptions",
    "Resource",
    "check_choice",
    "check_limit",
    "invalid_argument",
    "require_id",
    "services_body",
]

B = TypeVar("B")
R = TypeVar("R")


def invalid_argument(name: str, why: str) -> InvalidRequestError:
    """The error of an argument refused before anything is sent: it names the argument."""
    return InvalidRequestError(f"Invalid field {name}: {why}; nothing was sent", status=0)


def require_id(value: str, name: str) -> str:
    """``value`` if it can be an id; an ``InvalidRequestError`` naming ``name`` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise invalid_argument(name, f"must be a non-empty string, got {value!r}")
    return value


def check_limit(limit: int | Unset) -> int | Unset:
    """A list call's page size: an integer from 1 to the contract's most."""
    if isinstance(limit, Unset):
        return limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
        raise invalid_argument("limit", f"must be an integer from 1 to {LIST_LIMIT_MAX}")
    return limit


E = TypeVar("E", bound=enum.Enum)


def check_choice(value: Any, choices: type[E], name: str) -> Any:
    """``value`` as given if it is one of ``choices`` (any case), else an ``InvalidRequestError``.

    ``None`` and ``UNSET`` pass: they clear or leave out the field.
    """
    if value is None or isinstance(value, (Unset, choices)):
        return value
    known = {str(member.value).casefold() for member in choices}
    if not isinstance(value, str) or value.casefold() not in known:
        allowed = ", ".join(str(member.value) for member in choices)
        raise invalid_argument(name, f"must be one of {allowed}, got {value!r}")
    return value


def services_body(
    services: RequestedServices | Mapping[str, Any], strict: bool
) -> RequestedServices | Mapping[str, Any]:
    """What goes out as ``requestedServices``: a raw mapping unchanged, once advised on."""
    if isinstance(services, RequestedServices):
        return services
    advise(services, strict=strict)
    return services


class Resource:
    """What every resource shares: the Requester, and the scope (key, defaults) of its view.

    Methods send with ``self._requester.request(ROUTE, body, options,
    self._scope)``: the return type follows from the route.
    """

    def __init__(self, requester: Requester, scope: Scope) -> None:
        self._requester = requester
        self._scope = scope

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._requester.shown_url}>"

    def _retry(self, options: CallOptions) -> RetryPolicy:
        """The retry policy of a call: its own, else its view's, else the Session's."""
        return options.get("retry") or self._scope.defaults.get("retry") or self._requester.retry

    async def _update(self, route: Route[B, R], body: B, unchanged: B, options: CallOptions) -> R:
        """Send the update ``body``; refused before any I/O when it equals ``unchanged``.

        An update naming no field would be an empty change: the server may
        refuse it or do nothing, and either way it is a caller's mistake.
        """
        if body == unchanged and not options.get("extra_body"):
            raise invalid_argument("body", f"{route.operation} needs at least one field to change")
        return await self._requester.request(route, body, options, self._scope)

    async def _find_created(
        self, operation: str, payload: Mapping[str, Any], model: type[R], options: CallOptions
    ) -> R | None:
        """The record a create ``operation`` of ``payload`` made, found by its lookup, or None.

        The very lookup the request loop reconciles with; a record that
        cannot be read as ``model`` is a ``DecodeError``. Its list calls are
        made with the call's options, else the view's, else the Session's.
        """
        lookup = lookup_for(operation, payload)
        assert lookup is not None, f"{operation} has no lookup"
        requester = self._requester
        record = await requester.find(lookup, self._retry(options), self._scope)
        if record is None:
            return None
        try:
            found: R = CONVERTER.structure(record, model)
        except Exception as exc:  # any failure of the converter means one thing here
            raise DecodeError(
                f"cannot read a record of {lookup.route.operation} as {model.__name__}: {exc}",
                operation=lookup.route.operation,
                data=record,
            ) from exc
        return found
