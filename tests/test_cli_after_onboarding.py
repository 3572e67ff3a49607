"""The week after onboarding, as processes against the emulator: update, delete, dry runs, cron."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agencyaccess_async import Session
from tests.cli_helpers import (
    EXAMPLES,
    Emulator,
    answered_on_a_terminal,
    assert_one_line_error,
    clean_rows,
    onboarded,
    read_results,
    requests_of,
    run_cli,
    start_cli,
    write_csv,
)

pytestmark = pytest.mark.process

SERVICES = str(EXAMPLES / "services.json")


def fewer_services(tmp_path: Path) -> Path:
    services = json.loads(Path(SERVICES).read_text())
    platform = next(iter(services))
    path = tmp_path / "fewer.json"
    path.write_text(json.dumps({platform: services[platform]}))
    return path


def cli(emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--base-url", emulator.base_url, env=emulator.env())


def test_update_is_sent_once_across_a_kill(emulator: Emulator, tmp_path: Path) -> None:
    """SIGKILL mid-run, run again: every link updated, resends bounded by what was in flight."""
    results = onboarded(emulator, tmp_path, 40)
    emulator.admin("faults", {"latencyMs": 150})
    new = fewer_services(tmp_path)
    args = ["update", str(results), "--services", str(new), "--concurrency", "2"]
    args += ["--base-url", emulator.base_url]
    process = start_cli(args, emulator.env())
    deadline = time.monotonic() + 60
    while requests_of(emulator, "links.update") < 6:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    emulator.admin("faults", {})
    again = cli(emulator, "update", str(results), "--services", str(new))
    assert again.returncode == 0, again.stderr
    sent = requests_of(emulator, "links.update")
    assert 40 <= sent <= 40 + 2 + 1  # at most the two in flight (and one racing the kill)
    third = cli(emulator, "update", str(results), "--services", str(new), "--summary-json",
                str(tmp_path / "s.json"))  # fmt: skip
    assert third.returncode == 0, third.stderr
    assert requests_of(emulator, "links.update") == sent  # nothing sent the third time
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["outcomes"] == {"skipped": 40}


def test_update_changes_only_the_rows_selected(emulator: Emulator, tmp_path: Path) -> None:
    results = onboarded(emulator, tmp_path, 6)
    rows = read_results(results)
    new = fewer_services(tmp_path)
    chosen = rows[2]["email"]
    result = cli(emulator, "update", str(results), "--services", str(new), "--where",
                 f"email={chosen.upper()}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert requests_of(emulator, "links.update") == 1
    assert_one_line_error(cli(emulator, "update", str(results)), "nothing to change")
    assert_one_line_error(
        cli(emulator, "update", str(results), "--services", str(new), "--where", "nope=1"),
        "--where",
    )


def thank_you_messages(emulator: Emulator, results: Path) -> list[str | None]:
    async def read() -> list[str | None]:
        async with Session(emulator.key, base_url=emulator.base_url) as session:
            return [
                (await session.links.retrieve(row["link_id"])).thank_you_message
                for row in read_results(results)
            ]

    return asyncio.run(read())


def test_update_a_then_b_then_a_puts_a_back(emulator: Emulator, tmp_path: Path) -> None:
    """A later change supersedes an earlier one: the third run sends A again; a fourth, nothing."""
    results = onboarded(emulator, tmp_path, 4)
    for message in ("A", "B", "A"):
        result = cli(emulator, "update", str(results), "--thank-you-message", message)
        assert result.returncode == 0, result.stderr
        assert "4 updated" in result.stderr
        assert thank_you_messages(emulator, results) == [message] * 4
    sent = requests_of(emulator, "links.update")
    assert sent == 12
    again = cli(emulator, "update", str(results), "--thank-you-message", "A")
    assert again.returncode == 0 and "4 skipped" in again.stderr, again.stderr
    assert requests_of(emulator, "links.update") == sent
    assert sorted(p.name for p in tmp_path.glob("*.journal")) == [
        "clients.results.csv.journal", "clients.results.csv.update.journal"
    ]  # fmt: skip


def test_update_after_delete_skips_the_deleted_rows_and_converges(
    emulator: Emulator, tmp_path: Path
) -> None:
    results = onboarded(emulator, tmp_path, 4)
    chosen = read_results(results)[1]["email"]
    deleted = cli(emulator, "delete", str(results), "--where", f"email={chosen}", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    for _ in range(2):
        update = cli(emulator, "update", str(results), "--thank-you-message", "Thanks")
        assert update.returncode == 0, update.stderr
        assert "1 skipped (deleted)" in update.stderr
    assert requests_of(emulator, "links.update") == 3  # never the deleted row's link


def test_failed_updates_are_named_on_stderr_in_the_log_and_in_the_summary(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The server refuses an intake form that is not enabled: each row named with the reason."""
    results = onboarded(emulator, tmp_path, 3)
    log, summary = tmp_path / "update.log", tmp_path / "update.json"
    result = cli(emulator, "update", str(results), "--intake-form", "on", "--log-file", str(log),
                 "--summary-json", str(summary))  # fmt: skip
    assert result.returncode == 1, result.stderr
    rows = read_results(results)
    for number, row in enumerate(rows, start=2):
        line = f"update: failed: row {number} ({row['name']}), {row['link_id']}: links.update: HTTP 400"
        assert line in result.stderr
        assert line in log.read_text()
    failed = json.loads(summary.read_text())["failed"]
    assert sorted(f["row"] for f in failed) == [2, 3, 4]
    assert all("Intake form is requested but not enabled" in f["error"] for f in failed)


def test_delete_asks_and_marks_rows_deleted(emulator: Emulator, tmp_path: Path) -> None:
    results = onboarded(emulator, tmp_path, 5)
    before = results.read_text()
    # No terminal: refused without --yes, nothing sent, the file untouched.
    refused = cli(emulator, "delete", str(results))
    assert_one_line_error(refused, "--yes")
    assert requests_of(emulator, "clients.delete") == 0
    assert results.read_text() == before
    chosen = read_results(results)[0]["email"]
    one = cli(emulator, "delete", str(results), "--where", f"email={chosen}", "--yes")
    assert one.returncode == 0, one.stderr
    assert emulator.admin("counters")["records"] == {"clients": 4, "links": 4}
    rows = read_results(results)
    assert [r["status"] for r in rows] == ["deleted"] + ["onboarded"] * 4
    every = cli(emulator, "delete", str(results), "--yes")
    assert every.returncode == 0, every.stderr
    assert emulator.admin("counters")["records"] == {"clients": 0, "links": 0}
    assert requests_of(emulator, "clients.delete") == 5  # the deleted row was not sent again
    assert {r["status"] for r in read_results(results)} == {"deleted"}


def test_dry_run_sends_nothing_and_writes_nothing(emulator: Emulator, tmp_path: Path) -> None:
    rows = [*clean_rows(5), {"external_id": "x", "name": "Bad", "email": "nope"}]
    path = write_csv(tmp_path / "clients.csv", rows)
    before = emulator.admin("counters")["total"]
    result = cli(emulator, "onboard", str(path), "--services", SERVICES, "--dry-run")
    assert result.returncode == 1  # one row is invalid
    assert emulator.admin("counters")["total"] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.csv"]
    bodies = [json.loads(line) for line in result.stdout.splitlines()]
    assert bodies[0]["clients.create"]["name"] == "Client 0"
    assert "links.create" in bodies[-1]
    assert "5 valid, 1 invalid" in result.stderr and "row 7: email" in result.stderr
    good = write_csv(tmp_path / "good.csv", clean_rows(3))
    ok = cli(emulator, "onboard", str(good), "--services", SERVICES, "--dry-run")
    assert ok.returncode == 0, ok.stderr
    assert emulator.admin("counters")["total"] == before


def test_dry_run_out_writes_every_rows_verdict(emulator: Emulator, tmp_path: Path) -> None:
    """15 invalid rows among 20: stderr shows 10 and points at the file, which has all 20."""
    rows = [*clean_rows(5), *({"external_id": f"x{i}", "name": f"Bad {i}", "email": f"nope{i}"}
                              for i in range(15))]  # fmt: skip
    path = write_csv(tmp_path / "clients.csv", rows)
    verdicts = tmp_path / "verdicts.csv"
    before = emulator.admin("counters")["total"]
    result = cli(emulator, "onboard", str(path), "--services", SERVICES, "--dry-run",
                 "--out", str(verdicts))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert emulator.admin("counters")["total"] == before
    assert f"every row's verdict is in {verdicts}" in result.stderr
    assert f"… and 5 more (see {verdicts})" in result.stderr
    written = read_results(verdicts)
    assert [r["verdict"] for r in written] == ["valid"] * 5 + ["invalid"] * 15
    assert written[19]["name"] == "Bad 14" and "email" in written[19]["problem"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.csv", "verdicts.csv"]
    same = cli(emulator, "onboard", str(path), "--services", SERVICES, "--dry-run",
               "--out", str(path))  # fmt: skip
    assert_one_line_error(same, "--out")  # never over the input
    assert read_results(path)[0]["name"] == "Client 0"


def test_send_email_to_a_real_service_needs_yes(tmp_path: Path) -> None:
    """Against anything but loopback, --send-email without a terminal is refused before sending."""
    path = write_csv(tmp_path / "clients.csv", clean_rows(3))
    result = run_cli(
        "onboard", str(path), "--services", SERVICES, "--send-email",
        "--base-url", "https://api.agencyaccess.example", env={"AGENCYACCESS_API_KEY": "k"},
    )  # fmt: skip
    assert_one_line_error(result, "--send-email would e-mail up to 3 clients", "--yes")


def test_cron_run_summary_log_and_exit_codes(emulator: Emulator, tmp_path: Path) -> None:
    """A nightly re-run with nothing new: summary JSON, a log file, exit 0 with the flag."""
    rows = [*clean_rows(4), {"external_id": "x", "name": "Bad", "email": "nope"}]
    path = write_csv(tmp_path / "clients.csv", rows)
    log = tmp_path / "run.log"
    args = ["onboard", str(path), "--services", SERVICES, "--log-file", str(log),
            "--summary-json", str(tmp_path / "summary.json")]  # fmt: skip
    first = cli(emulator, *args)
    assert first.returncode == 1  # the invalid row
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["created_this_run"] == 4 and summary["invalid"] == 1
    assert summary["exit_code"] == 1 and summary["requests"] > 0
    assert "the invite URL of row 2" in first.stderr
    second = cli(emulator, *args, "--known-invalid-ok")
    assert second.returncode == 0, second.stderr
    assert "invite URL" not in second.stderr  # nothing was created this time
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["created_this_run"] == 0 and summary["exit_code"] == 0
    lines = log.read_text().splitlines()
    assert any("rows onboarded" in line for line in lines)
    assert all(line[:4].isdigit() and line[19] == "Z" for line in lines)  # timestamped


def test_every_command_lists_its_exit_codes() -> None:
    for command in ("onboard", "status", "update", "delete", "emulator", "doctor"):
        result = run_cli(command, "--help")
        assert result.returncode == 0
        assert "exit codes:" in result.stdout and "130" in result.stdout


def test_every_command_says_what_it_does_with_examples_and_no_markup() -> None:
    """update and delete used to print one shared description; onboard, status and doctor
    their module's docstring, with Sphinx markup shown raw; onboard's 29 options were one
    flat list."""
    commands = ("onboard", "status", "update", "delete", "doctor", "emulator")
    shown = {command: run_cli(command, "--help").stdout for command in commands}
    firsts = {text.split("\n\n")[1].splitlines()[0] for text in shown.values()}
    assert len(firsts) == len(commands)  # each its own one-line description
    for command, text in shown.items():
        assert "examples:" in text and f"agencyaccess-async {command} " in text, command
        assert "``" not in text and ":func:" not in text, command
    assert "what the invite page shows once" in shown["update"]  # every option has help
    groups = re.findall(r"^(\w+):\n  \S", shown["onboard"], re.MULTILINE)
    assert groups == ["examples", "options", "input", "target", "pacing", "output", "journal",
                      "run"], groups  # fmt: skip
    assert "--shard" in shown["onboard"].split("\ninput:")[1].split("\ntarget:")[0]


def test_send_email_asks_on_a_terminal_and_no_means_nothing_sent(tmp_path: Path) -> None:
    """On a terminal the question is asked; answering no stops before any connection."""
    path = write_csv(tmp_path / "clients.csv", clean_rows(3))
    code, stderr = answered_on_a_terminal(
        ["onboard", str(path), "--services", SERVICES, "--send-email",
         "--base-url", "https://api.agencyaccess.example"],
        {"AGENCYACCESS_API_KEY": "k"},
    )  # fmt: skip
    assert code == 2
    assert "E-mail 3 clients an invite from https://api.agencyaccess.example? [y/N]" in stderr
    assert "not confirmed" in stderr
    assert not (tmp_path / "clients.results.csv").exists()


def test_where_ignores_the_case_of_column_names_and_contains_with_a_tilde(
    emulator: Emulator, tmp_path: Path
) -> None:
    results = onboarded(emulator, tmp_path, 12)
    one = cli(emulator, "update", str(results), "--where", "EMAIL=C1@example.test",
              "--thank-you-message", "One")  # fmt: skip
    assert one.returncode == 0 and "1 selected: 1 updated" in one.stderr, one.stderr
    several = cli(emulator, "update", str(results), "--where", "Name~client 1",
                  "--thank-you-message", "Ten to nineteen")  # fmt: skip
    assert several.returncode == 0 and "3 selected: 3 updated" in several.stderr  # 1, 10, 11
    assert_one_line_error(
        cli(emulator, "update", str(results), "--where", "nope~x", "--thank-you-message", "x"),
        "COLUMN~TEXT (contains)",
    )


def test_the_delete_prompt_names_the_clients(emulator: Emulator, tmp_path: Path) -> None:
    """On a terminal, the question lists the first 10 rows by name and counts the rest."""
    results = onboarded(emulator, tmp_path, 12)
    code, stderr = answered_on_a_terminal(["delete", str(results)], emulator.env())
    assert code == 2
    assert ": row 2 (Client 0), row 3 (Client 1)," in stderr
    assert "row 11 (Client 9), and 2 more? [y/N]" in stderr
    assert requests_of(emulator, "clients.delete") == 0
