"""Two agents answering the same handoff at the same moment (two API processes on one database): one
resolution wins, the other is refused with a Conflict, and the customer's answer is learned once."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES
from tests.learning.test_concurrent_decisions import _at_once

from firstlast.errors import Conflict
from firstlast.wiring import Services

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL


def test_two_agents_resolving_one_handoff_at_once_resolve_it_once(services: Services) -> None:
    desk = services.desk
    for round_ in range(3):  # a race: several rounds, each must hold
        conv, _ = desk.start()
        handoff_id = desk.post(conv.id, "I want to talk to a human please").handoff_id
        assert handoff_id is not None
        results = _at_once(
            lambda h=handoff_id, n=round_: desk.reply(h, "ana", f"Ana's answer {n}.", learn=False),
            lambda h=handoff_id, n=round_: desk.reply(h, "ben", f"Ben's answer {n}.", learn=False),
        )
        won = [r for r in results if not isinstance(r, Exception)]
        lost = [r for r in results if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1, results
        if services.db.engine.dialect.name == "postgresql":  # SQLite may refuse the loser as busy
            assert isinstance(lost[0], Conflict), lost
        handoff, _suggestion = won[0]
        packet = desk.packet(handoff_id)
        assert packet.handoff.status == "resolved" and packet.handoff.agent == handoff.agent
        assert [e.action for e in packet.events].count("resolved") == 1
        agent_lines = [t for t in packet.transcript if t.role == "agent"]
        assert len(agent_lines) == 1, agent_lines
