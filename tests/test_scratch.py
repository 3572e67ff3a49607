"""IdSet and scratch files: what grows with the input kept on disk past a limit."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from agencyaccess_async._scratch import IdSet, scratch_db

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("limit", [1_000, 3], ids=["in memory", "on disk"])
def test_an_id_set_behaves_the_same_in_memory_and_on_disk(limit: int) -> None:
    ids = IdSet((f"ln_{i % 7}" for i in range(20)), limit=limit)  # 7 distinct, repeated
    try:
        assert len(ids) == 7
        assert "ln_3" in ids and "ln_9" not in ids
        ids.discard_all(["ln_3", "ln_9", "ln_3"])
        assert len(ids) == 6 and "ln_3" not in ids
        assert list(ids.sorted()) == ["ln_0", "ln_1", "ln_2", "ln_4", "ln_5", "ln_6"]
        ids.discard_all(list(ids.sorted()))
        assert not ids
    finally:
        ids.close()


def test_a_scratch_file_is_a_fresh_private_database_each_time() -> None:
    first, second = scratch_db("t (x INTEGER)"), scratch_db("t (x INTEGER)")
    with first:
        first.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert first.execute("SELECT count(*) FROM t").fetchone() == (2,)
    assert second.execute("SELECT count(*) FROM t").fetchone() == (0,)
    first.close()
    second.close()


def test_a_selection_streams_its_ids_as_the_file_is_read(tmp_path: Path) -> None:
    """update/delete's selection hands each id on as its row is read: the first goes out
    before the file's end (count grows as it goes), repeated ids once, marked rows counted."""
    from agencyaccess_async._cli._change import _Selection
    from agencyaccess_async._cli._connect import Target
    from agencyaccess_async._cli._results import ResultsFile

    results = tmp_path / "clients.results.csv"
    rows = [
        ("cl_1", "onboarded"),
        ("cl_2", "deleted"),
        ("cl_1", "onboarded"),
        ("cl_3", "onboarded"),
    ]
    with results.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email", "client_id", "link_id", "status"])
        writer.writerows(
            [f"N{i}", f"e{i}@x.test", c, f"ln_{i}", s] for i, (c, s) in enumerate(rows)
        )
    selection = _Selection(ResultsFile.read(results), Target(None, None), "client_id", [])
    try:
        ids = selection.ids()
        assert next(ids) == "cl_1"
        assert selection.count == 1 and selection.total is None  # not read to the end yet
        assert list(ids) == ["cl_3"]
        assert (selection.count, selection.deleted, selection.total) == (2, 1, 2)
        assert list(selection.ids()) == ["cl_1", "cl_3"]  # read again: from what was recorded
        assert selection.named("cl_3") == "row 5 (N3)"
    finally:
        selection.close()
