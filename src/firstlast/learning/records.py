"""The records the learning loop stores, as frozen dataclasses (rows map onto them in ``db.py``).

Suggestion (SuggestionSource*, KnowledgeConflict) --approve--> LearnedEntry (LearnedVersion*)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from firstlast.types import Verdict

__all__ = [
    "EntryStatus",
    "KnowledgeConflict",
    "LearnedEntry",
    "LearnedVersion",
    "Resolution",
    "RetrievalMiss",
    "Suggestion",
    "SuggestionSource",
    "SuggestionStatus",
    "VersionStatus",
]


class SuggestionStatus(StrEnum):
    """Where a suggestion is; the transitions are in ``learning/states.py``."""

    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"  # approved with an edited answer
    REJECTED = "rejected"
    RETIRED = "retired"  # its learned entry left the knowledge base
    EXPIRED = "expired"  # pending for longer than the review window; can be revived


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
    expires_at: str | None = None  # a pending suggestion nobody reviews expires then (issue #12)


# -- the learning loop (issue #5) ---------------------------------------------------------------


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
