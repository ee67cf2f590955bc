"""One shape for every status in firstlast: a transition table, and a Conflict (HTTP 409) for the rest.

    CONVERSATION = Lifecycle("conversation", {(State.BOT, Event.OFFER): State.OFFERED, ...})
    CONVERSATION.next("bot", Event.OFFER)          # -> State.OFFERED
    CONVERSATION.next("resolved", Event.CLAIM)     # Conflict: cannot claim a conversation that is resolved

The tables themselves live next to what they describe: ``handoff/states.py`` (conversation,
handoff) and ``learning/states.py`` (suggestion, learned entry, learned version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from firstlast.errors import Conflict

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Lifecycle(Generic[S, E]):
    """A status machine: ``next(state, event)`` is the table's answer or a Conflict that says why."""

    noun: str
    states: type[S]
    table: Mapping[tuple[S, E], S]
    hints: Mapping[E, str] = field(default_factory=dict)  # what to do instead, per refused event

    def next(self, state: str, event: E) -> S:
        try:
            current = self.states(state)
        except ValueError:
            raise Conflict(f"{self.noun} is in an unknown state {state!r}") from None
        after = self.table.get((current, event))
        if after is None:
            terminal = not any(s is current for s, _ in self.table)
            message = f"cannot {event.value} a {self.noun} that is {'already ' if terminal else ''}{current}"
            hint = self.hints.get(event)
            raise Conflict(f"{message}; {hint}" if hint else message)
        return after

    def allows(self, state: str, event: E) -> bool:
        try:
            return (self.states(state), event) in self.table
        except ValueError:
            return False
