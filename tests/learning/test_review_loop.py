"""The review loop a support lead expects: a dismissed answer is not suggested again (a different
answer to the same question is), and pending suggestions nobody reviews expire, with an event, and
can be revived. Time comes from an injected clock, never from sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from firstlast.db import EventRow
from firstlast.errors import Conflict, InvalidInput
from firstlast.learning.service import LearningService
from firstlast.wiring import Services

QUESTION = "Do you offer a discount for non-profit organisations?"
DISCOUNT = "Yes: registered non-profit organisations get 50% off the Team plan."


def _events(services: Services, suggestion_id: str) -> list[str]:
    with services.db.session() as s:
        rows = s.scalars(select(EventRow).where(EventRow.entity_id == suggestion_id).order_by(EventRow.id))
        return [r.action for r in rows]


def test_a_dismissed_answer_is_not_suggested_again_but_a_different_answer_is(
    sample_services: Services,
) -> None:
    learning = sample_services.learning
    first = learning.on_resolved(QUESTION, DISCOUNT, agent="sam").suggestion
    assert first is not None
    learning.reject(first.id, approver="lead", note="we stopped this offer")

    again = learning.on_resolved(
        "Hi! Is there a discount for non-profit organisations?", DISCOUNT, agent="kim"
    )
    assert again.verdict.kind == "dismissed" and again.suggestion is None
    assert first.id in again.verdict.reason
    with pytest.raises(InvalidInput, match="dismissed"):
        learning.suggest(QUESTION, DISCOUNT, agent="kim")

    different = "Non-profits can apply for a free Team plan for up to 10 members."
    new = learning.on_resolved(QUESTION, different, agent="kim")
    assert new.verdict.kind == "new_knowledge" and new.suggestion is not None
    assert [s.id for s in learning.list(status="pending")] == [new.suggestion.id]


def test_pending_suggestions_expire_after_the_window_with_an_event_and_can_be_revived(
    sample_services: Services,
) -> None:
    now = [datetime(2026, 1, 1, 9, 0, tzinfo=UTC)]
    learning = LearningService(
        sample_services.db,
        sample_services.ingestor,
        sample_services.store,
        sample_services.embedder,
        suggestion_ttl=timedelta(days=28),
        clock=lambda: now[0],
    )
    old = learning.suggest(QUESTION, DISCOUNT, agent="sam")
    now[0] += timedelta(days=20)
    young = learning.suggest(
        "Is there an education discount?", "Students get Plus free for a year.", agent="sam"
    )

    now[0] += timedelta(days=7, hours=23)  # day 27 for the first: nothing expires yet
    assert learning.expire() == []
    now[0] += timedelta(hours=2)  # day 28 and a bit: the first expires, the second does not
    assert {s.id: s.status for s in learning.list()} == {old.id: "expired", young.id: "pending"}
    assert _events(sample_services, old.id)[-1] == "expired"
    with pytest.raises(Conflict):
        learning.approve(old.id, approver="lead")  # expired is not approvable without reviving

    revived = learning.revive(old.id, actor="lead")
    assert revived.status == "pending"
    assert _events(sample_services, old.id)[-1] == "revived"
    now[0] += timedelta(days=27)  # a fresh window from the revival
    assert old.id not in learning.expire()
    assert learning.approve(old.id, approver="lead").status == "approved"
    with pytest.raises(Conflict):
        learning.revive(old.id, actor="lead")  # only expired suggestions come back


def test_without_a_window_nothing_expires(sample_services: Services) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    learning = LearningService(
        sample_services.db,
        sample_services.ingestor,
        sample_services.store,
        sample_services.embedder,
        suggestion_ttl=None,
        clock=lambda: now[0],
    )
    pending = learning.suggest(QUESTION, DISCOUNT, agent="sam")
    now[0] += timedelta(days=3650)
    assert learning.expire() == []
    assert learning.get(pending.id).status == "pending" and learning.get(pending.id).expires_at is None
