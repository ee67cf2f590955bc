"""The same question from several conversations becomes one suggestion with every source; a
suggestion that contradicts existing knowledge is flagged with that knowledge."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES, post_until_handoff

from firstlast.wiring import Services

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

DISCOUNT = "Yes: registered non-profit organisations get 50% off the Team plan."


def _handed_off(services: Services, question: str) -> tuple[str, str]:
    """A real conversation whose question the bot hands off: (conversation id, handoff id)."""
    conversation, _token = services.desk.start("chat", {"attributes": {"customer_name": "Dana Whitfield"}})
    posted = post_until_handoff(services.desk, conversation.id, question)
    assert posted.handoff_id is not None, posted.outcome
    return conversation.id, posted.handoff_id


def test_the_same_question_from_three_conversations_is_one_suggestion_with_three_sources(
    sample_services: Services,
) -> None:
    questions = [
        "Do you offer a discount for non-profit organisations?",
        "Hi! Is there a discount for non-profit organisations?",
        "hello team, do you have discounts for non-profit organisations? thanks, Dana",
    ]
    opened = [_handed_off(sample_services, q) for q in questions]
    ids = set()
    for _conv, handoff_id in opened:
        _handoff, suggestion = sample_services.desk.reply(handoff_id, "sam", DISCOUNT)
        assert suggestion is not None
        ids.add(suggestion.id)
    assert len(ids) == 1
    (pending,) = sample_services.learning.list(status="pending")
    assert pending.count == 3
    assert [s.conversation_id for s in pending.sources] == [conv for conv, _ in opened]
    assert [s.handoff_id for s in pending.sources] == [h for _, h in opened]
    assert all(s.similarity >= sample_services.learning.same_question_similarity for s in pending.sources)
    assert all("Dana" not in s.question for s in pending.sources)
    # Approved, the other wordings are written with the entry (searchable, never quoted as the answer).
    approved = sample_services.learning.approve(pending.id, approver="lead")
    entry = sample_services.learning.entries.get(approved.learned_doc_id or "")
    assert entry.versions[0].variants == (
        "Is there a discount for non-profit organisations?",
        "Do you have discounts for non-profit organisations?",
    )
    (chunk,) = [c for c in sample_services.store.chunks() if c.doc_id == approved.learned_doc_id]
    assert chunk.text == DISCOUNT and "Is there a discount" in chunk.section


def test_different_questions_stay_separate_suggestions(sample_services: Services) -> None:
    learning = sample_services.learning
    learning.on_resolved("Do you offer a discount for non-profit organisations?", DISCOUNT, agent="sam")
    learning.on_resolved(
        "Is there an education discount?", "Students and teachers get Plus free for a year.", agent="sam"
    )
    learning.on_resolved(
        "Do you offer a discount for students?", "Students get Plus free for a year.", agent="sam"
    )
    pending = learning.list(status="pending")
    assert len(pending) == 3 and {p.count for p in pending} == {1}


def test_a_suggestion_contradicting_a_learned_entry_is_flagged_and_supersedes_it_when_approved(
    sample_services: Services,
) -> None:
    learning = sample_services.learning
    first = learning.on_resolved(
        "Do you offer a discount for non-profit organisations?", DISCOUNT, agent="sam"
    ).suggestion
    assert first is not None and first.conflict is None
    approved = learning.approve(first.id, approver="lead")
    learned_doc = approved.learned_doc_id
    # After approval a different answer to the same question is a conflict, shown with the entry.
    later = learning.on_resolved(
        "Do non-profit organisations get a discount?",
        "No, we stopped our non-profit programme in 2024; all plans are full price.",
        agent="kim",
    ).suggestion
    assert later is not None and later.id != first.id
    assert later.conflict is not None
    assert later.conflict.doc_id == learned_doc and later.conflict.text == DISCOUNT
    updated = learning.approve(later.id, approver="lead")
    assert updated.learned_doc_id == learned_doc  # the same entry, a new version
    entry = learning.entries.get(learned_doc or "")
    assert entry.version == 2 and entry.answer.startswith("No, we stopped")
    assert [v.status for v in entry.versions] == ["superseded", "current"]
    texts = [c.text for c in sample_services.store.chunks() if c.doc_id == learned_doc]
    assert texts and all("50% off" not in t for t in texts)


def test_the_same_answer_as_a_learned_entry_is_a_retrieval_miss_not_a_duplicate(
    sample_services: Services,
) -> None:
    learning = sample_services.learning
    first = learning.on_resolved(
        "Do you offer a discount for non-profit organisations?", DISCOUNT, agent="sam"
    )
    assert first.suggestion is not None
    learned_doc = learning.approve(first.suggestion.id, approver="lead").learned_doc_id
    again = learning.on_resolved(
        "Do non-profit organisations get a discount?",
        "Registered non-profit organisations get 50% off the Team plan.",
        agent="kim",
    )
    assert again.verdict.kind == "retrieval_miss" and again.verdict.doc_id == learned_doc
    assert again.suggestion is None


def test_a_suggestion_contradicting_an_faq_answer_is_flagged_with_the_faq_text(
    sample_services: Services,
) -> None:
    resolution = sample_services.learning.on_resolved(
        "Which payment methods do you accept?", "We only accept bank transfers now.", agent="sam"
    )
    assert resolution.verdict.kind == "new_knowledge"
    suggestion = resolution.suggestion
    assert suggestion is not None and suggestion.conflict is not None
    assert suggestion.conflict.doc_id == "faq"
    assert "Visa, Mastercard" in suggestion.conflict.text
