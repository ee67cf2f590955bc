"""Reports of bad bot answers: an agent flags a bot reply in a transcript; the report keeps the
reply as sent, what it cited, and the learned entry behind it when it cited one (``learned/<id>``),
so whoever reviews learned knowledge sees which entries customers were badly served by.

    reports.add(message_id=42, reporter="sam", note="the refund window is 30 days, not 14")
    reports.list()   # newest first
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from firstlast.db import AnswerReportRow, Database, LearnedEntryRow, MessageRow
from firstlast.errors import InvalidInput, NotFound
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.mapping import to_record
from firstlast.types import MAX_NAME_CHARS, MAX_NOTE_CHARS


@dataclass(frozen=True)
class AnswerReport:
    id: int
    conversation_id: str
    message_id: int
    reporter: str
    note: str
    answer: str
    cited: tuple[str, ...]
    created_at: str
    learned_entry_id: str | None = None


class ReportService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, message_id: int, reporter: str, note: str = "") -> AnswerReport:
        reporter, note = reporter.strip(), note.strip()
        if not reporter or len(reporter) > MAX_NAME_CHARS:
            raise InvalidInput(f"reporter must be 1 to {MAX_NAME_CHARS} characters, got {len(reporter)}")
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidInput(f"note must be at most {MAX_NOTE_CHARS} characters, got {len(note)}")
        with self._db.session() as s:
            message = s.get(MessageRow, message_id)
            if message is None:
                raise NotFound(f"message {message_id} not found")
            if message.role != "bot":
                raise InvalidInput(f"message {message_id} is by the {message.role}; report a bot answer")
            cited = [str(c.get("doc_id", "")) for c in message.citations or [] if isinstance(c, dict)]
            learned = [d for d in cited if d.startswith(f"{LEARNED_SOURCE}/")]
            entry = (
                s.scalar(select(LearnedEntryRow.id).where(LearnedEntryRow.doc_id == learned[0]))
                if learned
                else None
            )
            row = AnswerReportRow(
                conversation_id=message.conversation_id,
                message_id=message.id,
                reporter=reporter,
                note=note,
                answer=message.text,
                cited=cited,
                learned_entry_id=entry,
            )
            s.add(row)
            s.flush()
            return to_record(AnswerReport, row)

    def list(self, learned_entry_id: str | None = None, limit: int = 100) -> list[AnswerReport]:
        """Newest first; ``learned_entry_id`` keeps the reports of answers from that entry."""
        with self._db.session() as s:
            query = select(AnswerReportRow).order_by(AnswerReportRow.id.desc()).limit(limit)
            if learned_entry_id:
                query = query.where(AnswerReportRow.learned_entry_id == learned_entry_id)
            return [to_record(AnswerReport, r) for r in s.scalars(query)]
