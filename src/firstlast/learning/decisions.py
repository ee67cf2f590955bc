"""Decisions on suggestions: approve (as a new learned entry, or a conflicting entry's next version)
or reject, each through the suggestion's transition table; the knowledge base follows an approval
after the commit (``learning/sync.py``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstlast.db import (
    ConversationRow,
    Database,
    SuggestionFlagRow,
    SuggestionRow,
    SuggestionSourceRow,
    utcnow,
)
from firstlast.errors import InvalidInput, NotFound
from firstlast.learning.entries import Approval, LearnedEntries
from firstlast.learning.pii import customer_names, scrub
from firstlast.learning.records import KnowledgeConflict, Suggestion, SuggestionSource
from firstlast.learning.states import SUGGESTION, SuggestionEvent
from firstlast.learning.sync import KnowledgeSync
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.mapping import to_record


def load_suggestion(s: Session, row: SuggestionRow) -> Suggestion:
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


def suggestion_row(s: Session, suggestion_id: str) -> SuggestionRow:
    row = s.get(SuggestionRow, suggestion_id)
    if row is None:
        raise NotFound(f"suggestion {suggestion_id} not found")
    return row


class SuggestionDecisions:
    def __init__(self, db: Database, entries: LearnedEntries, sync: KnowledgeSync) -> None:
        self._db = db
        self.entries = entries
        self.sync = sync

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
            row = suggestion_row(s, suggestion_id)
            edited = answer is not None and answer.strip() != "" and answer.strip() != row.answer
            status = SUGGESTION.next(row.status, SuggestionEvent.EDIT if edited else SuggestionEvent.APPROVE)
            self._db.change_status(s, row, status, read=row.status)  # first: one decision wins
            final = scrub(answer.strip(), self._names(s, row)) if edited and answer else row.answer
            flag = s.get(SuggestionFlagRow, row.id)
            sources = s.scalars(
                select(SuggestionSourceRow).where(SuggestionSourceRow.suggestion_id == row.id)
            )
            variants = list(dict.fromkeys(src.question for src in sources if src.question != row.question))
            approval = Approval(row.id, row.question, final, approver, review_at, tuple(variants))
            conflicting = flag.conflict_doc_id if flag is not None else ""
            entry = self.entries.approve(
                s, approval, conflicting if conflicting.startswith(f"{LEARNED_SOURCE}/") else None
            )
            row.status, row.final_answer, row.learned_doc_id = status, final, entry.doc_id
            row.decided_by, row.decided_at = approver, utcnow()
            self._db.record(s, "suggestion", row.id, row.status, approver, doc_id=entry.doc_id)
            approved = load_suggestion(s, row)
        self.sync.run_pending()  # after the commit: the knowledge base follows the database
        return approved

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
            row = suggestion_row(s, suggestion_id)
            self._db.change_status(
                s, row, SUGGESTION.next(row.status, SuggestionEvent.REJECT), read=row.status
            )
            row.decided_by = approver
            row.decided_at = utcnow()
            row.note = note
            self._db.record(s, "suggestion", row.id, "rejected", approver, note=note)
            return load_suggestion(s, row)
