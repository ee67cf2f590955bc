"""Content gaps on generated traffic through the real desk: questions the sample help center cannot
answer, in three topics written for this test, come back as three topics labelled in the customers'
words; one-off questions stay unclustered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.insights.gaps import key_terms
from firstlast.retriever.analysis import TextAnalyzer
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.testing.traffic import Script, Simulator, Visit
from firstlast.wiring import Services
from tests.conftest import AGENT_KEY, WIDGET_KEY
from tests.insights.conftest import _services

TOPICS = {
    "crypto": [
        "Can I pay with bitcoin?",
        "Do you accept cryptocurrency payments?",
        "Is paying in ethereum possible?",
        "Can I use crypto to pay for my subscription?",
        "Do you take bitcoin or other crypto coins?",
    ],
    "linux": [
        "Is there a Linux desktop app?",
        "Can I install the app on Ubuntu Linux?",
        "Do you have a native Linux client?",
        "Will there ever be a Linux version?",
        "Does the desktop app run on Fedora Linux?",
    ],
    "students": [
        "Do you have a student discount?",
        "Is there cheaper pricing for students?",
        "Can university students get a discount?",
        "Do you offer discounts for students and teachers?",
        "Any student discount if I'm at college?",
    ],
}
ONE_OFFS = ["What's the weather in Paris tomorrow?", "Who won the football match last night?"]
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}


@pytest.fixture(scope="module")
def gap_traffic(
    tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder
) -> Iterator[tuple[Services, TestClient]]:
    services = _services(tmp_path_factory.mktemp("gaps"), minilm)
    client = TestClient(create_app(services))
    visits = [Visit(q) for qs in TOPICS.values() for q in qs] + [Visit(q) for q in ONE_OFFS]
    Simulator(client, WIDGET_KEY, AGENT_KEY, Script(seed=5, accept_offer=0.5)).run(visits)
    yield services, client
    services.close()


def test_unanswered_questions_in_three_topics_make_three_topics(gap_traffic) -> None:
    _services, client = gap_traffic
    body = client.get("/v1/analytics/gaps?since=1d", headers=AGENT).json()
    assert body["questions"] == sum(len(qs) for qs in TOPICS.values()) + len(ONE_OFFS)
    topic_of = {q: name for name, qs in TOPICS.items() for q in qs}
    found = [{topic_of.get(e["question"], "one-off") for e in t["topic"]["examples"]} for t in body["topics"]]
    assert len(body["topics"]) == 3, [t["topic"]["central_questions"] for t in body["topics"]]
    assert sorted(next(iter(f)) for f in found) == ["crypto", "linux", "students"]
    assert all(len(f) == 1 for f in found)  # every topic is one topic
    assert sum(t["topic"]["count"] for t in body["topics"]) + body["unclustered"] == body["questions"]
    assert all(t["topic"]["count"] >= 4 for t in body["topics"])
    assert body["unclustered"] >= len(ONE_OFFS)


def test_a_topic_is_labelled_by_its_central_questions_and_key_terms(gap_traffic) -> None:
    _services, client = gap_traffic
    topics = client.get("/v1/analytics/gaps?since=1d", headers=AGENT).json()["topics"]
    by_terms = {t["topic"]["terms"][0]: t for t in topics}
    linux = next(t for t in topics if "linux" in t["topic"]["terms"])
    assert linux["topic"]["label"] in TOPICS["linux"]
    assert set(linux["topic"]["central_questions"]) <= set(TOPICS["linux"])
    assert any(
        "student" in term
        for term in next(t for t in topics if t["topic"]["label"] in TOPICS["students"])["topic"]["terms"]
    )
    assert by_terms  # every topic has terms
    for t in topics:
        assert 0.0 <= t["topic"]["handed_off_share"] <= 1.0
        assert (
            t["trend"] in ("rising", "steady", "falling") and sum(t["counts"].values()) == t["topic"]["count"]
        )
        assert t["nearest_documents"] and len(t["topic"]["examples"]) == min(5, t["topic"]["count"])


def test_a_pending_suggestion_covers_the_topic_it_came_from(gap_traffic) -> None:
    _services, client = gap_traffic
    topics = client.get("/v1/analytics/gaps?since=1d", headers=AGENT).json()["topics"]
    # the simulated agent answered every accepted offer; each answer became a pending suggestion
    suggestions = client.get("/v1/suggestions", headers=AGENT).json()
    questions = {s["question"] for s in suggestions}
    checked = 0
    for t in topics:
        handed = [e for e in t["topic"]["examples"] if e["kind"] == "handed_off"]
        if handed:
            checked += 1
            assert any(c["kind"] == "suggestion" and c["question"] in questions for c in t["covered_by"]), t
    assert checked >= 2


def test_key_terms_keep_the_customers_words_and_language() -> None:
    terms = key_terms(TextAnalyzer(korean="morphemes", japanese="morphemes").tokens)
    assert terms("Does the desktop app run on Fedora Linux?") == ["desktop", "app", "run", "fedora", "linux"]
    japanese = terms("パスワードを忘れました")
    assert "パスワード" in japanese and all(len(t) > 1 for t in japanese)
