"""The learning loop: an agent's answer becomes a suggestion, and an approved suggestion becomes
knowledge through the same ingest path as every other document.

    resolved handoff --judge--> customer_specific | retrieval_miss   (recorded, nothing to approve)
                           \\--> new_knowledge --> suggested (merged into a pending suggestion
                                                   asking the same question; flagged on conflict)
    suggested --approve--> approved            (written to the KB as a learned entry)
              --approve with edits--> edited   (the edited answer is written)
              --reject--> rejected             (kept, with the note; the same answer to the
                                                same question is not suggested again)
              --expire--> expired              (nobody reviewed it in ``ttl``; --revive--> pending)

Learned entries then live in :mod:`firstlast.learning.entries` (retire, rollback, usage, review).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstlast.db import (
    Database,
    RetrievalMissRow,
    SuggestionFlagRow,
    SuggestionRow,
    SuggestionSourceRow,
    utcnow,
)
from firstlast.errors import Conflict, InvalidInput
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.decisions import SuggestionDecisions, load_suggestion, suggestion_row
from firstlast.learning.entries import LearnedEntries
from firstlast.learning.generalise import generalise_question, question_reason
from firstlast.learning.matching import KnowledgeMatching, question_overlap
from firstlast.learning.pii import scrub
from firstlast.learning.records import (
    KnowledgeConflict,
    Resolution,
    RetrievalMiss,
    Suggestion,
    SuggestionStatus,
)
from firstlast.learning.states import SUGGESTION, SuggestionEvent
from firstlast.learning.sync import KnowledgeSync
from firstlast.learning.verdict import LEARNED_SOURCE, ResolutionJudge
from firstlast.mapping import to_record
from firstlast.retriever.chroma_store import KnowledgeStore
from firstlast.retriever.embeddings import Embedder
from firstlast.types import Verdict

__all__ = ["LEARNED_SOURCE", "PROMPT", "LearningService", "question_overlap"]  # question_overlap: matching.py

PROMPT = (
    "I hadn't seen this question before — is it right that, when a customer asks “{question}”, "
    "the answer is: “{answer}”?"
)


@dataclass(frozen=True)
class _Plan:
    same: tuple[str, float] | None = None  # (pending suggestion id, question similarity)
    conflict: KnowledgeConflict | None = None


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
        suggestion_ttl: timedelta | None = timedelta(days=28),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if suggestion_ttl is not None and suggestion_ttl <= timedelta(0):
            raise ValueError(f"suggestion_ttl must be positive or None, got {suggestion_ttl}")
        self._ttl = suggestion_ttl
        self._clock = clock
        self._db = db
        self._ingestor = ingestor
        self._store = store
        self._embedder = embedder
        self.judge = judge or ResolutionJudge(store, embedder)
        self.sync = KnowledgeSync(db, ingestor, store, section_sentences)
        self.entries = LearnedEntries(db, self.sync)
        self.decisions = SuggestionDecisions(db, self.entries, self.sync)
        self.matching = KnowledgeMatching(
            store,
            embedder,
            self.entries,
            same_question_similarity=same_question_similarity,
            same_question_overlap=same_question_overlap,
            agree_similarity=agree_similarity,
        )

    @property
    def same_question_similarity(self) -> float:
        return self.matching.same_question_similarity

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
            known = self.matching.learned_agreeing(verdict.question, verdict.answer)
            if known is not None:
                verdict = known
        if verdict.kind == "new_knowledge":
            verdict = self._dismissed(verdict) or verdict
        suggestion = None
        # the matching (embeddings, reads) is done before the write session opens: one session at
        # a time, and no model runs while the database's write lock is held
        plan = self._plan(verdict.question, verdict.answer) if verdict.kind == "new_knowledge" else None
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
            elif plan is not None:
                suggestion = self._suggest(
                    s, verdict.question, verdict.answer, agent, handoff_id, conversation_id, plan
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
        reason = question_reason(general_q, question)
        if reason:
            raise InvalidInput(f"not suggested: {reason}")
        dismissed = self._dismissed(Verdict("new_knowledge", "", general_q, clean_a))
        if dismissed is not None:
            raise InvalidInput(f"not suggested: {dismissed.reason}")
        plan = self._plan(general_q, clean_a)
        with self._db.session() as s:
            return self._suggest(s, general_q, clean_a, agent, handoff_id, conversation_id, plan)

    def _plan(self, question: str, answer: str) -> _Plan:
        """Before the write: the pending suggestion asking the same question (to merge into), or,
        when there is none, the existing knowledge the answer conflicts with."""
        with self._db.session() as s:
            pending = list(
                s.execute(
                    select(SuggestionRow.id, SuggestionRow.question)
                    .where(SuggestionRow.status == SuggestionStatus.PENDING)
                    .order_by(SuggestionRow.created_at.desc())
                    .limit(500)
                )
            )
        found = self.matching.similar(question, [q for _, q in pending])
        if found:
            return _Plan(same=(pending[found[0][0]][0], found[0][1]))
        return _Plan(conflict=self.matching.conflict(question, answer))

    def _suggest(
        self,
        s: Session,
        question: str,
        answer: str,
        agent: str,
        handoff_id: str | None,
        conversation_id: str | None,
        plan: _Plan,
    ) -> Suggestion:
        same = s.get(SuggestionRow, plan.same[0]) if plan.same else None
        if same is not None and same.status == SuggestionStatus.PENDING and plan.same:
            row, similarity = same, plan.same[1]
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
            return load_suggestion(s, row)
        row = SuggestionRow(
            id=uuid.uuid4().hex,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            question=question,
            answer=answer,
            prompt=PROMPT.format(question=question, answer=answer),
            status=SuggestionStatus.PENDING,
            suggested_by=agent,
            expires_at=self._clock() + self._ttl if self._ttl is not None else None,
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
        conflict = plan.conflict
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
        return load_suggestion(s, row)

    def _dismissed(self, verdict: Verdict) -> Verdict | None:
        """A lead already rejected this answer to this question: not suggested again (a new,
        different answer to it is)."""
        with self._db.session() as s:
            rejected = s.execute(
                select(SuggestionRow.id, SuggestionRow.question, SuggestionRow.answer)
                .where(SuggestionRow.status == SuggestionStatus.REJECTED)
                .order_by(SuggestionRow.created_at.desc())
                .limit(500)
            ).all()
        for i, sim in self.matching.similar(verdict.question, [q for _, q, _ in rejected]):
            suggestion_id, _, answer = rejected[i]
            if self.matching.agree(verdict.answer, answer):
                return Verdict(
                    "dismissed",
                    f"a lead dismissed this answer to this question before (suggestion {suggestion_id}, "
                    f"question similarity {sim:.2f})",
                    verdict.question,
                    verdict.answer,
                    similarity=sim,
                )
        return None

    # -- expiry -----------------------------------------------------------------------------------
    def expire(self) -> list[str]:
        """Pending suggestions past their review window become ``expired`` (an event each)."""
        now = self._clock()
        with self._db.session() as s:
            rows = list(
                s.scalars(
                    select(SuggestionRow).where(
                        SuggestionRow.status == SuggestionStatus.PENDING,
                        SuggestionRow.expires_at.is_not(None),
                        SuggestionRow.expires_at <= now,
                    )
                )
            )
            expired = []
            for row in rows:
                try:  # one conditional UPDATE, like every decision: a lead deciding it now wins
                    self._db.change_status(
                        s, row, SUGGESTION.next(row.status, SuggestionEvent.EXPIRE), read=row.status
                    )
                except Conflict:
                    continue
                self._db.record(s, "suggestion", row.id, "expired", "system", expires_at=str(row.expires_at))
                expired.append(row.id)
            return expired

    def revive(self, suggestion_id: str, actor: str) -> Suggestion:
        """An expired suggestion back in the queue, with a new review window."""
        if not actor.strip():
            raise InvalidInput("actor must not be empty")
        with self._db.session() as s:
            row = suggestion_row(s, suggestion_id)
            self._db.change_status(
                s, row, SUGGESTION.next(row.status, SuggestionEvent.REVIVE), read=row.status
            )
            row.expires_at = self._clock() + self._ttl if self._ttl is not None else None
            self._db.record(s, "suggestion", row.id, "revived", actor.strip())
            return load_suggestion(s, row)

    # -- reads ------------------------------------------------------------------------------------
    def get(self, suggestion_id: str) -> Suggestion:
        with self._db.session() as s:
            return load_suggestion(s, suggestion_row(s, suggestion_id))

    def misses(self, doc_id: str | None = None, limit: int = 100) -> list[RetrievalMiss]:
        """Answers the knowledge base already had: the documents retrieval should have found."""
        with self._db.session() as s:
            query = select(RetrievalMissRow).order_by(RetrievalMissRow.id.desc()).limit(limit)
            if doc_id:
                query = query.where(RetrievalMissRow.doc_id == doc_id)
            return [to_record(RetrievalMiss, r) for r in s.scalars(query)]

    # -- decisions (learning/decisions.py) -------------------------------------------------------
    def approve(
        self, suggestion_id: str, approver: str, answer: str | None = None, review_at: date | None = None
    ) -> Suggestion:
        """Approve (optionally with an edited answer); the knowledge base follows after the commit."""
        return self.decisions.approve(suggestion_id, approver, answer, review_at)

    def reject(self, suggestion_id: str, approver: str, note: str = "") -> Suggestion:
        return self.decisions.reject(suggestion_id, approver, note)

    def reconcile(self) -> int:
        """Bring the knowledge base in line with the learned entries (start-up, after a failure);
        expire the suggestions nobody reviewed in time."""
        self.expire()
        return self.sync.reconcile()

    def list(self, status: str | None = None, limit: int = 100) -> list[Suggestion]:
        self.expire()  # the queue a lead sees never shows a suggestion past its review window
        with self._db.session() as s:
            query = select(SuggestionRow).order_by(SuggestionRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(SuggestionRow.status == status)
            return [load_suggestion(s, r) for r in s.scalars(query)]
