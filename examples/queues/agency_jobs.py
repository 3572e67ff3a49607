"""Onboarding one agency's clients as a task-queue job: what the arq and Celery recipes share.

The job takes the agency's **id**, never its key. A task queue stores its
arguments in the broker and logs them (arq at INFO), so the key is read
inside the job from the platform's secret store (``agency_key``: here a JSON
file named by ``$AGENCY_KEYS_FILE``, agency id to key, the stand-in for your
secrets manager) into a view of the worker's one Session, where it is an
``APIKey`` that shows itself as ``***``. The rows come from ``$AGENCY_ROWS_DIR/<agency id>.json``,
the stand-in for your database.

Three guards make a job safe to run twice, or on a worker that died:

- a ``JobLease`` in Redis (one run per agency at a time, anywhere): a second
  delivery while the first runs gets ``LeaseHeldError``, and the queue retries
  it later; a dead holder's lease expires within its ``ttl``;
- each row's idempotency key, derived from its ``external_id``: the sweep of
  a retry finds what a dead worker made, on any machine;
- a journal in the worker's own directory: a retry on the same worker
  resumes without a sweep.

What the job returns (the queue stores it as the job's result) is what the
platform reads: each row's outcome and invite URL, by ``external_id``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import agencyaccess_async as aa

__all__ = ["LEASE_TTL", "REDIS_URL", "agency_key", "onboard_agency", "open_session"]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
#: How long a dead worker's lease outlives it (30 s by default).
LEASE_TTL = float(os.environ.get("ONBOARD_LEASE_TTL", "30"))
#: Rows of one agency in flight at once (each agency is one job).
ROW_CONCURRENCY = 4

logger = logging.getLogger("agency_jobs")


def agency_key(agency_id: str) -> str:
    """The agency's key, from the platform's secret store: in no argument, result or log."""
    return str(_read_json(os.environ["AGENCY_KEYS_FILE"])[agency_id])


def open_session() -> aa.Session:
    """The worker's one Session: opened at its start, closed at its end, shared by its jobs.

    It has no key of its own: each job takes a view with its agency's key, so
    one connection pool serves every agency the worker runs.

    A local limiter is enough here: the lease keeps each agency (each key) in
    one job at a time, so no two processes spend one key's budget. Use a
    ``RedisLimiter`` when something else (your web app) calls with the same
    keys at the same time.
    """
    return aa.Session(_through_a_view, base_url=os.environ.get("AGENCYACCESS_BASE_URL"))


def _through_a_view() -> str:
    """The Session's own key provider: there is none; every call names its agency's key."""
    raise LookupError("call through session.with_options(api_key=...), with an agency's key")


def _read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _rows_of(agency_id: str) -> list[aa.OnboardItem]:
    return [
        aa.OnboardItem(aa.NewClient(name=row["name"], email=row["email"]), key=row["external_id"])
        for row in _read_json(Path(os.environ["AGENCY_ROWS_DIR"]) / f"{agency_id}.json")
    ]


async def onboard_agency(session: aa.Session, agency_id: str) -> dict[str, Any]:
    """Onboard every row of ``agency_id``; each row's outcome and invite URL, by its id."""
    services = _read_json(os.environ["AGENCY_SERVICES_FILE"])
    key = aa.APIKey(agency_key(agency_id))
    agency = session.with_options(api_key=key, tenant=agency_id)
    lease = aa.JobLease.from_url(
        REDIS_URL, f"onboard {agency_id}", key_fingerprint=key.fingerprint, ttl=LEASE_TTL
    )
    rows = _rows_of(agency_id)
    logger.info("%s: onboarding %d rows", agency_id, len(rows))
    outcomes: dict[str, str] = {}
    invite_urls: dict[str, str | None] = {}
    async with lease:
        run = agency.bulk.onboard(
            rows,
            services=services,
            journal=Path(f"{agency_id}.journal"),
            concurrency=ROW_CONCURRENCY,
        )
        async for result in run:
            if isinstance(result, aa.Succeeded):
                outcomes[result.key] = result.outcome
                invite_urls[result.key] = result.value.invite_url
            else:
                outcomes[result.key] = f"failed: {result.error}"
    logger.info("%s: done, %d rows", agency_id, len(outcomes))
    return {"agency": agency_id, "outcomes": outcomes, "invite_urls": invite_urls}
