"""The contract every ``DeskStore`` passes, shipped with the package (as haystack ships its
document-store suites): subclass it and provide a ``store`` fixture.

    class TestMyStore(DeskStoreContract):
        @pytest.fixture
        def store(self) -> DeskStore:
            return MyStore()
"""

from __future__ import annotations

import pytest

from firstlast.desk.store import DeskStore
from firstlast.errors import NotFound
from firstlast.records import (
    ConversationStatus,
    DraftSnapshot,
    Handoff,
    HandoffStatus,
    NewMessage,
    SourceRef,
    TranscriptLine,
)
from firstlast.types import Citation

CITATION = Citation("billing", "billing#0", "Billing", "https://x/billing")


def _handoff(handoff_id: str, conversation_id: str, status: HandoffStatus, at: str) -> Handoff:
    return Handoff(
        id=handoff_id,
        conversation_id=conversation_id,
        status=status,
        reason="low_confidence",
        detail="confidence 0.20 below threshold 0.50",
        question="Where is my invoice?",
        transcript=(TranscriptLine("customer", "Where is my invoice?", at),),
        customer_context={"page_url": "https://app.example/billing"},
        sources=(SourceRef("billing", "billing#0", "Billing", "https://x/billing", 0.3, "Invoices are..."),),
        draft=DraftSnapshot("Open Settings → Billing.", 0.2, (CITATION,)),
        created_at=at,
    )


class DeskStoreContract:
    @pytest.fixture
    def store(self) -> DeskStore:
        raise NotImplementedError("subclasses provide the store under test")

    def test_a_conversation_round_trips_with_its_messages(self, store: DeskStore) -> None:
        with store.transaction() as tx:
            tx.add_conversation("c1", "hash", "email", {"attributes": {"plan": "team"}})
            first = tx.add_message("c1", NewMessage("customer", "Hi", context={"page_url": "/x"}))
            reply = tx.add_message(
                "c1", NewMessage("bot", "Open Billing.", "Ava", 0.8, (CITATION,), "answer", None)
            )
        with store.transaction() as tx:
            conv = tx.conversation("c1")
            assert (conv.channel, conv.status, conv.context) == (
                "email",
                "bot",
                {"attributes": {"plan": "team"}},
            )
            assert conv.messages == (first, reply) and first.id < reply.id and reply.created_at
            assert reply.citations == (CITATION,) and reply.author == "Ava" and reply.confidence == 0.8
            assert tx.messages("c1", up_to=first.id) == [first]
            assert tx.token_hash("c1") == "hash"
            from dataclasses import replace

            tx.save_conversation(replace(conv, status=ConversationStatus.OFFERED, context={"lang": "ja"}))
        with store.transaction() as tx:
            assert (tx.conversation("c1").status, tx.conversation("c1").context) == (
                "offered",
                {"lang": "ja"},
            )

    def test_a_conversation_keeps_its_rollout_arm(self, store: DeskStore) -> None:  # issue #14
        with store.transaction() as tx:
            tx.add_conversation("c1", "hash", "chat", {}, "control")
            tx.add_conversation("c2", "hash", "chat", {})
        with store.transaction() as tx:
            from dataclasses import replace

            tx.save_conversation(replace(tx.conversation("c1"), status=ConversationStatus.AWAITING_AGENT))
        with store.transaction() as tx:
            assert (tx.conversation("c1").arm, tx.conversation("c2").arm) == ("control", None)

    def test_missing_records_are_not_found(self, store: DeskStore) -> None:
        with store.transaction() as tx:
            for read in (tx.conversation, tx.token_hash, tx.handoff):
                with pytest.raises(NotFound):
                    read("nope")

    def test_handoffs_round_trip_typed_and_are_listed_newest_first(self, store: DeskStore) -> None:
        from dataclasses import replace

        with store.transaction() as tx:
            tx.add_conversation("c1", "hash", "chat", {})
            tx.add_handoff(_handoff("h1", "c1", HandoffStatus.OFFERED, "2026-01-01T10:00:00+00:00"))
            tx.add_handoff(_handoff("h2", "c1", HandoffStatus.OFFERED, "2026-01-01T11:00:00+00:00"))
        with store.transaction() as tx:
            assert tx.handoff("h1") == _handoff(
                "h1", "c1", HandoffStatus.OFFERED, tx.handoff("h1").created_at
            )
            assert tx.offered_handoff("c1") == tx.handoff("h2")
            tx.save_handoff(replace(tx.handoff("h2"), status=HandoffStatus.OPEN, agent="sam"))
        with store.transaction() as tx:
            assert [h.id for h in tx.handoffs()] == ["h2", "h1"]
            assert [h.id for h in tx.handoffs(HandoffStatus.OPEN)] == ["h2"]
            assert tx.handoff("h2").agent == "sam" and tx.offered_handoff("c1") == tx.handoff("h1")
            assert tx.handoffs(limit=1) == [tx.handoff("h2")]

    def test_history_keeps_each_change_in_order(self, store: DeskStore) -> None:
        with store.transaction() as tx:
            tx.record("handoff", "h1", "opened", "bot", message_id=2)
            tx.record("handoff", "h1", "assigned", "lead", to="sam", **{"from": None})
            tx.record("handoff", "h2", "opened", "bot")
        with store.transaction() as tx:
            events = tx.events("handoff", "h1")
        assert [(e.action, e.actor) for e in events] == [("opened", "bot"), ("assigned", "lead")]
        assert events[1].detail == {"to": "sam", "from": None} and all(e.at for e in events)

    def test_streams_read_messages_and_history_after_a_number(self, store: DeskStore) -> None:
        with store.transaction() as tx:
            assert tx.history_head() == 0
            tx.add_conversation("c1", "hash", "chat", {})
            first, second, third = (tx.add_message("c1", NewMessage("customer", t)) for t in "abc")
            tx.record("handoff", "h1", "opened", "bot")
            tx.record("suggestion", "s1", "approved", "lead")
            tx.record("handoff", "h1", "resolved", "sam")
        with store.transaction() as tx:
            assert tx.messages("c1", after=first.id) == [second, third]
            assert tx.messages("c1", after=first.id, limit=1) == [second]
            assert tx.conversation_status("c1") == ConversationStatus.BOT
            history = tx.history_since("handoff", 0)
            assert [(ident, e.action) for _, ident, e in history] == [("h1", "opened"), ("h1", "resolved")]
            assert history[0][0] < history[1][0] == tx.history_head()
            assert [e.action for _, _, e in tx.history_since("handoff", history[0][0])] == ["resolved"]
            with pytest.raises(NotFound):
                tx.conversation_status("nope")

    def test_an_outbox_job_stays_pending_until_it_is_done(self, store: DeskStore) -> None:
        with store.transaction() as tx:
            tx.enqueue("learn", "h1", {"answer": "Yes."})
            tx.enqueue("other", "x", {})
        with store.transaction() as tx:
            (job,) = tx.pending("learn")
            assert (job.key, job.payload, job.attempts) == ("h1", {"answer": "Yes."}, 0)
            tx.finish(job.id, error="BackendError: down")
        with store.transaction() as tx:
            (again,) = tx.pending("learn")
            assert (again.attempts, again.last_error) == (1, "BackendError: down")
            tx.finish(again.id)
        with store.transaction() as tx:
            assert tx.pending("learn") == [] and len(tx.pending("other")) == 1

    def test_a_transaction_that_raises_leaves_nothing_behind(self, store: DeskStore) -> None:
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.add_conversation("c1", "hash", "chat", {})
            tx.add_message("c1", NewMessage("customer", "Hi"))
            raise RuntimeError("crash before the commit")
        with store.transaction() as tx, pytest.raises(NotFound):
            tx.conversation("c1")
