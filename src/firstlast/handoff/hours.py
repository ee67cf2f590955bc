"""Business hours: is a person at the desk right now? A weekly table in one IANA time zone.

    hours = BusinessHours("Europe/Berlin", {"mon": "08:00-18:00", "sat": "10:00-12:00,13:00-15:00"})
    hours.is_open(datetime.now(UTC))

``weekly=None`` means always open; a weekday left out is closed. Daylight-saving changes are handled
by zoneinfo: the table is local wall-clock time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_spans(text: str) -> list[tuple[int, int]]:
    """``"08:00-12:00,13:00-18:00"`` -> minutes since midnight, ``[(480, 720), (780, 1080)]``."""
    spans = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = _SPAN.match(part)
        if m is None:
            raise ValueError(f"hours must look like 08:00-18:00, got {part!r}")
        start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
        if int(m[2]) > 59 or int(m[4]) > 59 or not 0 <= start < end <= 24 * 60:
            raise ValueError(f"hours must be a span within one day (00:00-24:00), got {part!r}")
        spans.append((start, end))
    return spans


def parse_weekly(weekly: Mapping[str, str]) -> dict[int, list[tuple[int, int]]]:
    table: dict[int, list[tuple[int, int]]] = {}
    for day, text in weekly.items():
        if day not in WEEKDAYS:
            raise ValueError(f"weekday must be one of {', '.join(WEEKDAYS)}, got {day!r}")
        table[WEEKDAYS.index(day)] = parse_spans(text)
    return table


class BusinessHours:
    def __init__(self, timezone: str = "UTC", weekly: Mapping[str, str] | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        self._table = None if weekly is None else parse_weekly(weekly)

    def is_open(self, at: datetime) -> bool:
        """``at`` must be timezone-aware."""
        if at.tzinfo is None:
            raise ValueError(f"business hours need an aware datetime, got {at!r}")
        if self._table is None:
            return True
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self._table.get(local.weekday(), []))
