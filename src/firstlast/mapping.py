"""The one mapping between stored rows and frozen records (``records.py``, ``learning/records.py``).

A row becomes its record through :func:`to_record` and a record's values go back into a row through
:func:`row_values`: columns by name, times as ISO text in UTC in the record, JSON columns as the
record's typed parts (pydantic validates them at this edge). There is no hand-written mapper.

    handoff = to_record(Handoff, row)
    session.add(HandoffRow(**row_values(HandoffRow, handoff)))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter
from sqlalchemy import Date, DateTime

from firstlast.db import Base, iso

R = TypeVar("R")
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str every one is lone: pairs are decoded


@cache
def _cached_adapter(cls: Any) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def _adapter(cls: type[R]) -> TypeAdapter[R]:
    adapter: TypeAdapter[R] = _cached_adapter(cast(Any, cls))
    return adapter


def to_record(cls: type[R], row: Base, **values: Any) -> R:
    """The record ``cls`` of a stored row: its columns by name (times as ISO text), JSON columns
    parsed into the record's typed parts; ``values`` adds or replaces what the row does not hold."""
    return from_columns(cls, {a.key: getattr(row, a.key) for a in row.__mapper__.column_attrs}, **values)


def from_columns(cls: type[R], columns: Mapping[str, Any], **values: Any) -> R:
    """The record ``cls`` of column values read without the ORM (a Core ``select`` row's
    ``_mapping``, or the values just inserted), as :func:`to_record` makes it of a row."""
    data = {key: _plain(value) for key, value in columns.items()}
    return _adapter(cls).validate_python({**data, **values})


def to_aware(value: datetime) -> datetime:
    """A stored time with its zone (SQLite hands times back without it; they are stored in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _plain(value: Any) -> Any:
    """Times as ISO text, in UTC (SQLite hands them back without their zone; they were stored in UTC;
    PostgreSQL hands them back in the session's zone);
    text that cannot be sent as UTF-8 (lone surrogates a JSON column kept from before the API
    refused them) with U+FFFD in their place, so an old bad row never breaks a read."""
    if isinstance(value, datetime):
        value = to_aware(value).astimezone(UTC)
    if isinstance(value, date):
        return iso(value)
    return _readable(value)


def _readable(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_readable(k): _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def row_values(row_cls: type[Base], record: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The column values of ``record`` for a row of ``row_cls`` (the reverse of :func:`to_record`)."""
    data = _adapter(type(record)).dump_python(record, mode="json")
    out: dict[str, Any] = {}
    for column in row_cls.__table__.columns:
        if column.key not in data or column.key in skip:
            continue
        value = data[column.key]
        if isinstance(value, str) and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        out[column.key] = value
    return out
