"""Frozen dataclasses that travel between the stages.

    Document --chunk--> Chunk --index/search--> Hit --answer--> Draft --decide--> Decision

A `Question` carries the customer's text plus what the conversation already said, so every stage
sees the same input. Nothing here touches I/O; pydantic models live only at the edges (api/, config).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

Role = Literal["customer", "bot", "agent"]
Channel = Literal["chat", "email", "sms", "messenger"]
CHANNELS: tuple[Channel, ...] = ("chat", "email", "sms", "messenger")


@dataclass(frozen=True)
class Document:
    """One knowledge-base document as loaded from a source, before chunking."""

    id: str
    title: str
    text: str
    source: str = "default"  # the ingest source that owns it (a path, "upload", "learned", ...)
    url: str = ""
    lang: str = ""
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of a document; the unit that is embedded and searched."""

    id: str
    doc_id: str
    text: str
    title: str
    section: str = ""  # heading path inside the document, "Billing > Refunds"
    url: str = ""
    lang: str = ""
    source: str = "default"
    position: int = 0
    doc_hash: str = ""
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query, with the evidence each retriever gave for it."""

    chunk: Chunk
    score: float  # fused score, higher is better
    dense_score: float | None = None  # cosine similarity, when the dense retriever found it
    lexical_score: float | None = None  # BM25 score, when the lexical retriever found it
    dense_rank: int | None = None  # 1-based
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str


@dataclass(frozen=True)
class Question:
    """What the customer asked now, with the turns before it (oldest first)."""

    text: str
    history: tuple[Turn, ...] = ()
    channel: Channel = "chat"
    lang: str = ""

    def earlier_customer_turns(self) -> list[str]:
        return [t.text for t in self.history if t.role == "customer"]


@dataclass(frozen=True)
class Citation:
    doc_id: str
    chunk_id: str
    title: str
    url: str = ""


@dataclass(frozen=True)
class Draft:
    """The answerer's proposed reply, before the handoff policy decides whether it is sent."""

    text: str  # rendered in the brand voice
    citations: tuple[Citation, ...]
    confidence: float  # calibrated probability that the reply is correct, in [0, 1]
    evidence: str = ""  # the extracted sentences, unrendered
    signals: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    grounding: Grounding | None = None  # how an LLM reply was checked (None: extractive only)


class HandoffReason(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    CUSTOMER_REQUEST = "customer_request"
    FRUSTRATION = "frustration"
    REPETITION = "repetition"
    NO_KNOWLEDGE = "no_knowledge"
    ANSWER_ERROR = "answer_error"


@dataclass(frozen=True)
class Decision:
    action: Literal["answer", "handoff"]
    reason: HandoffReason | None = None
    detail: str = ""

    @property
    def handed_off(self) -> bool:
        return self.action == "handoff"


@dataclass(frozen=True)
class Outcome:
    """One pass of the answer path: what was found, what the bot would say, and what it decided."""

    question: Question
    hits: tuple[Hit, ...]
    draft: Draft | None  # None when the answer path failed
    decision: Decision
    reply_text: str  # what the customer is shown: the draft, or the handoff message
    latency_ms: float = 0.0
    first_delta_ms: float | None = None  # time to the first streamed text (issue #4)


@dataclass(frozen=True)
class IngestReport:
    documents_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    errors: tuple[str, ...] = ()


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
class Conversation:
    id: str
    channel: Channel
    status: str  # bot | awaiting_agent | resolved
    context: Mapping[str, object]
    messages: tuple[Message, ...]
    created_at: str


@dataclass(frozen=True)
class Handoff:
    """Everything an agent needs so the customer never repeats themselves."""

    id: str
    conversation_id: str
    status: str  # open | resolved
    reason: str
    detail: str
    question: str
    transcript: tuple[Mapping[str, object], ...]
    customer_context: Mapping[str, object]
    sources: tuple[Mapping[str, object], ...]
    draft: Mapping[str, object]
    created_at: str
    agent: str | None = None
    answer: str | None = None
    resolved_at: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A candidate piece of knowledge learned from an agent's answer, waiting for approval."""

    id: str
    question: str
    answer: str
    prompt: str  # "I hadn't seen this question before — is it right that …?"
    status: str  # pending | approved | edited | rejected
    created_at: str
    handoff_id: str | None = None
    conversation_id: str | None = None
    suggested_by: str = ""
    decided_by: str | None = None
    decided_at: str | None = None
    final_answer: str | None = None
    learned_doc_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class PostedMessage:
    """The result of a customer message: the bot's reply (if any) and what happened."""

    conversation_id: str
    customer_message: Message
    reply: Message | None
    outcome: Outcome | None
    handoff_id: str | None = None


# -- generation (issue #4: LLM answerer, grounding guard) ---------------------------------------


@dataclass(frozen=True)
class Grounding:
    """What the grounding guard decided about a generated reply, and why.

    ``mode`` is "llm" when the generated (possibly trimmed) reply is used and "fallback" when the
    extractive reply replaced it; ``reason`` says why (e.g. "all sentences supported",
    "2 unsupported sentences removed", "llm error: ReadTimeout").
    """

    mode: Literal["llm", "fallback"]
    reason: str
    kept: tuple[str, ...] = ()  # generated sentences that were sent
    dropped: tuple[str, ...] = ()  # generated sentences that were removed as unsupported
    support: float = 0.0  # mean support (cosine) of the kept sentences
    model: str = ""
