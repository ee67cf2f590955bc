"""Learned entries: approved answers in the knowledge base, with versions, retirement and usage.

    approve ------> active v1 --approve a conflicting suggestion--> active v2 (v1 superseded)
    active --retire--> retired      (removed from the knowledge base at once, kept here)
    active --rollback--> the previous approved version is written back (the latest is marked
                         rolled_back); with no previous version the entry is retired

Every transition goes through ``learning/states.py`` and is an event (entity ``learned``) with who
and when; the knowledge base follows each committed change through ``learning/sync.py``. Usage is
counted from the bot messages whose citations name the entry's document.

    >>> entries.retire("5f0c...", actor="lead@support", note="policy changed")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from firstlast.db import (
    Database,
    FeedbackRow,
    LearnedEntryRow,
    LearnedVersionRow,
    MessageRow,
    SuggestionRow,
    iso,
    utcnow,
)
from firstlast.errors import InvalidInput, NotFound
from firstlast.learning.records import EntryStatus, LearnedEntry, LearnedVersion, VersionStatus
from firstlast.learning.states import ENTRY, SUGGESTION, VERSION, EntryEvent, SuggestionEvent, VersionEvent
from firstlast.learning.sync import KnowledgeSync, learned_document
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.mapping import to_record

__all__ = ["LearnedEntries", "learned_document"]


@dataclass(frozen=True)
class Approval:
    """An approved answer on its way into the knowledge base (the suggestion's id names a new entry)."""

    suggestion_id: str
    question: str
    answer: str
    approver: str
    review_at: date | None = None
    variants: tuple[str, ...] = ()


class LearnedEntries:
    def __init__(self, db: Database, sync: KnowledgeSync) -> None:
        self._db = db
        self._sync = sync

    # -- writes (inside the caller's session, so the entry and its suggestion commit together; the
    #    caller runs ``sync.run_pending()`` after the commit)
    def approve(self, s: Session, approval: Approval, supersedes: str | None = None) -> LearnedEntryRow:
        """The next version of the active entry behind ``supersedes`` (the learned document an approved
        suggestion conflicted with), or, when there is none, a new entry."""
        query = select(LearnedEntryRow).where(LearnedEntryRow.doc_id == supersedes)
        row = s.scalars(query).first() if supersedes else None
        if row is None or not ENTRY.allows(row.status, EntryEvent.SUPERSEDE):
            return self._create(s, approval)
        for old in self._versions(s, row):
            if old.status == VersionStatus.CURRENT:
                old.status = VERSION.next(old.status, VersionEvent.SUPERSEDE)
        row.status = ENTRY.next(row.status, EntryEvent.SUPERSEDE)
        row.question, row.answer, row.updated_at = approval.question, approval.answer, utcnow()
        row.version = max((v.version for v in self._versions(s, row)), default=0) + 1
        self._add_version(s, row, approval)
        if approval.review_at is not None:
            row.review_at = approval.review_at
        detail = {"version": row.version, "suggestion_id": approval.suggestion_id}
        self._db.record(s, "learned", row.id, "superseded", approval.approver, **detail)
        self._sync.enqueue(s, row.doc_id)
        return row

    def _create(self, s: Session, approval: Approval) -> LearnedEntryRow:
        entry_id, now = approval.suggestion_id, utcnow()
        doc_id = f"{LEARNED_SOURCE}/{entry_id}"
        row = LearnedEntryRow(
            id=entry_id,
            doc_id=doc_id,
            question=approval.question,
            answer=approval.answer,
            status=EntryStatus.ACTIVE,
            version=1,
            review_at=approval.review_at,
            created_by=approval.approver,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        self._add_version(s, row, approval)
        s.flush()
        self._db.record(s, "learned", entry_id, "created", approval.approver, doc_id=doc_id, version=1)
        self._sync.enqueue(s, doc_id)
        return row

    @staticmethod
    def _add_version(s: Session, row: LearnedEntryRow, approval: Approval) -> None:
        s.add(
            LearnedVersionRow(
                entry_id=row.id,
                version=row.version,
                question=row.question,
                answer=row.answer,
                suggestion_id=approval.suggestion_id,
                approved_by=approval.approver,
                approved_at=row.updated_at,
                status=VersionStatus.CURRENT,
                variants=list(approval.variants),
            )
        )

    @staticmethod
    def _versions(s: Session, row: LearnedEntryRow) -> list[LearnedVersionRow]:
        query = select(LearnedVersionRow).where(LearnedVersionRow.entry_id == row.id)
        return list(s.scalars(query.order_by(LearnedVersionRow.version)))

    def _retire(self, s: Session, row: LearnedEntryRow, actor: str) -> None:
        """The entry leaves the knowledge base; so do the suggestions that showed it as approved."""
        row.status, row.updated_at = ENTRY.next(row.status, EntryEvent.RETIRE), utcnow()
        for suggestion in s.scalars(select(SuggestionRow).where(SuggestionRow.learned_doc_id == row.doc_id)):
            if SUGGESTION.allows(suggestion.status, SuggestionEvent.RETIRE):
                suggestion.status = SUGGESTION.next(suggestion.status, SuggestionEvent.RETIRE)
                self._db.record(s, "suggestion", suggestion.id, "retired", actor, doc_id=row.doc_id)

    # -- lifecycle --------------------------------------------------------------------------------
    def retire(self, entry_id: str, actor: str, note: str = "") -> LearnedEntry:
        """Remove the entry from the knowledge base at once; the entry and its history stay here."""
        actor = _actor(actor)
        with self._db.session() as s:
            row = self._row(s, entry_id)
            self._retire(s, row, actor)
            self._db.record(s, "learned", row.id, "retired", actor, note=note, version=row.version)
            self._sync.enqueue(s, row.doc_id)
        self._sync.run_pending()
        return self.get(entry_id)

    def rollback(self, entry_id: str, actor: str, note: str = "") -> LearnedEntry:
        """Undo the latest approval: restore the previous approved version, or retire when there is none."""
        actor = _actor(actor)
        with self._db.session() as s:
            row = self._row(s, entry_id)
            ENTRY.next(row.status, EntryEvent.ROLLBACK)  # only active entries roll back
            versions = self._versions(s, row)
            current = next(v for v in versions if v.version == row.version)
            current.status = VERSION.next(current.status, VersionEvent.ROLL_BACK)
            earlier = [
                v for v in versions if v.version < row.version and v.status != VersionStatus.ROLLED_BACK
            ]
            detail: dict[str, object] = {"note": note, "from_version": row.version}
            if not earlier:
                self._retire(s, row, actor)
            else:
                previous = earlier[-1]
                previous.status = VERSION.next(previous.status, VersionEvent.RESTORE)
                row.question, row.answer, row.version = previous.question, previous.answer, previous.version
                row.status, row.updated_at = ENTRY.next(row.status, EntryEvent.ROLLBACK), utcnow()
                detail["to_version"] = previous.version
            self._db.record(s, "learned", row.id, "rolled_back", actor, **detail)
            self._sync.enqueue(s, row.doc_id)
        self._sync.run_pending()
        return self.get(entry_id)

    def set_review(self, entry_id: str, actor: str, review_at: date | None) -> LearnedEntry:
        """Set (or clear) the date by which someone should check the entry is still right."""
        actor = _actor(actor)
        with self._db.session() as s:
            row = self._row(s, entry_id)
            row.review_at = review_at
            self._db.record(s, "learned", row.id, "reviewed", actor, review_at=iso(review_at))
        return self.get(entry_id)

    # -- reads ------------------------------------------------------------------------------------
    def get(self, entry_id: str) -> LearnedEntry:
        with self._db.session() as s:
            row = self._row(s, entry_id)
            versions = [to_record(LearnedVersion, v) for v in self._versions(s, row)]
            return self._to_entry(s, row, versions)

    def active(self) -> list[tuple[str, str, str]]:
        """(doc_id, question, answer) of every active entry, for duplicate and conflict checks."""
        with self._db.session() as s:
            rows = s.execute(
                select(LearnedEntryRow.doc_id, LearnedEntryRow.question, LearnedEntryRow.answer).where(
                    LearnedEntryRow.status == EntryStatus.ACTIVE
                )
            )
            return [(d, q, a) for d, q, a in rows]

    def usage_count(self, s: Session, doc_id: str) -> int:
        """Bot replies whose citations name ``doc_id`` (ids are unique, so a text match is exact)."""
        cites = cast(MessageRow.citations, String).like(f'%"{doc_id}"%')
        query = select(func.count(MessageRow.id)).where(MessageRow.role == "bot", cites)
        return int(s.scalar(query) or 0)

    def feedback_counts(self, s: Session, doc_id: str) -> Mapping[str, float]:
        """Customer feedback on bot replies that cited ``doc_id``: thumbs up/down, ratings and their mean."""
        needle = f'%"{doc_id}"%'
        rows = s.execute(
            select(FeedbackRow.thumbs, FeedbackRow.rating)
            .join(MessageRow, FeedbackRow.message_id == MessageRow.id)
            .where(MessageRow.role == "bot", cast(MessageRow.citations, String).like(needle))
        ).all()
        ratings = [r for _, r in rows if r is not None]
        return {
            "thumbs_up": float(sum(t == "up" for t, _ in rows)),
            "thumbs_down": float(sum(t == "down" for t, _ in rows)),
            "ratings": float(len(ratings)),
            "mean_rating": float(sum(ratings) / len(ratings)) if ratings else 0.0,
        }

    def _row(self, s: Session, entry_id: str) -> LearnedEntryRow:
        row = s.get(LearnedEntryRow, entry_id.removeprefix(f"{LEARNED_SOURCE}/"))
        if row is None:
            raise NotFound(f"learned entry {entry_id} not found")
        return row

    def _to_entry(self, s: Session, row: LearnedEntryRow, versions: Sequence[LearnedVersion]) -> LearnedEntry:
        usage, feedback = self.usage_count(s, row.doc_id), self.feedback_counts(s, row.doc_id)
        return to_record(LearnedEntry, row, usage_count=usage, versions=versions, feedback=feedback)

    def list(
        self, status: str | None = None, due_for_review: bool = False, limit: int = 100
    ) -> list[LearnedEntry]:
        with self._db.session() as s:
            query = select(LearnedEntryRow).order_by(LearnedEntryRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(LearnedEntryRow.status == status)
            if due_for_review:
                query = query.where(
                    LearnedEntryRow.review_at.is_not(None), LearnedEntryRow.review_at <= date.today()
                )
            return [self._to_entry(s, row, ()) for row in s.scalars(query)]


def _actor(actor: str) -> str:
    if not actor.strip():
        raise InvalidInput("actor must not be empty")
    return actor.strip()
