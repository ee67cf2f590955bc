"""The handoff policy: a pure function of the question, the draft, the conversation state and the
settings.

It never raises; every decision carries a reason (and answers a detail) so the agent and the metrics
know why. Each reason has a mode: ``now`` hands off at once, ``offer`` asks the customer first. A
person is offered at most once per conversation; after that, an ``offer`` reason makes the bot ask
the customer to rephrase (``no_answer``) until the low-confidence streak hands off.

    customer_request > sensitive_topic > frustration > repetition        (about the question)
    > answer_error > no_knowledge | low_confidence (| low_confidence_streak)  (about the draft)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Literal

from firstlast.retriever.text import content_words
from firstlast.types import ConversationState, Decision, Draft, HandoffReason, Question

Mode = Literal["offer", "now"]
# Why these defaults: see config.DEFAULT_HANDOFF_MODES (the settings start from the same table).
DEFAULT_MODES: Mapping[HandoffReason, Mode] = MappingProxyType(
    {
        HandoffReason.CUSTOMER_REQUEST: "now",
        HandoffReason.SENSITIVE_TOPIC: "now",
        HandoffReason.FRUSTRATION: "now",
        HandoffReason.REPETITION: "now",
        HandoffReason.ANSWER_ERROR: "now",
        HandoffReason.NO_KNOWLEDGE: "offer",
        HandoffReason.LOW_CONFIDENCE: "offer",
        HandoffReason.LOW_CONFIDENCE_STREAK: "now",
    }
)
# Reasons that mean "the bot could not answer": they count towards the low-confidence streak.
UNANSWERED = frozenset(
    {HandoffReason.LOW_CONFIDENCE, HandoffReason.NO_KNOWLEDGE, HandoffReason.LOW_CONFIDENCE_STREAK}
)

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


def sensitive_matcher(keywords: Sequence[str] = (), patterns: Sequence[str] = ()) -> re.Pattern[str] | None:
    """One case-insensitive regex from keywords (whole words/phrases) and raw regexes; None if empty."""
    parts = [
        rf"(?<!\w){re.escape(k.strip())}(?!\w)" if k.strip().isascii() else re.escape(k.strip())
        for k in keywords
        if k.strip()
    ]
    parts += [f"(?:{p})" for p in patterns if p]
    return re.compile("|".join(parts), re.IGNORECASE | re.DOTALL) if parts else None


# Replies to "Would you like me to bring in a person?" — the whole message, in en/ja/ko.
_YES = re.compile(
    r"y|yes|yeah|yep|yup|sure|ok|okay|please|yes please|please do|go ahead|(?:ok|okay|sure|yes),? please"
    r"|that would be great|(?:yes|sure|ok|okay),? (?:thanks|thank you)"
    r"|はい|はい、?お願いします|お願いします|おねがいします|ええ|うん|ぜひ|ぜひお願いします"
    r"|네|예|응|좋아요|네,?\s*부탁(?:해요|합니다|드립니다)|부탁(?:해요|합니다|드립니다)|연결해\s*주세요",
    re.IGNORECASE,
)
_NO = re.compile(
    r"n|no|nope|nah|no thanks|no thank you|not now|not yet|never ?mind|i'?m (?:fine|good|ok)"
    r"|no,? (?:thanks|thank you|i'?m (?:fine|good|ok))"
    r"|いいえ|いえ|結構です|大丈夫です|いらない|いりません|不要です"
    r"|아니요|아니오|아뇨|아니|괜찮아요|괜찮습니다|필요\s*없어요",
    re.IGNORECASE,
)


def answer_to_offer(text: str) -> Literal["yes", "no"] | None:
    """Classify a reply to the offer of a person; None when it is something else (a new question)."""
    cleaned = re.sub(r"[\s.!?。！？、,~♪]+$", "", text.strip()).strip()
    if _NO.fullmatch(cleaned):
        return "no"
    if _YES.fullmatch(cleaned):
        return "yes"
    return None


@dataclass(frozen=True)
class HandoffPolicy:
    """Answer when the draft is confident enough; otherwise hand off or offer a person, with a reason.

    >>> HandoffPolicy(threshold=0.5).decide(Question("talk to a human"), draft)
    Decision(action='handoff', reason=<HandoffReason.CUSTOMER_REQUEST: 'customer_request'>, ...)
    """

    threshold: float = 0.5
    frustrated: Callable[[str], bool] | None = None  # e.g. FrustrationDetector()
    repeat_similarity: float = 0.6  # content-word Jaccard that counts as asking the same again
    modes: Mapping[HandoffReason, Mode] = field(default_factory=lambda: DEFAULT_MODES)
    sensitive: re.Pattern[str] | None = None  # from sensitive_matcher(settings...)
    streak: int = 2  # low-confidence turns in a row that hand off

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.streak < 1:
            raise ValueError(f"streak must be >= 1, got {self.streak}")
        if self.modes.get(HandoffReason.CUSTOMER_REQUEST, "now") != "now":
            raise ValueError("customer_request must hand off now: the customer already asked for a person")

    def decide(
        self,
        question: Question,
        draft: Draft | None,
        error: str = "",
        state: ConversationState | None = None,
    ) -> Decision:
        state = state or ConversationState()
        reason, detail = self._reason(question, draft, error, state)
        if reason is None:
            return Decision("answer", None, detail)
        if self.modes.get(reason, "now") == "now":
            return Decision("handoff", reason, detail)
        if not state.offered:
            return Decision("offer", reason, detail)
        return Decision("no_answer", reason, f"{detail}; a person was already offered")

    def _reason(
        self, question: Question, draft: Draft | None, error: str, state: ConversationState
    ) -> tuple[HandoffReason | None, str]:
        text = question.text
        if asks_for_person(text):
            return HandoffReason.CUSTOMER_REQUEST, "customer asked for a person"
        match = self.sensitive.search(text) if self.sensitive is not None else None
        if match is not None:
            return HandoffReason.SENSITIVE_TOPIC, f"sensitive topic: {match.group(0)[:80]!r}"
        if self.frustrated is not None and self.frustrated(text):
            return HandoffReason.FRUSTRATION, "the customer sounds frustrated"
        if self.repeats_after_bot_reply(question):
            return HandoffReason.REPETITION, "the customer asked the same again after a bot reply"
        if draft is None:
            return HandoffReason.ANSWER_ERROR, error or "the answer path failed"
        if not draft.citations or not draft.text.strip():
            reason, detail = HandoffReason.NO_KNOWLEDGE, "nothing in the knowledge base"
        elif draft.confidence < self.threshold:
            reason = HandoffReason.LOW_CONFIDENCE
            detail = f"confidence {draft.confidence:.2f} below threshold {self.threshold:.2f}"
        else:
            return None, f"confidence {draft.confidence:.2f} at or above threshold {self.threshold:.2f}"
        if state.low_confidence_streak + 1 >= self.streak:
            turns = state.low_confidence_streak + 1
            return HandoffReason.LOW_CONFIDENCE_STREAK, f"{turns} turns in a row without an answer ({detail})"
        return reason, detail

    def repeats_after_bot_reply(self, question: Question) -> bool:
        """The question restates an earlier one that the bot already replied to: it did not help.

        Only turns since the last agent reply count: once a person has answered, an earlier bot
        reply is no evidence that the bot failed again (no handoff loops after a resolution).
        """
        words = content_words(question.text)
        if len(words) < 2:
            return False
        history = list(question.history)
        agent_turns = [i for i, t in enumerate(history) if t.role == "agent"]
        if agent_turns:
            history = history[agent_turns[-1] + 1 :]
        for earlier, reply in pairwise(history):
            if earlier.role == "customer" and reply.role == "bot":
                other = content_words(earlier.text)
                if other and len(words & other) / len(words | other) >= self.repeat_similarity:
                    return True
        return False
