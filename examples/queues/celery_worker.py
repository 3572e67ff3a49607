"""Onboarding as Celery tasks on Redis: ``celery -A celery_worker worker``.

Send one task per agency, by its id, under a task id of its own, and read
each result (``python celery_worker.py agency-1 agency-2`` does this)::

    result = onboard.apply_async((agency_id,), task_id=f"onboard-{agency_id}")
    result.get(timeout=600)  # or AsyncResult(f"onboard-{agency_id}") later

Celery runs tasks in plain functions; each worker process keeps one event
loop and one Session for its whole life (opened with its first task, closed
when the process shuts down), and runs each task on that loop.

The settings that make a killed worker's task run again promptly:

- ``task_acks_late``: a task is acknowledged when it ends, not when it
  starts, so one whose worker died is still in the broker.
- On Redis, an unacknowledged task goes back to the queue once
  ``visibility_timeout`` has passed (here ``$ONBOARD_VISIBILITY_TIMEOUT``;
  Celery's default is an hour). Set it above your longest task: a task still
  running past it is delivered a second time, and the lease makes that
  second delivery wait (it retries) instead of running beside the first.
- ``task_reject_on_worker_lost``: a prefork child killed mid-task is
  requeued at once by its parent.
- ``worker_prefetch_multiplier = 1``: a worker holds one task it has not
  started, not four, so a death strands less.
- Celery does not make a task id unique: the lease and the sweep are what
  make a second send of one agency harmless.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from agency_jobs import LEASE_TTL, REDIS_URL, onboard_agency, open_session
from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

import agencyaccess_async as aa

app = Celery("onboarding", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={
        "visibility_timeout": float(os.environ.get("ONBOARD_VISIBILITY_TIMEOUT", "3600"))
    },
    result_expires=7 * 24 * 3600,  # the platform reads the invite URLs from the result
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
)

_worker: tuple[asyncio.AbstractEventLoop, aa.Session] | None = None


def _loop_and_session() -> tuple[asyncio.AbstractEventLoop, aa.Session]:
    """This worker process's event loop and Session, made with its first task."""
    global _worker
    if _worker is None:
        loop = asyncio.new_event_loop()
        _worker = (loop, loop.run_until_complete(_opened()))
    return _worker


async def _opened() -> aa.Session:
    return open_session()  # made inside the loop it will run on


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close(**_: Any) -> None:
    global _worker
    if _worker is not None:
        loop, session = _worker
        loop.run_until_complete(session.aclose())
        loop.close()
        _worker = None


@app.task(bind=True, name="onboard", max_retries=20)
def onboard(self: Any, agency_id: str) -> dict[str, Any]:
    """The task: one agency, by id (never its key: the broker stores the arguments)."""
    loop, session = _loop_and_session()
    try:
        return loop.run_until_complete(onboard_agency(session, agency_id))
    except aa.LeaseHeldError as held:
        raise self.retry(countdown=LEASE_TTL, exc=held) from None


def main(agency_ids: list[str]) -> None:
    """Send each agency's task and print each result as a JSON line."""
    sent = [onboard.apply_async((a,), task_id=f"onboard-{a}") for a in agency_ids]
    for agency_id in dict.fromkeys(agency_ids):
        result = next(r for r in sent if r.id == f"onboard-{agency_id}")
        print(json.dumps(result.get(timeout=600)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
