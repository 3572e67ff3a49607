"""The onboard command at its edges, run as real processes: locks, signals, targets, hostile input."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agencyaccess_async import Session

from .cli_helpers import (
    EXAMPLES,
    Emulator,
    assert_one_line_error,
    clean_rows,
    read_results,
    run_cli,
    running_emulator,
    start_cli,
    wait_for_clients,
    write_csv,
)

pytestmark = pytest.mark.process


def onboard_args(csv_path: Path, out: Path, emulator: Emulator | None, *extra: str) -> list[str]:
    args = ["onboard", str(csv_path), "--services", str(EXAMPLES / "services.json")]
    args += ["--out", str(out), *extra]
    args += ["--base-url", emulator.base_url] if emulator is not None else ["--emulator"]
    return args


def slow_onboard(
    emulator: Emulator, tmp_path: Path, total: int, concurrency: int, started: int
) -> tuple[subprocess.Popen[str], list[str], Path]:
    """An onboard process on ``total`` rows against a 20 ms emulator, once ``started`` are made."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(total))
    out = tmp_path / "results.csv"
    emulator.admin("faults", {"latencyMs": 20})
    args = onboard_args(clients, out, emulator, "--concurrency", str(concurrency))
    process = start_cli(args, emulator.env())
    wait_for_clients(emulator, started, process)
    return process, args, out


@pytest.mark.slow
def test_a_second_process_on_the_same_journal_is_refused_then_sigterm_stops_the_first(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Process 2 exits 2 naming process 1; SIGTERM stops process 1 with 143 and its results."""
    total = 400
    first, args, out = slow_onboard(emulator, tmp_path, total, concurrency=4, started=10)
    second = run_cli(*args, env=emulator.env())
    assert_one_line_error(second, f"in use by process {first.pid}", "--wait")
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=30)
    assert first.returncode == 143, stderr
    assert "Traceback" not in stderr
    partial = read_results(out)
    assert len(partial) == total
    assert 0 < sum(r["status"] == "onboarded" for r in partial) < total
    emulator.admin("faults", {"latencyMs": 0})
    rerun = run_cli(*args, env=emulator.env())
    assert rerun.returncode == 0, rerun.stderr
    assert emulator.admin("counters")["records"] == {"clients": total, "links": total}


@pytest.mark.slow
def test_wait_lets_a_second_process_finish_after_the_first_without_duplicates(
    emulator: Emulator, tmp_path: Path
) -> None:
    """With --wait the second process waits for the lock, then finds every row done."""
    total = 60
    first, args, _ = slow_onboard(emulator, tmp_path, total, concurrency=2, started=2)
    second = start_cli([*args, "--wait"], emulator.env())
    _, first_err = first.communicate(timeout=120)
    _, second_err = second.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert "waiting (--wait)" in second_err
    assert emulator.admin("counters")["records"] == {"clients": total, "links": total}


@pytest.mark.slow
def test_a_second_ctrl_c_during_shutdown_still_leaves_the_results_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Two SIGINTs in a row: exit 130, and the results file has every row."""
    total = 400
    process, _, out = slow_onboard(emulator, tmp_path, total, concurrency=8, started=10)
    process.send_signal(signal.SIGINT)
    time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert len(read_results(out)) == total


def test_a_journal_of_another_server_is_not_taken_as_done(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A journal of one server is refused against another; --fresh-journal sets it aside.

    An embedded emulator's run keeps a journal of its own name: it blocks no
    run against a server and is not trusted by one.
    """
    clients = write_csv(tmp_path / "clients.csv", clean_rows(5))
    out = tmp_path / "results.csv"
    dry = run_cli(*onboard_args(clients, out, None))
    assert dry.returncode == 0, dry.stderr
    assert (tmp_path / "results.csv.emulator.journal").exists()
    real = run_cli(*onboard_args(clients, out, emulator), env=emulator.env())
    assert real.returncode == 0, real.stderr
    assert emulator.admin("counters")["records"] == {"clients": 5, "links": 5}
    with running_emulator() as other:
        refused = run_cli(*onboard_args(clients, out, other), env=other.env())
        assert_one_line_error(refused, "was written against http://127.0.0.1:", "--fresh-journal")
        assert other.admin("counters")["records"] == {"clients": 0, "links": 0}
        fresh = run_cli(*onboard_args(clients, out, other, "--fresh-journal"), env=other.env())
        assert fresh.returncode == 0, fresh.stderr
        assert other.admin("counters")["records"] == {"clients": 5, "links": 5}
    assert len(list(tmp_path.glob("results.csv.journal.replaced-*"))) == 1


def test_formula_cells_are_neutralised_in_results_but_sent_unchanged(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Cells starting with = + - @ get a leading ' in the results; the API gets the original."""
    rows = [
        {
            "external_id": "a",
            "name": '=HYPERLINK("http://x")',
            "email": "a@example.test",
            "notes": "+1",
        },
        {"external_id": "b", "name": "-Dash Co", "email": "b@example.test", "notes": "@SUM(A1)"},
        {"external_id": "c", "name": "Plain", "email": "c@example.test", "notes": "\tTab"},
    ]
    clients = write_csv(tmp_path / "clients.csv", rows)
    out = tmp_path / "results.csv"
    result = run_cli(*onboard_args(clients, out, emulator), env=emulator.env())
    assert result.returncode == 0, result.stderr
    written = read_results(out)
    assert [r["name"] for r in written] == ['\'=HYPERLINK("http://x")', "'-Dash Co", "Plain"]
    assert [r["notes"] for r in written] == ["'+1", "'@SUM(A1)", "'\tTab"]
    names = asyncio.run(_client_names(emulator))
    assert names == {'=HYPERLINK("http://x")', "-Dash Co", "Plain"}
    raw = run_cli(
        *onboard_args(clients, tmp_path / "raw.csv", emulator, "--no-escape-formulas"),
        env=emulator.env(),
    )
    assert raw.returncode == 0, raw.stderr
    assert read_results(tmp_path / "raw.csv")[0]["name"] == '=HYPERLINK("http://x")'


def test_formula_header_cells_are_neutralised_in_every_output(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A column named like a formula: escaped in the results (plain and --excel) and status."""
    rows = [{"name": f"Client {i}", "email": f"c{i}@example.test",
             '=HYPERLINK("http://evil.example")': "x", "@SUM(1+1)": "y"} for i in range(2)]  # fmt: skip
    clients = write_csv(tmp_path / "clients.csv", rows)
    for out, extra in ((tmp_path / "results.csv", ()), (tmp_path / "excel.csv", ("--excel",))):
        result = run_cli(*onboard_args(clients, out, emulator, *extra), env=emulator.env())
        assert result.returncode == 0, result.stderr
        header = out.read_text(encoding="utf-8-sig").splitlines()[0]
        assert header.startswith('name,email,"\'=HYPERLINK(""http://evil.example"")",\'@SUM(1+1),')
    status = run_cli("status", str(tmp_path / "results.csv"), "--out", str(tmp_path / "s.csv"),
                     env=emulator.env())  # fmt: skip
    assert status.returncode == 0, status.stderr
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert not any(cell.startswith(("=", "@", "+", "-")) for cell in header.split(","))
    assert "'@SUM(1+1)" in header


async def _client_names(emulator: Emulator) -> set[str]:
    async with Session(emulator.key, base_url=emulator.base_url) as session:
        return {client.name async for client in session.clients.list()}


def test_a_deeply_nested_services_file_is_one_line(tmp_path: Path) -> None:
    """100,000 levels of nesting: exit 2 with one line, no traceback."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(1))
    services = tmp_path / "services.json"
    services.write_text("[" * 100_000 + "]" * 100_000)
    result = run_cli("onboard", str(clients), "--services", str(services))
    assert_one_line_error(result, "nested too deeply")


def test_out_in_a_missing_folder_is_refused_before_any_row_is_sent(
    emulator: Emulator, tmp_path: Path
) -> None:
    """--out in a folder that does not exist: exit 2 at once, nothing created."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    result = run_cli(
        *onboard_args(clients, tmp_path / "missing" / "results.csv", emulator), env=emulator.env()
    )
    assert_one_line_error(result, "does not exist")
    assert emulator.admin("counters")["records"] == {"clients": 0, "links": 0}


def test_a_huge_cell_is_a_row_error_naming_row_and_column(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A 10 MB cell makes its row invalid (row and column named); the other rows go on."""
    rows = [{**row, "notes": ""} for row in clean_rows(3)]
    rows[1]["notes"] = "x" * 10_000_000
    clients = write_csv(tmp_path / "clients.csv", rows)
    out = tmp_path / "results.csv"
    result = run_cli(*onboard_args(clients, out, emulator), env=emulator.env())
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    written = read_results(out)
    assert [r["status"] for r in written] == ["onboarded", "invalid", "onboarded"]
    assert written[1]["error"].startswith("row 3: notes: 10000000 characters")
    assert len(written[1]["notes"]) == 10_000_000  # the cell itself is kept
    assert emulator.admin("counters")["records"] == {"clients": 2, "links": 2}


@pytest.mark.slow
@pytest.mark.redis
def test_shards_on_one_key_share_the_budget_through_redis(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Two onboard processes, --shard 1/2 and 2/2, one key, --redis-url: every row once, 429s rare.

    Unshared, this setup draws a 429 for a third to a half of its requests
    (benchmarks/bench_shared_limit.py); shared, at most the first window's
    unpaced first requests can overrun it.
    """
    from .test_redis_limiter import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Redis tests: install Debian's redis-server")
        pytest.skip("no redis-server here; run with -m 'not redis' or install it")
    server = RedisServer()
    server.start()
    try:
        total = 40
        emulator.admin("rate-limit", {"limit": 20, "window": 1})
        clients = write_csv(tmp_path / "clients.csv", clean_rows(total))
        shard = ["--redis-url", server.url, "--shard"]
        jobs = [
            start_cli(onboard_args(clients, tmp_path / f"out-{i}.csv", emulator, *shard, f"{i}/2"),
                      emulator.env())
            for i in (1, 2)
        ]  # fmt: skip
        for job in jobs:
            _, stderr = job.communicate(timeout=120)
            assert job.returncode == 0, stderr
    finally:
        server.stop()
    assert emulator.admin("counters")["records"] == {"clients": total, "links": total}
    by_operation = emulator.admin("counters")["requests"].values()
    assert sum(statuses.get("429", 0) for statuses in by_operation) <= 2
    shards = [read_results(tmp_path / f"out-{i}.csv") for i in (1, 2)]
    assert sorted(int(r["external_id"].split("-")[1]) for s in shards for r in s) == list(
        range(total)
    )
