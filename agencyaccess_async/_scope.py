"""What a call is made with: its options, and the scope (key, limiter, defaults) of its view.

A ``Tenant`` is what belongs to one API key: where the key comes from (a
``KeySource``, read per attempt) and that key's ``Limiter``. A ``Scope`` is
what a Session or one of its views sends with: a tenant and the view's
default ``CallOptions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import attrs

from ._auth import KeySource
from ._http import Timeout
from ._limiter import Limiter
from ._retry import RetryPolicy

__all__ = ["CallOptions", "Scope", "Tenant"]


class CallOptions(TypedDict, total=False):
    """The per-call options every endpoint method takes as keywords.

    ``timeout`` and ``retry`` override the Session's for this call;
    ``extra_body`` is merged into the JSON body last, for fields the SDK does
    not model yet; ``extra_headers`` are sent besides the Session's (any but
    ``X-Auth``: the key comes from ``api_key``).
    """

    timeout: Timeout | None
    retry: RetryPolicy | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None


@attrs.define(eq=False)
class Tenant:
    """What belongs to one API key: where its key comes from, and its limiter."""

    keys: KeySource
    limiter: Limiter
    label: str | None = None


@attrs.frozen(eq=False)
class Scope:
    """What a Session or a view sends with: its tenant, and its default call options."""

    tenant: Tenant
    defaults: CallOptions = attrs.field(factory=lambda: CallOptions())
