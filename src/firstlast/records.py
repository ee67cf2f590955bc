"""The records the support desk stores, as frozen dataclasses (one per record: the database rows map
onto them in ``db.py``, the in-memory store keeps them as they are, and the API serves them).

    Conversation -> Message*     Handoff (TranscriptLine*, SourceRef*, DraftSnapshot) -> HandoffPacket
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from firstlast.types import Channel, Citation, Outcome, Role

__all__ = [
    "Assignment",
    "Conversation",
    "ConversationStatus",
    "DraftSnapshot",
    "Feedback",
    "Handoff",
    "HandoffPacket",
    "HandoffStatus",
    "HistoryEvent",
    "Message",
    "NewMessage",
    "OutboxJob",
    "PostedMessage",
    "SourceRef",
    "SuggestedReply",
    "TranscriptEntry",
    "TranscriptLine",
]


# -- what the support desk stores ---------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: int
    role: Role
    text: str
    created_at: str
    author: str = ""
    confidence: float | None = None
    citations: tuple[Citation, ...] = ()
    decision: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class NewMessage:
    """A message to store; the store gives it its id and time (then it is a :class:`Message`)."""

    role: Role
    text: str
    author: str = ""
    confidence: float | None = None
    citations: tuple[Citation, ...] = ()
    decision: str | None = None
    reason: str | None = None
    context: Mapping[str, object] = field(default_factory=dict)


class ConversationStatus(StrEnum):
    """Who answers the conversation now; the transitions are in ``handoff/states.py``."""

    BOT = "bot"
    OFFERED = "offered"  # the bot offered a person and waits for yes / no
    AWAITING_AGENT = "awaiting_agent"
    WITH_AGENT = "with_agent"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: Channel
    status: ConversationStatus
    context: Mapping[str, object]
    messages: tuple[Message, ...]
    created_at: str
    feedback: tuple[Feedback, ...] = ()
    arm: str | None = None  # the A/B rollout arm, "bot" or "control" (issue #14); None: no rollout


class HandoffStatus(StrEnum):
    """Where a handoff is; the transitions are in ``handoff/states.py``."""

    OFFERED = "offered"  # the bot offered a person; agents do not see it until the customer accepts
    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    DECLINED = "declined"


@dataclass(frozen=True)
class TranscriptLine:
    """A message as it stood when the handoff was opened."""

    role: Role
    text: str
    at: str


@dataclass(frozen=True)
class SourceRef:
    """A passage the bot found, shown to the agent (the text cut to 500 characters)."""

    doc_id: str
    chunk_id: str
    title: str
    url: str
    score: float
    text: str


@dataclass(frozen=True)
class DraftSnapshot:
    """The bot's draft when it handed off (what the suggested reply starts from)."""

    text: str = ""
    confidence: float | None = None
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Handoff:
    """Everything an agent needs so the customer never repeats themselves."""

    id: str
    conversation_id: str
    status: HandoffStatus
    reason: str
    detail: str
    question: str
    transcript: tuple[TranscriptLine, ...]
    customer_context: Mapping[str, object]
    sources: tuple[SourceRef, ...]
    draft: DraftSnapshot
    created_at: str
    agent: str | None = None
    answer: str | None = None
    resolved_at: str | None = None


@dataclass(frozen=True)
class HistoryEvent:
    """One recorded change of a handoff, suggestion or learned entry: what, who, when, details."""

    action: str
    actor: str
    at: str
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PostedMessage:
    """The result of a customer message: the bot's reply (if any) and what happened."""

    conversation_id: str
    customer_message: Message
    reply: Message | None
    outcome: Outcome | None
    handoff_id: str | None = None


# -- handoff: the agent's packet, feedback -----------------------------------------------------------


@dataclass(frozen=True)
class TranscriptEntry(TranscriptLine):
    """A line of the packet's live transcript (messages after the handoff included)."""

    message_id: int = 0
    author: str = ""
    after_handoff: bool = False  # sent after the handoff was opened (the bot stayed quiet)


@dataclass(frozen=True)
class Assignment:
    """One change of a handoff's assignee: who did it, when, from whom, to whom."""

    by: str
    at: str
    to: str
    from_: str | None = None


@dataclass(frozen=True)
class SuggestedReply:
    text: str
    source: Literal["draft", "passage", "none"]
    confidence: float | None = None
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class HandoffPacket:
    """What an agent opens: the handoff plus the live transcript, a summary and a suggested reply."""

    handoff: Handoff
    transcript: tuple[TranscriptEntry, ...]
    summary: tuple[str, ...]  # key customer sentences, extractive
    suggested_reply: SuggestedReply
    assignments: tuple[Assignment, ...]
    events: tuple[HistoryEvent, ...]


@dataclass(frozen=True)
class Feedback:
    id: int
    conversation_id: str
    created_at: str
    message_id: int | None = None
    thumbs: Literal["up", "down"] | None = None
    rating: int | None = None  # 1-5
    comment: str = ""


# -- work that follows a commit (the outbox: learning verdicts, knowledge-base writes) -------------


@dataclass(frozen=True)
class OutboxJob:
    """A job written with the change it follows, run after the commit and retried until done."""

    id: int
    kind: str  # learn | kb_sync
    key: str
    payload: Mapping[str, object]
    attempts: int = 0
    last_error: str = ""
