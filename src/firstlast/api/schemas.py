"""Request and response models of the HTTP API (pydantic lives only here and in config)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from firstlast.types import Citation, Conversation, Grounding, Handoff, Message, Suggestion


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

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        return cls(
            id=c.id,
            channel=c.channel,
            status=c.status,
            context=dict(c.context),
            created_at=c.created_at,
            messages=[MessageOut.of(m) for m in c.messages],
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

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        return cls(**s.__dict__)


class AgentReplyOut(BaseModel):
    handoff: HandoffOut
    suggestion: SuggestionOut | None


class Approve(Strict):
    approver: str = Field(min_length=1, max_length=128)
    answer: str | None = Field(None, min_length=1, max_length=8000, description="An edited answer")


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
