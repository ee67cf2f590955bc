"""Business hours in a time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from firstlast.handoff.hours import BusinessHours, parse_spans

BERLIN_WEEKDAYS = {d: "08:00-12:00,13:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}


def test_always_open_without_a_table() -> None:
    assert BusinessHours().is_open(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("utc", "open_"),
    [
        (datetime(2026, 11, 23, 7, 30, tzinfo=UTC), True),  # Monday 08:30 in Berlin (UTC+1)
        (datetime(2026, 11, 23, 6, 30, tzinfo=UTC), False),  # 07:30 local
        (datetime(2026, 11, 23, 11, 30, tzinfo=UTC), False),  # lunch, 12:30 local
        (datetime(2026, 11, 23, 16, 59, tzinfo=UTC), True),  # 17:59 local
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), False),  # 18:00 local: closed (end is exclusive)
        (datetime(2026, 11, 22, 10, 0, tzinfo=UTC), False),  # Sunday
        (datetime(2026, 7, 6, 6, 30, tzinfo=UTC), True),  # Monday in summer: 08:30 local (UTC+2)
        (datetime(2026, 7, 6, 16, 30, tzinfo=UTC), False),  # 18:30 local in summer
    ],
)
def test_open_follows_local_wall_clock_time(utc, open_) -> None:
    assert BusinessHours("Europe/Berlin", BERLIN_WEEKDAYS).is_open(utc) is open_


def test_an_empty_table_is_always_closed_and_midnight_spans_work() -> None:
    assert not BusinessHours("UTC", {}).is_open(datetime(2026, 11, 23, 12, tzinfo=UTC))
    late = BusinessHours("UTC", {"mon": "22:00-24:00"})
    assert late.is_open(datetime(2026, 11, 23, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize("text", ["8-18", "18:00-08:00", "08:00-25:00", "08:61-09:00"])
def test_bad_spans_are_value_errors_naming_the_span(text) -> None:
    with pytest.raises(ValueError, match="hours must"):
        parse_spans(text)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        BusinessHours("UTC", {}).is_open(datetime(2026, 1, 1))
