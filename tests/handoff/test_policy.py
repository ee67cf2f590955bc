"""The handoff policy decides with a reason, and the bot hands off instead of failing."""

from __future__ import annotations

from pathlib import Path

import pytest

from firstlast.answerer.brand_voice import load_voice_profile
from firstlast.answerer.confidence import Calibrator
from firstlast.answerer.extractive import ExtractiveAnswerer
from firstlast.bot import Bot
from firstlast.handoff.policy import HandoffPolicy, asks_for_person
from firstlast.types import Citation, Draft, HandoffReason, Hit, Question

VOICE = Path(__file__).resolve().parents[2] / "examples" / "voice.yaml"
CITATION = Citation("billing-refund-policy", "billing-refund-policy#1", "Refund policy")


def draft(
    confidence: float = 0.9, citations: tuple[Citation, ...] = (CITATION,), text: str = "Refunds: 14 days."
):
    return Draft(text, citations, confidence, evidence=text)


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a human?",
        "speak to an agent please",
        "Can I speak with a real person please?",
        "I want to talk to a real human being",
        "Can I speak to customer support?",
        "connect me to a live agent",
        "get me a human",
        "human please",
        "agent please",
        "AGENT!!",
        "representative",
        "担当者と話したい",
        "オペレーターにつないでください",
        "人間と話したい",
        "상담원 연결해 주세요",
        "사람과 대화하고 싶어요",
    ],
)
def test_asking_for_a_person_hands_off_as_customer_request(text):
    decision = HandoffPolicy().decide(Question(text), draft(confidence=0.99))
    assert decision.handed_off
    assert decision.reason is HandoffReason.CUSTOMER_REQUEST


@pytest.mark.parametrize(
    "text",
    [
        "what does the sync agent do?",
        "Is the sync agent running?",
        "How do I install the Nimbus agent on Windows?",
        "The desktop agent can't connect to the proxy",
        "What is the user agent string?",
        "Can the web clipper connect to someone's account?",
        "How do I chat with a teammate on a shared note?",
        "チームの人と話し合いながら編集できますか？",  # "discuss with people in my team"
        "How do I get a refund?",
    ],
)
def test_ordinary_questions_are_not_requests_for_a_person(text):
    assert not asks_for_person(text)
    assert HandoffPolicy().decide(Question(text), draft(confidence=0.9)).action == "answer"


def test_customer_request_wins_over_a_confident_draft_and_over_a_failure():
    policy = HandoffPolicy()
    assert policy.decide(Question("talk to a human"), None, "boom").reason is HandoffReason.CUSTOMER_REQUEST


def test_no_draft_is_an_answer_error_carrying_the_error():
    decision = HandoffPolicy().decide(Question("How do I get a refund?"), None, "RuntimeError: chroma down")
    assert decision.reason is HandoffReason.ANSWER_ERROR
    assert decision.detail == "RuntimeError: chroma down"
    assert HandoffPolicy().decide(Question("x"), None).detail == "the answer path failed"


def test_draft_without_citations_or_text_is_no_knowledge():
    policy = HandoffPolicy()
    assert policy.decide(Question("q"), draft(citations=())).reason is HandoffReason.NO_KNOWLEDGE
    assert policy.decide(Question("q"), draft(text="  ")).reason is HandoffReason.NO_KNOWLEDGE


def test_low_confidence_hands_off_with_the_threshold_in_the_detail():
    decision = HandoffPolicy(threshold=0.6).decide(Question("How do I get a refund?"), draft(confidence=0.42))
    assert decision.reason is HandoffReason.LOW_CONFIDENCE
    assert decision.detail == "confidence 0.42 below threshold 0.60"


def test_confident_draft_with_a_citation_is_answered():
    decision = HandoffPolicy(threshold=0.6).decide(Question("How do I get a refund?"), draft(confidence=0.6))
    assert decision.action == "answer"
    assert decision.reason is None and not decision.handed_off


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_outside_zero_one_is_a_value_error(threshold):
    with pytest.raises(ValueError, match=f"threshold must be in \\[0, 1\\], got {threshold}"):
        HandoffPolicy(threshold=threshold)


class BrokenRetriever:
    def retrieve(self, question: Question, k: int | None = None) -> list[Hit]:
        raise RuntimeError("vector store unavailable")


def test_bot_hands_off_with_answer_error_when_retrieval_raises():
    voice = load_voice_profile(VOICE)
    bot = Bot(BrokenRetriever(), ExtractiveAnswerer(voice, Calibrator.load(None)), HandoffPolicy(), voice)

    outcome = bot.ask(Question("How do I get a refund?", channel="email"))

    assert outcome.decision.reason is HandoffReason.ANSWER_ERROR
    assert outcome.decision.detail == "RuntimeError: vector store unavailable"
    assert outcome.reply_text == voice.handoff("email")
    assert outcome.reply_text.startswith("I'll bring in someone from our support team")
    assert outcome.draft is None and outcome.hits == ()
    assert outcome.latency_ms >= 0
