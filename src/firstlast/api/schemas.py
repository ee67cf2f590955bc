"""Request and response models of the HTTP API (pydantic lives only here, in config and at the
database edge).

Records go out as the frozen dataclasses of ``firstlast.types`` themselves: FastAPI serialises them,
so each record is written down once (plus its row) and there is no mapper to keep in step. What is
here is what the records do not say: request bodies with their limits, and the few responses that
combine records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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
from firstlast.retriever.text import MAX_PAGE_TITLE_CHARS
from firstlast.types import (
    MAX_ANSWER_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    Channel,
    Citation,
    Grounding,
)

MAX_ATTRIBUTES = 50  # customer attributes the widget may send with a conversation or message
MAX_ATTRIBUTE_KEY_CHARS = 64
MAX_ATTRIBUTE_VALUE_CHARS = 1000


def check_text(value: Any, where: str = "body") -> None:
    """Refuse what cannot be stored and sent back: lone surrogates (JSON may carry ``"\\ud800"``,
    which is no UTF-8), NUL characters (PostgreSQL text cannot hold them) and infinite numbers, in
    every string, key and nested value. The message never quotes the bad text."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{where}: invalid Unicode (a lone surrogate such as \\ud800); send UTF-8 text"
            ) from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{where} (a key)")
            check_text(item, f"{where}.{key}" if isinstance(key, str) and key.isidentifier() else where)
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item, where)


class Strict(BaseModel):
    """A request body: no unknown fields, and only text that can be stored and sent back."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        check_text(data)
        return data


AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ATTRIBUTE_KEY_CHARS)]
AttributeText = Annotated[str, StringConstraints(max_length=MAX_ATTRIBUTE_VALUE_CHARS)]


class CustomerContext(Strict):
    page_url: str | None = Field(None, max_length=MAX_NOTE_CHARS)
    page_title: str | None = Field(
        None,
        max_length=MAX_PAGE_TITLE_CHARS,
        description="The title the host page gives for what the customer is looking at (a product "
        "area or article): a hint for which articles the customer's questions are about",
    )
    attributes: dict[AttributeKey, AttributeText | int | float | bool | None] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description=f"At most {MAX_ATTRIBUTES}; keys up to {MAX_ATTRIBUTE_KEY_CHARS} characters, "
        f"text values up to {MAX_ATTRIBUTE_VALUE_CHARS}",
    )


class WidgetUser(Strict):
    """Who the host page says the visitor is; trusted only with a valid ``user_hash`` (issue #10)."""

    user_id: str | None = Field(None, max_length=MAX_NAME_CHARS)
    email: str | None = Field(None, max_length=MAX_NAME_CHARS)
    name: str | None = Field(None, max_length=MAX_NAME_CHARS)
    user_hash: str | None = Field(None, max_length=128, description="HMAC-SHA256 of user_id, hex")


class ConversationCreate(Strict):
    channel: Channel = "chat"
    context: CustomerContext = Field(default_factory=lambda: CustomerContext())
    user: WidgetUser | None = None
    locale: str | None = Field(None, max_length=16, description="The widget's language, e.g. ja")


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


class ErrorOut(BaseModel):
    """Every error body: ``detail`` says what is wrong; a 422 also lists each problem."""

    detail: str
    errors: list[str] | None = Field(None, description="422: one line per invalid field")


_WHY = {
    401: "No API key, or an unknown one",
    403: "The key's scope does not reach this route, or the conversation token is missing or wrong",
    404: "No such object",
    409: "The object is not in a state that allows this",
    413: "The request body is larger than the limit",
    415: "A file type with no loader",
    422: "The request is invalid; ``detail`` says why",
    429: "Too many requests from this widget key and address or to this conversation, too many open "
    "event streams for this conversation or client, or too many failed console sign-ins",
    503: "A store (database, knowledge base) is unavailable or busy; try again",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the error statuses a route returns, all with the ``ErrorOut`` body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorOut, "description": _WHY[code]}
        if code == 429:
            retry = {"description": "Seconds until a request is allowed again", "schema": {"type": "integer"}}
            out[code]["headers"] = {"Retry-After": retry}
    return out


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    url: str
    source: str
    chunks: int
    metadata: dict[str, str]


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
