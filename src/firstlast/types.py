"""Frozen dataclasses that travel between the stages.

    Document --chunk--> Chunk --index/search--> Hit --answer--> Draft --decide--> Decision

A `Question` carries the customer's text plus what the conversation already said, so every stage
sees the same input. Nothing here touches I/O; pydantic models live only at the edges (api/, config).
What the desk stores is in ``records.py``, what the learning loop stores in ``learning/records.py``.
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
MAX_MESSAGE_CHARS = 4000  # a customer message, checked by the API schema and by the desk
MAX_ANSWER_CHARS = 8000  # an agent's reply, an edited answer
MAX_NOTE_CHARS = 2000  # a feedback comment, a note on a decision, a page URL
MAX_NAME_CHARS = 128  # an agent, approver or actor


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
class QuestionMatch:
    """The closest question a document answers (an FAQ title, a learned entry's wordings) to a query."""

    wording: str
    similarity: float  # cosine of the query and the wording
    overlap: float  # shared content words, over the larger of the two word sets
    # cosine of what each says that the other does not (1: either adds nothing; 0: not measured)
    residual: float = 0.0


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query, with the evidence each retriever gave for it."""

    chunk: Chunk
    score: float  # fused score, higher is better
    dense_score: float | None = None  # cosine similarity, when the dense retriever found it
    lexical_score: float | None = None  # BM25 score, when the lexical retriever found it
    dense_rank: int | None = None  # 1-based
    lexical_rank: int | None = None
    question: QuestionMatch | None = None  # when the chunk's document answers known questions


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
    # what the page the customer is on is about (its title and path words, from the widget's
    # context): a weak retrieval hint, never the question itself
    page: str = ""

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
    SENSITIVE_TOPIC = "sensitive_topic"  # legal threats, cancellation with a refund, ... (settings)
    LOW_CONFIDENCE_STREAK = "low_confidence_streak"  # N low-confidence turns in a row


@dataclass(frozen=True)
class Decision:
    # "offer": the bot asks whether the customer wants a person (once per conversation);
    # "no_answer": the bot could not answer, a person was already offered and declined, so it asks the
    # customer to rephrase instead of handing off again.
    action: Literal["answer", "handoff", "offer", "no_answer"]
    reason: HandoffReason | None = None
    detail: str = ""

    @property
    def handed_off(self) -> bool:
        """The bot did not answer: it handed off, offered a person or asked to rephrase (what the
        evaluation counts). Use ``action == "handoff"`` for "a handoff is opened now"."""
        return self.action != "answer"


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


# -- handoff: conversation state for the policy ---------------------------------------------------


@dataclass(frozen=True)
class ConversationState:
    """What the handoff policy needs to know about the conversation beyond the question itself.

    The desk computes it from stored messages, so the policy stays a pure function.
    """

    low_confidence_streak: int = 0  # bot turns in a row, just before this one, that could not answer
    offered: bool = False  # a person was already offered in this conversation (offered at most once)
    out_of_hours: bool = False  # nobody is at the desk now: a handoff says so (business hours)


# -- the learning loop (issue #5): the judge's verdict ---------------------------------------------


VerdictKind = Literal["retrieval_miss", "customer_specific", "new_knowledge", "dismissed"]


@dataclass(frozen=True)
class Verdict:
    """What an agent's answer means for the knowledge base, with the reason it was decided."""

    kind: VerdictKind
    reason: str
    question: str  # generalised: personal data scrubbed, greetings and filler removed
    answer: str  # personal data scrubbed
    doc_id: str = ""  # retrieval_miss: the document that already held the answer
    chunk_id: str = ""
    title: str = ""
    similarity: float = 0.0  # cosine of the answer and the supporting chunk
    overlap: float = 0.0  # share of the answer's content words found in that chunk


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
