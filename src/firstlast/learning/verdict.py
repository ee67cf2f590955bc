"""What an agent's answer means, decided when a handoff is resolved.

customer-specific   the answer only fits this customer (their order, an action taken for them,
                    mostly personal data)                        -> nothing to learn
retrieval miss      the knowledge base already said it: a non-learned chunk supports the answer
                    (cosine of answer and chunk AND the share of the answer's content words in
                    the chunk both clear measured thresholds)   -> recorded against that document
new knowledge       everything else                               -> a suggestion for approval

>>> judge.judge("Hi! Can I get a refund on the yearly plan?", "Yes, within 14 days.")
Verdict(kind='retrieval_miss', reason='...', doc_id='billing-refund-policy', ...)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from firstlast.learning.generalise import generalise_question, personal_reason, question_reason
from firstlast.learning.pii import scrub
from firstlast.retriever.chroma_store import KnowledgeStore
from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.lexical import index_text
from firstlast.retriever.questions import LEARNED_SOURCE
from firstlast.retriever.text import content_words
from firstlast.types import Chunk, Verdict

__all__ = ["LEARNED_SOURCE", "ResolutionJudge", "Support", "supports"]


@dataclass(frozen=True)
class Support:
    """How strongly one stored chunk supports an answer."""

    chunk: Chunk
    similarity: float  # cosine of answer and chunk
    overlap: float  # share of the answer's content words present in the chunk


def overlap(answer: str, chunk: Chunk) -> float:
    words = content_words(answer)
    return len(words & content_words(index_text(chunk))) / (len(words) or 1)


def supports(
    store: KnowledgeStore, embedder: Embedder, answer: str, k: int = 8, *, learned: bool = False
) -> list[Support]:
    """The chunks nearest to the answer, best first; only learned or only non-learned ones."""
    vector = embedder.embed_query(answer)
    found = store.dense_search(np.asarray(vector), k)
    return sorted(
        (
            Support(chunk, similarity, overlap(answer, chunk))
            for chunk, similarity in found
            if (chunk.source == LEARNED_SOURCE) == learned
        ),
        key=lambda s: -(s.similarity + s.overlap),
    )


class ResolutionJudge:
    """Decides the verdict for an agent's answer; thresholds come from ``LearningSettings``."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        miss_similarity: float = 0.85,
        miss_overlap: float = 0.75,
        max_personal_share: float = 0.25,
    ) -> None:
        for name, value in (
            ("miss_similarity", miss_similarity),
            ("miss_overlap", miss_overlap),
            ("max_personal_share", max_personal_share),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self._store = store
        self._embedder = embedder
        self.miss_similarity = miss_similarity
        self.miss_overlap = miss_overlap
        self.max_personal_share = max_personal_share

    def judge(self, question: str, answer: str, names: Iterable[str] = ()) -> Verdict:
        names = list(names)
        general_q = generalise_question(question, names)
        clean_a = scrub(answer.strip(), names)
        reason = personal_reason(clean_a, self.max_personal_share)
        if reason:
            return Verdict("customer_specific", reason, general_q, clean_a)
        reason = question_reason(general_q, question)
        if reason:
            return Verdict("customer_specific", reason, general_q, clean_a)
        best = self.strongest_support(clean_a)
        if best is not None:
            return Verdict(
                "retrieval_miss",
                f"the knowledge base already says this in {best.chunk.doc_id!r} "
                f"(similarity {best.similarity:.2f}, {best.overlap:.0%} of the answer's words)",
                general_q,
                clean_a,
                doc_id=best.chunk.doc_id,
                chunk_id=best.chunk.id,
                title=best.chunk.title,
                similarity=best.similarity,
                overlap=best.overlap,
            )
        return Verdict(
            "new_knowledge", "nothing in the knowledge base supports this answer", general_q, clean_a
        )

    def strongest_support(self, answer: str) -> Support | None:
        """The best non-learned chunk that supports the answer past both thresholds, if any."""
        if self._store.count() == 0:
            return None
        for support in supports(self._store, self._embedder, answer):
            if support.similarity >= self.miss_similarity and support.overlap >= self.miss_overlap:
                return support
        return None
