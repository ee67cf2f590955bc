"""The handoff policy: a pure function of the question, the draft and the settings.

It never raises; every decision carries a reason so the agent (and the metrics) know why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from firstlast.retriever.text import content_words
from firstlast.types import Decision, Draft, HandoffReason, Question

# Asking for a person, in the languages the product supports (en, ja, ko).
_HUMAN_REQUEST = re.compile(
    r"\b(?:talk|speak|chat|connect)(?:\s+me)?\s+(?:to|with)\s+(?:a\s+|an\s+|some\s*one|somebody|your\s+)?"
    r"(?:real\s+|live\s+|customer\s+)?(?:human|person|agent|representative|rep|operator|someone|somebody|staff|support)\b"
    r"(?!['’]s\b)"  # "connect to someone's account" is not a request for a person
    r"|\b(?:human|real person|live agent|customer service|representative)\s*(?:please|pls|now)?\s*[.!?]*$"
    r"|\bget me (?:a|an) (?:human|person|agent|representative)\b"
    r"|^(?:an?\s+)?(?:agent|operator|person)\s*(?:please|pls|now)?\s*[.!?]*$"  # the whole message is "agent!"
    r"|担当者|オペレーター|人間?と話(?!し合)|有人"  # 人と話し合う is "discuss with people"
    r"|상담원|상담사|사람과\s*(?:대화|통화|연결)|직원\s*연결",
    re.IGNORECASE,
)


def asks_for_person(text: str) -> bool:
    return _HUMAN_REQUEST.search(text.strip()) is not None


@dataclass(frozen=True)
class HandoffPolicy:
    """Answer when the draft is confident enough; otherwise hand off, with a reason.

    >>> HandoffPolicy(threshold=0.5).decide(Question("talk to a human"), draft)
    Decision(action='handoff', reason=<HandoffReason.CUSTOMER_REQUEST: 'customer_request'>, ...)
    """

    threshold: float = 0.5
    frustrated: Callable[[str], bool] | None = None  # e.g. FrustrationDetector()
    repeat_similarity: float = 0.6  # content-word Jaccard that counts as asking the same again

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")

    def decide(self, question: Question, draft: Draft | None, error: str = "") -> Decision:
        if asks_for_person(question.text):
            return Decision("handoff", HandoffReason.CUSTOMER_REQUEST, "customer asked for a person")
        if self.frustrated is not None and self.frustrated(question.text):
            return Decision("handoff", HandoffReason.FRUSTRATION, "the customer sounds frustrated")
        if self.repeats_after_bot_reply(question):
            return Decision(
                "handoff", HandoffReason.REPETITION, "the customer asked the same again after a bot reply"
            )
        if draft is None:
            return Decision("handoff", HandoffReason.ANSWER_ERROR, error or "the answer path failed")
        if not draft.citations or not draft.text.strip():
            return Decision("handoff", HandoffReason.NO_KNOWLEDGE, "nothing in the knowledge base")
        if draft.confidence < self.threshold:
            return Decision(
                "handoff",
                HandoffReason.LOW_CONFIDENCE,
                f"confidence {draft.confidence:.2f} below threshold {self.threshold:.2f}",
            )
        return Decision("answer")

    def repeats_after_bot_reply(self, question: Question) -> bool:
        """The question restates an earlier one that the bot already replied to: it did not help."""
        words = content_words(question.text)
        if len(words) < 2:
            return False
        for earlier, reply in pairwise(question.history):
            if earlier.role == "customer" and reply.role == "bot":
                other = content_words(earlier.text)
                if other and len(words & other) / len(words | other) >= self.repeat_similarity:
                    return True
        return False
