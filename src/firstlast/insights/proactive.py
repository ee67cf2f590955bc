"""Proactive help (off by default): articles to suggest for the page the widget opens on, before the
customer types anything.

Ranked by two signals fused by reciprocal rank: retrieval on the page's title and the words of its
path, and the articles the bot's answers cited in conversations from the same page that the bot
resolved (thumbs up, or no thumbs down). Shows and clicks are events on the conversation, so the
click-through rate is measured like everything else.

    help = ProactiveHelp(db, retriever)
    help.articles("https://app.example/billing/invoices", "Invoices")
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from firstlast.db import ConversationRow, Database, EventRow, FeedbackRow, MessageRow
from firstlast.retriever.hybrid import Retriever
from firstlast.retriever.text import page_query
from firstlast.types import Question

SHOWN, CLICKED = "articles_shown", "article_clicked"
__all__ = ["Article", "ClickThrough", "ProactiveHelp", "page_query"]


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    url: str


@dataclass(frozen=True)
class ClickThrough:
    shown: int  # conversations that were shown articles
    clicked: int  # of those, conversations where the customer opened one
    rate: float | None


class ProactiveHelp:
    def __init__(self, db: Database, retriever: Retriever, *, limit: int = 3, history: int = 2000) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._db, self._retriever, self.limit, self.history = db, retriever, limit, history

    def articles(self, page_url: str, page_title: str = "") -> list[Article]:
        query = page_query(page_url, page_title)
        found: dict[str, Article] = {}
        scores: dict[str, float] = {}
        if query:
            seen: list[str] = []
            for hit in self._retriever.retrieve(Question(query), 10):
                c = hit.chunk
                if c.doc_id not in found:
                    found[c.doc_id] = Article(c.doc_id, c.title, c.url)
                    seen.append(c.doc_id)
            for rank, doc_id in enumerate(seen):
                scores[doc_id] = scores.get(doc_id, 0.0) + 1 / (60 + rank)
        for rank, (article, _count) in enumerate(self._resolved_from(page_url).most_common(10)):
            found.setdefault(article.doc_id, article)
            scores[article.doc_id] = scores.get(article.doc_id, 0.0) + 1 / (60 + rank)
        ranked = sorted(scores, key=lambda doc_id: -scores[doc_id])
        return [found[doc_id] for doc_id in ranked[: self.limit]]

    def _resolved_from(self, page_url: str) -> Counter[Article]:
        """Articles the bot cited in recent conversations from this page that were not rated down."""
        with self._db.session() as s:
            recent = s.scalars(
                select(ConversationRow).order_by(ConversationRow.created_at.desc()).limit(self.history)
            )
            ids = [c.id for c in recent if (c.context or {}).get("page_url") == page_url]
            if not ids:
                return Counter()
            unhappy = set(
                s.scalars(
                    select(FeedbackRow.conversation_id).where(
                        FeedbackRow.conversation_id.in_(ids),
                        (FeedbackRow.thumbs == "down") | (FeedbackRow.rating <= 2),
                    )
                )
            )
            answers = s.scalars(
                select(MessageRow).where(
                    MessageRow.conversation_id.in_([i for i in ids if i not in unhappy]),
                    MessageRow.role == "bot",
                    MessageRow.decision == "answer",
                )
            )
            counts: Counter[Article] = Counter()
            for m in answers:
                for c in m.citations or []:
                    if isinstance(c, dict) and c.get("doc_id"):
                        counts[Article(str(c["doc_id"]), str(c.get("title", "")), str(c.get("url", "")))] += 1
            return counts

    def record(self, conversation_id: str, action: str, **detail: object) -> None:
        with self._db.session() as s:
            self._db.record(s, "conversation", conversation_id, action, "customer", **detail)

    def shown(self, conversation_id: str) -> set[str]:
        """The articles suggested in this conversation so far."""
        with self._db.session() as s:
            events = s.scalars(
                select(EventRow).where(
                    EventRow.entity == "conversation",
                    EventRow.entity_id == conversation_id,
                    EventRow.action == SHOWN,
                )
            )
            return {str(d) for e in events for d in (e.detail or {}).get("doc_ids", [])}

    def click_through(self, since: datetime, until: datetime) -> ClickThrough:
        with self._db.session() as s:
            counts = dict(
                s.execute(
                    select(EventRow.action, func.count(func.distinct(EventRow.entity_id)))
                    .where(EventRow.entity == "conversation", EventRow.action.in_([SHOWN, CLICKED]))
                    .where(EventRow.at >= since, EventRow.at < until)
                    .group_by(EventRow.action)
                ).all()
            )
        shown, clicked = int(counts.get(SHOWN, 0)), int(counts.get(CLICKED, 0))
        return ClickThrough(shown, clicked, clicked / shown if shown else None)
