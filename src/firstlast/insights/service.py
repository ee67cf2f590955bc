"""The insights the API and the report serve, computed from what is stored.

insights = Insights(db, embedder, retriever)           # wiring.py builds it from settings
insights.resolution(since, until, bucket="week")      # ResolutionReport
insights.gaps(since, until)                           # GapReport
insights.rollout(since, until)                        # ArmComparison
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from firstlast.db import Database, HandoffRow, LearnedEntryRow, MessageRow, SuggestionRow, utcnow
from firstlast.errors import InvalidInput
from firstlast.insights.ab import ArmComparison, compare_arms
from firstlast.insights.facts import HANDED_OFF, ConversationFacts, load_facts
from firstlast.insights.gaps import GapKind, GapQuestion, Topic, cluster_questions
from firstlast.insights.resolution import (
    Bucket,
    LearnedUsage,
    MissCount,
    Summary,
    learned_usage,
    period_start,
    summarise,
    top_misses,
)
from firstlast.insights.rollout import CONTROL_REASON
from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.hybrid import Retriever
from firstlast.types import Question

COVER_SIMILARITY = 0.7  # a learned entry or suggestion this close to a topic's centre covers it


@dataclass(frozen=True)
class ResolutionReport:
    since: str
    until: str
    bucket: Bucket
    summary: Summary
    learned: tuple[LearnedUsage, ...]
    misses: tuple[MissCount, ...]


@dataclass(frozen=True)
class DocRef:
    doc_id: str
    title: str
    url: str
    score: float


@dataclass(frozen=True)
class Cover:
    kind: str  # learned | suggestion
    id: str
    question: str
    similarity: float


@dataclass(frozen=True)
class GapTopic:
    topic: Topic
    trend: str  # rising | falling | steady
    counts: dict[str, int]  # per day (a period up to 31 days) or per week
    nearest_documents: tuple[DocRef, ...]
    covered_by: tuple[Cover, ...]


@dataclass(frozen=True)
class GapReport:
    since: str
    until: str
    questions: int
    unclustered: int
    topics: tuple[GapTopic, ...]


class Insights:
    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        retriever: Retriever | None = None,
        *,
        quiet_minutes: float = 30.0,
        low_confidence: float = 0.6,
        min_topic_size: int = 3,
        max_gap_questions: int = 5000,
        min_arm_size: int = 30,
        cjk_tokens: Callable[[str], list[str]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db, self._embedder, self._retriever = db, embedder, retriever
        self.quiet = timedelta(minutes=quiet_minutes)
        self.low_confidence = low_confidence
        self.min_topic_size = min_topic_size
        self.max_gap_questions = max_gap_questions
        self.min_arm_size = min_arm_size
        self._cjk_tokens = cjk_tokens
        self._clock = clock

    # -- resolution and the rollout -----------------------------------------------------------------
    def facts(self, since: datetime, until: datetime | None = None) -> list[ConversationFacts]:
        return load_facts(self._db, since, until or self._clock(), now=self._clock(), quiet=self.quiet)

    def resolution(
        self, since: datetime, until: datetime | None = None, bucket: Bucket = "day"
    ) -> ResolutionReport:
        until = until or self._clock()
        return ResolutionReport(
            since.isoformat(),
            until.isoformat(),
            bucket,
            summarise(self.facts(since, until), bucket),
            tuple(learned_usage(self._db, since, until)),
            tuple(top_misses(self._db, since, until)),
        )

    def rollout(self, since: datetime, until: datetime | None = None) -> ArmComparison:
        return compare_arms(self.facts(since, until), self.min_arm_size)

    # -- content gaps -------------------------------------------------------------------------------
    def gap_questions(self, since: datetime, until: datetime | None = None) -> list[GapQuestion]:
        """Handed-off, offered, rephrase-asked and low-confidence questions of the period, newest
        ``max_gap_questions`` of them, one per conversation and text."""
        until = until or self._clock()
        found: dict[tuple[str, str], GapQuestion] = {}
        with self._db.session() as s:
            handoffs = s.scalars(
                select(HandoffRow)
                .where(HandoffRow.created_at >= since, HandoffRow.created_at < until)
                .where(HandoffRow.reason != CONTROL_REASON)  # the bot never saw those
                .order_by(HandoffRow.created_at.desc())
                .limit(self.max_gap_questions)
            )
            for h in handoffs:
                kind: GapKind = "handed_off" if h.status in HANDED_OFF else "offered"
                found.setdefault(
                    (h.conversation_id, h.question),
                    GapQuestion(h.conversation_id, h.question, kind, h.created_at),
                )
            weak = s.scalars(
                select(MessageRow)
                .where(
                    MessageRow.role == "bot", MessageRow.created_at >= since, MessageRow.created_at < until
                )
                .where(
                    (MessageRow.decision == "no_answer")
                    | ((MessageRow.decision == "answer") & (MessageRow.confidence < self.low_confidence))
                )
                .order_by(MessageRow.id.desc())
                .limit(self.max_gap_questions)
            )
            for m in weak:
                asked = s.scalars(
                    select(MessageRow)
                    .where(MessageRow.conversation_id == m.conversation_id, MessageRow.id < m.id)
                    .where(MessageRow.role == "customer")
                    .order_by(MessageRow.id.desc())
                    .limit(1)
                ).first()
                if asked is not None:
                    kind = "no_answer" if m.decision == "no_answer" else "low_confidence"
                    found.setdefault(
                        (m.conversation_id, asked.text),
                        GapQuestion(m.conversation_id, asked.text, kind, asked.created_at),
                    )
        ordered = sorted(found.values(), key=lambda q: _aware(q.at), reverse=True)
        return ordered[: self.max_gap_questions]

    def gaps(self, since: datetime, until: datetime | None = None, limit: int = 20) -> GapReport:
        until = until or self._clock()
        questions = self.gap_questions(since, until)
        topics, unclustered, centroids = cluster_questions(
            questions, self._embedder, min_topic_size=self.min_topic_size, cjk_tokens=self._cjk_tokens
        )
        bucket: Bucket = "day" if until - since <= timedelta(days=31) else "week"
        covers = self._covers()
        out = []
        for topic, centre in zip(topics[:limit], centroids):
            times = [_aware(questions[i].at) for i in topic.members]
            counts = Counter(period_start(t, bucket) for t in times)
            middle = since + (until - since) / 2
            before, after = sum(t < middle for t in times), sum(t >= middle for t in times)
            trend = (
                "rising"
                if after >= 1.5 * before + 2
                else "falling"
                if before >= 1.5 * after + 2
                else "steady"
            )
            out.append(
                GapTopic(
                    topic,
                    trend,
                    dict(sorted(counts.items())),
                    self._nearest(topic.label),
                    _covered(centre, covers),
                )
            )
        return GapReport(since.isoformat(), until.isoformat(), len(questions), unclustered, tuple(out))

    def _nearest(self, text: str) -> tuple[DocRef, ...]:
        if self._retriever is None:
            return ()
        refs: dict[str, DocRef] = {}
        for hit in self._retriever.retrieve(Question(text), 10):
            c = hit.chunk
            refs.setdefault(c.doc_id, DocRef(c.doc_id, c.title, c.url, round(float(hit.score), 4)))
        return tuple(refs.values())[:3]

    def _covers(self) -> list[tuple[Cover, np.ndarray]]:
        """Active learned entries and pending suggestions, with their questions' vectors."""
        with self._db.session() as s:
            items = [
                Cover("learned", e.id, e.question, 0.0)
                for e in s.scalars(
                    select(LearnedEntryRow).where(LearnedEntryRow.status == "active").limit(500)
                )
            ]
            items += [
                Cover("suggestion", r.id, r.question, 0.0)
                for r in s.scalars(select(SuggestionRow).where(SuggestionRow.status == "pending").limit(500))
            ]
        if not items:
            return []
        vectors = np.asarray(self._embedder.embed_documents([c.question for c in items]), dtype=np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return list(zip(items, vectors))


def _covered(centre: np.ndarray, covers: list[tuple[Cover, np.ndarray]]) -> tuple[Cover, ...]:
    scored = [(float(v @ centre), c) for c, v in covers]
    return tuple(
        Cover(c.kind, c.id, c.question, round(sim, 4))
        for sim, c in sorted(scored, key=lambda x: -x[0])
        if sim >= COVER_SIMILARITY
    )[:5]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


_SPAN = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_SPAN = timedelta(days=400)


def parse_since(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``4w`` before ``now``, or an ISO date or time (UTC unless it says otherwise)."""
    text = text.strip()
    if len(text) >= 2 and text[:-1].isdigit() and text[-1].lower() in _SPAN:
        span = int(text[:-1]) * _SPAN[text[-1].lower()]
        if span > MAX_SPAN:
            raise InvalidInput(f"since must be at most {MAX_SPAN.days} days back, got {text!r}")
        return now - span
    return parse_time(text, "since")


def parse_time(text: str, what: str = "until") -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be like 30d, 12h, 4w or an ISO date, got {text!r}") from None
    return _aware(at)
