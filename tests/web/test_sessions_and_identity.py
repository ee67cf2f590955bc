"""Console sessions (stored hashed, expiring) and identity verification, without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firstlast.db import ConsoleSessionRow, Database
from firstlast.errors import InvalidInput
from firstlast.web.identity import identity_context, user_hash
from firstlast.web.sessions import ConsoleSessions


def test_a_session_is_stored_hashed_and_ends_when_it_expires(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    now = [datetime(2026, 1, 1, 9, tzinfo=UTC)]
    sessions = ConsoleSessions(db, hours=1, clock=lambda: now[0])
    session, cookie = sessions.open("agent", " sam ")
    assert (session.scope, session.name) == ("agent", "sam") and len(session.csrf) >= 24
    with db.session() as s:
        (row,) = s.query(ConsoleSessionRow).all()
        assert row.id != cookie and cookie not in (row.id, row.csrf)  # only the cookie's digest
    assert sessions.find(cookie) == session
    assert sessions.find(cookie + "x") is None
    now[0] += timedelta(minutes=61)
    assert sessions.find(cookie) is None
    _, other = sessions.open("admin", "lee")
    sessions.close(other)
    assert sessions.find(other) is None


def test_only_agent_and_admin_scopes_and_real_names_open_sessions(tmp_path: Path) -> None:
    sessions = ConsoleSessions(Database(f"sqlite:///{tmp_path / 'x.db'}"))
    with pytest.raises(InvalidInput, match="widget"):
        sessions.open("widget", "mallory")
    with pytest.raises(InvalidInput, match="name"):
        sessions.open("agent", "   ")
    with pytest.raises(ValueError, match="hours must be > 0, got 0"):
        ConsoleSessions(Database(f"sqlite:///{tmp_path / 'y.db'}"), hours=0)


def test_identity_needs_the_hash_of_that_user_id_with_the_secret() -> None:
    user = {"user_id": "42", "name": "Dana", "user_hash": user_hash("42", "s3cret-value")}
    assert identity_context(user, "s3cret-value") == {
        "identity": {"user_id": "42", "name": "Dana", "verified": True}
    }
    assert "unverified_identity" in identity_context(user, "another-secret")
    assert "unverified_identity" in identity_context(user, None)  # no secret set: nothing is verified
    assert identity_context({"user_hash": "abc"}, "s3cret-value") == {}
