"""An in-memory ``DeskStore``: the desk without a database, for fast tests of the desk's logic.

It passes the same contract as ``SqlDeskStore`` (``firstlast.testing.desk_contract``): records in
and out are the same frozen dataclasses, and a transaction that raises leaves nothing behind.

    desk = SupportDesk(MemoryDeskStore(), bot, learning)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

from firstlast.db import utcnow
from firstlast.errors import AlreadyAnswered, NotFound
from firstlast.handoff.states import State
from firstlast.records import (
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffStatus,
    HistoryEvent,
    Message,
    NewMessage,
    OutboxJob,
)
from firstlast.types import Channel


@dataclass
class _Data:
    conversations: dict[str, Conversation] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    messages: list[tuple[str, Message]] = field(default_factory=list)
    handoffs: dict[str, Handoff] = field(default_factory=dict)
    events: list[tuple[str, str, HistoryEvent]] = field(default_factory=list)
    jobs: dict[int, tuple[OutboxJob, bool]] = field(default_factory=dict)  # job, done
    responses: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)


class MemoryDeskStore:
    def __init__(self) -> None:
        self._data = _Data()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[MemoryDeskTransaction]:
        with self._lock:  # one transaction at a time; its work is a copy until it commits
            work = copy.deepcopy(self._data)
            yield MemoryDeskTransaction(work)
            self._data = work


class MemoryDeskTransaction:
    def __init__(self, data: _Data) -> None:
        self._d = data

    def add_conversation(
        self,
        conversation_id: str,
        token_hash: str,
        channel: Channel,
        context: Mapping[str, Any],
        arm: str | None = None,
    ) -> None:
        now = utcnow().isoformat()
        self._d.conversations[conversation_id] = Conversation(
            conversation_id, channel, State.BOT, dict(context), (), now, arm=arm
        )
        self._d.tokens[conversation_id] = token_hash

    def conversation(
        self, conversation_id: str, known: Conversation | None = None, *, feedback: bool = True
    ) -> Conversation:
        found = self._d.conversations.get(conversation_id)
        if found is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return replace(found, messages=tuple(self.messages(conversation_id)))

    def token_hash(self, conversation_id: str) -> str:
        self.conversation(conversation_id)
        return self._d.tokens[conversation_id]

    def save_conversation(self, conversation: Conversation) -> None:
        old = self.conversation(conversation.id)
        self._d.conversations[conversation.id] = replace(
            old, status=conversation.status, context=dict(conversation.context), messages=()
        )

    def add_message(self, conversation_id: str, message: NewMessage) -> Message:
        self.conversation(conversation_id)
        values = {f.name: getattr(message, f.name) for f in fields(Message) if hasattr(message, f.name)}
        stored = Message(id=len(self._d.messages) + 1, created_at=utcnow().isoformat(), **values)
        self._d.messages.append((conversation_id, stored))
        return stored

    def messages(
        self,
        conversation_id: str,
        up_to: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[Message]:
        found = [
            m
            for cid, m in self._d.messages
            if cid == conversation_id and (up_to is None or m.id <= up_to) and (after is None or m.id > after)
        ]
        return found[:limit] if limit is not None else found

    def conversation_status(self, conversation_id: str) -> ConversationStatus:
        return ConversationStatus(self.conversation(conversation_id).status)

    def kept_response(self, conversation_id: str, key: str) -> tuple[str, dict[str, Any] | None] | None:
        return self._d.responses.get((conversation_id, key))

    def keep_response(
        self, conversation_id: str, key: str, request_hash: str, response: dict[str, Any]
    ) -> None:
        if (conversation_id, key) in self._d.responses:
            raise AlreadyAnswered(f"a request with this Idempotency-Key was answered first ({key})")
        self._d.responses[(conversation_id, key)] = (request_hash, dict(response))

    def add_handoff(self, handoff: Handoff) -> None:
        self.conversation(handoff.conversation_id)
        self._d.handoffs[handoff.id] = handoff

    def handoff(self, handoff_id: str) -> Handoff:
        found = self._d.handoffs.get(handoff_id)
        if found is None:
            raise NotFound(f"handoff {handoff_id} not found")
        return found

    def save_handoff(self, handoff: Handoff) -> None:
        old = self.handoff(handoff.id)
        self._d.handoffs[handoff.id] = replace(handoff, created_at=old.created_at)

    def handoffs(self, status: HandoffStatus | None = None, limit: int = 100) -> list[Handoff]:
        newest = sorted(self._d.handoffs.values(), key=lambda h: h.created_at, reverse=True)
        return [h for h in newest if status is None or h.status == status][:limit]

    def offered_handoff(self, conversation_id: str) -> Handoff | None:
        offered = [
            h
            for h in self.handoffs(HandoffStatus.OFFERED, limit=len(self._d.handoffs))
            if h.conversation_id == conversation_id
        ]
        return offered[0] if offered else None

    def record(self, entity: str, entity_id: str, action: str, actor: str, **detail: Any) -> None:
        event = HistoryEvent(action, actor, utcnow().isoformat(), copy.deepcopy(detail))
        self._d.events.append((entity, entity_id, event))

    def events(self, entity: str, entity_id: str) -> list[HistoryEvent]:
        return [e for kind, ident, e in self._d.events if (kind, ident) == (entity, entity_id)]

    def history_since(self, entity: str, after: int, limit: int = 100) -> list[tuple[int, str, HistoryEvent]]:
        numbered = [(i + 1, ident, e) for i, (kind, ident, e) in enumerate(self._d.events) if kind == entity]
        return [item for item in numbered if item[0] > after][:limit]

    def history_head(self) -> int:
        return len(self._d.events)

    def enqueue(self, kind: str, key: str, payload: Mapping[str, Any]) -> None:
        job_id = len(self._d.jobs) + 1
        self._d.jobs[job_id] = (OutboxJob(job_id, kind, key, copy.deepcopy(dict(payload))), False)

    def pending(self, kind: str, limit: int = 100) -> list[OutboxJob]:
        return [job for job, done in self._d.jobs.values() if job.kind == kind and not done][:limit]

    def finish(self, job_id: int, error: str = "") -> None:
        if job_id not in self._d.jobs:
            raise NotFound(f"outbox job {job_id} not found")
        job, _ = self._d.jobs[job_id]
        self._d.jobs[job_id] = (replace(job, attempts=job.attempts + 1, last_error=error[:2000]), not error)
