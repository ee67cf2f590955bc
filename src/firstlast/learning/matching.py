"""Does a new question ask what is already known, and does its answer agree? Questions are the same
when their vectors are close *and* they share content words; answers agree when their vectors are
close. Used to merge suggestions, to turn an answer a learned entry already gives into a retrieval
miss, and to flag a suggestion that conflicts with existing knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence

from firstlast.learning.entries import LearnedEntries
from firstlast.learning.records import KnowledgeConflict
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.retriever.chroma_store import KnowledgeStore
from firstlast.retriever.embeddings import DocumentVectors, Embedder
from firstlast.retriever.text import content_words
from firstlast.types import Verdict


def question_overlap(a: str, b: str) -> float:
    """Content words two questions share, over the shorter question's content words."""
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / (min(len(wa), len(wb)) or 1)


class KnowledgeMatching:
    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        entries: LearnedEntries,
        *,
        same_question_similarity: float = 0.80,
        same_question_overlap: float = 0.3,
        agree_similarity: float = 0.70,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._entries = entries
        self._vectors = DocumentVectors(embedder)
        self.same_question_similarity = same_question_similarity
        self.same_question_overlap = same_question_overlap
        self.agree_similarity = agree_similarity

    def similar(self, question: str, others: Sequence[str]) -> list[tuple[int, float]]:
        """(index, cosine) of the ``others`` that ask the same question, most similar first."""
        if not others:
            return []
        vectors = self._vectors.get([question, *others])
        sims = vectors[1:] @ vectors[0]
        found = [
            (i, float(sim))
            for i, sim in enumerate(sims)
            if sim >= self.same_question_similarity
            and question_overlap(question, others[i]) >= self.same_question_overlap
        ]
        return sorted(found, key=lambda pair: -pair[1])

    def agree(self, answer: str, other: str) -> bool:
        a, b = self._vectors.get([answer, other])
        return float(a @ b) >= self.agree_similarity

    def learned_agreeing(self, question: str, answer: str) -> Verdict | None:
        """A retrieval-miss verdict when an active learned entry already gives this answer."""
        active = self._entries.active()
        for i, sim in self.similar(question, [q for _, q, _ in active]):
            doc_id, _, known = active[i]
            if self.agree(answer, known):
                return Verdict(
                    "retrieval_miss",
                    f"the learned entry {doc_id!r} already answers this (question similarity {sim:.2f})",
                    question,
                    answer,
                    doc_id=doc_id,
                    chunk_id="",
                    similarity=sim,
                )
        return None

    def conflict(self, question: str, answer: str) -> KnowledgeConflict | None:
        """Existing knowledge asking the same question with a different answer: a learned entry, or
        an FAQ-like chunk (its title or heading is a question)."""
        active = self._entries.active()
        for i, sim in self.similar(question, [q for _, q, _ in active]):
            doc_id, _, known = active[i]
            if not self.agree(answer, known):
                return KnowledgeConflict(doc_id, known, sim)
        if self._store.count() == 0:
            return None
        found = self._store.dense_search(self._embedder.embed_query(question), 5)
        faq = [
            (chunk, heading)
            for chunk, _ in found
            if chunk.source != LEARNED_SOURCE
            for heading in (chunk.section.split(" > ")[-1] if chunk.section else chunk.title,)
            if heading.rstrip().endswith("?")
        ]
        for i, sim in self.similar(question, [heading for _, heading in faq]):
            chunk = faq[i][0]
            if not self.agree(answer, chunk.text):
                return KnowledgeConflict(chunk.doc_id, chunk.text, sim)
        return None
