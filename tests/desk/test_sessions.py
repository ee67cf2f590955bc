"""One database session per unit of work (issue #13, 2): no session opens inside another, the
database stays writable while the bot thinks, and a database failure says nothing about its SQL."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from tests.conftest import WIDGET_KEY, post_until_handoff

from firstlast.api.app import create_app
from firstlast.wiring import Services

DISCOUNT = "Yes: registered non-profit organisations get 50% off the Team plan."


class _Depth:
    """Wraps ``Database.session`` and remembers the deepest nesting seen in any one thread."""

    def __init__(self, services: Services) -> None:
        self._inner = services.db.session
        self._local = threading.local()
        self.deepest = 0
        services.db.session = self.session  # type: ignore[method-assign]

    @contextmanager
    def session(self) -> Iterator[Session]:
        depth = getattr(self._local, "depth", 0) + 1
        self._local.depth = depth
        self.deepest = max(self.deepest, depth)
        try:
            with self._inner() as s:
                yield s
        finally:
            self._local.depth = depth - 1


def test_learning_from_a_resolution_never_opens_a_session_inside_another(sample_services: Services) -> None:
    depth = _Depth(sample_services)
    learning = sample_services.learning
    learned = learning.on_resolved(
        "Do you offer a discount for non-profit organisations?", DISCOUNT, agent="sam"
    )
    assert learned.suggestion is not None
    learning.approve(learned.suggestion.id, approver="lead")
    # a conflicting answer to the learned question: the conflict check reads the learned entries
    conflicting = learning.on_resolved(
        "Do non-profit organisations get a discount?",
        "No, we stopped our non-profit programme in 2024; all plans are full price.",
        agent="kim",
    )
    assert conflicting.suggestion is not None and conflicting.suggestion.conflict is not None
    conversation, _ = sample_services.desk.start("chat")
    posted = post_until_handoff(sample_services.desk, conversation.id, "Can I pay with a goat?")
    assert posted.handoff_id
    sample_services.desk.reply(posted.handoff_id, "sam", "We only take cards and bank transfers.")
    assert depth.deepest == 1


class _WritesWhileThinking:
    """Around the real bot: while it answers, another connection tries to write at once."""

    def __init__(self, bot: Any, path: str) -> None:
        self._bot, self._path = bot, path
        self.voice = bot.voice
        self.errors: list[str] = []

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        other = sqlite3.connect(self._path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            self.errors.append(str(exc))
        finally:
            other.close()
        return self._bot.ask(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bot, name)


def test_the_database_is_writable_while_the_bot_answers(sample_services: Services) -> None:
    """The bot's work (retrieval, answering, maybe an LLM) is not done inside a write transaction,
    so other customers and agents are never queued behind it."""
    customers = sample_services.desk.customers
    probe = _WritesWhileThinking(customers._bot, str(sample_services.settings.data_dir / "firstlast.db"))
    customers._bot = probe  # type: ignore[assignment]
    conversation, _ = sample_services.desk.start("chat")
    posted = sample_services.desk.post(conversation.id, "How do I turn on two-factor authentication?")
    assert posted.reply is not None and posted.reply.decision == "answer"
    sample_services.desk.post(conversation.id, "And how do I change my plan?")
    assert probe.errors == []
    texts = [m.text for m in sample_services.desk.conversation(conversation.id).messages]
    assert len(texts) == 4


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(services: Services) -> None:
    with services.db.engine.connect() as connection:
        raw: Any = connection.connection.dbapi_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        # NORMAL (1): no fsync per commit while the write lock is held (FULL capped the message rate)
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_a_database_failure_is_a_503_without_sql_or_ids(services: Services) -> None:
    client = TestClient(create_app(services), raise_server_exceptions=False)
    widget = {"Authorization": f"Bearer {WIDGET_KEY}"}
    opened = client.post("/v1/conversations", headers=widget, json={}).json()
    with sqlite3.connect(services.settings.data_dir / "firstlast.db") as raw:
        raw.execute("DROP TABLE feedback")  # the conversation read joins it: every read now fails
    headers = {**widget, "X-Conversation-Token": opened["token"]}
    response = client.get(f"/v1/conversations/{opened['id']}", headers=headers)
    assert response.status_code == 503
    body = response.text
    assert "SELECT" not in body and "feedback" not in body and opened["id"] not in body
    assert "database" in response.json()["detail"]


def test_a_post_reads_its_conversation_once_per_transaction(sample_services: Services) -> None:
    """A post reads the conversation, lets the bot answer, then writes after reading it again: two
    reads of its row, none of the customer's ratings (the rows a transaction read are held, so the
    session does not SELECT them again when the status is saved)."""
    desk = sample_services.desk
    conversation, _ = desk.start("chat")
    tables: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT"):
            tables.extend(re.findall(r"\bFROM (\w+)", statement)[:1])

    event.listen(sample_services.db.engine, "before_cursor_execute", seen)
    try:
        posted = desk.post(conversation.id, "How do I reset my password?")
    finally:
        event.remove(sample_services.db.engine, "before_cursor_execute", seen)
    assert posted.reply is not None and posted.reply.decision == "answer"
    assert tables.count("conversations") == 2
    assert "feedback" not in tables
