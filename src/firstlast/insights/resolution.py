"""Resolution analytics from the conversation facts: per day or week, and for the whole period.

summary = summarise(facts, bucket="day")
summary.periods[0].resolved_by_bot, summary.handoff_reasons, summary.csat["bot"]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select

from firstlast.db import Database, FeedbackRow, LearnedEntryRow, MessageRow, RetrievalMissRow
from firstlast.insights.facts import ConversationFacts
from firstlast.insights.stats import Estimate, center, proportion

Bucket = Literal["day", "week"]


@dataclass(frozen=True)
class Period:
    start: str  # the day, or the Monday of the ISO week (YYYY-MM-DD)
    conversations: int
    bot_involved: int
    resolved_by_bot: int
    handed_off: int
    pending: int
    resolution_rate: float | None  # resolved by the bot / bot-involved


@dataclass(frozen=True)
class Summary:
    periods: tuple[Period, ...]
    conversations: int
    bot_involved: int
    resolved_by_bot: Estimate  # share of bot-involved conversations, with a Wilson interval
    resolved_by_agent: int
    pending: int
    handoff_reasons: dict[str, int]
    first_reply_s: Estimate  # median with a bootstrap interval
    resolution_s: Estimate
    csat: dict[str, Estimate]  # by who answered: bot, agent, learned


def period_start(at: datetime, bucket: Bucket) -> str:
    day = at.date()
    if bucket == "week":
        day = day.fromordinal(day.toordinal() - day.weekday())
    return day.isoformat()


def summarise(facts: Sequence[ConversationFacts], bucket: Bucket = "day") -> Summary:
    grouped: dict[str, list[ConversationFacts]] = defaultdict(list)
    for f in facts:
        grouped[period_start(f.created_at, bucket)].append(f)
    periods = []
    for start in sorted(grouped):
        group = grouped[start]
        in_group = sum(f.bot_involved for f in group)
        by_bot = sum(f.resolved_by_bot for f in group)
        periods.append(
            Period(
                start,
                len(group),
                in_group,
                by_bot,
                sum(f.handed_off for f in group),
                sum(f.pending for f in group),
                by_bot / in_group if in_group else None,
            )
        )
    involved = [f for f in facts if f.bot_involved]
    csat: dict[str, Estimate] = {}
    for who in ("bot", "learned", "agent"):
        rated = [r.satisfied for f in facts for r in f.ratings if r.responder == who]
        csat[who] = proportion(sum(rated), len(rated))
    return Summary(
        periods=tuple(periods),
        conversations=len(facts),
        bot_involved=len(involved),
        resolved_by_bot=proportion(sum(f.resolved_by_bot for f in involved), len(involved)),
        resolved_by_agent=sum(f.resolved_by_agent for f in facts),
        pending=sum(f.pending for f in facts),
        handoff_reasons=dict(Counter(r for f in facts for r in f.handoff_reasons).most_common()),
        first_reply_s=center([f.first_reply_s for f in facts if f.first_reply_s is not None]),
        resolution_s=center([f.resolution_s for f in facts if f.resolution_s is not None]),
        csat=csat,
    )


# -- learned entries and retrieval misses ------------------------------------------------------


@dataclass(frozen=True)
class LearnedUsage:
    entry_id: str
    doc_id: str
    question: str
    status: str
    uses: int  # bot answers in the period that cite the entry
    thumbs_up: int
    thumbs_down: int


@dataclass(frozen=True)
class MissCount:
    doc_id: str
    title: str
    count: int


def learned_usage(db: Database, since: datetime, until: datetime, limit: int = 20) -> list[LearnedUsage]:
    """Learned entries by how often the bot answered from them in the period, with feedback."""
    with db.session() as s:
        entries = {e.doc_id: e for e in s.scalars(select(LearnedEntryRow))}
        if not entries:
            return []
        uses: Counter[str] = Counter()
        message_doc: dict[int, str] = {}
        answers = select(MessageRow).where(
            MessageRow.role == "bot",
            MessageRow.decision == "answer",
            MessageRow.created_at >= since,
            MessageRow.created_at < until,
        )
        for m in s.scalars(answers):
            cited = {str(c.get("doc_id")) for c in m.citations or [] if isinstance(c, dict)} & set(entries)
            for doc_id in cited:
                uses[doc_id] += 1
                message_doc[m.id] = doc_id
        up: Counter[str] = Counter()
        down: Counter[str] = Counter()
        if message_doc:
            rows = s.scalars(select(FeedbackRow).where(FeedbackRow.message_id.in_(list(message_doc))))
            for f in rows:
                doc_id = message_doc[int(f.message_id or 0)]
                good = f.thumbs == "up" or (f.rating is not None and f.rating >= 4)
                bad = f.thumbs == "down" or (f.rating is not None and f.rating <= 2)
                up[doc_id] += good
                down[doc_id] += bad
        ranked = sorted(entries.values(), key=lambda e: (-uses[e.doc_id], e.created_at))
        return [
            LearnedUsage(e.id, e.doc_id, e.question, e.status, uses[e.doc_id], up[e.doc_id], down[e.doc_id])
            for e in ranked[:limit]
        ]


def top_misses(db: Database, since: datetime, until: datetime, limit: int = 10) -> list[MissCount]:
    """Documents the retriever missed most often (an agent answered what they already said)."""
    with db.session() as s:
        count = func.count(RetrievalMissRow.id)
        rows = s.execute(
            select(RetrievalMissRow.doc_id, func.max(RetrievalMissRow.title), count)
            .where(RetrievalMissRow.created_at >= since, RetrievalMissRow.created_at < until)
            .group_by(RetrievalMissRow.doc_id)
            .order_by(count.desc())
            .limit(limit)
        )
        return [MissCount(doc_id, title or "", int(n)) for doc_id, title, n in rows]
