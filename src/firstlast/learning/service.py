"""The learning loop: an agent's answer becomes a suggestion, and an approved suggestion becomes
knowledge through the same ingest path as every other document.

    suggested --approve--> approved            (written to the KB as a learned entry)
              --approve with edits--> edited   (the edited answer is written)
              --reject--> rejected             (kept, with the note)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select

from firstlast.db import Database, SuggestionRow, utcnow
from firstlast.errors import Conflict, InvalidInput, NotFound
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.pii import scrub
from firstlast.types import Document, Suggestion

LEARNED_SOURCE = "learned"
PROMPT = (
    "I hadn't seen this question before — is it right that, when a customer asks “{question}”, "
    "the answer is: “{answer}”?"
)


def _iso(value: object) -> str | None:
    return value.isoformat() if value is not None else None  # type: ignore[attr-defined]


def to_suggestion(row: SuggestionRow) -> Suggestion:
    return Suggestion(
        id=row.id,
        question=row.question,
        answer=row.answer,
        prompt=row.prompt,
        status=row.status,
        created_at=_iso(row.created_at) or "",
        handoff_id=row.handoff_id,
        conversation_id=row.conversation_id,
        suggested_by=row.suggested_by,
        decided_by=row.decided_by,
        decided_at=_iso(row.decided_at),
        final_answer=row.final_answer,
        learned_doc_id=row.learned_doc_id,
        note=row.note,
    )


class LearningService:
    """>>> learning.approve(suggestion_id, approver="sam@support")"""

    def __init__(self, db: Database, ingestor: Ingestor) -> None:
        self._db = db
        self._ingestor = ingestor

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
        """Create a pending suggestion; personal data is scrubbed before anyone sees it."""
        question, answer = scrub(question.strip(), names), scrub(answer.strip(), names)
        if not question or not answer:
            raise InvalidInput("a suggestion needs a question and an answer")
        row = SuggestionRow(
            id=uuid.uuid4().hex,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            question=question,
            answer=answer,
            prompt=PROMPT.format(question=question, answer=answer),
            suggested_by=agent,
        )
        with self._db.session() as s:
            s.add(row)
            s.flush()
            self._db.record(s, "suggestion", row.id, "suggested", agent, handoff_id=handoff_id)
            return to_suggestion(row)

    def get(self, suggestion_id: str) -> Suggestion:
        with self._db.session() as s:
            row = s.get(SuggestionRow, suggestion_id)
            if row is None:
                raise NotFound(f"suggestion {suggestion_id} not found")
            return to_suggestion(row)

    def list(self, status: str | None = None, limit: int = 100) -> list[Suggestion]:
        with self._db.session() as s:
            query = select(SuggestionRow).order_by(SuggestionRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(SuggestionRow.status == status)
            return [to_suggestion(r) for r in s.scalars(query)]

    def approve(self, suggestion_id: str, approver: str, answer: str | None = None) -> Suggestion:
        """Approve (optionally with an edited answer) and write it into the knowledge base."""
        if not approver.strip():
            raise InvalidInput("approver must not be empty")
        with self._db.session() as s:
            row = s.get(SuggestionRow, suggestion_id)
            if row is None:
                raise NotFound(f"suggestion {suggestion_id} not found")
            if row.status != "pending":
                raise Conflict(f"suggestion {suggestion_id} is already {row.status}")
            edited = answer is not None and answer.strip() != "" and answer.strip() != row.answer
            final = scrub(answer.strip()) if edited and answer else row.answer
            now = utcnow()
            doc_id = f"learned/{row.id}"
            document = Document(
                id=doc_id,
                title=row.question,
                text=final,
                source=LEARNED_SOURCE,
                metadata={
                    "kind": "learned",
                    "approved_by": approver,
                    "approved_at": now.isoformat(),
                    "conversation_id": row.conversation_id or "",
                    "suggestion_id": row.id,
                },
            )
            self._ingestor.ingest([document])  # the one write path into the KB
            row.status = "edited" if edited else "approved"
            row.final_answer = final
            row.decided_by = approver
            row.decided_at = now
            row.learned_doc_id = doc_id
            self._db.record(s, "suggestion", row.id, row.status, approver, doc_id=doc_id)
            return to_suggestion(row)

    def reject(self, suggestion_id: str, approver: str, note: str = "") -> Suggestion:
        if not approver.strip():
            raise InvalidInput("approver must not be empty")
        with self._db.session() as s:
            row = s.get(SuggestionRow, suggestion_id)
            if row is None:
                raise NotFound(f"suggestion {suggestion_id} not found")
            if row.status != "pending":
                raise Conflict(f"suggestion {suggestion_id} is already {row.status}")
            row.status = "rejected"
            row.decided_by = approver
            row.decided_at = utcnow()
            row.note = note
            self._db.record(s, "suggestion", row.id, "rejected", approver, note=note)
            return to_suggestion(row)
