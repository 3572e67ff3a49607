"""One client per real client, whatever happened to the journal: each scenario adds 0 records.

Each test onboards a file once, then does what users do (edit a column that
is never sent, add a stray space, lose the journal, pick another --out,
--fresh-journal, a second machine with its own journal) and counts clients
and access requests on the emulator.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agencyaccess_async import Client, Session
from tests.cli_helpers import EXAMPLES, Emulator, read_results, run_cli, write_csv

pytestmark = pytest.mark.process

ROWS = [
    {"name": f"Client {i}", "email": f"Ops{i}@Client{i}.example", "stage": "lead"} for i in range(6)
]


def records(emulator: Emulator) -> tuple[int, int]:
    counted = emulator.admin("counters")["records"]
    return counted["clients"], counted["links"]


def onboard(emulator: Emulator, path: Path, *args: str, services: str | None = None) -> Any:
    return run_cli(
        "onboard", str(path), "--services", services or str(EXAMPLES / "services.json"),
        "--base-url", emulator.base_url, *args, env=emulator.env(),
    )  # fmt: skip


def _edit_unsent_column(path: Path) -> list[str]:
    write_csv(path, [{**row, "stage": "customer"} for row in ROWS])
    return []


def _stray_spaces(path: Path) -> list[str]:
    write_csv(path, [{**row, "email": f"  {row['email'].lower()} ", "name": row["name"] + " "}
                     for row in ROWS])  # fmt: skip
    return []


def _lose_the_journal(path: Path) -> list[str]:
    path.with_name(path.stem + ".results.csv.journal").unlink()
    return []


def _another_out(path: Path) -> list[str]:
    return ["--out", str(path.with_name("elsewhere.csv"))]


def _fresh_journal(path: Path) -> list[str]:
    return ["--fresh-journal"]


def _second_machine(path: Path) -> list[str]:
    return ["--journal", str(path.with_name("laptop-2.journal"))]


SCENARIOS: dict[str, Callable[[Path], list[str]]] = {
    "changed unsent cell": _edit_unsent_column,
    "stray space": _stray_spaces,
    "lost journal": _lose_the_journal,
    "another --out": _another_out,
    "--fresh-journal": _fresh_journal,
    "two machines": _second_machine,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_rerun_adds_no_record(scenario: str, emulator: Emulator, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "clients.csv", ROWS)
    first = onboard(emulator, path)
    assert first.returncode == 0, first.stderr
    assert records(emulator) == (len(ROWS), len(ROWS))
    args = SCENARIOS[scenario](path)
    again = onboard(emulator, path, *args)
    assert again.returncode == 0, again.stderr
    assert records(emulator) == (len(ROWS), len(ROWS))
    out = Path(args[1]) if args[:1] == ["--out"] else path.with_suffix(".results.csv")
    statuses = {row["status"] for row in read_results(out)}
    if scenario in ("changed unsent cell", "stray space", "--fresh-journal"):
        # The journal knew them (--fresh-journal sets aside only another job's journal).
        assert statuses == {"onboarded"}
    else:
        assert statuses == {"onboarded (found)"}
        assert "found" in again.stderr


def test_a_found_client_without_its_link_gets_only_the_link(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A client made by hand (or by a run killed between its two creates) is not made again."""

    async def make() -> None:
        async with Session(emulator.key, base_url=emulator.base_url) as session:
            await session.clients.create(name="Client 0", email="ops0@client0.example")

    asyncio.run(make())
    path = write_csv(tmp_path / "clients.csv", ROWS)
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    assert records(emulator) == (len(ROWS), len(ROWS))


def test_two_rows_with_one_email_are_one_client(emulator: Emulator, tmp_path: Path) -> None:
    """The second row is a duplicate, and the message says how to tell them apart."""
    path = write_csv(tmp_path / "clients.csv", [ROWS[0], {**ROWS[0], "name": "Other"}])
    result = onboard(emulator, path)
    assert result.returncode == 1
    assert records(emulator) == (1, 1)
    second = read_results(path.with_suffix(".results.csv"))[1]
    assert second["status"] == "invalid"
    assert "external_id" in second["error"] and "--key-column" in second["error"]


def test_key_column_tells_apart_clients_that_share_an_email(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "clients.csv", [ROWS[0], {**ROWS[0], "name": "Other"}])
    for _ in range(2):  # the second run finds both
        result = onboard(emulator, path, "--key-column", "Name")
        assert result.returncode == 0, result.stderr
        assert records(emulator) == (2, 2)
    (path.with_name("clients.results.csv.journal")).unlink()
    lost = onboard(emulator, path, "--key-column", "Name")
    assert lost.returncode == 0, lost.stderr
    assert records(emulator) == (2, 2)


def test_changed_services_need_update_links_and_never_duplicate(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A finished job with other services: refused naming --update-links; then updated once."""
    path = write_csv(tmp_path / "clients.csv", ROWS)
    assert onboard(emulator, path).returncode == 0
    services = json.loads((EXAMPLES / "services.json").read_text())
    platform = next(iter(services))
    services = {platform: services[platform]}  # fewer services than before
    other = tmp_path / "fewer.json"
    other.write_text(json.dumps(services))
    refused = onboard(emulator, path, services=str(other))
    assert refused.returncode == 2
    assert "--update-links" in refused.stderr
    for flag in ("--fresh-journal",):  # a new journal alone never makes a second invite
        again = onboard(emulator, path, flag, services=str(other))
        assert again.returncode == 1
        assert "--update-links" in read_results(path.with_suffix(".results.csv"))[0]["error"]
    assert records(emulator) == (len(ROWS), len(ROWS))
    updated = onboard(emulator, path, "--update-links", services=str(other))
    assert updated.returncode == 0, updated.stderr
    assert records(emulator) == (len(ROWS), len(ROWS))
    assert {r["status"] for r in read_results(path.with_suffix(".results.csv"))} == {
        "onboarded (updated)"
    }
    before = emulator.admin("counters")["requests"].get("links.update", {})
    rerun = onboard(emulator, path, "--update-links", services=str(other))
    assert rerun.returncode == 0, rerun.stderr
    assert emulator.admin("counters")["requests"].get("links.update", {}) == before


#: One address, spelled as a file may hold it: NFC, NFD, after a stray BOM, with a
#: zero-width space, and with its domain in punycode.
_ONE_ADDRESS = "josé.café@bücher.example"
_SPELLINGS = {
    "nfd": unicodedata.normalize("NFD", _ONE_ADDRESS),
    "bom": "\ufeff" + _ONE_ADDRESS,
    "zero-width space": "josé.ca\u200bfé@bücher.example",
    "punycode domain": "josé.café@xn--bcher-kva.example",
}


@pytest.mark.parametrize("spelling", list(_SPELLINGS))
def test_another_spelling_of_an_email_is_the_same_client(
    emulator: Emulator, tmp_path: Path, spelling: str
) -> None:
    """With no journal, each spelling of an onboarded address is found: 0 new clients."""
    first = write_csv(tmp_path / "first.csv", [{"name": "José", "email": _ONE_ADDRESS}])
    result = onboard(emulator, first)
    assert result.returncode == 0, result.stderr
    assert records(emulator) == (1, 1)
    again = write_csv(tmp_path / "again.csv", [{"name": "José", "email": _SPELLINGS[spelling]}])
    result = onboard(emulator, again)  # its own results file: no journal knows the row
    assert result.returncode == 0, result.stderr
    assert "1 found" in result.stderr
    assert records(emulator) == (1, 1)


def test_an_email_with_a_control_character_is_refused_naming_the_row(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "clients.csv", [
        {"name": "Fine", "email": "fine@example.test"},
        {"name": "Bell", "email": "be\x07ll@example.test"},
    ])  # fmt: skip
    result = onboard(emulator, path)
    assert result.returncode == 1, result.stderr
    (bell,) = [r for r in read_results(tmp_path / "clients.results.csv") if r["name"] == "Bell"]
    assert bell["status"] == "invalid"
    assert bell["error"].startswith("row 3: email: ")
    assert "invisible or control character (U+0007) at position 3" in bell["error"]
    assert records(emulator) == (1, 1)


def test_a_metadata_update_keeps_the_identity_and_a_lost_one_is_still_found(
    emulator: Emulator, tmp_path: Path
) -> None:
    """clients.update(metadata=...) keeps the SDK's key; a client whose key was removed is
    still found by its e-mail by a re-run of rows identified by external_id: 0 new clients."""
    rows = [{"external_id": f"crm-{i}", "name": f"Client {i}", "email": f"c{i}@example.test"}
            for i in range(3)]  # fmt: skip
    path = write_csv(tmp_path / "clients.csv", rows)
    assert onboard(emulator, path).returncode == 0

    async def change() -> tuple[Client, Client]:
        async with Session(emulator.key, base_url=emulator.base_url) as session:
            first, second = (await session.clients.list().collect())[:2]
            kept = await session.clients.update(first.client_id, metadata={"tier": "gold"})
            dropped = await session.clients.update(
                second.client_id, metadata={"tier": "silver"}, keep_idempotency_key=False
            )
            return kept, dropped

    kept, dropped = asyncio.run(change())
    assert kept.metadata == {"tier": "gold"} and kept.idempotency_key
    assert dropped.metadata == {"tier": "silver"} and dropped.idempotency_key is None
    again = onboard(emulator, path, "--out", str(tmp_path / "elsewhere.csv"))  # no journal
    assert again.returncode == 0, again.stderr
    assert "3 found" in again.stderr
    assert records(emulator) == (3, 3)
