"""The desk's store on SQLAlchemy (SQLite by default): the product's implementation of ``DeskStore``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from firstlast.db import (
    ConversationRow,
    Database,
    EventRow,
    FeedbackRow,
    HandoffRow,
    IdempotencyRow,
    MessageRow,
    OutboxRow,
    new_event,
    utcnow,
)
from firstlast.errors import AlreadyAnswered, NotFound
from firstlast.handoff.states import State
from firstlast.mapping import from_columns, row_values, to_record
from firstlast.records import (
    Conversation,
    ConversationStatus,
    Feedback,
    Handoff,
    HandoffStatus,
    HistoryEvent,
    Message,
    NewMessage,
    OutboxJob,
)
from firstlast.types import Channel

_MESSAGES = cast(Table, MessageRow.__table__)
_ADD_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)


class SqlDeskStore:
    """>>> with SqlDeskStore(db).transaction() as tx: tx.handoffs(HandoffStatus.OPEN)"""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def transaction(self) -> Iterator[SqlDeskTransaction]:
        with self._db.session() as session:
            yield SqlDeskTransaction(session)


class SqlDeskTransaction:
    def __init__(self, session: Session) -> None:
        self._s = session
        # The status of each conversation and handoff as this transaction first read it: a status
        # change is conditional on it. (The row itself is read again later, and a fresh read may
        # already show another transaction's commit: two agents both resolved one handoff on SQLite
        # when the condition was the re-read status.)
        self._read: dict[tuple[str, str], str] = {}
        # The rows this transaction read, held: the session's identity map keeps rows only while
        # something refers to them, and a row read again after its record was made would be
        # SELECTed again (a post read its conversation's row three times).
        self._held: dict[tuple[str, str], object] = {}

    # -- conversations and their messages ---------------------------------------------------------
    def add_conversation(
        self,
        conversation_id: str,
        token_hash: str,
        channel: Channel,
        context: Mapping[str, Any],
        arm: str | None = None,
    ) -> None:
        row = ConversationRow(
            id=conversation_id, token_hash=token_hash, channel=channel, status=State.BOT, arm=arm
        )
        self._s.add(row)
        row.context = dict(context)
        self._s.flush()
        self._held["conversation", conversation_id] = row

    def _conversation_row(self, conversation_id: str) -> ConversationRow:
        row = self._s.get(ConversationRow, conversation_id)
        if row is None:
            raise NotFound(f"conversation {conversation_id} not found")
        self._read.setdefault(("conversation", conversation_id), row.status)
        self._held["conversation", conversation_id] = row
        return row

    def conversation(
        self, conversation_id: str, known: Conversation | None = None, *, feedback: bool = True
    ) -> Conversation:
        row = self._conversation_row(conversation_id)
        if known is not None and known.id == row.id:
            # a post reads the conversation, answers outside a transaction, then writes after reading
            # it again: messages are only ever added, so those read before stay as they were, and
            # the feedback is kept as first read (a post does not look at it)
            after = known.messages[-1].id if known.messages else 0
            return to_record(
                Conversation,
                row,
                messages=[*known.messages, *self.messages(row.id, after=after)],
                feedback=list(known.feedback),
            )
        rated = (
            self._s.scalars(
                select(FeedbackRow).where(FeedbackRow.conversation_id == row.id).order_by(FeedbackRow.id)
            )
            if feedback
            else ()
        )
        return to_record(
            Conversation,
            row,
            messages=self.messages(row.id),
            feedback=[to_record(Feedback, f) for f in rated],
        )

    def token_hash(self, conversation_id: str) -> str:
        return self._conversation_row(conversation_id).token_hash

    def save_conversation(self, conversation: Conversation) -> None:
        row = self._conversation_row(conversation.id)
        seen = ("conversation", conversation.id)
        Database.change_status(self._s, row, conversation.status, read=self._read[seen])  # Conflict if raced
        self._read[seen] = conversation.status
        row.context, row.updated_at = dict(conversation.context), utcnow()

    # Messages are written and read as table rows, without the ORM's unit of work and identity map
    # (a post adds two and reads them twice; the ORM's part was most of their cost)
    def add_message(self, conversation_id: str, message: NewMessage) -> Message:
        values = {
            "conversation_id": conversation_id,
            "created_at": utcnow(),
            **row_values(MessageRow, message),
        }
        new_id = self._s.execute(_ADD_MESSAGE, values).scalar_one()
        return from_columns(Message, values, id=new_id)

    def messages(
        self,
        conversation_id: str,
        up_to: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[Message]:
        query = select(_MESSAGES).where(_MESSAGES.c.conversation_id == conversation_id)
        if up_to is not None:
            query = query.where(_MESSAGES.c.id <= up_to)
        if after is not None:
            query = query.where(_MESSAGES.c.id > after)
        query = query.order_by(_MESSAGES.c.id).limit(limit)
        return [from_columns(Message, m._asdict()) for m in self._s.execute(query)]

    def conversation_status(self, conversation_id: str) -> ConversationStatus:
        status = self._s.scalar(select(ConversationRow.status).where(ConversationRow.id == conversation_id))
        if status is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return ConversationStatus(status)

    def kept_response(self, conversation_id: str, key: str) -> tuple[str, dict[str, Any] | None] | None:
        row = self._s.get(IdempotencyRow, (conversation_id, key))
        return None if row is None else (row.request_hash, row.response)

    def keep_response(
        self, conversation_id: str, key: str, request_hash: str, response: dict[str, Any]
    ) -> None:
        # Called last in a post's write transaction, which holds SQLite's write lock by now, so a
        # request with the same key that committed meanwhile is seen here; on PostgreSQL one still
        # in flight makes the insert fail on the key (a database error, which the API also replays).
        row = self._s.get(IdempotencyRow, (conversation_id, key))
        if row is not None and row.response is not None:
            raise AlreadyAnswered(f"a request with this Idempotency-Key was answered first ({key})")
        if row is None:
            row = IdempotencyRow(conversation_id=conversation_id, key=key)
            self._s.add(row)
        row.request_hash, row.response = request_hash, response
        self._s.flush()

    # -- handoffs ---------------------------------------------------------------------------------
    def add_handoff(self, handoff: Handoff) -> None:
        row = HandoffRow(**row_values(HandoffRow, handoff))
        self._s.add(row)
        self._s.flush()
        self._held["handoff", handoff.id] = row

    def _handoff_row(self, handoff_id: str) -> HandoffRow:
        row = self._s.get(HandoffRow, handoff_id)
        if row is None:
            raise NotFound(f"handoff {handoff_id} not found")
        self._read.setdefault(("handoff", handoff_id), row.status)
        self._held["handoff", handoff_id] = row
        return row

    def handoff(self, handoff_id: str) -> Handoff:
        return to_record(Handoff, self._handoff_row(handoff_id))

    def save_handoff(self, handoff: Handoff) -> None:
        row = self._handoff_row(handoff.id)
        seen = ("handoff", handoff.id)
        Database.change_status(self._s, row, handoff.status, read=self._read[seen])  # Conflict if raced
        self._read[seen] = handoff.status
        for key, value in row_values(HandoffRow, handoff, skip=("id", "created_at", "status")).items():
            setattr(row, key, value)
        self._s.flush()

    def handoffs(self, status: HandoffStatus | None = None, limit: int = 100) -> list[Handoff]:
        query = select(HandoffRow).order_by(HandoffRow.created_at.desc()).limit(limit)
        if status:
            query = query.where(HandoffRow.status == status)
        return [to_record(Handoff, r) for r in self._s.scalars(query)]

    def offered_handoff(self, conversation_id: str) -> Handoff | None:
        row = self._s.scalars(
            select(HandoffRow)
            .where(HandoffRow.conversation_id == conversation_id, HandoffRow.status == HandoffStatus.OFFERED)
            .order_by(HandoffRow.created_at.desc())
        ).first()
        return to_record(Handoff, row) if row is not None else None

    # -- history and the outbox -------------------------------------------------------------------
    def record(self, entity: str, entity_id: str, action: str, actor: str, **detail: Any) -> None:
        self._s.add(new_event(self._s, entity, entity_id, action, actor, detail))
        self._s.flush()

    def events(self, entity: str, entity_id: str) -> list[HistoryEvent]:
        rows = self._s.scalars(
            select(EventRow)
            .where(EventRow.entity == entity, EventRow.entity_id == entity_id)
            .order_by(EventRow.id)
        )
        return [to_record(HistoryEvent, e) for e in rows]

    def history_since(self, entity: str, after: int, limit: int = 100) -> list[tuple[int, str, HistoryEvent]]:
        rows = self._s.scalars(
            select(EventRow)
            .where(EventRow.entity == entity, EventRow.id > after)
            .order_by(EventRow.id)
            .limit(limit)
        )
        return [(e.id, e.entity_id, to_record(HistoryEvent, e)) for e in rows]

    def history_head(self) -> int:
        return int(self._s.scalar(select(func.max(EventRow.id))) or 0)

    def enqueue(self, kind: str, key: str, payload: Mapping[str, Any]) -> None:
        self._s.add(OutboxRow(kind=kind, key=key, payload=dict(payload)))
        self._s.flush()

    def pending(self, kind: str, limit: int = 100) -> list[OutboxJob]:
        rows = self._s.scalars(
            select(OutboxRow)
            .where(OutboxRow.kind == kind, OutboxRow.done_at.is_(None))
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return [to_record(OutboxJob, r) for r in rows]

    def finish(self, job_id: int, error: str = "") -> None:
        row = self._s.get(OutboxRow, job_id)
        if row is None:
            raise NotFound(f"outbox job {job_id} not found")
        row.attempts += 1
        row.last_error = error[:2000]
        if not error:
            row.done_at = utcnow()
