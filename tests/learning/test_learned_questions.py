"""A learned entry behaves like a trusted FAQ entry: a new question is matched against the questions
it answers, a close paraphrase is answered from it with confidence (the approved answer, whole),
and a near miss is not. Real Chroma, SQLite and MiniLM on the sample KB; the shipped calibration."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.conftest import SAMPLE_KB

from firstlast.config import Settings
from firstlast.ingest.loaders import load_path
from firstlast.testing.counting import CountingEmbedder
from firstlast.types import Outcome, Question
from firstlast.wiring import Services, build

QUESTION = "Do you offer a discount for non-profit organisations?"
ANSWER = (
    "Yes: registered non-profit organisations get 50% off the Team plan. "
    "Send us a copy of your registration certificate from the billing page and we apply the discount "
    "from your next invoice. The discount is reviewed once a year."
)


def _learn(services: Services) -> str:
    resolution = services.learning.on_resolved(QUESTION, ANSWER, agent="sam")
    assert resolution.suggestion is not None, resolution.verdict
    approved = services.learning.approve(resolution.suggestion.id, approver="lead")
    assert approved.learned_doc_id
    return approved.learned_doc_id


def _paraphrases_answered(services: Services) -> list[Outcome]:
    """Two paraphrases of the learned question, each answered from the entry above the threshold."""
    doc_id = _learn(services)
    threshold = services.bot.policy.threshold
    outcomes = []
    for paraphrase in ("Can charities get a discount?", "is there a non-profit discount on the team plan"):
        outcome = services.bot.ask(Question(paraphrase))
        assert outcome.draft is not None and outcome.draft.citations[0].doc_id == doc_id, paraphrase
        assert outcome.draft.confidence > threshold and not outcome.decision.handed_off, outcome.draft.signals
        outcomes.append(outcome)
    return outcomes


def test_a_paraphrase_is_answered_from_the_learned_entry_with_its_whole_answer(
    sample_services: Services,
) -> None:
    for outcome in _paraphrases_answered(sample_services):
        assert ANSWER in outcome.reply_text  # the approved answer, whole


def test_with_the_question_ranking_on_a_paraphrase_matches_the_learned_question(
    question_services: Services,
) -> None:
    for outcome in _paraphrases_answered(question_services):
        assert outcome.draft is not None and outcome.draft.signals["learned_match"] > 0.5


NEAR_MISSES = (
    "How do I change my plan?",
    "Do you offer a discount for students?",
    "Do non-profit organisations pay tax on invoices?",
)


def _known_gap(question: str) -> object:
    return pytest.param(
        question,
        marks=pytest.mark.xfail(
            strict=True,
            reason="known gap (README): a weak question match (cosine 0.54-0.60) to the only document "
            "on the topic is answered; the dev data has too few weak-match false learns to fit a penalty",
        ),
    )


@pytest.mark.parametrize("near_miss", [NEAR_MISSES[0], *map(_known_gap, NEAR_MISSES[1:])])
def test_a_near_miss_is_not_answered_from_the_learned_entry(
    sample_services: Services, near_miss: str
) -> None:
    doc_id = _learn(sample_services)
    outcome = sample_services.bot.ask(Question(near_miss))
    cited = outcome.draft.citations[0].doc_id if outcome.draft and outcome.draft.citations else ""
    assert outcome.decision.handed_off or cited != doc_id, (near_miss, outcome.draft)


@pytest.mark.parametrize("near_miss", [NEAR_MISSES[0], *map(_known_gap, NEAR_MISSES[1:])])
def test_with_the_question_ranking_on_a_near_miss_is_not_answered_from_the_learned_entry(
    question_services: Services, near_miss: str
) -> None:
    test_a_near_miss_is_not_answered_from_the_learned_entry(question_services, near_miss)


@pytest.fixture
def question_services(make_settings: Callable[..., Settings], embedder: CountingEmbedder) -> Services:
    """The sample knowledge base with the question ranking on (``retrieval.question_weight``)."""
    services = build(make_settings(retrieval={"question_weight": 1.0}), embedder=embedder)
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    return services


def test_merged_wordings_are_matched_question_to_question(question_services: Services) -> None:
    sample_services = question_services
    learning = sample_services.learning
    first = learning.on_resolved(QUESTION, ANSWER, agent="sam").suggestion
    merged = learning.on_resolved(
        "Hi! Is there a discount for non-profit organisations?", ANSWER, agent="kim"
    )
    assert first is not None and merged.suggestion is not None and merged.suggestion.id == first.id
    doc_id = learning.approve(first.id, approver="lead").learned_doc_id
    hits = sample_services.retriever.retrieve(Question("Is there a discount for non-profit organisations?"))
    learned = next(h for h in hits if h.chunk.doc_id == doc_id)
    assert learned.question is not None
    assert learned.question.wording == "Is there a discount for non-profit organisations?"
    assert learned.question.similarity > 0.99 and learned.question.overlap == 1.0
