"""Learned knowledge lives in two stores, SQL (the truth) and Chroma, and they never end up
disagreeing (issue #11, bug 2): a learned document cannot be deleted behind its entry's back, a
Chroma write that dies in the middle of an approval or a retirement is repaired by the reconcile,
and a learning verdict that failed after the agent's reply is retried, not lost."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.conftest import ADMIN_KEY, BOTH_DATABASES

from firstlast.api.app import create_app
from firstlast.config import Settings
from firstlast.learning.records import EntryStatus, SuggestionStatus
from firstlast.testing.faulty import FaultyStore
from firstlast.types import Document, Question
from firstlast.wiring import Services, build, build_store

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

QUESTION = "Can a Team plan pay by bank transfer?"
ANSWER = (
    "Team plans with 20 or more seats can pay yearly by bank transfer. "
    "Ask billing for the bank details and quote your workspace name. "
    "The transfer must arrive within 30 days of the invoice."
)


@pytest.fixture
def faulty(make_settings: Callable[..., Settings], embedder) -> tuple[Services, FaultyStore]:
    settings = make_settings(learning={"answer_section_sentences": 1})  # one chunk per sentence
    store = FaultyStore(build_store(settings))
    return build(settings, embedder=embedder, store=store), store


def _agree(services: Services) -> bool:
    """Chroma holds exactly the active entries, each at its current version, in full."""
    stored = {d: i for d, i in services.store.documents().items() if i.source == "learned"}
    active = {e.doc_id: e for e in services.learning.entries.list(status=EntryStatus.ACTIVE)}
    return set(stored) == set(active) and all(
        stored[d].metadata.get("version") == str(e.version) and stored[d].chunks == 3
        for d, e in active.items()
    )


def _learned(services: Services) -> str:
    suggestion = services.learning.suggest(QUESTION, ANSWER, agent="sam")
    return services.learning.approve(suggestion.id, approver="lead").learned_doc_id or ""


def test_a_learned_document_cannot_be_deleted_behind_its_entry(faulty) -> None:
    services, _ = faulty
    doc_id = _learned(services)
    client = TestClient(create_app(services))
    refused = client.delete(f"/v1/knowledge/{doc_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert refused.status_code == 409 and "retire it" in refused.json()["detail"]
    assert services.learning.entries.get(doc_id).status == "active" and _agree(services)


def test_a_chroma_write_that_dies_during_an_approval_is_repaired_by_the_reconcile(faulty) -> None:
    services, store = faulty
    suggestion = services.learning.suggest(QUESTION, ANSWER, agent="sam")
    store.failing = {"upsert"}
    approved = services.learning.approve(suggestion.id, approver="lead")  # the approval itself stands
    assert store.failures == 1 and approved.status == SuggestionStatus.APPROVED
    doc_id = approved.learned_doc_id or ""
    assert services.store.documents()[doc_id].chunks == 1  # half of it made it into Chroma
    assert not _agree(services)

    assert services.learning.reconcile() == 0  # still down: nothing repaired, nothing lost
    store.failing = set()
    services.learning.reconcile()
    assert _agree(services)
    hits = services.retriever.retrieve(Question("How do I pay a Team plan by bank transfer?"))
    assert hits[0].chunk.doc_id == doc_id


def test_a_retirement_whose_delete_fails_is_finished_by_the_reconcile(faulty) -> None:
    services, store = faulty
    doc_id = _learned(services)
    store.failing = {"delete"}
    retired = services.learning.entries.retire(doc_id, actor="lead")
    assert retired.status == "retired" and doc_id in services.store.documents()  # Chroma still has it
    store.failing = set()
    assert services.learning.reconcile() == 0 and doc_id not in services.store.documents()
    assert _agree(services)
    # the suggestion no longer shows as approved knowledge
    assert services.learning.list()[0].status == SuggestionStatus.RETIRED


def test_reconcile_removes_learned_chunks_the_database_does_not_know(faulty) -> None:
    services, _ = faulty
    # what a crash between a Chroma write and a failed commit leaves: chunks with no active entry
    orphan = Document(
        id="learned/ghost", title=QUESTION, text=ANSWER, source="learned", metadata={"version": "1"}
    )
    services.ingestor.ingest([orphan])
    assert not _agree(services)
    assert services.learning.reconcile() == 1 and _agree(services)
    assert "learned/ghost" not in services.store.documents()


def test_a_learning_verdict_that_fails_after_the_reply_is_retried_not_lost(faulty) -> None:
    services, store = faulty
    services.ingestor.ingest(
        [Document(id="plans", title="Plans", text="The Team plan costs 8 euros a seat.")]
    )
    conv, _ = services.desk.start()
    hid = services.desk.post(conv.id, "talk to a human please").handoff_id
    store.failing = {"search"}  # the judge cannot read the knowledge base
    handoff, suggestion = services.desk.reply(hid, "sam", "Non-profits get 50% off the Team plan.")
    assert handoff.status == "resolved" and suggestion is None  # the agent's reply went out
    assert store.failures >= 1 and services.learning.list() == []

    store.failing = set()
    assert services.desk.retry_learning() == 1
    assert [s.answer for s in services.learning.list()] == ["Non-profits get 50% off the Team plan."]
    assert services.desk.retry_learning() == 0  # done once, never twice
    verdicts = [e.action for e in services.desk.packet(hid).events if e.action == "verdict"]
    assert verdicts == ["verdict"]


def test_a_restart_finishes_what_a_failure_left_pending(faulty, embedder) -> None:
    services, store = faulty
    services.ingestor.ingest(
        [Document(id="plans", title="Plans", text="The Team plan costs 8 euros a seat.")]
    )
    suggestion = services.learning.suggest(QUESTION, ANSWER, agent="sam")
    conv, _ = services.desk.start()
    hid = services.desk.post(conv.id, "talk to a human please").handoff_id
    store.failing = {"upsert", "search"}  # the knowledge base is down for both
    services.learning.approve(suggestion.id, approver="lead")
    services.desk.reply(hid, "sam", "Non-profits get 50% off the Team plan.")
    assert not _agree(services) and len(services.learning.list()) == 1

    restarted = build(services.settings, embedder=embedder)  # the same database and Chroma folder
    with TestClient(create_app(restarted)):  # start-up runs the reconcile
        assert _agree(restarted)
        assert {s.answer for s in restarted.learning.list()} == {
            ANSWER,
            "Non-profits get 50% off the Team plan.",
        }
