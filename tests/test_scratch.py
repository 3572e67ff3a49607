"""IdSet and scratch files: what grows with the input kept on disk past a limit."""

from __future__ import annotations

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
