"""Learned entries: approved answers in the knowledge base, with versions, retirement and usage.

    approve ------> active v1 --approve a conflicting suggestion--> active v2 (v1 superseded)
    active --retire--> retired      (removed from the knowledge base at once, kept here)
    active --rollback--> the previous approved version is written back (the latest is marked
                         rolled_back); with no previous version the entry is retired

Every transition is an event (entity ``learned``) with who and when. Usage is counted from the bot
messages whose citations name the entry's document.

    >>> entries.retire("5f0c...", actor="lead@support", note="policy changed")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from firstlast.db import Database, FeedbackRow, LearnedEntryRow, LearnedVersionRow, MessageRow, iso, utcnow
from firstlast.errors import Conflict, InvalidInput, NotFound
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.sentences import split_sentences
from firstlast.types import Document, LearnedEntry, LearnedVersion


def learned_document(
    doc_id: str,
    question: str,
    answer: str,
    metadata: Mapping[str, str],
    section_sentences: int = 0,
    variants: Sequence[str] = (),
) -> Document:
    """The knowledge-base document for a learned answer: the question is its title, and the other
    wordings customers used (merged suggestions) head the answer, so they are searched too but never
    quoted as the answer.

    With ``section_sentences > 0`` a longer answer is written as sections of that many sentences,
    each headed by the question, so each part is embedded on its own and a later, narrower question
    finds the part that answers it (off by default: on emanual_smarttv, 3 raised learn_once_rate
    0.295 -> 0.362 but false_learn_rate 0.029 -> 0.051; see README).
    """
    also = " / ".join(dict.fromkeys(v.replace("\n", " ").strip("# ") for v in variants if v != question))
    sentences = split_sentences(answer)
    if section_sentences <= 0 or len(sentences) <= section_sentences:
        text = f"## {also}\n\n{answer}" if also else answer
    else:
        step = section_sentences
        parts = [" ".join(sentences[i : i + step]) for i in range(0, len(sentences), step)]
        heads = [
            f"{question} ({n}/{len(parts)})" + (f" / {also}" if also else "")
            for n in range(1, len(parts) + 1)
        ]
        text = "\n\n".join(f"## {head}\n\n{part}" for head, part in zip(heads, parts))
    return Document(id=doc_id, title=question, text=text, source=LEARNED_SOURCE, metadata=dict(metadata))


class LearnedEntries:
    def __init__(self, db: Database, ingestor: Ingestor, section_sentences: int = 0) -> None:
        if section_sentences < 0:
            raise ValueError(f"section_sentences must be >= 0, got {section_sentences}")
        self._db = db
        self._ingestor = ingestor
        self._section_sentences = section_sentences

    # -- writes (called inside the caller's session, so the entry and its suggestion commit together)
    def create(
        self,
        s: Session,
        entry_id: str,
        question: str,
        answer: str,
        *,
        approver: str,
        suggestion_id: str,
        conversation_id: str = "",
        review_at: date | None = None,
        variants: Sequence[str] = (),
    ) -> LearnedEntryRow:
        doc_id = f"{LEARNED_SOURCE}/{entry_id}"
        now = utcnow()
        self._write(
            doc_id, question, answer, approver, now.isoformat(), suggestion_id, conversation_id, 1, variants
        )
        row = LearnedEntryRow(
            id=entry_id,
            doc_id=doc_id,
            question=question,
            answer=answer,
            version=1,
            review_at=review_at,
            created_by=approver,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.add(
            LearnedVersionRow(
                entry_id=entry_id,
                version=1,
                question=question,
                answer=answer,
                suggestion_id=suggestion_id,
                approved_by=approver,
                approved_at=now,
                variants=list(variants),
            )
        )
        s.flush()
        self._db.record(s, "learned", entry_id, "created", approver, doc_id=doc_id, version=1)
        return row

    def supersede(
        self,
        s: Session,
        doc_id: str,
        question: str,
        answer: str,
        *,
        approver: str,
        suggestion_id: str,
        review_at: date | None = None,
        variants: Sequence[str] = (),
    ) -> LearnedEntryRow | None:
        """A new approved version of the active entry behind ``doc_id``; None if there is none."""
        row = s.scalars(select(LearnedEntryRow).where(LearnedEntryRow.doc_id == doc_id)).first()
        if row is None or row.status != "active":
            return None
        now = utcnow()
        for old in s.scalars(select(LearnedVersionRow).where(LearnedVersionRow.entry_id == row.id)):
            if old.status == "current":
                old.status = "superseded"
        version = (
            s.scalar(select(func.max(LearnedVersionRow.version)).where(LearnedVersionRow.entry_id == row.id))
            or 0
        ) + 1
        self._write(doc_id, question, answer, approver, now.isoformat(), suggestion_id, "", version, variants)
        s.add(
            LearnedVersionRow(
                entry_id=row.id,
                version=version,
                question=question,
                answer=answer,
                suggestion_id=suggestion_id,
                approved_by=approver,
                approved_at=now,
                variants=list(variants),
            )
        )
        row.question, row.answer, row.version, row.updated_at = question, answer, version, now
        if review_at is not None:
            row.review_at = review_at
        self._db.record(
            s, "learned", row.id, "superseded", approver, version=version, suggestion_id=suggestion_id
        )
        return row

    def _write(
        self,
        doc_id: str,
        question: str,
        answer: str,
        approver: str,
        approved_at: str,
        suggestion_id: str,
        conversation_id: str,
        version: int,
        variants: Sequence[str] = (),
    ) -> None:
        metadata = {
            "kind": "learned",
            "approved_by": approver,
            "approved_at": approved_at,
            "conversation_id": conversation_id,
            "suggestion_id": suggestion_id,
            "version": str(version),
        }
        document = learned_document(doc_id, question, answer, metadata, self._section_sentences, variants)
        self._ingestor.ingest([document])  # the one write path into the KB

    # -- lifecycle --------------------------------------------------------------------------------
    def retire(self, entry_id: str, actor: str, note: str = "") -> LearnedEntry:
        """Remove the entry from the knowledge base at once; the entry and its history stay here."""
        actor = _actor(actor)
        with self._db.session() as s:
            row = self._row(s, entry_id)
            if row.status != "active":
                raise Conflict(f"learned entry {entry_id} is already {row.status}")
            self._ingestor.delete([row.doc_id])
            row.status, row.updated_at = "retired", utcnow()
            self._db.record(s, "learned", row.id, "retired", actor, note=note, version=row.version)
        return self.get(entry_id)

    def rollback(self, entry_id: str, actor: str, note: str = "") -> LearnedEntry:
        """Undo the latest approval: restore the previous approved version, or retire when there is none."""
        actor = _actor(actor)
        with self._db.session() as s:
            row = self._row(s, entry_id)
            if row.status != "active":
                raise Conflict(f"learned entry {entry_id} is {row.status}; only active entries roll back")
            versions = list(
                s.scalars(
                    select(LearnedVersionRow)
                    .where(LearnedVersionRow.entry_id == row.id)
                    .order_by(LearnedVersionRow.version.desc())
                )
            )
            current = next(v for v in versions if v.version == row.version)
            current.status = "rolled_back"
            previous = next(
                (v for v in versions if v.version < row.version and v.status != "rolled_back"), None
            )
            if previous is None:
                self._ingestor.delete([row.doc_id])
                row.status, row.updated_at = "retired", utcnow()
                self._db.record(
                    s, "learned", row.id, "rolled_back", actor, note=note, from_version=row.version
                )
            else:
                self._write(
                    row.doc_id,
                    previous.question,
                    previous.answer,
                    previous.approved_by,
                    iso(previous.approved_at) or "",
                    previous.suggestion_id or "",
                    "",
                    previous.version,
                    previous.variants or [],
                )
                previous.status = "current"
                self._db.record(
                    s,
                    "learned",
                    row.id,
                    "rolled_back",
                    actor,
                    note=note,
                    from_version=row.version,
                    to_version=previous.version,
                )
                row.question, row.answer, row.version = previous.question, previous.answer, previous.version
                row.updated_at = utcnow()
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
            versions = s.scalars(
                select(LearnedVersionRow)
                .where(LearnedVersionRow.entry_id == row.id)
                .order_by(LearnedVersionRow.version)
            )
            return self._to_entry(s, row, tuple(_to_version(v) for v in versions))

    def active(self) -> list[tuple[str, str, str]]:
        """(doc_id, question, answer) of every active entry, for duplicate and conflict checks."""
        with self._db.session() as s:
            rows = s.execute(
                select(LearnedEntryRow.doc_id, LearnedEntryRow.question, LearnedEntryRow.answer).where(
                    LearnedEntryRow.status == "active"
                )
            )
            return [(d, q, a) for d, q, a in rows]

    def usage_count(self, s: Session, doc_id: str) -> int:
        """Bot replies whose citations name ``doc_id`` (ids are unique, so a text match is exact)."""
        needle = f'%"{doc_id}"%'
        return int(
            s.scalar(
                select(func.count(MessageRow.id)).where(
                    MessageRow.role == "bot", cast(MessageRow.citations, String).like(needle)
                )
            )
            or 0
        )

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

    def _to_entry(
        self, s: Session, row: LearnedEntryRow, versions: tuple[LearnedVersion, ...]
    ) -> LearnedEntry:
        return LearnedEntry(
            id=row.id,
            doc_id=row.doc_id,
            question=row.question,
            answer=row.answer,
            status=row.status,
            version=row.version,
            created_by=row.created_by,
            created_at=iso(row.created_at) or "",
            updated_at=iso(row.updated_at) or "",
            review_at=iso(row.review_at),
            usage_count=self.usage_count(s, row.doc_id),
            versions=versions,
            feedback=self.feedback_counts(s, row.doc_id),
        )

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


def _to_version(v: LearnedVersionRow) -> LearnedVersion:
    return LearnedVersion(
        version=v.version,
        question=v.question,
        answer=v.answer,
        approved_by=v.approved_by,
        approved_at=iso(v.approved_at) or "",
        status=v.status,
        suggestion_id=v.suggestion_id,
        variants=tuple(v.variants or ()),
    )


def _actor(actor: str) -> str:
    if not actor.strip():
        raise InvalidInput("actor must not be empty")
    return actor.strip()
