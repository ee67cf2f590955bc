"""On resolution the learning loop decides what the agent's answer means: a retrieval miss, an
answer only for this customer, or new knowledge. Real Chroma, SQLite and MiniLM on the sample KB."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.conftest import BOTH_DATABASES

from firstlast.db import EventRow
from firstlast.learning.generalise import generalise_question, personal_reason
from firstlast.learning.pii import scrub
from firstlast.wiring import Services

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL


def _verdict_events(services: Services) -> list[dict]:
    with services.db.session() as s:
        rows = s.scalars(select(EventRow).where(EventRow.action == "verdict").order_by(EventRow.id))
        return [{"entity": r.entity, "entity_id": r.entity_id, "actor": r.actor, **r.detail} for r in rows]


def _learned_docs(services: Services) -> list[str]:
    return [d for d, info in services.store.documents().items() if info.source == "learned"]


def test_answer_the_kb_already_had_is_a_retrieval_miss_linked_to_the_document(
    sample_services: Services,
) -> None:
    learning = sample_services.learning
    resolution = learning.on_resolved(
        "Hi! Can I get my money back on a yearly Plus plan?",
        "You can get a full refund within 14 days of an annual Plus charge.",
        agent="sam",
    )
    verdict = resolution.verdict
    assert verdict.kind == "retrieval_miss", verdict
    assert verdict.doc_id in {"billing-refund-policy", "faq"}  # both say it; neither is learned
    assert (
        verdict.similarity >= learning.judge.miss_similarity
        and verdict.overlap >= learning.judge.miss_overlap
    )
    assert resolution.suggestion is None and learning.list() == []
    assert _learned_docs(sample_services) == []  # no duplicate knowledge
    misses = learning.misses()
    assert [m.doc_id for m in misses] == [verdict.doc_id]
    assert misses[0].question == "Can I get my money back on a yearly Plus plan?"
    events = _verdict_events(sample_services)
    assert events[-1]["kind"] == "retrieval_miss" and events[-1]["doc_id"] == verdict.doc_id
    assert events[-1]["actor"] == "sam"


@pytest.mark.parametrize(
    "answer",
    [
        "I've refunded your order #4482913, you'll see it within 5 days, Dana.",
        "We have reset your password, Dana; please sign in again.",
        "Your account number AB-99812 is linked to card 4111 1111 1111 1111.",
        "Call me on +44 20 7946 0958.",
    ],
)
def test_answer_only_for_this_customer_is_recorded_and_not_suggested(services: Services, answer: str) -> None:
    resolution = services.learning.on_resolved(
        "Where is my refund for order #4482913?", answer, agent="sam", names=["Dana"]
    )
    assert resolution.verdict.kind == "customer_specific", resolution.verdict
    assert resolution.verdict.reason
    assert resolution.suggestion is None and services.learning.list() == []
    assert _verdict_events(services)[-1]["kind"] == "customer_specific"
    assert "4482913" not in resolution.verdict.answer and "Dana" not in resolution.verdict.answer


def test_question_that_is_only_greetings_and_personal_data_is_blocked(sample_services: Services) -> None:
    resolution = sample_services.learning.on_resolved(
        "Hi, it's Dana Whitfield, my number is +44 7700 900123. Thanks!",
        "Thanks Dana, we will look into the new sharing feature for teams soon.",
        agent="sam",
        names=["Dana Whitfield", "Dana", "Whitfield"],
    )
    assert resolution.verdict.kind == "customer_specific"
    assert "nothing general" in resolution.verdict.reason
    assert resolution.suggestion is None


def test_new_knowledge_becomes_a_suggestion_with_the_generalised_question(sample_services: Services) -> None:
    resolution = sample_services.learning.on_resolved(
        "Hi there! I'm Dana Whitfield. Do you offer a discount for non-profit organisations? Thanks!",
        "Yes: registered non-profit organisations get 50% off the Team plan.",
        agent="sam",
        names=["Dana Whitfield", "Dana", "Whitfield"],
    )
    assert resolution.verdict.kind == "new_knowledge"
    suggestion = resolution.suggestion
    assert suggestion is not None
    assert suggestion.question == "Do you offer a discount for non-profit organisations?"
    assert suggestion.answer == "Yes: registered non-profit organisations get 50% off the Team plan."
    assert suggestion.prompt == (
        "I hadn't seen this question before — is it right that, when a customer asks "
        "“Do you offer a discount for non-profit organisations?”, the answer is: "
        "“Yes: registered non-profit organisations get 50% off the Team plan.”?"
    )
    assert suggestion.count == 1 and suggestion.sources[0].agent == "sam"
    assert _verdict_events(sample_services)[-1]["kind"] == "new_knowledge"


@pytest.mark.parametrize(
    ("question", "general"),
    [
        (
            "Hi there! I'm Dana. Do you offer discounts for charities? Thanks!",
            "Do you offer discounts for charities?",
        ),
        ("hello team, can I pay with my card 4111 1111 1111 1111?", "Can I pay with my card?"),
        ("Good morning Sam, how do I share a notebook? Cheers", "How do I share a notebook?"),
        (
            "Quick question: does offline mode work on Android? Thank you so much",
            "Does offline mode work on Android?",
        ),
        (
            "My export keeps failing. How do I export to PDF?",
            "My export keeps failing. How do I export to PDF?",
        ),
        ("Hey! Dana here. Can I email you at dana@example.com about SSO?", "Can I email you at about SSO?"),
    ],
)
def test_questions_are_generalised(question: str, general: str) -> None:
    assert generalise_question(question, ["Dana"]) == general


@pytest.mark.parametrize(
    ("answer", "personal"),
    [
        ("You can reset your password in Settings → Security.", False),
        ("Refunds appear within 5–10 business days on your card.", False),
        ("Open your account settings and choose Billing.", False),
        ("I've cancelled your subscription, you won't be charged again.", True),
        ("Your order #123456 shipped yesterday.", True),
        ("Your invoice INV-2024-0042 is attached.", True),
        ("dana@example.com, +1 (555) 987-6543", True),
    ],
)
def test_personal_answers_are_told_from_general_ones(answer: str, personal: bool) -> None:
    assert bool(personal_reason(scrub(answer))) is personal


@pytest.mark.parametrize("question", ["What is SmartThings?", "Bixby?", "What does HDR mean?"])
def test_a_short_product_question_is_new_knowledge_not_personal_data(
    services: Services, question: str
) -> None:
    answer = "It is the app that connects and controls your devices from one place."
    resolution = services.learning.on_resolved(question, answer, agent="sam")
    assert resolution.verdict.kind == "new_knowledge", resolution.verdict
    assert resolution.suggestion is not None and resolution.suggestion.question == question


@pytest.mark.parametrize(
    "question",
    ["Hi there! Thanks so much!", "Hi, I'm Dana Whitfield, dana@example.com, +44 20 7946 0958, order?"],
)
def test_a_question_that_is_mostly_greetings_or_personal_data_is_still_refused(
    services: Services, question: str
) -> None:
    resolution = services.learning.on_resolved(
        question, "We will look into it today.", agent="sam", names=["Dana Whitfield"]
    )
    assert resolution.verdict.kind == "customer_specific"
    assert "mostly personal data or greetings" in resolution.verdict.reason
