"""Which observations become history rows, and what a row says."""

from __future__ import annotations

from kgtwin.graph.live import PointRow
from kgtwin.graph.ontology_read import ClassTerm, Terms
from kgtwin.ingest.batch import Message
from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.history.rows import HistoryRow, PointInfo, describe_points, rows_of
from kgtwin.ingest.raw import Quality
from kgtwin.ingest.readings import Observation

POINT = "urn:site#ups-a1-load"
POINTS = {POINT: PointInfo("ups-a1-load", "ups-a1", "UPS")}


def message(key: str, *values: tuple[float | bool | str, float]) -> Message:
    m = Message(1, 1, 1, False, "t", b"", 10.0, key, 0)
    m.observations = [
        Observation(POINT, value, "KiloW", at, 10.5, Quality.GOOD) for value, at in values
    ]
    return m


def test_every_observation_of_an_accepted_message_is_a_row_even_one_superseded() -> None:
    rows = rows_of([message("a", (1.0, 5.0), (2.0, 6.0)), message("b", (0.5, 4.0))], POINTS)
    assert [(r.ts_us, r.value) for r in rows] == [
        (5_000_000, 1.0),
        (6_000_000, 2.0),
        (4_000_000, 0.5),
    ]
    assert rows[0] == HistoryRow(
        5_000_000, POINT, "ups-a1-load", "ups-a1", "UPS", "KiloW", "good", 1.0, None, 10_500_000
    )


def test_a_dead_lettered_or_ignored_message_gives_no_row() -> None:
    rejected = message("r", (1.0, 5.0))
    rejected.rejected = Rejected(Reason.OUT_OF_RANGE, "too high")
    ignored = message("i", (1.0, 5.0))
    ignored.ignored = True
    assert rows_of([rejected, ignored], POINTS) == []


def test_booleans_are_numbers_and_strings_are_text() -> None:
    rows = rows_of([message("a", (True, 1.0), (False, 2.0), ("tripped", 3.0))], POINTS)
    assert [(r.value, r.text) for r in rows] == [(1.0, None), (0.0, None), (None, "tripped")]


def test_times_keep_their_microseconds() -> None:
    (row,) = rows_of([message("a", (1.0, 1_700_000_000.123456))], POINTS)
    assert row.ts_us == 1_700_000_000_123_456


def test_a_point_read_after_the_rows_were_built_still_gets_its_iri_as_id() -> None:
    (row,) = rows_of([message("a", (1.0, 1.0))], {})
    assert (row.point, row.point_id, row.asset, row.asset_class) == (POINT, POINT, None, None)


def test_a_point_is_described_by_its_assets_most_specific_class() -> None:
    terms = Terms(
        {
            "Asset": ClassTerm("urn:Asset", "Asset", "", "", ()),
            "PowerEquipment": ClassTerm("urn:PE", "PowerEquipment", "", "", ("Asset",)),
            "UPS": ClassTerm("urn:UPS", "UPS", "", "", ("PowerEquipment",)),
        },
        {},
    )
    row = PointRow(
        POINT,
        "ups-a1-load",
        "t",
        "KiloW",
        None,
        None,
        None,
        10.0,
        None,
        False,
        "ups-a1",
        ("Asset", "Twin", "UPS", "PowerEquipment"),
    )
    orphan = PointRow("urn:p2", "p2", "t2", "KiloW", None, None, None, 10.0, None, False, None, ())
    assert describe_points([row, orphan], terms) == {
        POINT: PointInfo("ups-a1-load", "ups-a1", "UPS"),
        "urn:p2": PointInfo("p2", None, None),
    }
