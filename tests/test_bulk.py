"""Bulk helpers: bounded lazy fan-out, per-item results, cancellation, the journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agencyaccess_async import Client, NewClient, RequestedServices, RetryPolicy, Session
from agencyaccess_async._bulk import BulkProgress, JournalMismatchError, OnboardItem
from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport, RunningEmulator

from .helpers import SECRET_KEY, body_of, client_json, fail, link_json, ok

pytestmark = pytest.mark.socket


def new_clients(n: int) -> list[NewClient]:
    return [NewClient(name=f"Client {i}", email=f"c{i}@example.test") for i in range(n)]


def mock_session(handler: Any, **kwargs: Any) -> Session:
    return Session(
        SECRET_KEY, base_url="https://api.test", transport=MockTransport(handler), **kwargs
    )


async def test_results_stream_per_item_and_failures_do_not_stop_others() -> None:
    """Every item yields one result; a failing item is reported and the rest go on."""

    def handler(request: Request) -> Response:
        name = body_of(request)["name"]
        if name.endswith("3"):
            return fail(400, "Invalid field email: must be a valid e-mail address")
        return ok(client_json(name=name))

    async with mock_session(handler) as session:
        run = session.bulk.create_clients(new_clients(20), concurrency=4)
        results = await run.collect()
    assert sorted(r.index for r in results) == list(range(20))
    failed = [r for r in results if not r.ok]
    assert [r.index for r in failed] == [3, 13]
    assert all(isinstance(r.value, Client) for r in results if r.ok)
    assert run.summary.outcomes == {"created": 18, "failed": 2}
    assert run.summary.requests == 20
    assert run.summary.failed == 2


async def test_async_iterables_are_consumed_lazily_with_bounded_workers() -> None:
    """An async source is pulled only as workers free up: never a task per item."""
    pulled = 0
    in_flight = peak = 0

    async def source() -> AsyncIterator[NewClient]:
        nonlocal pulled
        for new in new_clients(200):
            pulled += 1
            yield new

    async def handler(request: Request) -> Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return ok(client_json())

    async with mock_session(handler, max_concurrency=64) as session:
        run = session.bulk.create_clients(source(), concurrency=5)
        first = await run.__aiter__().__anext__()
        assert first.ok
        assert pulled <= 5 * 3 + 1  # workers plus the bounded result queue
    assert peak <= 5


async def test_progress_callback_reports_done_failed_total_rate() -> None:
    """The progress callback sees done, failed, the total and a rate."""
    seen: list[BulkProgress] = []
    async with mock_session(lambda r: ok(client_json())) as session:
        await session.bulk.create_clients(new_clients(10), total=10, progress=seen.append).run()
    assert [p.done for p in seen] == list(range(1, 11))
    assert seen[-1].total == 10
    assert seen[-1].failed == 0
    assert seen[-1].rate > 0


async def test_cancellation_stops_workers_and_keeps_what_finished() -> None:
    """Cancelling a run stops its workers promptly; the summary keeps the finished items."""

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.05)
        return ok(client_json())

    async with mock_session(slow) as session:
        run = session.bulk.create_clients(new_clients(1000), concurrency=8)
        task = asyncio.ensure_future(run.run())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert run.summary.interrupted
        assert 0 < run.summary.total < 1000
        await asyncio.sleep(0.1)
        requests_after_cancel = session.stats.requests
        await asyncio.sleep(0.1)
        assert session.stats.requests == requests_after_cancel  # nothing left running


async def test_a_run_is_iterated_once() -> None:
    """Iterating a BulkRun twice is an error, not a silent re-run."""
    async with mock_session(lambda r: ok(client_json())) as session:
        run = session.bulk.create_clients(new_clients(2))
        await run.run()
        with pytest.raises(RuntimeError, match="only once"):
            await run.run()


async def test_create_links_in_bulk(
    agencyaccess_session: Session, services: RequestedServices
) -> None:
    """create_links creates one link per NewLink."""
    from agencyaccess_async import NewLink

    client = await agencyaccess_session.clients.create(name="A", email="a@b.co")
    links = [NewLink(client_id=client.client_id, services=services) for _ in range(5)]
    results = await agencyaccess_session.bulk.create_links(links).collect()
    assert all(r.ok for r in results)
    assert len({r.value.link_id for r in results if r.value}) == 5


async def test_onboard_with_journal_skips_finished_rows(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
    tmp_path: Path,
) -> None:
    """A second run with the same journal skips every finished row and creates nothing."""
    journal = tmp_path / "job.journal"
    rows = [OnboardItem(new, key=f"row-{i}") for i, new in enumerate(new_clients(30))]
    first = await agencyaccess_session.bulk.onboard(
        rows, services=services, journal=journal
    ).collect()
    assert all(r.ok and r.value and r.value.invite_url for r in first)
    requests_before = agencyaccess_session.stats.requests
    second = await agencyaccess_session.bulk.onboard(
        rows, services=services, journal=journal
    ).collect()
    assert agencyaccess_session.stats.requests == requests_before
    assert {r.outcome for r in second} == {"skipped"}
    assert {r.value.link_id for r in second if r.value} == {
        r.value.link_id for r in first if r.value
    }
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 30, "links": 30}


async def test_onboard_through_drops_makes_one_client_and_link_per_row(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    """With 30% of creates dropped after processing, each row still gets exactly one of each."""
    await agencyaccess_emulator.admin.set_faults(
        dropAfter=0.3, routes=["clients.create", "links.create"]
    )
    rows = new_clients(60)
    results = await agencyaccess_session.bulk.onboard(
        rows, services=services, concurrency=8
    ).collect()
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 60, "links": 60}
    assert counters["requests"]["clients.create"].get("dropped_after", 0) > 0


async def test_onboard_retry_failed(
    agencyaccess_emulator: RunningEmulator, services: RequestedServices, tmp_path: Path
) -> None:
    """Failed rows are reported on a re-run, and retried (without new clients) when asked."""
    journal = tmp_path / "job.journal"
    rows = [OnboardItem(new, key=f"k{i}") for i, new in enumerate(new_clients(6))]
    weak_key = await agencyaccess_emulator.admin.create_key(["clients:create", "clients:retrieve"])
    async with Session(
        weak_key, base_url=agencyaccess_emulator.base_url, retry=RetryPolicy.none()
    ) as weak:
        first = await weak.bulk.onboard(rows, services=services, journal=journal).collect()
    assert {r.outcome for r in first} == {"failed"}
    assert all(r.value and r.value.client_id for r in first)  # the clients were made
    async with agencyaccess_emulator.session() as session:
        with pytest.raises(JournalMismatchError) as refused:
            session.bulk.onboard(rows, services=services, journal=journal)
        assert refused.value.what == "key"
        reported = await session.bulk.onboard(
            rows, services=services, journal=journal, key_rotated=True
        ).collect()
        assert {r.outcome for r in reported} == {"failed"}
        retried = await session.bulk.onboard(
            rows, services=services, journal=journal, retry_failed=True
        ).collect()
    assert {r.outcome for r in retried} == {"created"}
    assert {r.value.client_id for r in retried if r.value} == {
        r.value.client_id for r in first if r.value
    }
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 6, "links": 6}


async def test_duplicate_rows_are_reported_not_skipped(
    agencyaccess_session: Session, services: RequestedServices, tmp_path: Path
) -> None:
    """Two rows with the same key: the second is reported invalid, naming the first."""
    new = new_clients(1)[0]
    rows = [OnboardItem(new, key="same", row=2), OnboardItem(new, key="same", row=9)]
    results = await agencyaccess_session.bulk.onboard(
        rows, services=services, journal=tmp_path / "j", concurrency=1
    ).collect()
    by_row = {r.index: r for r in results}
    assert by_row[0].ok
    assert by_row[1].outcome == "invalid"
    assert "duplicate of row 2" in str(by_row[1].error)


async def test_journal_of_another_job_is_refused(
    agencyaccess_session: Session, services: RequestedServices, tmp_path: Path
) -> None:
    """Reusing a journal with other services raises JournalMismatchError before any request."""

    journal = tmp_path / "job.journal"
    await agencyaccess_session.bulk.onboard(
        new_clients(1), services=services, journal=journal
    ).run()
    requests = agencyaccess_session.stats.requests
    with pytest.raises(JournalMismatchError):
        agencyaccess_session.bulk.onboard(
            new_clients(1), services=services.read_only(), journal=journal
        )
    assert agencyaccess_session.stats.requests == requests


async def test_a_failing_item_source_stops_every_worker() -> None:
    """If the item source raises, the run raises it and leaves no worker running."""

    def source():  # type: ignore[no-untyped-def]
        yield from new_clients(5)
        raise OSError("the CSV went away")

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.01)
        return ok(client_json())

    async with mock_session(slow) as session:
        run = session.bulk.create_clients(source(), concurrency=3)
        with pytest.raises(OSError, match="went away"):
            await run.run()
        await asyncio.sleep(0.05)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_leaving_early_stops_the_workers_at_once() -> None:
    """Breaking out inside `async with run:` cancels the workers; nothing more is sent."""

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.01)
        return ok(client_json())

    async with mock_session(slow) as session:
        async with session.bulk.create_clients(new_clients(500), concurrency=4) as run:
            async for result in run:
                if result.index >= 3:
                    break
        sent = session.stats.requests
        await asyncio.sleep(0.1)
        assert session.stats.requests == sent
        assert run.summary.interrupted
        assert sent < 20


async def test_results_become_rows_and_the_summary_reads_well(
    agencyaccess_session: Session, services: RequestedServices
) -> None:
    """to_row() flattens each result (pandas-ready); the summary's repr rounds its time."""
    rows = [OnboardItem(new, key=f"k{i}") for i, new in enumerate(new_clients(3))]
    run = agencyaccess_session.bulk.onboard(rows, services=services)
    results = await run.collect()
    table = [result.to_row() for result in results]
    assert {row["outcome"] for row in table} == {"created"}
    assert all(row["client_id"] and row["invite_url"] and row["error"] is None for row in table)
    assert "elapsed=" in repr(run.summary) and "s, requests=" in repr(run.summary)
    assert run.summary.to_dict()["total"] == 3


async def test_progress_true_shows_a_tqdm_bar_or_lines_and_ends_with_the_run(
    agencyaccess_session: Session,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """progress=True: a tqdm bar when tqdm is there, periodic lines otherwise; closed at the end."""
    pytest.importorskip("tqdm")
    await agencyaccess_session.bulk.create_clients(new_clients(4), total=4, progress=True).run()
    assert "4/4" in capsys.readouterr().err  # the bar, finished

    import importlib

    real_import = importlib.import_module

    def without_tqdm(name: str, package: str | None = None) -> Any:
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", without_tqdm)
    await agencyaccess_session.bulk.create_clients(new_clients(3), total=3, progress=True).run()
    assert "bulk: 3/3 items" in capsys.readouterr().err


@pytest.mark.unit
async def test_journal_commits_rows_that_reach_write_ahead_together_in_one_transaction(
    tmp_path: Path,
) -> None:
    """write_ahead returns only once the state is committed; one commit serves every waiting row."""
    import sqlite3

    from agencyaccess_async._bulk._journal import Journal, JournalEntry

    path = tmp_path / "group.journal"
    journal = Journal(path, "job")
    statements: list[str] = []
    journal._db.set_trace_callback(statements.append)
    rows = [JournalEntry(f"k{i}", i, journal.run, "pending", f"idem-{i}") for i in range(20)]
    journal.note(JournalEntry("done-0", 99, journal.run, "done", "idem-done"))
    await asyncio.gather(*(journal.write_ahead(row) for row in rows))
    assert statements.count("COMMIT") == 1

    reader = sqlite3.connect(path)  # another connection sees every state, noted ones too
    assert reader.execute("SELECT count(*) FROM rows").fetchone() == (21,)
    journal.note(JournalEntry("k0", 0, journal.run, "client_created", "idem-0", client_id="cl_0"))
    assert journal.get("k0") == JournalEntry(
        "k0", 0, journal.run, "client_created", "idem-0", client_id="cl_0"
    )  # a kept state is what the run reads back, before it is written
    journal.close()
    assert reader.execute("SELECT state FROM rows WHERE key = 'k0'").fetchone() == (
        "client_created",
    )
    reader.close()


@pytest.mark.unit
async def test_a_row_cancelled_in_write_ahead_is_committed_and_its_neighbours_are_not_cancelled(
    tmp_path: Path,
) -> None:
    """The cancelled row raises once its state is on disk; the others return normally."""
    from agencyaccess_async._bulk._journal import Journal, JournalEntry

    journal = Journal(tmp_path / "cancel.journal", "job")
    rows = [JournalEntry(f"k{i}", i, journal.run, "pending", f"idem-{i}") for i in range(3)]
    tasks = [asyncio.create_task(journal.write_ahead(row)) for row in rows]
    await asyncio.sleep(0)  # every task now waits for the same group
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(result).__name__ for result in results] == [
        "NoneType", "CancelledError", "NoneType"
    ]  # fmt: skip
    reader = Journal(tmp_path / "cancel.journal", None)
    assert [entry.state for entry in reader.entries()] == ["pending"] * 3
    reader.close()
    journal.close()


@pytest.mark.unit
def test_the_journal_reads_back_rows_of_this_run_and_of_an_earlier_one(tmp_path: Path) -> None:
    """New keys are unknown; written keys, and those of an earlier run, are read back."""
    from agencyaccess_async._bulk._journal import Journal, JournalEntry

    path = tmp_path / "keys.journal"
    first = Journal(path, "job")
    first.save(JournalEntry("earlier", 0, first.run, "done", "idem-0", client_id="cl_0"))
    first.close()

    journal = Journal(path, "job")
    assert [journal.get(f"new-{n}") for n in range(50)] == [None] * 50
    assert journal.get("earlier") == JournalEntry("earlier", 0, first.run, "done", "idem-0", "cl_0")
    journal.save(JournalEntry("now", 1, journal.run, "pending", "idem-1"))
    journal._dirty.clear()  # as after a commit: the answer must come from SQLite
    assert journal.get("now") == JournalEntry("now", 1, journal.run, "pending", "idem-1")

    reader = Journal(path, None)  # another process may be writing: a reader sees it at once
    journal.save(JournalEntry("later", 2, journal.run, "pending", "idem-2"))
    assert reader.get("later") is not None
    reader.close()
    journal.close()


async def test_a_rerun_without_journal_finds_every_row_in_list_pages(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    """A re-run cell with no journal and no keys: every row is found, in ~N/100 list requests."""
    rows = new_clients(250)
    first = await agencyaccess_session.bulk.onboard(rows, services=services).collect()
    assert {r.outcome for r in first} == {"created"}
    before = await agencyaccess_emulator.admin.counters()
    again = await agencyaccess_session.bulk.onboard(rows, services=services).collect()
    assert {r.outcome for r in again} == {"found"}
    assert {r.value.link_id for r in again if r.ok} == {r.value.link_id for r in first if r.ok}
    after = await agencyaccess_emulator.admin.counters()
    assert after["records"] == {"clients": 250, "links": 250}
    spent = after["total"] - before["total"]
    assert spent == 3 + 3  # 250 clients and 250 links, in pages of 100


async def test_update_links_changes_a_found_request_instead_of_making_one(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    rows = new_clients(3)
    await agencyaccess_session.bulk.onboard(rows, services=services).collect()
    fewer = RequestedServices.from_json(dict(list(services.to_json().items())[:1]))
    refused = await agencyaccess_session.bulk.onboard(rows, services=fewer).collect()
    assert {r.outcome for r in refused} == {"failed"}
    assert all("update_links=True" in str(r.error) for r in refused)
    updated = await agencyaccess_session.bulk.onboard(
        rows, services=fewer, update_links=True
    ).collect()
    assert {r.outcome for r in updated} == {"updated"}
    assert all(r.ok and r.value.link and len(r.value.link.grants) == len(fewer) for r in updated)
    counters = await agencyaccess_emulator.admin.counters()
    assert counters["records"] == {"clients": 3, "links": 3}


async def _lists(emulator: RunningEmulator) -> int:
    """How many list pages the emulator has served, of clients and links."""
    requests = (await emulator.admin.counters())["requests"]
    return sum(sum(requests.get(op, {}).values()) for op in ("clients.list", "links.list"))


async def test_a_small_job_on_a_large_account_looks_its_rows_up_instead_of_sweeping(
    agencyaccess_emulator: RunningEmulator, services: RequestedServices
) -> None:
    """8 rows on an account of 1,500 clients and links: no 30-page sweep, and no duplicate.

    Three rows were onboarded before (their journal lost): they are found
    by their idempotency keys; the other five are made. A sweep's cost
    would follow the account; the lookups follow the job.
    """
    async with agencyaccess_emulator.session() as session:
        others = [NewClient(name=f"O{i}", email=f"o{i}@x.test") for i in range(1500)]
        await session.bulk.onboard(others, services=services, find_existing=False).run()
        rows = [
            OnboardItem(NewClient(name=f"R{i}", email=f"r{i}@x.test"), key=f"ext-{i}")
            for i in range(8)
        ]
        await session.bulk.onboard(rows[:3], services=services, find_existing=False).run()
        before = await _lists(agencyaccess_emulator)
        summary = await session.bulk.onboard(rows, services=services, total=8).run()
        lists = await _lists(agencyaccess_emulator) - before
        held = [c async for c in session.clients.list(search="@x.test") if c.name.startswith("R")]
    assert summary.outcomes == {"found": 3, "created": 5}
    assert sorted(c.name for c in held) == [f"R{i}" for i in range(8)]  # each once
    # 4 sweep pages (8 rows / 4 of each kind), then per row a search by key, by e-mail
    # when that finds nothing, and a links lookup for a found client: 4 + 3*2 + 5*2 = 20.
    assert lists == 20 < 30


@pytest.mark.slow
async def test_onboard_without_a_journal_holds_no_memory_per_row() -> None:
    """A generator of rows onboarded with no journal: memory after 8,000 rows as after 2,000.

    Each row's key used to stay in a dict for the duplicate check (over 100
    bytes a row); now it is in a temporary SQLite file, and nothing else of
    a finished row is kept.
    """
    import tracemalloc

    def handler(request: Request) -> Response:
        body = body_of(request)
        if request.operation == "clients.create":
            return ok(client_json(f"cl_{body['email']}", name=body["name"], email=body["email"]))
        return ok(link_json(f"ln_{body['clientID']}", body["clientID"]))

    def rows() -> Any:
        for i in range(8_000):
            yield NewClient(name=f"Client {i}", email=f"c{i}@example.test")

    services = {"google": {"googleAds": {"accessLevel": "standard", "agencyAccountID": "a"}}}
    sizes: dict[int, int] = {}
    tracemalloc.start()
    try:
        transport = MockTransport(handler, record=False)  # a recording mock keeps every call
        async with Session(SECRET_KEY, base_url="https://api.test", transport=transport) as session:
            run = session.bulk.onboard(rows(), services=services, find_existing=False)
            done = 0
            async for result in run:
                assert result.ok, result
                done += 1
                if done in (2_000, 8_000):
                    sizes[done] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    grown = sizes[8_000] - sizes[2_000]
    assert grown < 6_000 * 20, f"{grown} bytes for 6,000 rows"
