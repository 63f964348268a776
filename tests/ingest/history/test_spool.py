"""The spool: what is appended stays on disk until removed, within its bound, and one
worker holds it at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgtwin.ingest.history.rows import HistoryRow
from kgtwin.ingest.history.spool import ENTRY_ROWS, Spool, SpoolError


def rows(count: int, start: int = 0) -> list[HistoryRow]:
    return [
        HistoryRow(i, "urn:p", "p", "a", "UPS", "KiloW", "good", float(i), None, i + 1)
        for i in range(start, start + count)
    ]


def test_entries_come_back_in_order_and_go_once_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "w.sqlite", 2**20)
    assert spool.oldest() is None
    assert spool.append(rows(3))
    assert spool.append(rows(2, start=3))
    first = spool.oldest()
    assert first is not None
    assert first.rows == rows(3)
    assert (spool.entries, spool.rows) == (2, 5)
    spool.remove(first.id)
    second = spool.oldest()
    assert second is not None
    assert second.rows == rows(2, start=3)
    spool.remove(second.id)
    assert (spool.entries, spool.rows, spool.bytes) == (0, 0, 0)
    assert spool.oldest_spooled_at() is None


def test_a_large_batch_is_split_into_entries_of_bounded_rows(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "w.sqlite", 2**30)
    assert spool.append(rows(ENTRY_ROWS * 2 + 1))
    sizes = []
    while (entry := spool.oldest()) is not None:
        sizes.append(len(entry.rows))
        spool.remove(entry.id)
    assert sizes == [ENTRY_ROWS, ENTRY_ROWS, 1]


def test_what_is_spooled_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    spool = Spool(path, 2**20)
    spool.append(rows(4))
    size = spool.bytes
    spool.close()
    again = Spool(path, 2**20)
    assert (again.entries, again.rows, again.bytes) == (1, 4, size)
    entry = again.oldest()
    assert entry is not None
    assert entry.rows == rows(4)


def test_past_its_bound_an_append_is_refused_whole_and_the_rest_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "w.sqlite", 1_000)
    assert spool.append(rows(3))
    held = (spool.entries, spool.rows, spool.bytes)
    assert not spool.append(rows(20, start=3))
    assert (spool.entries, spool.rows, spool.bytes) == held
    assert held[2] <= 1_000


def test_a_second_worker_cannot_open_a_spool_in_use(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    first = Spool(path, 2**20)
    with pytest.raises(SpoolError, match=r"held by another process.*client id"):
        Spool(path, 2**20)
    first.close()
    Spool(path, 2**20).close()  # free again once the first closed it


def test_a_spool_that_cannot_be_created_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SpoolError, match=r"history spool .*file/w\.sqlite cannot be used"):
        Spool(blocker / "w.sqlite", 2**20)
