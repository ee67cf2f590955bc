"""The desk's storage seam: one transaction at a time, typed records in and out.

    with store.transaction() as tx:
        conversation = tx.conversation(conversation_id)
        message = tx.add_message(conversation.id, NewMessage("customer", "Where is my invoice?"))

Two implementations pass the same contract (``firstlast.testing.desk_contract``): ``SqlDeskStore``
(SQLAlchemy, the product) and ``firstlast.testing.memory_desk.MemoryDeskStore``. A transaction
commits when its block ends and leaves nothing behind when the block raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

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


class DeskTransaction(Protocol):
    # -- conversations and their messages
    def add_conversation(
        self,
        conversation_id: str,
        token_hash: str,
        channel: Channel,
        context: Mapping[str, Any],
        arm: str | None = None,  # the A/B rollout arm (issue #14)
    ) -> None: ...
    def conversation(  # NotFound when missing
        self, conversation_id: str, known: Conversation | None = None, *, feedback: bool = True
    ) -> Conversation: ...  # with ``known`` (read before): only later messages are read, feedback kept;
    # ``feedback=False``: the customer's ratings are not read (a post does not look at them)
    def token_hash(self, conversation_id: str) -> str: ...
    def save_conversation(self, conversation: Conversation) -> None: ...  # status and context
    def add_message(self, conversation_id: str, message: NewMessage) -> Message: ...
    def messages(
        self,
        conversation_id: str,
        up_to: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[Message]: ...  # in id order; ``after`` and ``limit`` serve the event streams
    def conversation_status(self, conversation_id: str) -> ConversationStatus: ...  # NotFound when missing
    # the response a post with an Idempotency-Key got, kept in the post's own transaction:
    # (request hash, response) or None; keeping one for a key that has one raises AlreadyAnswered
    def kept_response(self, conversation_id: str, key: str) -> tuple[str, dict[str, Any] | None] | None: ...
    def keep_response(
        self, conversation_id: str, key: str, request_hash: str, response: dict[str, Any]
    ) -> None: ...

    # -- handoffs
    def add_handoff(self, handoff: Handoff) -> None: ...
    def handoff(self, handoff_id: str) -> Handoff: ...  # NotFound when missing
    def save_handoff(self, handoff: Handoff) -> None: ...
    def handoffs(self, status: HandoffStatus | None = None, limit: int = 100) -> list[Handoff]: ...
    def offered_handoff(self, conversation_id: str) -> Handoff | None: ...  # the latest one

    # -- history and the outbox
    def record(self, entity: str, entity_id: str, action: str, actor: str, **detail: Any) -> None: ...
    def events(self, entity: str, entity_id: str) -> list[HistoryEvent]: ...
    # the history of every ``entity`` after the event numbered ``after``: (number, entity id, event)
    def history_since(
        self, entity: str, after: int, limit: int = 100
    ) -> list[tuple[int, str, HistoryEvent]]: ...
    def history_head(self) -> int: ...  # the number of the newest event (0 when none)
    def enqueue(self, kind: str, key: str, payload: Mapping[str, Any]) -> None: ...
    def pending(self, kind: str, limit: int = 100) -> list[OutboxJob]: ...
    def finish(self, job_id: int, error: str = "") -> None: ...  # done, or one more failed attempt


class DeskStore(Protocol):
    def transaction(self) -> AbstractContextManager[DeskTransaction]: ...
