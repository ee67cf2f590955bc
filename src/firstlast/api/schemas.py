"""Request and response models of the HTTP API (pydantic lives only here, in config and at the
database edge).

Records go out as the frozen dataclasses of ``firstlast.types`` themselves: FastAPI serialises them,
so each record is written down once (plus its row) and there is no mapper to keep in step. What is
here is what the records do not say: request bodies with their limits, and the few responses that
combine records.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firstlast.learning.records import Suggestion
from firstlast.records import (
    Conversation,
    Handoff,
    HandoffPacket,
    HistoryEvent,
    Message,
    PostedMessage,
    SuggestedReply,
    TranscriptEntry,
)
from firstlast.types import (
    MAX_ANSWER_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    Channel,
    Citation,
    Grounding,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerContext(Strict):
    page_url: str | None = Field(None, max_length=MAX_NOTE_CHARS)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class ConversationCreate(Strict):
    channel: Channel = "chat"
    context: CustomerContext = Field(default_factory=lambda: CustomerContext())


class MessageCreate(Strict):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    context: CustomerContext | None = None


@dataclass(frozen=True)
class ConversationCreated(Conversation):
    token: str = ""  # send as X-Conversation-Token on this conversation's routes

    @classmethod
    def of(cls, conversation: Conversation, token: str) -> ConversationCreated:
        return cls(**{f.name: getattr(conversation, f.name) for f in fields(Conversation)}, token=token)


class ReplyOut(BaseModel):
    conversation_id: str
    message: Message
    reply: Message | None = Field(None, description="None while an agent owns the conversation")
    decision: str | None = None
    reason: str | None = None
    confidence: float | None = None
    citations: list[Citation] = []
    handoff_id: str | None = None
    # issue #4: how an LLM reply was grounded, and timings
    grounding: Grounding | None = Field(None, description="Set when the LLM answerer ran")
    latency_ms: float | None = None
    first_delta_ms: float | None = None

    @classmethod
    def of(cls, posted: PostedMessage) -> ReplyOut:
        reply, outcome = posted.reply, posted.outcome
        return cls(
            conversation_id=posted.conversation_id,
            message=posted.customer_message,
            reply=reply,
            decision=reply.decision if reply else None,
            reason=reply.reason if reply else None,
            confidence=reply.confidence if reply else None,
            citations=list(reply.citations) if reply else [],
            handoff_id=posted.handoff_id,
            grounding=outcome.draft.grounding if outcome and outcome.draft else None,
            latency_ms=outcome.latency_ms if outcome else None,
            first_delta_ms=outcome.first_delta_ms if outcome else None,
        )


class AgentReply(Strict):
    agent: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    text: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    learn: bool = True
    resolve: bool = Field(True, description="Resolve the handoff with this reply (false: keep it open)")


class AgentReplyOut(BaseModel):
    handoff: Handoff
    suggestion: Suggestion | None


class Approve(Strict):
    approver: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    answer: str | None = Field(
        None, min_length=1, max_length=MAX_ANSWER_CHARS, description="An edited answer"
    )
    review_at: date | None = Field(None, description="When the learned entry should be reviewed again")


class Revive(Strict):
    actor: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


class Reject(Strict):
    approver: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    note: str = Field("", max_length=MAX_NOTE_CHARS)


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    url: str
    source: str
    chunks: int
    metadata: dict[str, str]


class IngestOut(BaseModel):
    documents_seen: int
    added: int
    updated: int
    unchanged: int
    removed: int
    chunks_written: int
    chunks_embedded: int


# -- handoff: the packet, assignment, resolution, feedback ---------------------------------------


class AssignmentOut(BaseModel):
    by: str
    at: str
    to: str
    from_: str | None = Field(None, serialization_alias="from")


@dataclass(frozen=True)
class HandoffPacketOut(Handoff):
    """The handoff, with a live ``transcript``: every message up to the resolution, including those
    sent after the handoff (``after_handoff``)."""

    transcript: tuple[TranscriptEntry, ...]
    summary: tuple[str, ...] = ()
    suggested_reply: SuggestedReply | None = None
    assignee: str | None = None
    assignments: tuple[AssignmentOut, ...] = ()
    events: tuple[HistoryEvent, ...] = ()

    @classmethod
    def of(cls, p: HandoffPacket) -> HandoffPacketOut:
        handoff = {f.name: getattr(p.handoff, f.name) for f in fields(Handoff)}
        return cls(
            **{**handoff, "transcript": p.transcript},
            summary=p.summary,
            suggested_reply=p.suggested_reply,
            assignee=p.handoff.agent,
            assignments=tuple(AssignmentOut(**a.__dict__) for a in p.assignments),
            events=p.events,
        )


class Assign(Strict):
    agent: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description="The new assignee")
    by: str | None = Field(
        None, min_length=1, max_length=MAX_NAME_CHARS, description="Who assigns (default: agent)"
    )


class Resolve(Strict):
    agent: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    learn: bool = True


class FeedbackCreate(Strict):
    thumbs: Literal["up", "down"] | None = None
    rating: int | None = Field(None, ge=1, le=5)
    comment: str = Field("", max_length=MAX_NOTE_CHARS)
    message_id: int | None = Field(
        None, description="The bot or agent reply rated; must be in this conversation"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> FeedbackCreate:
        if (self.thumbs is None) == (self.rating is None):
            raise ValueError("give either thumbs ('up' or 'down') or a rating from 1 to 5")
        return self


# -- learning loop (issue #5): actions on learned entries ----------------------------------------


class LearnedAction(Strict):
    actor: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    note: str = Field("", max_length=MAX_NOTE_CHARS)


class LearnedReview(Strict):
    actor: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    review_at: date | None = Field(None, description="The next review date; null clears it")
