"""The conversation state machine: every allowed transition, and Conflict for the rest."""

from __future__ import annotations

import pytest

from firstlast.errors import Conflict
from firstlast.handoff.states import TRANSITIONS, Event, State, transition


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        ("bot", Event.MESSAGE, State.BOT),
        ("bot", Event.OFFER, State.OFFERED),
        ("bot", Event.HANDOFF, State.AWAITING_AGENT),
        ("offered", Event.ACCEPT, State.AWAITING_AGENT),
        ("offered", Event.DECLINE, State.BOT),
        ("awaiting_agent", Event.MESSAGE, State.AWAITING_AGENT),
        ("awaiting_agent", Event.CLAIM, State.WITH_AGENT),
        ("with_agent", Event.CLAIM, State.WITH_AGENT),
        ("with_agent", Event.REPLY, State.WITH_AGENT),
        ("with_agent", Event.MESSAGE, State.WITH_AGENT),
        ("with_agent", Event.RESOLVE, State.RESOLVED),
        ("resolved", Event.MESSAGE, State.BOT),
    ],
)
def test_allowed_transitions(state, event, after) -> None:
    assert transition(state, event) is after


def test_the_table_has_exactly_the_documented_transitions() -> None:
    assert len(TRANSITIONS) == 12


@pytest.mark.parametrize(
    ("state", "event"),
    [(state, event) for state in State for event in Event if (state, event) not in TRANSITIONS],
)
def test_every_other_transition_is_a_conflict(state, event) -> None:
    with pytest.raises(Conflict, match=f"cannot {event.value} a conversation that is {state.value}"):
        transition(state, event)


def test_no_loops_a_resolved_conversation_only_goes_back_to_the_bot() -> None:
    assert {e for (s, e) in TRANSITIONS if s is State.RESOLVED} == {Event.MESSAGE}
    for event in (Event.HANDOFF, Event.OFFER, Event.CLAIM, Event.RESOLVE):
        with pytest.raises(Conflict):
            transition("resolved", event)


def test_an_unknown_stored_state_is_a_conflict_not_a_crash() -> None:
    with pytest.raises(Conflict, match="unknown state 'paused'"):
        transition("paused", Event.MESSAGE)
