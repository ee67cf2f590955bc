"""Prometheus metrics of one service: request latency by route template, the bot's decisions by
reason, handoffs, and how often learned entries answer customers.

    metrics = Metrics()
    bot = Bot(..., observe=metrics.outcome)
    body, content_type = metrics.exposition()     # what GET /metrics returns

Several worker processes (``firstlast serve --workers N``) each count their own requests: with
``PROMETHEUS_MULTIPROC_DIR`` set (``serve`` sets it for its workers) every process writes its values
to files there and the exposition adds them up, so any worker's /metrics shows the whole service.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from firstlast.types import Outcome

log = logging.getLogger(__name__)
LEARNED_PREFIX = "learned/"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "firstlast_request_seconds",
            "HTTP request latency by method, route template and status code",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "firstlast_decisions",
            "The bot's decisions: answer, offer, no_answer or handoff, with the handoff reason",
            ["action", "reason"],
            registry=self.registry,
        )
        self.handoffs = Counter(
            "firstlast_handoffs",
            "Conversations the bot handed to a person, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.learned_answers = Counter(
            "firstlast_learned_answers",
            "Answers that cited a learned entry (the learning loop at work), by entry",
            ["doc_id"],
            registry=self.registry,
        )

    def outcome(self, outcome: Outcome) -> None:
        """Count one pass of the answer path (the bot calls this; it never raises)."""
        try:
            decision = outcome.decision
            reason = decision.reason.value if decision.reason else ""
            self.decisions.labels(decision.action, reason).inc()
            if decision.action == "handoff":
                self.handoffs.labels(reason).inc()
            if decision.action == "answer" and outcome.draft is not None:
                for doc_id in {c.doc_id for c in outcome.draft.citations}:
                    if doc_id.startswith(LEARNED_PREFIX):
                        self.learned_answers.labels(doc_id).inc()
        except Exception:
            log.exception("could not record the outcome's metrics")

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of this process, or of all workers in multi-process mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
