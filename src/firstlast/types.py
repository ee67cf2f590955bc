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
MAX_MESSAGE_CHARS = 4000  # a customer message, checked by the API schema and by the desk


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


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: Channel
    status: str  # bot | offered | awaiting_agent | with_agent | resolved (handoff/states.py)
    context: Mapping[str, object]
    messages: tuple[Message, ...]
    created_at: str
    feedback: tuple[Feedback, ...] = ()


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


class SuggestionStatus(StrEnum):
    """Where a suggestion is; the transitions are in ``learning/states.py``."""

    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"  # approved with an edited answer
    REJECTED = "rejected"
    RETIRED = "retired"  # its learned entry left the knowledge base


class EntryStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class VersionStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class Suggestion:
    """A candidate piece of knowledge learned from an agent's answer, waiting for approval."""

    id: str
    question: str
    answer: str
    prompt: str  # "I hadn't seen this question before — is it right that …?"
    status: SuggestionStatus
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
    count: int = 1  # how many conversations asked this (dedupe merges them)
    sources: tuple[SuggestionSource, ...] = ()
    conflict: KnowledgeConflict | None = None  # existing knowledge that says otherwise


@dataclass(frozen=True)
class PostedMessage:
    """The result of a customer message: the bot's reply (if any) and what happened."""

    conversation_id: str
    customer_message: Message
    reply: Message | None
    outcome: Outcome | None
    handoff_id: str | None = None


# -- handoff: conversation state for the policy, the agent's packet, feedback ---------------------


@dataclass(frozen=True)
class ConversationState:
    """What the handoff policy needs to know about the conversation beyond the question itself.

    The desk computes it from stored messages, so the policy stays a pure function.
    """

    low_confidence_streak: int = 0  # bot turns in a row, just before this one, that could not answer
    offered: bool = False  # a person was already offered in this conversation (offered at most once)
    out_of_hours: bool = False  # nobody is at the desk now: a handoff says so (business hours)


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


# -- the learning loop (issue #5) ---------------------------------------------------------------

VerdictKind = Literal["retrieval_miss", "customer_specific", "new_knowledge"]


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


@dataclass(frozen=True)
class SuggestionSource:
    """A conversation whose agent answer is behind a suggestion."""

    handoff_id: str | None
    conversation_id: str | None
    question: str
    answer: str
    agent: str
    similarity: float
    created_at: str


@dataclass(frozen=True)
class KnowledgeConflict:
    """Existing knowledge that answers the same question differently."""

    doc_id: str
    text: str
    similarity: float  # of the two questions


@dataclass(frozen=True)
class Resolution:
    """The learning loop's response to a resolved handoff: the verdict, and a suggestion if any."""

    verdict: Verdict
    suggestion: Suggestion | None = None


@dataclass(frozen=True)
class LearnedVersion:
    version: int
    question: str
    answer: str
    approved_by: str
    approved_at: str
    status: VersionStatus
    suggestion_id: str | None = None
    variants: tuple[str, ...] = ()  # other wordings customers used for the question


@dataclass(frozen=True)
class LearnedEntry:
    """An approved answer in the knowledge base, with its lifecycle and how often the bot used it."""

    id: str
    doc_id: str
    question: str
    answer: str
    status: EntryStatus
    version: int
    created_by: str
    created_at: str
    updated_at: str
    review_at: str | None = None
    usage_count: int = 0  # bot replies that cited this entry
    versions: tuple[LearnedVersion, ...] = ()
    # customer feedback on bot replies that cited this entry: thumbs_up, thumbs_down, ratings, mean_rating
    feedback: Mapping[str, float] | None = None


@dataclass(frozen=True)
class RetrievalMiss:
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
