"""Request and response models of the HTTP API (pydantic lives only here and in config)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firstlast.types import (
    Citation,
    Conversation,
    Feedback,
    Grounding,
    Handoff,
    HandoffPacket,
    LearnedEntry,
    Message,
    RetrievalMiss,
    Suggestion,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerContext(Strict):
    page_url: str | None = Field(None, max_length=2000)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class ConversationCreate(Strict):
    channel: Literal["chat", "email", "sms", "messenger"] = "chat"
    context: CustomerContext = Field(default_factory=lambda: CustomerContext())


class MessageCreate(Strict):
    text: str = Field(min_length=1, max_length=4000)
    context: CustomerContext | None = None


class CitationOut(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    url: str = ""

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(doc_id=c.doc_id, chunk_id=c.chunk_id, title=c.title, url=c.url)


class MessageOut(BaseModel):
    id: int
    role: str
    author: str = ""
    text: str
    created_at: str
    confidence: float | None = None
    citations: list[CitationOut] = []
    decision: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            id=m.id,
            role=m.role,
            author=m.author,
            text=m.text,
            created_at=m.created_at,
            confidence=m.confidence,
            citations=[CitationOut.of(c) for c in m.citations],
            decision=m.decision,
            reason=m.reason,
        )


class ConversationOut(BaseModel):
    id: str
    channel: str
    status: str
    context: dict[str, Any]
    created_at: str
    messages: list[MessageOut]
    feedback: list[FeedbackOut] = []

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        return cls(
            id=c.id,
            channel=c.channel,
            status=c.status,
            context=dict(c.context),
            created_at=c.created_at,
            messages=[MessageOut.of(m) for m in c.messages],
            feedback=[FeedbackOut.of(f) for f in c.feedback],
        )


class ConversationCreated(ConversationOut):
    token: str = Field(description="Send as X-Conversation-Token on this conversation's routes")


class ReplyOut(BaseModel):
    conversation_id: str
    message: MessageOut
    reply: MessageOut | None = Field(None, description="None while an agent owns the conversation")
    decision: str | None = None
    reason: str | None = None
    confidence: float | None = None
    citations: list[CitationOut] = []
    handoff_id: str | None = None
    # issue #4: how an LLM reply was grounded, and timings
    grounding: GroundingOut | None = Field(None, description="Set when the LLM answerer ran")
    latency_ms: float | None = None
    first_delta_ms: float | None = None


class GroundingOut(BaseModel):
    """The grounding guard's decision on a generated reply: "llm" (sent, maybe trimmed) or "fallback"."""

    mode: str
    reason: str
    dropped: list[str] = []
    support: float = 0.0
    model: str = ""

    @classmethod
    def of(cls, g: Grounding) -> GroundingOut:
        return cls(mode=g.mode, reason=g.reason, dropped=list(g.dropped), support=g.support, model=g.model)


class HandoffOut(BaseModel):
    id: str
    conversation_id: str
    status: str
    reason: str
    detail: str
    question: str
    transcript: list[dict[str, Any]]
    customer_context: dict[str, Any]
    sources: list[dict[str, Any]]
    draft: dict[str, Any]
    created_at: str
    agent: str | None = None
    answer: str | None = None
    resolved_at: str | None = None

    @classmethod
    def of(cls, h: Handoff) -> HandoffOut:
        return cls(
            id=h.id,
            conversation_id=h.conversation_id,
            status=h.status,
            reason=h.reason,
            detail=h.detail,
            question=h.question,
            transcript=[dict(t) for t in h.transcript],
            customer_context=dict(h.customer_context),
            sources=[dict(x) for x in h.sources],
            draft=dict(h.draft),
            created_at=h.created_at,
            agent=h.agent,
            answer=h.answer,
            resolved_at=h.resolved_at,
        )


class AgentReply(Strict):
    agent: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=8000)
    learn: bool = True
    resolve: bool = Field(True, description="Resolve the handoff with this reply (false: keep it open)")


class SuggestionOut(BaseModel):
    id: str
    question: str
    answer: str
    prompt: str
    status: str
    created_at: str
    handoff_id: str | None = None
    conversation_id: str | None = None
    suggested_by: str = ""
    decided_by: str | None = None
    decided_at: str | None = None
    final_answer: str | None = None
    learned_doc_id: str | None = None
    note: str = ""
    # -- learning loop (issue #5) --
    count: int = Field(1, description="How many conversations asked this question")
    sources: list[SuggestionSourceOut] = []
    conflict: ConflictOut | None = Field(None, description="Existing knowledge that answers differently")

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        values = {k: v for k, v in s.__dict__.items() if k not in ("sources", "conflict")}
        return cls(
            **values,
            sources=[SuggestionSourceOut(**src.__dict__) for src in s.sources],
            conflict=ConflictOut(**s.conflict.__dict__) if s.conflict else None,
        )


class AgentReplyOut(BaseModel):
    handoff: HandoffOut
    suggestion: SuggestionOut | None


class Approve(Strict):
    approver: str = Field(min_length=1, max_length=128)
    answer: str | None = Field(None, min_length=1, max_length=8000, description="An edited answer")
    review_at: date | None = Field(None, description="When the learned entry should be reviewed again")


class Reject(Strict):
    approver: str = Field(min_length=1, max_length=128)
    note: str = Field("", max_length=2000)


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


class SuggestedReplyOut(BaseModel):
    text: str
    source: Literal["draft", "passage", "none"]
    confidence: float | None = None
    citations: list[CitationOut] = []


class AssignmentOut(BaseModel):
    by: str
    at: str
    to: str
    from_: str | None = Field(None, serialization_alias="from")


class HandoffPacketOut(HandoffOut):
    """``transcript`` here is live: every message up to the resolution, including those sent after
    the handoff (``after_handoff``)."""

    summary: list[str]
    suggested_reply: SuggestedReplyOut
    assignee: str | None
    assignments: list[AssignmentOut]
    events: list[dict[str, Any]]

    @classmethod
    def of_packet(cls, p: HandoffPacket) -> HandoffPacketOut:
        base = HandoffOut.of(p.handoff).model_dump()
        base["transcript"] = [dict(t.__dict__) for t in p.transcript]
        r = p.suggested_reply
        return cls(
            **base,
            summary=list(p.summary),
            suggested_reply=SuggestedReplyOut(
                text=r.text,
                source=r.source,
                confidence=r.confidence,
                citations=[CitationOut.of(c) for c in r.citations],
            ),
            assignee=p.handoff.agent,
            assignments=[AssignmentOut(**a.__dict__) for a in p.assignments],
            events=[dict(e) for e in p.events],
        )


class Assign(Strict):
    agent: str = Field(min_length=1, max_length=128, description="The new assignee")
    by: str | None = Field(None, min_length=1, max_length=128, description="Who assigns (default: agent)")


class Resolve(Strict):
    agent: str = Field(min_length=1, max_length=128)
    learn: bool = True


class FeedbackCreate(Strict):
    thumbs: Literal["up", "down"] | None = None
    rating: int | None = Field(None, ge=1, le=5)
    comment: str = Field("", max_length=2000)
    message_id: int | None = Field(
        None, description="The bot or agent reply rated; must be in this conversation"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> FeedbackCreate:
        if (self.thumbs is None) == (self.rating is None):
            raise ValueError("give either thumbs ('up' or 'down') or a rating from 1 to 5")
        return self


class FeedbackOut(BaseModel):
    id: int
    conversation_id: str
    message_id: int | None
    thumbs: str | None
    rating: int | None
    comment: str
    created_at: str

    @classmethod
    def of(cls, f: Feedback) -> FeedbackOut:
        return cls(**f.__dict__)


ConversationOut.model_rebuild()
ConversationCreated.model_rebuild()

# -- learning loop (issue #5): suggestion sources and conflicts, learned entries, retrieval misses ---


class SuggestionSourceOut(BaseModel):
    handoff_id: str | None
    conversation_id: str | None
    question: str
    answer: str
    agent: str
    similarity: float
    created_at: str


class ConflictOut(BaseModel):
    doc_id: str
    text: str
    similarity: float


class LearnedVersionOut(BaseModel):
    version: int
    question: str
    answer: str
    approved_by: str
    approved_at: str
    status: str
    suggestion_id: str | None = None
    variants: list[str] = []


class LearnedEntryOut(BaseModel):
    id: str
    doc_id: str
    question: str
    answer: str
    status: str
    version: int
    created_by: str
    created_at: str
    updated_at: str
    review_at: str | None = None
    usage_count: int = Field(description="Bot replies that cited this entry")
    versions: list[LearnedVersionOut] = []
    feedback: dict[str, float] | None = Field(
        None, description="Customer feedback on replies citing this entry (wired with the feedback table)"
    )

    @classmethod
    def of(cls, e: LearnedEntry) -> LearnedEntryOut:
        values = {k: v for k, v in e.__dict__.items() if k not in ("versions", "feedback")}
        return cls(
            **values,
            versions=[LearnedVersionOut(**v.__dict__) for v in e.versions],
            feedback=dict(e.feedback) if e.feedback is not None else None,
        )


class RetrievalMissOut(BaseModel):
    id: int
    question: str
    answer: str
    doc_id: str
    chunk_id: str
    title: str
    similarity: float
    overlap: float
    created_at: str
    handoff_id: str | None = None
    conversation_id: str | None = None

    @classmethod
    def of(cls, m: RetrievalMiss) -> RetrievalMissOut:
        return cls(**m.__dict__)


class LearnedAction(Strict):
    actor: str = Field(min_length=1, max_length=128)
    note: str = Field("", max_length=2000)


class LearnedReview(Strict):
    actor: str = Field(min_length=1, max_length=128)
    review_at: date | None = Field(None, description="The next review date; null clears it")
