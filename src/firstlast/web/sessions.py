"""Console sign-in sessions: an agent or admin key is exchanged once for a session cookie.

The key never reaches the page; the cookie value is random and only its SHA-256 is stored, so a
database leak does not leak live sessions. Each session has a CSRF token the console sends back as
``X-CSRF-Token`` on every write. Sessions live in the database, so any API process behind one
database accepts them.

    session, cookie = sessions.open("agent", "sam")
    sessions.find(cookie)  # -> ConsoleSession, or None when unknown or expired
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from firstlast.db import ConsoleSessionRow, Database, utcnow
from firstlast.errors import InvalidInput
from firstlast.types import MAX_NAME_CHARS

COOKIE = "firstlast_console"


@dataclass(frozen=True)
class ConsoleSession:
    scope: str  # agent | admin
    name: str  # who is signed in: the actor recorded on replies, approvals, assignments
    csrf: str
    expires_at: str


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class ConsoleSessions:
    def __init__(self, db: Database, hours: float = 12.0, clock: Callable[[], datetime] = utcnow) -> None:
        if hours <= 0:
            raise ValueError(f"hours must be > 0, got {hours}")
        self._db = db
        self._lifetime = timedelta(hours=hours)
        self._clock = clock

    def open(self, scope: str, name: str) -> tuple[ConsoleSession, str]:
        """A new session for ``name`` with ``scope``; returns it and the cookie value to set."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise InvalidInput(f"name must be 1 to {MAX_NAME_CHARS} characters, got {len(name)}")
        if scope not in ("agent", "admin"):
            raise InvalidInput(f"only agent and admin keys open the console, got scope {scope!r}")
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self._clock()
        with self._db.session() as s:
            s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < now))
            s.add(
                ConsoleSessionRow(
                    id=_digest(cookie), scope=scope, name=name, csrf=csrf, expires_at=now + self._lifetime
                )
            )
        return ConsoleSession(scope, name, csrf, (now + self._lifetime).isoformat()), cookie

    def find(self, cookie: str) -> ConsoleSession | None:
        with self._db.session() as s:
            row = s.get(ConsoleSessionRow, _digest(cookie))
            if row is None:
                return None
            expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
            if expires <= self._clock():
                return None
            return ConsoleSession(row.scope, row.name, row.csrf, expires.isoformat())

    def close(self, cookie: str) -> None:
        with self._db.session() as s:
            s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.id == _digest(cookie)))
