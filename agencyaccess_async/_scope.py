"""What a call is made with: its options, and the scope (key, limiter, defaults) of its view.

A ``Tenant`` is what belongs to one API key: where the key comes from (a
``KeySource``, read per attempt) and that key's ``Limiter``. A ``Scope`` is
what a Session or one of its views sends with: a tenant and the view's
default ``CallOptions``. ``Budgets`` keeps one limiter per real key.
"""

from __future__ import annotations

import collections
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import attrs

from ._auth import KeySource
from ._http import Timeout
from ._limiter import Limiter
from ._retry import RetryPolicy

__all__ = ["Budgets", "CallOptions", "Scope", "Tenant"]


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
    """What belongs to one API key: where its key comes from, and its limiter.

    For a fixed key the limiter is that key's. For a provider it is only a
    template: each attempt paces on the limiter of the key the provider
    returned for it (``Budgets.of``).
    """

    keys: KeySource
    limiter: Limiter
    label: str | None = None


@attrs.frozen(eq=False)
class Scope:
    """What a Session or a view sends with: its tenant, and its default call options."""

    tenant: Tenant
    defaults: CallOptions = attrs.field(factory=lambda: CallOptions())


class Budgets:
    """One limiter per real API key, found by the key's fingerprint; the least recent go first.

    The rate limit belongs to the key, so the budget follows the key that is
    sent, not the view or the provider it came from: two agencies behind one
    key provider never share pacing or a 429's pause, and a fixed-key view
    and a provider returning that same key share one. A limiter not yet
    bound to a key (the Session's own, when its key comes from a provider)
    becomes the first key's; later keys get its ``sibling()``. ``adopt`` is
    told of each new binding, to name a shared budget after the key.

    The Session's own key is pinned; up to ``most`` others are kept.
    """

    def __init__(self, adopt: Callable[[Limiter, str], None], most: int) -> None:
        self._adopt = adopt
        self._most = most
        self._pinned: tuple[str, Limiter] | None = None
        self._by_key: collections.OrderedDict[str, Limiter] = collections.OrderedDict()
        self._bound: weakref.WeakSet[Limiter] = weakref.WeakSet()

    def pin(self, fingerprint: str, limiter: Limiter) -> None:
        """Bind the Session's own key to its limiter, never to be dropped."""
        self._pinned = (fingerprint, limiter)
        self._bound.add(limiter)
        self._adopt(limiter, fingerprint)

    def of(self, fingerprint: str, template: Limiter) -> Limiter:
        """The limiter of the key with ``fingerprint``: kept, else ``template`` or its sibling."""
        if self._pinned is not None and self._pinned[0] == fingerprint:
            return self._pinned[1]
        limiter = self._by_key.get(fingerprint)
        if limiter is not None:
            self._by_key.move_to_end(fingerprint)
            return limiter
        limiter = template.sibling() if template in self._bound else template
        self._bound.add(limiter)
        self._adopt(limiter, fingerprint)
        self._by_key[fingerprint] = limiter
        while len(self._by_key) > self._most:
            self._by_key.popitem(last=False)
        return limiter
