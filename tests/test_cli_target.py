"""Where a command sends is never a surprise (issue #36, item 1), run as processes.

- The key is read as the SDK reads it: ``$AGENCYACCESS_API_KEY``, else the file
  named by ``$AGENCYACCESS_API_KEY_FILE``.
- The embedded emulator runs only with ``--emulator``; with no key and no
  ``--emulator`` a command refuses in one line naming both ways.
- A rehearsal says so in the summary JSON, the log and the results file.
- ``status``, ``update`` and ``delete`` send where the results file was onboarded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_helpers import (
    EXAMPLES,
    Emulator,
    assert_one_line_error,
    clean_rows,
    read_results,
    run_cli,
    running_emulator,
    write_csv,
)
from .helpers import closed_port

pytestmark = pytest.mark.process

SERVICES = str(EXAMPLES / "services.json")


def _onboard(clients: Path, *extra: str) -> list[str]:
    return ["onboard", str(clients), "--services", SERVICES, *extra]


def test_no_key_and_no_emulator_is_one_line_naming_both_ways(tmp_path: Path) -> None:
    """The cron job whose environment lost its key: exit 2, nothing written, nothing started."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    summary = tmp_path / "summary.json"
    result = run_cli(*_onboard(clients, "--summary-json", str(summary)))
    assert_one_line_error(
        result, "no API key", "AGENCYACCESS_API_KEY", "AGENCYACCESS_API_KEY_FILE", "--emulator"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.csv"]  # nothing written
    results = write_csv(tmp_path / "r.csv", [{"client_id": "c", "link_id": "l"}])
    for command in (["status"], ["update", "--intake-form", "on"], ["delete", "--yes"]):
        refused = run_cli(command[0], str(results), *command[1:])
        assert_one_line_error(refused, "no API key", "AGENCYACCESS_API_KEY_FILE")
    assert_one_line_error(run_cli("doctor"), "no API key", "AGENCYACCESS_API_KEY_FILE")


def test_emulator_and_base_url_together_are_refused(tmp_path: Path) -> None:
    clients = write_csv(tmp_path / "clients.csv", clean_rows(1))
    result = run_cli(*_onboard(clients, "--emulator", "--base-url", "http://127.0.0.1:9"))
    assert_one_line_error(result, "--emulator and --base-url: choose one")


def test_the_key_file_is_honoured_by_every_command(emulator: Emulator, tmp_path: Path) -> None:
    """Only $AGENCYACCESS_API_KEY_FILE set: onboard sends for real, status and doctor read."""
    key_file = tmp_path / "key"
    key_file.write_text(emulator.key + "\n")
    env = {"AGENCYACCESS_API_KEY_FILE": str(key_file)}
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    onboard = run_cli(*_onboard(clients, "--base-url", emulator.base_url), env=env)
    assert onboard.returncode == 0, onboard.stderr
    assert "embedded emulator" not in onboard.stderr
    assert emulator.admin("counters")["records"] == {"clients": 3, "links": 3}
    status = run_cli("status", str(tmp_path / "clients.results.csv"), env=env)
    assert status.returncode == 0, status.stderr
    assert "3 links: 3 pending" in status.stderr
    doctor = run_cli("doctor", "--base-url", emulator.base_url, env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    unreadable = run_cli(
        *_onboard(clients), env={"AGENCYACCESS_API_KEY_FILE": str(tmp_path / "missing")}
    )
    assert_one_line_error(unreadable, "AGENCYACCESS_API_KEY_FILE names", "cannot be read")


def test_a_rehearsal_says_so_in_every_report(tmp_path: Path) -> None:
    """--emulator: the summary JSON, the log and the results file mark it; status refuses it."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(4))
    summary, log = tmp_path / "summary.json", tmp_path / "run.log"
    result = run_cli(
        *_onboard(clients, "--emulator", "--summary-json", str(summary), "--log-file", str(log))
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(summary.read_text())
    assert report["rehearsal"] is True and report["target"] == "embedded emulator"
    assert report["created_this_run"] == 4
    logged = log.read_text()
    assert "--emulator: a rehearsal against an embedded emulator" in logged.splitlines()[0]
    assert "this was a rehearsal (--emulator)" in logged.splitlines()[-1]
    rows = read_results(tmp_path / "clients.results.csv")
    assert {r["target"] for r in rows} == {
        "embedded emulator: a rehearsal; these invite links do not work"
    }
    for command in (["status"], ["delete", "--yes"]):
        refused = run_cli(
            command[0], str(tmp_path / "clients.results.csv"), *command[1:],
            env={"AGENCYACCESS_API_KEY": "aa_some_real_key"},
        )  # fmt: skip
        assert_one_line_error(refused, "results of a rehearsal (onboard --emulator)")


def test_a_real_run_records_its_target_and_the_week_after_follows_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    """status, update and delete send where the file was onboarded, not to the environment's URL.

    An explicit --base-url wins, with a note naming both.
    """
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    summary = tmp_path / "summary.json"
    onboard = run_cli(
        *_onboard(clients, "--base-url", emulator.base_url, "--summary-json", str(summary)),
        env=emulator.env(),
    )
    assert onboard.returncode == 0, onboard.stderr
    report = json.loads(summary.read_text())
    assert report["rehearsal"] is False and report["target"] == emulator.base_url
    results = tmp_path / "clients.results.csv"
    assert {r["target"] for r in read_results(results)} == {emulator.base_url}
    elsewhere = f"http://127.0.0.1:{closed_port()}"
    env = {**emulator.env(), "AGENCYACCESS_BASE_URL": elsewhere}
    status = run_cli("status", str(results), env=env)
    assert status.returncode == 0, status.stderr
    assert f"sending to {emulator.base_url}, where clients.results.csv was onboarded" in (
        status.stderr
    )
    update = run_cli("update", str(results), "--thank-you-message", "Thanks!", env=env)
    assert update.returncode == 0, update.stderr
    assert "3 updated" in update.stderr
    with running_emulator() as other:
        explicit = run_cli("status", str(results), "--base-url", other.base_url, env=other.env())
        assert f"--base-url {other.base_url} is not where" in explicit.stderr
        assert explicit.returncode == 2, explicit.stderr  # that server holds none of the links
        assert "holds none of the first 3 links of clients.results.csv" in explicit.stderr
        anyway = run_cli("status", str(results), "--base-url", other.base_url, "--any-account",
                         env=other.env())  # fmt: skip
        assert anyway.returncode == 0, anyway.stderr
        assert "3 not found" in anyway.stderr  # it asked the other server, as told
    delete = run_cli("delete", str(results), "--yes", env=env)
    assert delete.returncode == 0, delete.stderr
    assert emulator.admin("counters")["records"] == {"clients": 0, "links": 0}


def test_another_agencys_key_changes_nothing_and_says_so(
    emulator: Emulator, tmp_path: Path
) -> None:
    """delete with another agency's key would call every client "gone": refused, nothing sent."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(3))
    onboard = run_cli(*_onboard(clients, "--base-url", emulator.base_url), env=emulator.env())
    assert onboard.returncode == 0, onboard.stderr
    results = tmp_path / "clients.results.csv"
    south = emulator.admin("keys", {"agency": "south"})["key"]
    for command in (["delete", "--yes"], ["update", "--thank-you-message", "Hi"], ["status"]):
        refused = run_cli(command[0], str(results), *command[1:], env=emulator.env(south))
        assert_one_line_error(refused, "holds none of the first 3", "another agency's key")
    assert emulator.admin("counters")["records"] == {"clients": 3, "links": 3}
    assert {r["status"] for r in read_results(results)} == {"onboarded"}


def test_a_results_file_never_sends_the_key_to_a_host_of_its_own_choosing(tmp_path: Path) -> None:
    """A shared or edited results file naming another host: refused, nothing sent anywhere."""
    results = write_csv(tmp_path / "clients.results.csv", [
        {"client_id": "cl_1", "link_id": "ln_1", "target": "https://collector.example"},
    ])  # fmt: skip
    env = {"AGENCYACCESS_API_KEY": "aa_live_key"}
    for command in (["status"], ["delete", "--yes"], ["update", "--thank-you-message", "x"]):
        refused = run_cli(command[0], str(results), *command[1:], env=env)
        assert_one_line_error(
            refused, "onboarded against https://collector.example, which is neither the hosted",
            "pass --base-url https://collector.example",
        )  # fmt: skip


def test_status_after_deleting_the_first_rows_checks_the_account_by_the_rows_left(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The account check samples the rows not marked deleted: their links are still there."""
    clients = write_csv(tmp_path / "clients.csv", clean_rows(4))
    onboard = run_cli(*_onboard(clients, "--base-url", emulator.base_url), env=emulator.env())
    assert onboard.returncode == 0, onboard.stderr
    results = tmp_path / "clients.results.csv"
    for i in range(3):
        deleted = run_cli("delete", str(results), "--where", f"external_id=ext-{i}", "--yes",
                          env=emulator.env())  # fmt: skip
        assert deleted.returncode == 0, deleted.stderr
    status = run_cli("status", str(results), env=emulator.env())
    assert status.returncode == 0, status.stderr
    assert "1 pending" in status.stderr and "3 not found" in status.stderr
