"""Real CRM exports in: each export kind onboarded as a process, the records checked on the server.

The files are written by ``tests/crm_exports.py`` the way each tool writes
them (encodings, delimiters, header names, blank columns, workbooks).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from agencyaccess_async import Session
from agencyaccess_async._cli._rows import first_address
from tests.cli_helpers import (
    EXAMPLES,
    Emulator,
    assert_one_line_error,
    run_cli,
    write_csv,
)
from tests.crm_exports import EXPORTS, PEOPLE

pytestmark = pytest.mark.process

SERVICES = str(EXAMPLES / "services.json")


def server_clients(emulator: Emulator) -> list[Any]:
    """Every client the emulator holds for the test key, as the SDK reads them."""

    async def collect() -> list[Any]:
        async with Session(emulator.key, base_url=emulator.base_url) as session:
            return await session.clients.list(limit=100).collect()

    return asyncio.run(collect())


def results_of(path: Path) -> list[dict[str, str]]:
    """The results file beside ``path``, in whichever delimiter it mirrors from the input."""
    text = path.with_suffix(".results.csv").read_text(encoding="utf-8-sig")
    first = text.splitlines()[0]
    delimiter = max(",;\t", key=first.count)
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def onboard(emulator: Emulator, path: Path, *args: str) -> Any:
    return run_cli(
        "onboard", str(path), "--services", SERVICES, "--base-url", emulator.base_url, *args,
        env=emulator.env(),
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_each_export_kind_onboards_with_accents_intact(
    kind: str, emulator: Emulator, tmp_path: Path
) -> None:
    """Every export kind reaches the server: one client per person, names as the CRM had them."""
    write, name = EXPORTS[kind]
    path = write(tmp_path / name)
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    clients = server_clients(emulator)
    assert sorted(c.name for c in clients) == sorted(p.company for p in PEOPLE)
    assert sorted(c.email for c in clients) == sorted(p.email for p in PEOPLE)
    if kind == "hubspot":  # websites without a scheme get https://
        assert sorted(c.website for c in clients) == sorted(f"https://{p.domain}" for p in PEOPLE)
    if kind == "excel-eu":  # the guessed encoding is said, once
        assert "read it as Windows-1252" in result.stderr
    results = results_of(path)
    assert {r["status"] for r in results} == {"onboarded"}
    # A second run finds everything done: nothing more on the server.
    again = onboard(emulator, path)
    assert again.returncode == 0, again.stderr
    assert len(server_clients(emulator)) == len(PEOPLE)


def test_excel_flag_writes_a_bom_and_crlf(emulator: Emulator, tmp_path: Path) -> None:
    """--excel: the results file opens in Excel with its accents right (UTF-8 BOM, CRLF)."""
    path = EXPORTS["excel-eu"][0](tmp_path / "clients.csv")
    result = onboard(emulator, path, "--excel")
    assert result.returncode == 0, result.stderr
    written = path.with_suffix(".results.csv").read_bytes()
    assert written.startswith(codecs.BOM_UTF8)
    assert written.count(b"\r\n") == len(PEOPLE) + 1
    assert "Café Señorío" in written.decode("utf-8-sig")
    assert written.decode("utf-8-sig").splitlines()[0].startswith("Name;E-mail;Company;")


@pytest.mark.parametrize(("kind", "name", "bom"), [
    ("excel-eu", "clients.csv", True),  # Windows-1252: from Excel, back to Excel
    ("xlsx", "clients.xlsx", True),  # a workbook: the same
    ("hubspot", "clients.csv", False),  # UTF-8 without a BOM stays so
])  # fmt: skip
def test_results_keep_excel_friendliness_without_the_flag(
    emulator: Emulator, tmp_path: Path, kind: str, name: str, bom: bool
) -> None:
    """A legacy-encoded or workbook input gets results with a BOM, as Excel needs; UTF-8 not."""
    path = EXPORTS[kind][0](tmp_path / name)
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    written = path.with_suffix(".results.csv").read_bytes()
    assert written.startswith(codecs.BOM_UTF8) is bom


def test_a_results_file_named_as_a_workbook_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    """--out results.xlsx would be CSV text under a workbook's name: one line, nothing sent."""
    path = EXPORTS["hubspot"][0](tmp_path / "clients.csv")
    result = onboard(emulator, path, "--out", str(tmp_path / "results.xlsx"))
    assert_one_line_error(result, "results.xlsx", "name a .csv file")
    assert server_clients(emulator) == []


def test_a_boards_export_finds_its_header_below_the_titles_and_skips_group_rows(
    emulator: Emulator, tmp_path: Path
) -> None:
    """monday.com: the board's title, then per group a title and the header again.

    Before: "no 'name' column (the header is: Client Onboarding)", a dead end.
    """
    path = EXPORTS["monday"][0](tmp_path / "board.xlsx")
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    assert "the header is row 3 (the rows above it are titles" in result.stderr
    assert "skipped 2 rows that repeat the header or title a group (rows 7, 8)" in result.stderr
    assert sorted(c.email for c in server_clients(emulator)) == sorted(p.email for p in PEOPLE)
    assert {r["status"] for r in results_of(path)} == {"onboarded"}
    wrong = onboard(emulator, path, "--header-row", "1", "--out", str(tmp_path / "r1.csv"))
    assert_one_line_error(wrong, "Client Onboarding")  # the row chosen, read as the header


def test_several_addresses_in_one_cell_use_the_first_with_a_note(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Google Contacts joins addresses with ":::"; before, every such row was invalid."""
    path = EXPORTS["google-contacts"][0](tmp_path / "contacts.csv")
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    assert "4 rows hold several e-mail addresses in one cell" in result.stderr
    assert sorted(c.email for c in server_clients(emulator)) == sorted(p.email for p in PEOPLE)


@pytest.mark.parametrize(("cell", "first"), [
    ("a@x.example ::: b@y.example", "a@x.example"),
    ("a@x.example; b@y.example", "a@x.example"),
    ("a@x.example, b@y.example", "a@x.example"),
    ("a@x.example", None),  # one address: nothing to choose
    ("a@x.example, not an address", None),  # left whole: the row says what is wrong
])  # fmt: skip
def test_first_address(cell: str, first: str | None) -> None:
    assert first_address(cell) == first


def test_ambiguous_headers_are_refused_until_mapped(emulator: Emulator, tmp_path: Path) -> None:
    """Name and Company Name both filled: one line naming both and --map; --map settles it."""
    rows = [{"Name": p.first, "Company Name": p.company, "E-mail Address": p.email} for p in PEOPLE]
    path = write_csv(tmp_path / "both.csv", rows)
    assert_one_line_error(onboard(emulator, path), "'Name' and 'Company Name'", "--map name=")
    result = onboard(emulator, path, "--map", "name=company name")
    assert result.returncode == 0, result.stderr
    assert sorted(c.name for c in server_clients(emulator)) == sorted(p.company for p in PEOPLE)


def test_a_column_empty_in_every_row_never_competes(emulator: Emulator, tmp_path: Path) -> None:
    """An empty Name column beside Company Name is no ambiguity."""
    rows = [{"Name": "", "Company Name": p.company, "Email": p.email} for p in PEOPLE]
    result = onboard(emulator, write_csv(tmp_path / "c.csv", rows))
    assert result.returncode == 0, result.stderr


def test_a_rows_error_names_the_column_as_the_file_spells_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    rows = [{"Company Name": "A", "E-mail Address": "not-an-address"}]
    path = write_csv(tmp_path / "c.csv", rows)
    result = onboard(emulator, path)
    assert result.returncode == 1
    (row,) = results_of(path)
    assert row["error"].startswith("row 2: E-mail Address: 'not-an-address'")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"name,email\r\n", "only a header row"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "old Excel .xls"),
        (bytes(range(256)) * 4, "not text"),
        (b"name,email\n\x00\x01\x02,\x00\n", "not a text file"),
        (b"PK\x03\x04" + bytes(100), "not a readable .xlsx"),
    ],
)
def test_files_that_are_not_clients_are_one_line_exit_2(
    content: bytes, needle: str, emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(content)
    assert_one_line_error(onboard(emulator, path), needle)
    assert not path.with_suffix(".results.csv").exists()


def test_an_undecodable_byte_under_encoding_names_row_and_column(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = EXPORTS["excel-eu"][0](tmp_path / "clients.csv")
    assert_one_line_error(
        onboard(emulator, path, "--encoding", "utf-8"), "row 2, column 'Name'", "--encoding"
    )
    result = onboard(emulator, path, "--encoding", "cp1252")
    assert result.returncode == 0, result.stderr
    assert "read it as" not in result.stderr  # named, so nothing was guessed


def test_xlsx_without_openpyxl_says_what_to_do(emulator: Emulator, tmp_path: Path) -> None:
    """Without the xlsx extra, one line: how to install it, or to save the sheet as CSV."""
    path = EXPORTS["xlsx"][0](tmp_path / "clients.xlsx")
    blocker = tmp_path / "no_openpyxl"
    blocker.mkdir()
    (blocker / "openpyxl.py").write_text("raise ImportError('not installed')\n")
    result = run_cli(
        "onboard", str(path), "--services", SERVICES, "--base-url", emulator.base_url,
        env={**emulator.env(), "PYTHONPATH": str(blocker)},
    )  # fmt: skip
    assert_one_line_error(result, "agencyaccess-async[xlsx]", "CSV UTF-8")


def test_sheet_option_picks_a_sheet(emulator: Emulator, tmp_path: Path) -> None:
    path = EXPORTS["xlsx"][0](tmp_path / "clients.xlsx")
    assert_one_line_error(onboard(emulator, path, "--sheet", "Nope"), "no such sheet", "Clients")
    result = onboard(emulator, path, "--sheet", "Clients")
    assert result.returncode == 0, result.stderr
    assert len(server_clients(emulator)) == len(PEOPLE)


@pytest.mark.slow
def test_a_large_file_with_bad_rows_onboards_the_good_ones(
    emulator: Emulator, tmp_path: Path
) -> None:
    """2,000 rows, 5% bad in five ways: the good rows reach the server, every bad one is named."""
    bad = {
        0: {"email": "not-an-address"},
        1: {"name": ""},
        2: {"website": "ftp://files.example"},
        3: {"type": "partner"},
        4: {"extra": "a value under no column"},
    }
    rows: list[dict[str, str]] = []
    for i in range(2000):
        row = {"name": f"Client {i}", "email": f"c{i}@example.test", "website": "",
               "type": "", "extra": ""}  # fmt: skip
        if i % 20 == 0:
            row.update(bad[(i // 20) % 5])
        rows.append(row)
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email", "website", "type", ""])  # an unnamed last column
        writer.writerows(list(row.values()) for row in rows)
    result = onboard(emulator, path)
    assert result.returncode == 1
    results = results_of(path)
    invalid = [r for r in results if r["status"] == "invalid"]
    assert len(invalid) == 100
    assert {r["status"] for r in results} == {"onboarded", "invalid"}
    assert all(r["error"].startswith("row ") for r in invalid)
    assert emulator.admin("counters")["records"] == {"clients": 1900, "links": 1900}


def _legacy(path: Path, rows: list[tuple[str, str]], encoding: str, newline: str) -> Path:
    lines = ["name,email", *(f"{name},{email}" for name, email in rows)]
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


@pytest.mark.parametrize(
    ("tool", "encoding", "newline", "label", "names"),
    [
        ("LibreOffice, Western Europe", "iso8859-15", "\n", "ISO-8859-15",
         ["Cœur de Lyon", "Prix 5 € SARL", "José Müller"]),
        ("Excel for Mac", "mac-roman", "\r", "Mac OS Roman",
         ["Café Zoë", "Müller Bäckerei", "Crème Brûlée"]),
        ("Excel on Windows", "cp1252", "\r\n", "Windows-1252",
         ["O\u2019Brien \u2013 Söhne", "Café 5€", "Señorío"]),
    ],
)  # fmt: skip
def test_a_legacy_encoding_is_read_right_and_named(
    emulator: Emulator, tmp_path: Path, tool: str, encoding: str, newline: str, label: str,
    names: list[str],
) -> None:  # fmt: skip
    """Each tool's legacy code page: the names reach the server exactly, the choice is said."""
    rows = [(name, f"c{i}@example.test") for i, name in enumerate(names)]
    path = _legacy(tmp_path / "clients.csv", rows, encoding, newline)
    result = onboard(emulator, path)
    assert result.returncode == 0, (tool, result.stderr)
    assert f"read it as {label}" in result.stderr
    assert sorted(c.name for c in server_clients(emulator)) == sorted(names)


def test_utf8_with_one_bad_byte_is_refused_naming_row_column_and_byte(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Never mojibake: one stray Windows-1252 byte in a UTF-8 file is refused, nothing sent."""
    path = tmp_path / "clients.csv"
    path.write_bytes(
        "name,email\nJosé Café,a@example.test\n".encode() + b"Bad \xe9 byte,b@x.test\n"
    )
    result = onboard(emulator, path)
    assert_one_line_error(
        result, "row 3, column 'name': byte 0xe9 is not UTF-8, while the rest of the file is"
    )
    assert server_clients(emulator) == []


def test_an_unclear_legacy_encoding_is_refused_listing_the_candidates(
    emulator: Emulator, tmp_path: Path
) -> None:
    """No encoding reads it plausibly: each candidate is named with its reading; --encoding wins."""
    path = _legacy(tmp_path / "clients.csv", [("Acme 1½ Ltd", "a@example.test")], "cp1252", "\n")
    result = onboard(emulator, path)
    assert_one_line_error(
        result, "not clear", "--encoding Windows-1252 reads 'Acme 1½ Ltd",
        "--encoding ISO-8859-15 reads 'Acme 1œ Ltd", "--encoding MacOSRoman reads",
    )  # fmt: skip
    assert server_clients(emulator) == []
    named = onboard(emulator, path, "--encoding", "Windows-1252")
    assert named.returncode == 0, named.stderr
    assert [c.name for c in server_clients(emulator)] == ["Acme 1½ Ltd"]


@pytest.mark.parametrize("spelled", ["MacRoman", "Mac OS Roman", "macintosh"])
def test_usual_spellings_of_an_encoding_are_accepted(
    emulator: Emulator, tmp_path: Path, spelled: str
) -> None:
    path = _legacy(tmp_path / "clients.csv", [("Zoë Café", "z@example.test")], "mac-roman", "\r")
    result = onboard(emulator, path, "--encoding", spelled)
    assert result.returncode == 0, result.stderr
    assert [c.name for c in server_clients(emulator)] == ["Zoë Café"]


def test_a_mailchimp_export_is_named_after_the_company_not_the_person(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Mailchimp: Email Address, First Name, Last Name, Company. The mapping is shown and kept."""
    path = write_csv(tmp_path / "clients.csv", [
        {"Email Address": "ana@acme.example", "First Name": "Ana", "Last Name": "Lima",
         "Company": "Acme Ltd", "Unique Email ID": "u1"},
        {"Email Address": "bo@solo.example", "First Name": "Bo", "Last Name": "Berg",
         "Company": "", "Unique Email ID": "u2"},
    ])  # fmt: skip
    summary = tmp_path / "summary.json"
    result = onboard(emulator, path, "--summary-json", str(summary))
    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == (
        "onboard: reading clients.csv: name ← Company (else First Name + Last Name) · "
        "email ← Email Address · company ← Company · external_id ← Unique Email ID · "
        "encoding: UTF-8"
    )
    assert sorted(c.name for c in server_clients(emulator)) == ["Acme Ltd", "Bo Berg"]
    assert [r["client_name"] for r in results_of(path)] == ["Acme Ltd", "Bo Berg"]
    recorded = json.loads(summary.read_text())
    assert recorded["columns"]["name"] == "Company (else First Name + Last Name)"
    assert recorded["encoding"] == "UTF-8"


def test_contact_name_beside_company_names_the_client_after_the_company(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "clients.csv", [
        {"Contact name": "Ana Lima", "Company": "Acme Ltd", "Email": "ana@acme.example"},
    ])  # fmt: skip
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    assert [c.name for c in server_clients(emulator)] == ["Acme Ltd"]
    mapped = onboard(emulator, path, "--map", "name=Contact name", "--out",
                     str(tmp_path / "mapped.csv"), "--dry-run")  # fmt: skip
    assert "name ← Contact name ·" in mapped.stderr
    assert '"name": "Ana Lima"' in mapped.stdout


@pytest.mark.parametrize("header", ["Client", "Client name"])
def test_airtable_and_numbers_primary_column_is_the_name(
    emulator: Emulator, tmp_path: Path, header: str
) -> None:
    path = write_csv(tmp_path / "clients.csv", [{header: "Acme Ltd", "Email": "a@acme.example"}])
    result = onboard(emulator, path)
    assert result.returncode == 0, result.stderr
    assert [c.name for c in server_clients(emulator)] == ["Acme Ltd"]
