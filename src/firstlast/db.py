"""Relational storage for conversations, handoffs, suggestions and their history (SQLAlchemy 2).

SQLite in the data folder by default; any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) works,
so several stateless API processes can share one database.

A row becomes its frozen record through the one mapping in ``firstlast/mapping.py``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

try:  # the writers' lock across processes (POSIX)
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    make_url,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from firstlast.errors import BackendError, ConfigError, Conflict

log = logging.getLogger(__name__)
_BUSY_TIMEOUT_S = 15.0
_SQLITE_POOL = 40


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: date | datetime | None) -> str | None:
    """A stored date or time as ISO 8601 text for the typed records; None stays None."""
    return value.isoformat() if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ConversationRow(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="chat")
    status: Mapped[str] = mapped_column(String(24))  # handoff/states.py State
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    arm: Mapped[str | None] = mapped_column(String(16), nullable=True)  # A/B rollout (issue #14)


class MessageRow(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(128), default="")
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    citations: Mapped[list[Any]] = mapped_column(default=list)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HandoffRow(Base):
    __tablename__ = "handoffs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # records.HandoffStatus
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    question: Mapped[str] = mapped_column(Text)
    transcript: Mapped[list[Any]] = mapped_column(default=list)
    customer_context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SuggestionRow(Base):
    __tablename__ = "suggestions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handoff_id: Mapped[str | None] = mapped_column(ForeignKey("handoffs.id"), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # learning/records.SuggestionStatus
    suggested_by: Mapped[str] = mapped_column(String(128), default="")
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    final_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    learned_doc_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # a pending suggestion nobody reviewed expires then (None: never); reset when revived
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class EventRow(Base):
    """Append-only history: every state change of a handoff or suggestion, with who and when."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    arm: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the conversation's A/B arm


def new_event(
    session: Session, entity: str, entity_id: str, action: str, actor: str, detail: dict[str, Any]
) -> EventRow:
    """An event row carrying the A/B arm of the conversation it is about (issue #14), so every
    event can be compared by arm; events about no one conversation (a learned entry) have none."""
    return EventRow(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor=actor,
        detail=detail,
        arm=_arm_of(session, entity, entity_id),
    )


def _arm_of(session: Session, entity: str, entity_id: str) -> str | None:
    conversation_id: str | None = None
    if entity == "conversation":
        conversation_id = entity_id
    elif entity == "handoff":
        handoff = session.get(HandoffRow, entity_id)
        conversation_id = handoff.conversation_id if handoff else None
    elif entity == "message" and entity_id.isdigit():
        message = session.get(MessageRow, int(entity_id))
        conversation_id = message.conversation_id if message else None
    elif entity == "suggestion":
        suggestion = session.get(SuggestionRow, entity_id)
        conversation_id = suggestion.conversation_id if suggestion else None
    conversation = session.get(ConversationRow, conversation_id) if conversation_id else None
    return conversation.arm if conversation else None


# -- handoff: customer feedback and webhook deliveries -------------------------------------------


class FeedbackRow(Base):
    """A customer's thumbs or 1-5 rating, on the conversation or on one bot/agent reply."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True, index=True)
    thumbs: Mapped[str | None] = mapped_column(String(8), nullable=True)  # up | down
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..5
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDeliveryRow(Base):
    """One outgoing webhook call and how it went (delivered | failed | abandoned at shutdown)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    handoff_id: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# -- learning loop (issue #5): verdicts, suggestion sources, learned entries and their versions --------


class SuggestionSourceRow(Base):
    """One conversation whose agent answer was merged into a suggestion (dedupe keeps them all)."""

    __tablename__ = "suggestion_sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("suggestions.id"), index=True)
    handoff_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    question: Mapped[str] = mapped_column(Text)  # scrubbed
    answer: Mapped[str] = mapped_column(Text)  # scrubbed
    agent: Mapped[str] = mapped_column(String(128), default="")
    similarity: Mapped[float] = mapped_column(Float, default=1.0)  # to the suggestion's question
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SuggestionFlagRow(Base):
    """Learning-loop facts about a suggestion: a conflict with existing knowledge."""

    __tablename__ = "suggestion_flags"
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("suggestions.id"), primary_key=True)
    conflict_doc_id: Mapped[str] = mapped_column(String(128))
    conflict_text: Mapped[str] = mapped_column(Text)
    similarity: Mapped[float] = mapped_column(Float, default=0.0)


class RetrievalMissRow(Base):
    """An agent answered what the knowledge base already said: retrieval missed ``doc_id``."""

    __tablename__ = "retrieval_misses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    question: Mapped[str] = mapped_column(Text)  # scrubbed
    answer: Mapped[str] = mapped_column(Text)  # scrubbed
    doc_id: Mapped[str] = mapped_column(String(512), index=True)
    chunk_id: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(Text, default="")
    similarity: Mapped[float] = mapped_column(Float)
    overlap: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LearnedEntryRow(Base):
    """A learned knowledge entry; kept after it is retired, so its history stays readable."""

    __tablename__ = "learned_entries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(128), unique=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # learning/records.EntryStatus
    version: Mapped[int] = mapped_column(Integer, default=1)
    review_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LearnedVersionRow(Base):
    """Every approved text of a learned entry; rollback restores the previous one."""

    __tablename__ = "learned_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("learned_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    suggestion_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    approved_by: Mapped[str] = mapped_column(String(128), default="")
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16))  # learning/records.VersionStatus
    variants: Mapped[list[Any]] = mapped_column(default=list)  # other wordings customers used


class OutboxRow(Base):
    """Work that must follow a committed change in another store (the knowledge base) or stage (the
    learning verdict): written in the same transaction as the change, done afterwards, retried until
    done. ``key`` names what the job is about (a handoff id, a learned document id)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # learn | kb_sync
    key: Mapped[str] = mapped_column(String(160), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


# -- the widget and the console (issue #10): console sign-ins, reports of bad bot answers ----------


class ConsoleSessionRow(Base):
    """A console sign-in: the cookie's hash (never the cookie), its scope, and its CSRF token."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    scope: Mapped[str] = mapped_column(String(16))  # agent | admin
    name: Mapped[str] = mapped_column(String(128))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AnswerReportRow(Base):
    """An agent's report of a bad bot answer, linked to the learned entry the answer cited, if any."""

    __tablename__ = "answer_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    reporter: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text)  # the bot's reply as it was sent
    cited: Mapped[list[Any]] = mapped_column(default=list)  # the doc ids it cited
    learned_entry_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- the API edge (issue #13): knowledge-upload jobs and message retries ---------------------------


class JobRow(Base):
    """A knowledge upload being ingested in the background; any API process answers its poll."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # ingest
    status: Mapped[str] = mapped_column(String(16), index=True)  # records.JobStatus
    done: Mapped[int] = mapped_column(Integer, default=0)  # documents done
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the IngestReport
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")  # the uploaded file names
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IdempotencyRow(Base):
    """The first response to a message post sent with an ``Idempotency-Key``: a retry gets it back
    instead of posting the message again; kept in the post's own transaction. (``response`` is None
    only in a claim an earlier version left while its request ran; a post takes it over.)"""

    __tablename__ = "idempotency_keys"
    conversation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Database:
    """Engine and sessions. ``with db.session() as s: ...`` commits on success, rolls back on error.

    ``prepare`` readies the schema once the engine exists: by default it creates missing tables; the
    service opens its database through ``firstlast.schema.open_database``, whose check creates an
    empty database at the newest migration and refuses one that needs ``firstlast db upgrade``.
    """

    def __init__(self, url: str, *, prepare: Callable[[Engine], object] | None = None) -> None:
        try:
            self.engine = create_engine(url, **_engine_args(url))
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
                database = make_url(url).database
                shared = None if database in (None, "", ":memory:") else Path(f"{database}.writer")
                _WriterTurns(_BUSY_TIMEOUT_S, shared).attach(self.engine)
            (prepare or Base.metadata.create_all)(self.engine)
        except SQLAlchemyError as exc:
            raise BackendError(f"cannot open database {_safe(url)}: {_first_line(exc)}") from exc
        except ImportError as exc:  # e.g. PostgreSQL without psycopg
            raise ConfigError(
                f"no driver for {_safe(url)} ({exc.name}); for PostgreSQL: pip install 'firstlast[postgres]'"
            ) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        """Close the pooled connections (the database itself stays)."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            # the statement and its parameters go to the log, never to the caller
            log.error("database error", exc_info=exc)
            raise BackendError("the database is unavailable or busy; try again shortly") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @staticmethod
    def change_status(session: Session, row: Base, status: str, read: str) -> None:
        """Move ``row`` from the status this transaction ``read`` to ``status``, or raise Conflict if
        another transaction changed it meanwhile. One conditional UPDATE: PostgreSQL runs
        transactions side by side and SQLite reads outside its write lock, so a status checked in
        Python alone could be decided twice."""
        if status == read:
            return
        table = type(row)
        key = table.__mapper__.primary_key[0]
        row_id = getattr(row, key.key or "id")
        changed = session.execute(
            update(table)
            .where(key == row_id, table.__table__.c.status == read)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            what = f"{table.__tablename__.rstrip('s')} {row_id}"
            raise Conflict(f"{what} was changed by someone else at the same time; reload it")
        row.status = status  # type: ignore[attr-defined]

    def record(
        self, session: Session, entity: str, entity_id: str, action: str, actor: str, **detail: Any
    ) -> None:
        session.add(new_event(session, entity, entity_id, action, actor, detail))


class _WriterTurns:
    """One writing transaction at a time, queued on a lock, for SQLite.

    SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps in
    growing steps (1, 2, 5, 10 ... 100 ms) and so often sleeps on long after the lock came free: with
    16 customers posting, those sleeps were the long tail of message latency. A thread about to
    write (its transaction's first INSERT/UPDATE/DELETE) takes this lock instead, and hands it on at
    commit or rollback. Waiting past the busy timeout is the same "busy" failure SQLite would give.

    Across API processes on one database file (``serve --workers N``) the turn is also a lock on
    ``shared`` (``<database>.writer``, ``flock``), polled every millisecond: a process whose writers
    met SQLite's busy handler while the other process wrote back to back waited 2-3 s now and then
    (session 10, 2 workers: the p99 of message posts). A process that dies lets go of its lock.
    """

    _WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
    _POLL_S = 0.001

    def __init__(self, timeout: float, shared: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        self._shared = shared
        self._fd: int | None = None  # the shared lock file, opened on the first write

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        # returned to the pool without either, or dropped after an error: the turn goes on
        for pool_event in ("reset", "invalidate", "close"):
            event.listen(engine, pool_event, self._reset)

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get("writing") or not self._WRITE.match(statement):
            return
        deadline = time.monotonic() + self._timeout
        if not self._lock.acquire(timeout=self._timeout):
            raise BackendError("the database is unavailable or busy; try again shortly")
        if not self._take_shared(deadline):
            self._lock.release()
            raise BackendError("the database is unavailable or busy; try again shortly")
        conn.info["writing"] = True

    def _take_shared(self, deadline: float) -> bool:
        if self._shared is None or fcntl is None:
            return True
        try:
            if self._fd is None:
                self._fd = os.open(self._shared, os.O_RDWR | os.O_CREAT, 0o600)
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(self._POLL_S)
        except OSError:  # no lock file here (a read-only directory): SQLite's busy handler alone
            log.warning(
                "cannot lock %s; writers of other processes wait in SQLite's busy handler", self._shared
            )
            self._shared = None
            return True

    def _end(self, conn: Any) -> None:
        self._release(conn.info)

    def _reset(self, _dbapi_connection: Any, record: Any, *_args: Any) -> None:
        self._release(record.info)

    def _release(self, info: dict[str, Any]) -> None:
        if info.pop("writing", False):
            if self._shared is not None and self._fd is not None and fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._lock.release()


def _engine_args(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):  # one connection, SQLAlchemy's own pool
            return {"connect_args": _connect_args(url)}
        # A SQLite connection is a file handle, cheap to keep: one for each of the API's worker
        # threads (anyio's 40), so a busy server does not open and close connections per request
        # (each open runs the pragmas below; the default pool of 5 + 10 churned under 16 customers).
        # Pooled connections need no ping: a file cannot drop them.
        return {"connect_args": _connect_args(url), "pool_size": _SQLITE_POOL, "max_overflow": 10}
    # a server connection can die while pooled (a restart, an idle timeout): ping it on checkout
    return {"connect_args": _connect_args(url), "pool_pre_ping": True}


def _connect_args(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # a writer waits up to the busy timeout for the write lock (WAL lets readers go on)
        return {"check_same_thread": False, "timeout": _BUSY_TIMEOUT_S}
    if url.startswith("postgresql"):
        # times come back in UTC whatever the server's zone; an unreachable server fails in 10 s
        return {"options": "-c timezone=UTC", "connect_timeout": 10}
    return {}


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "(an invalid database URL)"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL with synchronous=NORMAL (SQLite's recommendation for WAL) syncs at checkpoints, not at
    # every commit: still never corrupt, but a power cut may lose the last commits. FULL spent ~8 ms
    # on fsync per commit here while holding the write lock, capping the server near 100 msg/s.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
