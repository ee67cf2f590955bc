"""Per-reason modes (offer or now), sensitive topics, the low-confidence streak and offer replies."""

from __future__ import annotations

import pytest

from firstlast.config import load_settings
from firstlast.errors import ConfigError
from firstlast.handoff.policy import DEFAULT_MODES, HandoffPolicy, answer_to_offer, sensitive_matcher
from firstlast.types import Citation, ConversationState, Draft, HandoffReason, Question, Turn

CITED = (Citation("billing-refund-policy", "billing-refund-policy#1", "Refund policy"),)
CONFIDENT = Draft("Refunds are possible within 14 days.", CITED, 0.95)
UNSURE = Draft("Maybe the Team plan.", CITED, 0.2)
EMPTY = Draft("", (), 0.0)


@pytest.fixture(scope="module")
def policy() -> HandoffPolicy:
    settings = load_settings()
    h = settings.handoff
    return HandoffPolicy(
        0.5,
        modes={HandoffReason(r): m for r, m in h.modes.items()},
        sensitive=sensitive_matcher(h.sensitive_keywords, h.sensitive_patterns),
        streak=h.low_confidence_streak,
    )


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("My lawyer will hear about this double charge", "lawyer"),
        ("I will take legal action if this is not fixed", "legal action"),
        ("I want to cancel my subscription and get a refund", "cancel my subscription and get a refund"),
        ("Refund me and cancel the plan", "Refund me and cancel"),
        ("弁護士に相談します", "弁護士"),
        ("解約して返金してほしい", "解約して返金"),
        ("변호사와 상의하겠습니다", "변호사"),
        ("해지하고 환불 받고 싶어요", "해지하고 환불"),
    ],
)
def test_sensitive_topics_hand_off_now_even_with_a_confident_draft(policy, text, matched) -> None:
    decision = policy.decide(Question(text), CONFIDENT)
    assert decision.action == "handoff"
    assert decision.reason is HandoffReason.SENSITIVE_TOPIC
    assert matched in decision.detail


@pytest.mark.parametrize(
    "text",
    [
        "How do I cancel my plan?",
        "How long does a refund take?",
        "Can I share a note with Sue?",  # the keyword is the phrase "sue you", not the name
    ],
)
def test_ordinary_cancellation_or_refund_questions_are_not_sensitive(policy, text) -> None:
    assert policy.decide(Question(text), CONFIDENT).action == "answer"


def test_keywords_match_whole_words_only() -> None:
    matcher = sensitive_matcher(["sue"], [])
    assert matcher is not None
    assert matcher.search("I will sue you")
    assert not matcher.search("There is an issue with sync")
    assert sensitive_matcher([], []) is None


def test_low_confidence_is_offered_once_then_the_bot_asks_to_rephrase(policy) -> None:
    first = policy.decide(Question("Do you have a non-profit discount?"), UNSURE)
    assert (first.action, first.reason) == ("offer", HandoffReason.LOW_CONFIDENCE)
    assert first.handed_off  # for the evaluation: the bot did not answer
    again = policy.decide(Question("What about charities?"), UNSURE, state=ConversationState(0, offered=True))
    assert (again.action, again.reason) == ("no_answer", HandoffReason.LOW_CONFIDENCE)
    assert "already offered" in again.detail


def test_no_knowledge_is_offered_too(policy) -> None:
    decision = policy.decide(Question("Where is the moon?"), EMPTY)
    assert (decision.action, decision.reason) == ("offer", HandoffReason.NO_KNOWLEDGE)


def test_second_unanswered_turn_in_a_row_hands_off_now_as_a_streak(policy) -> None:
    state = ConversationState(low_confidence_streak=1, offered=True)
    decision = policy.decide(Question("And for schools?"), UNSURE, state=state)
    assert decision.action == "handoff"
    assert decision.reason is HandoffReason.LOW_CONFIDENCE_STREAK
    assert decision.detail.startswith("2 turns in a row without an answer")
    # a confident draft ends the streak: it is answered
    assert policy.decide(Question("How do refunds work?"), CONFIDENT, state=state).action == "answer"


def test_streak_length_comes_from_the_policy() -> None:
    policy = HandoffPolicy(0.5, streak=3)
    two = policy.decide(Question("q one two"), UNSURE, state=ConversationState(1, offered=True))
    assert two.action == "no_answer"
    three = policy.decide(Question("q one two"), UNSURE, state=ConversationState(2, offered=True))
    assert three.reason is HandoffReason.LOW_CONFIDENCE_STREAK


def test_mode_now_for_low_confidence_hands_off_at_once() -> None:
    policy = HandoffPolicy(0.5, modes={**DEFAULT_MODES, HandoffReason.LOW_CONFIDENCE: "now"})
    decision = policy.decide(Question("Do you have a non-profit discount?"), UNSURE)
    assert (decision.action, decision.reason) == ("handoff", HandoffReason.LOW_CONFIDENCE)


def test_frustration_can_be_switched_to_offer() -> None:
    policy = HandoffPolicy(
        0.5,
        frustrated=lambda text: "angry" in text,
        modes={**DEFAULT_MODES, HandoffReason.FRUSTRATION: "offer"},
    )
    assert policy.decide(Question("I am angry"), CONFIDENT).action == "offer"


def test_customer_request_cannot_be_an_offer() -> None:
    with pytest.raises(ValueError, match="customer_request"):
        HandoffPolicy(modes={HandoffReason.CUSTOMER_REQUEST: "offer"})


def test_every_decision_carries_a_reason_or_a_detail(policy) -> None:
    answered = policy.decide(Question("How do refunds work?"), CONFIDENT)
    assert answered.reason is None and answered.detail == "confidence 0.95 at or above threshold 0.50"
    for draft in (UNSURE, EMPTY, None):
        decision = policy.decide(Question("x y z"), draft)
        assert decision.reason is not None and decision.detail


def test_repetition_only_counts_bot_replies_since_the_last_agent_reply(policy) -> None:
    history = (
        Turn("customer", "How do I reset my password?"),
        Turn("bot", "You can reset it in Settings."),
        Turn("agent", "I reset it for you."),
    )
    assert policy.decide(Question("How do I reset my password?", history), CONFIDENT).action == "answer"
    again = (*history, Turn("customer", "How do I reset my password?"), Turn("bot", "In Settings."))
    repeated = policy.decide(Question("how can I reset my password", again), CONFIDENT)
    assert repeated.reason is HandoffReason.REPETITION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("Yes please!", "yes"),
        ("ok", "yes"),
        ("sure, thanks", "yes"),
        ("はい", "yes"),
        ("お願いします。", "yes"),
        ("네", "yes"),
        ("네, 부탁해요", "yes"),
        ("no", "no"),
        ("No thanks.", "no"),
        ("not now", "no"),
        ("いいえ", "no"),
        ("大丈夫です", "no"),
        ("아니요", "no"),
        ("괜찮아요", "no"),
        ("yes, how do I export my notes?", None),
        ("no idea how to export notes", None),
        ("How do I export my notes?", None),
        ("はい、エクスポートの方法を教えてください", None),
    ],
)
def test_replies_to_an_offer_are_read_in_en_ja_ko(text, expected) -> None:
    assert answer_to_offer(text) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIRSTLAST_HANDOFF__MODES": '{"low_confidence": "later"}'}, "handoff.modes.low_confidence"),
        ({"FIRSTLAST_HANDOFF__MODES": '{"bored": "now"}'}, "unknown handoff reason"),
        ({"FIRSTLAST_HANDOFF__MODES": '{"customer_request": "offer"}'}, "customer_request must be 'now'"),
        ({"FIRSTLAST_HANDOFF__SENSITIVE_PATTERNS": '["(unclosed"]'}, "not a valid regex"),
        ({"FIRSTLAST_HANDOFF__LOW_CONFIDENCE_STREAK": "0"}, "low_confidence_streak"),
        ({"FIRSTLAST_HANDOFF__BUSINESS_HOURS__TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"FIRSTLAST_HANDOFF__BUSINESS_HOURS__WEEKLY": '{"mon": "18:00-08:00"}'}, "within one day"),
        ({"FIRSTLAST_HANDOFF__BUSINESS_HOURS__WEEKLY": '{"monday": "08:00-18:00"}'}, "weekday must be"),
        ({"FIRSTLAST_HANDOFF__WEBHOOK__URL": "ftp://example.org"}, "http:// or https://"),
        ({"FIRSTLAST_HANDOFF__WEBHOOK__URL": "http://127.0.0.1:9/hook"}, "needs a secret"),
        (
            {
                "FIRSTLAST_HANDOFF__WEBHOOK__URL": "http://127.0.0.1:9/h",
                "FIRSTLAST_HANDOFF__WEBHOOK__SECRET": "changeme",
            },
            "placeholder",
        ),
    ],
)
def test_bad_handoff_settings_are_refused_with_the_field_named(monkeypatch, env, message) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_a_partial_modes_table_keeps_the_other_defaults(monkeypatch) -> None:
    monkeypatch.setenv("FIRSTLAST_HANDOFF__MODES", '{"low_confidence": "now"}')
    modes = load_settings().handoff.modes
    assert modes["low_confidence"] == "now"
    assert modes["no_knowledge"] == "offer" and modes["sensitive_topic"] == "now"
