"""Handoff when the customer is upset or has to ask again."""

from __future__ import annotations

import pytest

from firstlast.handoff.policy import HandoffPolicy
from firstlast.handoff.sentiment import FrustrationDetector
from firstlast.types import Citation, Draft, HandoffReason, Question, Turn

CONFIDENT = Draft("You can reset it in Settings.", (Citation("d", "d#0", "Passwords"),), 0.95)


@pytest.fixture(scope="module")
def policy() -> HandoffPolicy:
    return HandoffPolicy(0.5, frustrated=FrustrationDetector())


@pytest.mark.parametrize(
    "text",
    [
        "This is useless, I am so angry!",
        "Your bot is terrible and I hate it",
        "もう最悪です。全然つながらない",
        "진짜 짜증나요. 로그인이 안 돼요",
    ],
)
def test_frustrated_customer_is_handed_off_even_with_a_confident_draft(policy, text) -> None:
    decision = policy.decide(Question(text), CONFIDENT)
    assert decision.reason is HandoffReason.FRUSTRATION


@pytest.mark.parametrize(
    "text",
    [
        "How do I reset my password?",
        "パスワードを変更したいです",
        "비밀번호를 바꾸고 싶어요",
        "Can I cancel my plan?",
    ],
)
def test_neutral_questions_are_not_frustration(policy, text) -> None:
    assert policy.decide(Question(text), CONFIDENT).action == "answer"


def test_asking_the_same_again_after_a_bot_reply_hands_off(policy) -> None:
    history = (
        Turn("customer", "How do I reset my password?"),
        Turn("bot", "You can reset it in Settings."),
    )
    again = policy.decide(Question("how can i reset my password", history), CONFIDENT)
    assert again.reason is HandoffReason.REPETITION
    different = policy.decide(Question("How do I export my notes?", history), CONFIDENT)
    assert different.action == "answer"


def test_repeating_after_an_agent_reply_is_not_a_bot_failure(policy) -> None:
    history = (
        Turn("customer", "How do I reset my password?"),
        Turn("agent", "Go to Settings, Security."),
    )
    assert policy.decide(Question("How do I reset my password?", history), CONFIDENT).action == "answer"


def test_detector_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        FrustrationDetector(threshold=0.3)
