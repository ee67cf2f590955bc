"""Two leads deciding the same suggestion at the same moment (two API processes on one PostgreSQL
database): one decision wins, the other is refused, and the knowledge is learned once. PostgreSQL
runs transactions side by side (read committed), so the suggestion row is locked while it changes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.conftest import BOTH_DATABASES

from firstlast.errors import Conflict, FirstlastError
from firstlast.learning.records import EntryStatus
from firstlast.wiring import Services

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

QUESTION = "Can a Team plan pay by bank transfer?"
ANSWER = "Team plans with 20 or more seats can pay yearly by bank transfer."


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result or the exception it raised."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except FirstlastError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_approvals_of_one_suggestion_learn_it_once(services: Services) -> None:
    learning = services.learning
    for round_ in range(3):  # a race: several rounds, each must hold
        suggestion = learning.suggest(f"{QUESTION} ({round_})", f"{ANSWER} Round {round_}.", agent="sam")
        results = _at_once(
            lambda s=suggestion.id: learning.approve(s, approver="ana"),
            lambda s=suggestion.id: learning.approve(s, approver="ben", answer=f"{ANSWER} Edited."),
        )
        won = [r for r in results if not isinstance(r, Exception)]
        lost = [r for r in results if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1, results
        if services.db.engine.dialect.name == "postgresql":  # SQLite may refuse the loser as busy
            assert isinstance(lost[0], Conflict), lost
        entries = learning.entries.list(status=EntryStatus.ACTIVE)
        assert len(entries) == round_ + 1, entries
        assert [v.version for v in learning.entries.get(won[0].learned_doc_id).versions] == [1]


def test_an_approval_and_a_rejection_at_once_leave_one_decision(services: Services) -> None:
    learning = services.learning
    suggestion = learning.suggest(QUESTION, ANSWER, agent="sam")
    results = _at_once(
        lambda: learning.approve(suggestion.id, approver="ana"),
        lambda: learning.reject(suggestion.id, approver="ben", note="not policy"),
    )
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1, results
    (final,) = learning.list()
    assert final.status == won[0].status
    active = learning.entries.list(status=EntryStatus.ACTIVE)
    assert len(active) == (1 if final.status == "approved" else 0)
