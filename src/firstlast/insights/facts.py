"""One row of facts per conversation, read from what the desk stored, and the definition of
*resolved by the bot* (README, "Insights").

A conversation is **resolved by the bot** when
  1. the bot answered at least once (a bot reply with decision ``answer``),
  2. no handoff was opened (a person offered and declined does not count as a handoff),
  3. the customer did not have to repeat the question (no decision with reason ``repetition``),
  4. no negative feedback was given (thumbs down or a rating of 1-2), and
  5. either positive feedback was given (thumbs up or a rating of 4-5), or the customer sent nothing
     for ``quiet`` after the bot's last answer. Until that window has passed, such a conversation
     is *pending*, not resolved.

    facts = load_facts(db, since, until, now=now, quiet=timedelta(minutes=30))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select

from firstlast.db import ConversationRow, Database, FeedbackRow, HandoffRow, LearnedEntryRow, MessageRow
from firstlast.insights.rollout import CONTROL_REASON

Responder = Literal["bot", "agent", "learned"]
HANDED_OFF = ("open", "assigned", "resolved")  # handoff statuses: a person was brought in
BOT_DECISIONS = ("answer", "offer", "no_answer", "handoff")  # the bot ran on the customer's message


@dataclass(frozen=True)
class Rating:
    """One piece of feedback: who it is about and whether the customer was satisfied."""

    responder: Responder
    satisfied: bool  # thumbs up, or a rating of 4-5
    at: datetime


@dataclass(frozen=True)
class ConversationFacts:
    id: str
    created_at: datetime
    arm: str | None
    asked: bool  # the customer wrote at least once
    bot_involved: bool  # the bot read and decided on at least one customer message
    bot_answered: bool
    handed_off: bool
    handoff_reasons: tuple[str, ...]
    repeated: bool
    resolved_by_bot: bool
    resolved_by_agent: bool
    pending: bool  # would be resolved by the bot if the quiet window passes without a message
    first_reply_s: float | None  # first customer message -> first bot answer or agent reply
    resolution_s: float | None  # first customer message -> the resolving answer
    ratings: tuple[Rating, ...]

    @property
    def resolved(self) -> bool:
        return self.resolved_by_bot or self.resolved_by_agent


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _satisfied(row: FeedbackRow) -> bool | None:
    if row.thumbs is not None:
        return row.thumbs == "up"
    if row.rating is not None:
        return row.rating >= 4 if row.rating != 3 else None  # 3 is neither
    return None


def _responder(message: MessageRow, learned_docs: set[str]) -> Responder:
    if message.role == "agent":
        return "agent"
    cited = {str(c.get("doc_id")) for c in message.citations or [] if isinstance(c, dict)}
    return "learned" if cited & learned_docs else "bot"


def load_facts(
    db: Database,
    since: datetime,
    until: datetime,
    *,
    now: datetime,
    quiet: timedelta,
    arm: str | None = None,
) -> list[ConversationFacts]:
    """Facts of the conversations opened in [since, until), oldest first (one query per table)."""
    with db.session() as s:
        window = (ConversationRow.created_at >= since, ConversationRow.created_at < until)
        conv_query = select(ConversationRow).where(*window).order_by(ConversationRow.created_at)
        if arm is not None:
            conv_query = conv_query.where(ConversationRow.arm == arm)
        conversations = list(s.scalars(conv_query))
        in_window = select(ConversationRow.id).where(*window)
        messages: dict[str, list[MessageRow]] = defaultdict(list)
        for m in s.scalars(
            select(MessageRow).where(MessageRow.conversation_id.in_(in_window)).order_by(MessageRow.id)
        ):
            messages[m.conversation_id].append(m)
        handoffs: dict[str, list[HandoffRow]] = defaultdict(list)
        for h in s.scalars(select(HandoffRow).where(HandoffRow.conversation_id.in_(in_window))):
            handoffs[h.conversation_id].append(h)
        feedback: dict[str, list[FeedbackRow]] = defaultdict(list)
        for f in s.scalars(select(FeedbackRow).where(FeedbackRow.conversation_id.in_(in_window))):
            feedback[f.conversation_id].append(f)
        learned_docs = set(s.scalars(select(LearnedEntryRow.doc_id)))
        return [
            conversation_facts(
                c, messages[c.id], handoffs[c.id], feedback[c.id], learned_docs, now=now, quiet=quiet
            )
            for c in conversations
        ]


def conversation_facts(
    conversation: ConversationRow,
    messages: Sequence[MessageRow],
    handoffs: Sequence[HandoffRow],
    feedback: Sequence[FeedbackRow],
    learned_docs: set[str],
    *,
    now: datetime,
    quiet: timedelta,
) -> ConversationFacts:
    """The facts of one conversation from its stored rows (the definition in the module docstring)."""
    by_id = {m.id: m for m in messages}
    customer = [m for m in messages if m.role == "customer"]
    start = _utc(customer[0].created_at) if customer else _utc(conversation.created_at)
    bot = [m for m in messages if m.role == "bot"]
    answers = [m for m in bot if m.decision == "answer"]
    replies = [m for m in messages if (m.role == "bot" and m.decision == "answer") or m.role == "agent"]
    opened = [h for h in handoffs if h.status in HANDED_OFF]
    repeated = any(m.reason == "repetition" for m in bot)

    ratings: list[Rating] = []
    negative = positive = False
    for f in feedback:
        satisfied = _satisfied(f)
        if satisfied is None:
            continue
        at = _utc(f.created_at)
        target = by_id.get(f.message_id) if f.message_id is not None else None
        if target is None:  # on the conversation: about the last reply before it
            target = next((m for m in reversed(replies) if _utc(m.created_at) <= at), None)
        if target is None:
            continue
        who = _responder(target, learned_docs)
        ratings.append(Rating(who, satisfied, at))
        if who != "agent":
            negative, positive = negative or not satisfied, positive or satisfied

    resolved_by_bot = pending = False
    resolution_s = None
    if answers and not opened and not repeated and not negative:
        last = _utc(answers[-1].created_at)
        spoke_again = any(last < _utc(m.created_at) <= last + quiet for m in customer)
        if positive or (not spoke_again and now >= last + quiet):
            resolved_by_bot, resolution_s = True, (last - start).total_seconds()
        elif not spoke_again:
            pending = True
    resolved_times = [_utc(h.resolved_at) for h in opened if h.status == "resolved" and h.resolved_at]
    resolved_by_agent = bool(opened) and len(resolved_times) == len(opened)
    if resolved_by_agent:
        resolution_s = (max(resolved_times) - start).total_seconds()
    after = [m for m in replies if _utc(m.created_at) >= start]
    return ConversationFacts(
        id=conversation.id,
        created_at=_utc(conversation.created_at),
        arm=conversation.arm,
        asked=bool(customer),
        bot_involved=any(m.decision in BOT_DECISIONS and m.reason != CONTROL_REASON for m in bot),
        bot_answered=bool(answers),
        handed_off=bool(opened),
        handoff_reasons=tuple(h.reason for h in opened),
        repeated=repeated,
        resolved_by_bot=resolved_by_bot,
        resolved_by_agent=resolved_by_agent,
        pending=pending,
        first_reply_s=(_utc(after[0].created_at) - start).total_seconds() if customer and after else None,
        resolution_s=resolution_s,
        ratings=tuple(ratings),
    )
