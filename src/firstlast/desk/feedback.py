"""Customer feedback: thumbs up/down or a 1-5 rating, on a conversation or on one bot/agent reply.

feedback.add(conversation_id, thumbs="down", message_id=42, comment="did not help")
feedback.list(thumbs="down", since=datetime(2026, 1, 1, tzinfo=UTC))
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from firstlast.db import ConversationRow, Database, FeedbackRow, MessageRow
from firstlast.errors import InvalidInput, NotFound
from firstlast.mapping import to_record
from firstlast.records import Feedback
from firstlast.types import MAX_NOTE_CHARS


class FeedbackService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        conversation_id: str,
        *,
        thumbs: str | None = None,
        rating: int | None = None,
        comment: str = "",
        message_id: int | None = None,
    ) -> Feedback:
        """Store one piece of feedback: exactly one of ``thumbs`` ("up"/"down") or ``rating`` (1-5)."""
        if (thumbs is None) == (rating is None):
            raise InvalidInput(
                "give either thumbs ('up' or 'down') or a rating from 1 to 5, not both or neither"
            )
        if thumbs is not None and thumbs not in ("up", "down"):
            raise InvalidInput(f"thumbs must be 'up' or 'down', got {thumbs!r}")
        if rating is not None and not 1 <= rating <= 5:
            raise InvalidInput(f"rating must be from 1 to 5, got {rating}")
        comment = comment.strip()
        if len(comment) > MAX_NOTE_CHARS:
            raise InvalidInput(f"comment must be at most {MAX_NOTE_CHARS} characters, got {len(comment)}")
        with self._db.session() as s:
            if s.get(ConversationRow, conversation_id) is None:
                raise NotFound(f"conversation {conversation_id} not found")
            if message_id is not None:
                message = s.get(MessageRow, message_id)
                if message is None or message.conversation_id != conversation_id:
                    raise NotFound(f"message {message_id} not found in conversation {conversation_id}")
                if message.role not in ("bot", "agent"):
                    raise InvalidInput(
                        f"message {message_id} is the customer's own; rate a bot or agent reply"
                    )
            row = FeedbackRow(
                conversation_id=conversation_id,
                message_id=message_id,
                thumbs=thumbs,
                rating=rating,
                comment=comment,
            )
            s.add(row)
            s.flush()
            return to_record(Feedback, row)

    def list(
        self,
        *,
        conversation_id: str | None = None,
        thumbs: str | None = None,
        min_rating: int | None = None,
        max_rating: int | None = None,
        role: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Feedback]:
        """Newest first. ``role`` ("bot" or "agent") keeps feedback on replies by that role."""
        with self._db.session() as s:
            query = select(FeedbackRow).order_by(FeedbackRow.id.desc()).limit(limit)
            if conversation_id:
                query = query.where(FeedbackRow.conversation_id == conversation_id)
            if thumbs:
                query = query.where(FeedbackRow.thumbs == thumbs)
            if min_rating is not None:
                query = query.where(FeedbackRow.rating >= min_rating)
            if max_rating is not None:
                query = query.where(FeedbackRow.rating <= max_rating)
            if since is not None:
                query = query.where(FeedbackRow.created_at >= since)
            if role:
                query = query.join(MessageRow, MessageRow.id == FeedbackRow.message_id).where(
                    MessageRow.role == role
                )
            return [to_record(Feedback, r) for r in s.scalars(query)]
