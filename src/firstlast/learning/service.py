"""The learning loop: an agent's answer becomes a suggestion, and an approved suggestion becomes
knowledge through the same ingest path as every other document.

    resolved handoff --judge--> customer_specific | retrieval_miss   (recorded, nothing to approve)
                           \\--> new_knowledge --> suggested (merged into a pending suggestion
                                                   asking the same question; flagged on conflict)
    suggested --approve--> approved            (written to the KB as a learned entry)
              --approve with edits--> edited   (the edited answer is written)
              --reject--> rejected             (kept, with the note)

Learned entries then live in :mod:`firstlast.learning.entries` (retire, rollback, usage, review).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstlast.db import (
    ConversationRow,
    Database,
    RetrievalMissRow,
    SuggestionFlagRow,
    SuggestionRow,
    SuggestionSourceRow,
    to_record,
    utcnow,
)
from firstlast.errors import InvalidInput, NotFound
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.entries import LearnedEntries
from firstlast.learning.generalise import generalise_question, question_reason
from firstlast.learning.pii import customer_names, scrub
from firstlast.learning.states import SUGGESTION, SuggestionEvent
from firstlast.learning.sync import KnowledgeSync
from firstlast.learning.verdict import LEARNED_SOURCE, ResolutionJudge
from firstlast.retriever.chroma_store import KnowledgeStore
from firstlast.retriever.embeddings import DocumentVectors, Embedder
from firstlast.retriever.text import content_words
from firstlast.types import (
    KnowledgeConflict,
    Resolution,
    RetrievalMiss,
    Suggestion,
    SuggestionSource,
    SuggestionStatus,
    Verdict,
)

__all__ = ["LEARNED_SOURCE", "PROMPT", "LearningService", "question_overlap"]

PROMPT = (
    "I hadn't seen this question before — is it right that, when a customer asks “{question}”, "
    "the answer is: “{answer}”?"
)


def question_overlap(a: str, b: str) -> float:
    """Content words two questions share, over the shorter question's content words."""
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / (min(len(wa), len(wb)) or 1)


class LearningService:
    """>>> resolution = learning.on_resolved(question, answer, agent="sam", handoff_id=hid)
    >>> learning.approve(resolution.suggestion.id, approver="lead@support")"""

    def __init__(
        self,
        db: Database,
        ingestor: Ingestor,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        judge: ResolutionJudge | None = None,
        same_question_similarity: float = 0.80,
        same_question_overlap: float = 0.3,
        agree_similarity: float = 0.70,
        section_sentences: int = 0,
    ) -> None:
        self._db = db
        self._ingestor = ingestor
        self._store = store
        self._embedder = embedder
        self.judge = judge or ResolutionJudge(store, embedder)
        self.sync = KnowledgeSync(db, ingestor, store, section_sentences)
        self.entries = LearnedEntries(db, self.sync)
        self._vectors = DocumentVectors(embedder)
        self.same_question_similarity = same_question_similarity
        self.same_question_overlap = same_question_overlap
        self.agree_similarity = agree_similarity

    # -- a handoff was resolved -------------------------------------------------------------------
    def on_resolved(
        self,
        question: str,
        answer: str,
        *,
        agent: str,
        handoff_id: str | None = None,
        conversation_id: str | None = None,
        names: Iterable[str] = (),
    ) -> Resolution:
        """Decide what the agent's answer means; record the verdict; suggest new knowledge."""
        verdict = self.judge.judge(question, answer, names)
        if verdict.kind == "new_knowledge":
            known = self._learned_agreeing(verdict.question, verdict.answer)
            if known is not None:
                verdict = known
        suggestion = None
        with self._db.session() as s:
            self._db.record(
                s,
                "handoff" if handoff_id else "learning",
                handoff_id or uuid.uuid4().hex,
                "verdict",
                agent,
                kind=verdict.kind,
                reason=verdict.reason,
                doc_id=verdict.doc_id,
                conversation_id=conversation_id,
            )
            if verdict.kind == "retrieval_miss":
                s.add(
                    RetrievalMissRow(
                        handoff_id=handoff_id,
                        conversation_id=conversation_id,
                        question=verdict.question,
                        answer=verdict.answer,
                        doc_id=verdict.doc_id,
                        chunk_id=verdict.chunk_id,
                        title=verdict.title,
                        similarity=verdict.similarity,
                        overlap=verdict.overlap,
                    )
                )
            elif verdict.kind == "new_knowledge":
                suggestion = self._suggest(
                    s, verdict.question, verdict.answer, agent, handoff_id, conversation_id
                )
        return Resolution(verdict, suggestion)

    def suggest(
        self,
        question: str,
        answer: str,
        *,
        agent: str,
        handoff_id: str | None = None,
        conversation_id: str | None = None,
        names: Iterable[str] = (),
    ) -> Suggestion:
        """Create (or merge into) a pending suggestion without judging it first.

        Personal data is scrubbed and the question generalised before anyone sees it; a question
        that is nothing but personal data or greetings is refused.
        """
        names = list(names)
        general_q, clean_a = generalise_question(question, names), scrub(answer.strip(), names)
        if not general_q or not clean_a:
            raise InvalidInput("a suggestion needs a question and an answer")
        reason = question_reason(general_q)
        if reason:
            raise InvalidInput(f"not suggested: {reason}")
        with self._db.session() as s:
            return self._suggest(s, general_q, clean_a, agent, handoff_id, conversation_id)

    def _suggest(
        self,
        s: Session,
        question: str,
        answer: str,
        agent: str,
        handoff_id: str | None,
        conversation_id: str | None,
    ) -> Suggestion:
        same = self._same_pending(s, question)
        if same is not None:
            row, similarity = same
            s.add(
                SuggestionSourceRow(
                    suggestion_id=row.id,
                    handoff_id=handoff_id,
                    conversation_id=conversation_id,
                    question=question,
                    answer=answer,
                    agent=agent,
                    similarity=similarity,
                )
            )
            s.flush()
            self._db.record(
                s, "suggestion", row.id, "merged", agent, handoff_id=handoff_id, similarity=similarity
            )
            return self._load(s, row)
        row = SuggestionRow(
            id=uuid.uuid4().hex,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            question=question,
            answer=answer,
            prompt=PROMPT.format(question=question, answer=answer),
            status=SuggestionStatus.PENDING,
            suggested_by=agent,
        )
        s.add(row)
        s.flush()
        s.add(
            SuggestionSourceRow(
                suggestion_id=row.id,
                handoff_id=handoff_id,
                conversation_id=conversation_id,
                question=question,
                answer=answer,
                agent=agent,
                similarity=1.0,
            )
        )
        conflict = self._conflict(question, answer)
        if conflict is not None:
            s.add(
                SuggestionFlagRow(
                    suggestion_id=row.id,
                    conflict_doc_id=conflict.doc_id,
                    conflict_text=conflict.text,
                    similarity=conflict.similarity,
                )
            )
        s.flush()
        self._db.record(
            s,
            "suggestion",
            row.id,
            "suggested",
            agent,
            handoff_id=handoff_id,
            conflict_doc_id=conflict.doc_id if conflict else None,
        )
        return self._load(s, row)

    # -- same question, agreeing or conflicting knowledge -----------------------------------------
    def _similar(self, question: str, others: Sequence[str]) -> list[tuple[int, float]]:
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

    def _agree(self, answer: str, other: str) -> bool:
        a, b = self._vectors.get([answer, other])
        return float(a @ b) >= self.agree_similarity

    def _same_pending(self, s: Session, question: str) -> tuple[SuggestionRow, float] | None:
        rows = list(
            s.scalars(
                select(SuggestionRow)
                .where(SuggestionRow.status == SuggestionStatus.PENDING)
                .order_by(SuggestionRow.created_at.desc())
                .limit(500)
            )
        )
        found = self._similar(question, [r.question for r in rows])
        return (rows[found[0][0]], found[0][1]) if found else None

    def _learned_agreeing(self, question: str, answer: str) -> Verdict | None:
        """A retrieval-miss verdict when an active learned entry already gives this answer."""
        active = self.entries.active()
        for i, sim in self._similar(question, [q for _, q, _ in active]):
            doc_id, _, known = active[i]
            if self._agree(answer, known):
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

    def _conflict(self, question: str, answer: str) -> KnowledgeConflict | None:
        """Existing knowledge asking the same question with a different answer: a learned entry, or
        an FAQ-like chunk (its title or heading is a question)."""
        active = self.entries.active()
        for i, sim in self._similar(question, [q for _, q, _ in active]):
            doc_id, _, known = active[i]
            if not self._agree(answer, known):
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
        for i, sim in self._similar(question, [heading for _, heading in faq]):
            chunk = faq[i][0]
            if not self._agree(answer, chunk.text):
                return KnowledgeConflict(chunk.doc_id, chunk.text, sim)
        return None

    # -- reads ------------------------------------------------------------------------------------
    def _load(self, s: Session, row: SuggestionRow) -> Suggestion:
        sources = list(
            s.scalars(
                select(SuggestionSourceRow)
                .where(SuggestionSourceRow.suggestion_id == row.id)
                .order_by(SuggestionSourceRow.id)
            )
        )
        flag = s.get(SuggestionFlagRow, row.id)
        return to_record(
            Suggestion,
            row,
            count=max(len(sources), 1),
            sources=[to_record(SuggestionSource, src) for src in sources],
            conflict=KnowledgeConflict(flag.conflict_doc_id, flag.conflict_text, flag.similarity)
            if flag
            else None,
        )

    def get(self, suggestion_id: str) -> Suggestion:
        with self._db.session() as s:
            return self._load(s, self._row(s, suggestion_id))

    def misses(self, doc_id: str | None = None, limit: int = 100) -> list[RetrievalMiss]:
        """Answers the knowledge base already had: the documents retrieval should have found."""
        with self._db.session() as s:
            query = select(RetrievalMissRow).order_by(RetrievalMissRow.id.desc()).limit(limit)
            if doc_id:
                query = query.where(RetrievalMissRow.doc_id == doc_id)
            return [to_record(RetrievalMiss, r) for r in s.scalars(query)]

    # -- decisions --------------------------------------------------------------------------------
    def approve(
        self, suggestion_id: str, approver: str, answer: str | None = None, review_at: date | None = None
    ) -> Suggestion:
        """Approve (optionally with an edited answer) and write it into the knowledge base.

        A suggestion that conflicts with a learned entry becomes that entry's next version (the
        older one can be rolled back to); otherwise it becomes a new learned entry.
        """
        if not approver.strip():
            raise InvalidInput("approver must not be empty")
        with self._db.session() as s:
            row = self._row(s, suggestion_id)
            edited = answer is not None and answer.strip() != "" and answer.strip() != row.answer
            status = SUGGESTION.next(row.status, SuggestionEvent.EDIT if edited else SuggestionEvent.APPROVE)
            final = scrub(answer.strip(), self._names(s, row)) if edited and answer else row.answer
            flag = s.get(SuggestionFlagRow, row.id)
            sources = s.scalars(
                select(SuggestionSourceRow).where(SuggestionSourceRow.suggestion_id == row.id)
            )
            variants = list(dict.fromkeys(src.question for src in sources if src.question != row.question))
            entry = None
            if flag is not None and flag.conflict_doc_id.startswith(f"{LEARNED_SOURCE}/"):
                entry = self.entries.supersede(
                    s,
                    flag.conflict_doc_id,
                    row.question,
                    final,
                    approver=approver,
                    suggestion_id=row.id,
                    review_at=review_at,
                    variants=variants,
                )
            if entry is None:
                entry = self.entries.create(
                    s,
                    row.id,
                    row.question,
                    final,
                    approver=approver,
                    suggestion_id=row.id,
                    review_at=review_at,
                    variants=variants,
                )
            row.status, row.final_answer, row.learned_doc_id = status, final, entry.doc_id
            row.decided_by, row.decided_at = approver, utcnow()
            self._db.record(s, "suggestion", row.id, row.status, approver, doc_id=entry.doc_id)
            approved = self._load(s, row)
        self.sync.run_pending()  # after the commit: the knowledge base follows the database
        return approved

    def reconcile(self) -> int:
        """Bring the knowledge base in line with the learned entries (start-up, after a failure)."""
        return self.sync.reconcile()

    @staticmethod
    def _row(s: Session, suggestion_id: str) -> SuggestionRow:
        row = s.get(SuggestionRow, suggestion_id)
        if row is None:
            raise NotFound(f"suggestion {suggestion_id} not found")
        return row

    def _names(self, s: Session, row: SuggestionRow) -> list[str]:
        """Customer names of every conversation behind the suggestion, to scrub an edited answer."""
        sources = s.scalars(select(SuggestionSourceRow).where(SuggestionSourceRow.suggestion_id == row.id))
        ids = [i for i in {src.conversation_id for src in sources} | {row.conversation_id} if i]
        names: list[str] = []
        for conv in s.scalars(select(ConversationRow).where(ConversationRow.id.in_(ids))):
            names += customer_names((conv.context or {}).get("attributes"))
        return names

    def reject(self, suggestion_id: str, approver: str, note: str = "") -> Suggestion:
        if not approver.strip():
            raise InvalidInput("approver must not be empty")
        with self._db.session() as s:
            row = self._row(s, suggestion_id)
            row.status = SUGGESTION.next(row.status, SuggestionEvent.REJECT)
            row.decided_by = approver
            row.decided_at = utcnow()
            row.note = note
            self._db.record(s, "suggestion", row.id, "rejected", approver, note=note)
            return self._load(s, row)

    def list(self, status: str | None = None, limit: int = 100) -> list[Suggestion]:
        with self._db.session() as s:
            query = select(SuggestionRow).order_by(SuggestionRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(SuggestionRow.status == status)
            return [self._load(s, r) for r in s.scalars(query)]
