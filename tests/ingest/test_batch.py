"""Which observation of a point a batch writes, and the keys it hands the write."""

from __future__ import annotations

from kgtwin.ingest.batch import Message, newest, tally
from kgtwin.ingest.errors import Reason, Rejected
from kgtwin.ingest.raw import Quality
from kgtwin.ingest.readings import Observation

POINT = "urn:p"


def message(key: str, *values: tuple[float, float], point: str = POINT) -> Message:
    m = Message(1, 1, 1, False, "t", b"", 10.0, key, 0)
    m.observations = [
        Observation(point, value, "KiloW", at, 10.0, Quality.GOOD) for value, at in values
    ]
    return m


def test_the_newest_time_wins_whatever_the_order() -> None:
    picks = newest([message("a", (3.0, 3.0)), message("b", (1.0, 1.0)), message("c", (2.0, 2.0))])
    assert picks[POINT].observation.value == 3.0
    assert picks[POINT].keys == ("a",)


def test_at_an_equal_millisecond_the_later_wins_and_every_key_is_kept() -> None:
    picks = newest(
        [message("a", (1.0, 5.0001)), message("b", (2.0, 5.0002)), message("c", (0.0, 4.0))]
    )
    pick = picks[POINT]
    assert pick.observation.value == 2.0
    assert pick.keys == ("a", "b")
    value = pick.live_value()
    assert (value.observed_at_ms, value.keys, value.redelivered) == (5000, ("a", "b"), False)


def test_one_message_with_two_records_of_a_point_keeps_its_key_once() -> None:
    picks = newest([message("a", (1.0, 5.0), (2.0, 5.0))])
    assert picks[POINT].observation.value == 2.0
    assert picks[POINT].keys == ("a",)


def test_rejected_messages_carry_nothing_and_points_can_be_chosen() -> None:
    bad = message("a", (9.0, 9.0))
    bad.rejected = Rejected(Reason.UNSTORABLE, "refused")
    other = message("b", (1.0, 1.0), point="urn:q")
    picks = newest([message("c", (1.0, 1.0)), bad, other], frozenset({POINT}))
    assert list(picks) == [POINT]
    assert picks[POINT].observation.value == 1.0


def test_tally_gives_each_message_one_outcome() -> None:
    written, outdated, bad, ignored = (
        message("a", (1.0, 1.0)),
        message("b", (1.0, 0.5)),
        message("c"),
        message("d"),
    )
    bad.rejected = Rejected(Reason.TOO_LARGE, "big")
    ignored.ignored = True
    counts = tally([written, outdated, bad, ignored], {id(written.observations[0])})
    assert counts.outcomes == {"applied": 1, "outdated": 1, "deadlettered": 1, "ignored": 1}
    assert counts.reasons == {"too_large": 1}
