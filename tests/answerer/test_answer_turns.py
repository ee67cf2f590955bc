"""``answer.concurrency``: at most that many questions retrieve and answer at once in a process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from firstlast.bot import Bot
from firstlast.types import Hit, Question
from firstlast.wiring import Services

QUESTIONS = [
    "How do I reset my password?",
    "Can I get a refund?",
    "How do I export my notes?",
    "How do I cancel my subscription?",
    "Does the app work offline?",
    "How do I share a notebook?",
    "How do I turn on two-factor authentication?",
    "How do I change my email address?",
]


class Overlap:
    """The real retriever, with a count of the calls running at the same time."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.running = self.most = 0
        self._lock = threading.Lock()

    def retrieve(self, question: Question, k: int | None = None) -> list[Hit]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.inner.retrieve(question, k)  # type: ignore[attr-defined]
        finally:
            with self._lock:
                self.running -= 1


def test_one_turn_answers_one_question_at_a_time_with_the_same_replies(sample_services: Services) -> None:
    real = sample_services.bot
    alone = {q: real.ask(Question(q)).reply_text for q in QUESTIONS}
    overlap = Overlap(real.retriever)
    bot = Bot(overlap, real.answerer, real.policy, real.voice, real.detector, turns=1)  # type: ignore[arg-type]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda q: bot.ask(Question(q)).reply_text, QUESTIONS * 3))
    assert overlap.most == 1
    assert replies == [alone[q] for q in QUESTIONS * 3]


def test_turns_must_not_be_negative(sample_services: Services) -> None:
    real = sample_services.bot
    with pytest.raises(ValueError, match="turns"):
        Bot(real.retriever, real.answerer, real.policy, real.voice, turns=-1)
