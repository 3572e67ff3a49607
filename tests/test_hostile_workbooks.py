"""Hostile and broken .xlsx files: bounded memory and one line each, run as processes (#36, 6).

Each file is written by ``tests/hostile_workbooks.py``. The CLI runs in a
child process that reports its own peak RSS, which must stay under 200 MiB
whatever the workbook declares.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import EXAMPLES, measured_cli
from tests.hostile_workbooks import HEADER, row, text, workbook

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM"),
]

_PEAK_MIB = 200


def dry_run(path: Path) -> tuple[int, list[str], float]:
    """``onboard --dry-run`` of ``path``: exit code, its stderr lines, and its peak RSS in MiB."""
    return measured_cli(
        "onboard", str(path), "--services", str(EXAMPLES / "services.json"), "--dry-run"
    )


def test_a_declared_million_by_sixteen_thousand_sheet_reads_its_two_rows(tmp_path: Path) -> None:
    """A 2 KB file claiming A1:XFD1048576, with its one client on row 1,048,576."""
    path = workbook(
        tmp_path / "clients.xlsx",
        [HEADER, row(1_048_576, text("A1048576", "Acme"), text("B1048576", "a@acme.example"))],
        dimension="A1:XFD1048576",
    )
    assert path.stat().st_size < 4096
    code, lines, peak = dry_run(path)
    assert code == 0, lines
    assert "1 rows: 1 valid, 0 invalid" in "\n".join(lines)
    assert peak < _PEAK_MIB


def test_a_huge_shared_string_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    path = workbook(tmp_path / "clients.xlsx", [HEADER], huge_shared_mb=100)
    assert path.stat().st_size < 1 << 20
    code, lines, peak = dry_run(path)
    assert code == 2 and len(lines) == 1, lines
    assert "its shared strings unpack to 100 MiB, more than the 16 MiB read" in lines[0]
    assert peak < _PEAK_MIB


def test_a_row_past_excels_last_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "clients.xlsx", [
        HEADER, row(2, text("A2", "Acme"), text("B2", "a@acme.example")),
        row(1_048_577, text("A1048577", "Beyond"), text("B1048577", "b@acme.example")),
    ])  # fmt: skip
    code, lines, peak = dry_run(path)
    assert code == 2 and len(lines) == 1, lines
    assert "sheet 'Clients' has a row after row 1,048,576, Excel's last" in lines[0]
    assert peak < _PEAK_MIB


def test_more_rows_than_a_workbook_is_read_with_are_refused_before_reading(
    tmp_path: Path,
) -> None:
    """200,001 row elements, even empty ones: counted in flat memory, refused, CSV suggested."""
    path = workbook(tmp_path / "clients.xlsx",
                    [HEADER, *(f'<row r="{n}"/>' for n in range(2, 200_003))])  # fmt: skip
    code, lines, peak = dry_run(path)
    assert code == 2 and len(lines) == 1, lines
    assert "has more than 200,000 rows" in lines[0] and "CSV UTF-8" in lines[0]
    assert peak < _PEAK_MIB


@pytest.mark.parametrize(
    ("cell", "needle"),
    [
        ('<c r="B2" t="s"><v>99</v></c>', "cell B2: shared string '99' does not exist"),
        ('<c r="2B" t="inlineStr"><is><t>x</t></is></c>', "cell 2B: '2B' is not a cell reference"),
        ('<c r="B2"><v>12abc</v></c>', "cell B2: '12abc' is not a number"),
        ('<c r="B2" t="d"><v>not-a-date</v></c>', "cell B2: 'not-a-date' is not a date"),
        ('<c r="B2" s="1"><v>99999999999</v></c>', "cell B2: a date outside the dates Excel knows"),
    ],
    ids=["shared-string-index", "cell-reference", "number", "iso-date", "serial-date"],
)
def test_a_damaged_cell_is_one_line_naming_sheet_and_cell(
    tmp_path: Path, cell: str, needle: str
) -> None:
    path = workbook(tmp_path / "clients.xlsx", [HEADER, row(2, text("A2", "Acme"), cell)],
                    shared=["only one"])  # fmt: skip
    code, lines, _ = dry_run(path)
    assert code == 2 and len(lines) == 1, lines
    assert "sheet 'Clients', " + needle in lines[0]
    assert "Traceback" not in lines[0]
