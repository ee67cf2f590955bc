"""Both DeskStore implementations, SQL (a SQLite file and a PostgreSQL database) and in-memory, pass the same contract; and the
desk's own behaviour runs unchanged on the in-memory one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import BOTH_DATABASES

from firstlast.desk import SqlDeskStore, SupportDesk
from firstlast.desk.store import DeskStore
from firstlast.schema import open_database
from firstlast.testing.desk_contract import DeskStoreContract
from firstlast.testing.memory_desk import MemoryDeskStore
from firstlast.wiring import Services


@BOTH_DATABASES
class TestSqlDeskStore(DeskStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path, sql_url: str | None) -> Iterator[DeskStore]:
        db = open_database(sql_url or f"sqlite:///{tmp_path / 'desk.db'}")
        yield SqlDeskStore(db)
        db.close()


class TestMemoryDeskStore(DeskStoreContract):
    @pytest.fixture
    def store(self) -> DeskStore:
        return MemoryDeskStore()


def test_the_desk_walks_offer_handoff_reply_and_resolve_on_the_memory_store(services: Services) -> None:
    desk = SupportDesk(MemoryDeskStore(), services.bot, services.learning)
    conv, token = desk.start("chat", {"attributes": {"customer_name": "Dana"}})
    assert desk.check_token(conv.id, token) and not desk.check_token(conv.id, "wrong")
    offered = desk.post(conv.id, "Do you offer a discount for non-profit organisations?")
    assert offered.reply.decision == "offer" and desk.conversation(conv.id).status == "offered"
    accepted = desk.post(conv.id, "yes please")
    assert accepted.handoff_id == offered.handoff_id and desk.handoff(offered.handoff_id).status == "open"
    # (learn=False: the learning loop keeps its suggestions in SQL, next to the SQL desk's handoffs)
    answer = "Non-profits get 50% off the Team plan."
    handoff, suggestion = desk.reply(offered.handoff_id, "sam", answer, learn=False)
    assert handoff.status == "resolved" and handoff.answer == answer and suggestion is None
    assert desk.conversation(conv.id).status == "resolved"
    packet = desk.packet(offered.handoff_id)
    assert [e.action for e in packet.events] == ["offered", "opened", "assigned", "resolved"]
    assert [t.role for t in packet.transcript] == ["customer", "bot", "customer", "bot", "agent"]


class CountingTransactions(MemoryDeskStore):
    def __init__(self) -> None:
        super().__init__()
        self.opened = 0

    def transaction(self):  # type: ignore[no-untyped-def]
        self.opened += 1
        return super().transaction()


def test_a_token_is_read_once_per_conversation_and_a_wrong_one_stays_wrong(services: Services) -> None:
    store = CountingTransactions()
    desk = SupportDesk(store, services.bot, services.learning)
    conv, token = desk.start("chat", {})
    other, other_token = desk.start("chat", {})
    opened = store.opened
    for _ in range(3):
        assert desk.check_token(conv.id, token) and not desk.check_token(conv.id, other_token)
        assert not desk.check_token(conv.id, "")
    assert store.opened == opened  # known from start(): no transaction per widget request

    fresh = SupportDesk(store, services.bot, services.learning)  # another API process
    assert fresh.check_token(conv.id, token) and fresh.check_token(conv.id, token)
    assert not fresh.check_token(other.id, token)
    assert store.opened == opened + 2  # each conversation read once


def test_a_post_keeps_its_response_in_its_own_transaction_and_a_retry_is_not_posted(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry with the key of a stored post is refused in its read transaction, before the bot
    works (AlreadyAnswered); the same key with another message is InvalidInput."""
    from firstlast.desk.customer import KeepResponse
    from firstlast.errors import AlreadyAnswered, InvalidInput

    desk = services.desk
    conv, _ = desk.start("chat", {})
    keep = KeepResponse("k-1", "hash-1", lambda posted: {"message": posted.customer_message.id})
    first = desk.post(conv.id, "Where is my invoice?", keep=keep)
    assert desk.kept_response(conv.id, "k-1") == ("hash-1", {"message": first.customer_message.id})

    def not_asked(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a retry reached the bot")

    monkeypatch.setattr(services.bot, "ask", not_asked)
    with pytest.raises(AlreadyAnswered):
        desk.post(conv.id, "Where is my invoice?", keep=keep)
    with pytest.raises(InvalidInput, match="another message"):
        desk.post(conv.id, "Something else", keep=KeepResponse("k-1", "hash-2", keep.respond))
    customer = [m for m in desk.conversation(conv.id).messages if m.role == "customer"]
    assert [m.id for m in customer] == [first.customer_message.id]
    assert desk.kept_response(conv.id, "k-2") is None


@BOTH_DATABASES
def test_a_second_transaction_keeping_a_response_for_one_key_is_refused(
    tmp_path: Path, sql_url: str | None
) -> None:
    """Two requests that both passed the read check race to store: the second one's write
    transaction raises AlreadyAnswered, so it rolls back with the message it added."""
    from firstlast.errors import AlreadyAnswered
    from firstlast.records import NewMessage

    db = open_database(sql_url or f"sqlite:///{tmp_path / 'desk.db'}")
    store = SqlDeskStore(db)
    with store.transaction() as tx:
        tx.add_conversation("c" * 32, "h", "chat", {})
    with store.transaction() as tx:
        tx.add_message("c" * 32, NewMessage("customer", "first"))
        tx.keep_response("c" * 32, "k", "hash", {"reply": "first"})
    with pytest.raises(AlreadyAnswered), store.transaction() as tx:
        tx.add_message("c" * 32, NewMessage("customer", "second"))
        tx.keep_response("c" * 32, "k", "hash", {"reply": "second"})
    with store.transaction() as tx:
        assert [m.text for m in tx.messages("c" * 32)] == ["first"]
        assert tx.kept_response("c" * 32, "k") == ("hash", {"reply": "first"})
    db.close()
