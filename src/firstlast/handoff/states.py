"""The conversation and handoff state machines: one transition table each, and a Conflict (HTTP 409)
for anything else (``firstlast.lifecycle``).

     bot ──offer──> offered ──accept──> awaiting_agent ──claim──> with_agent ──resolve──> resolved
      │ ^              │                     ^    (assignment or       │ (replies,          │
      │ └───decline────┘                     │     first reply)        │  reassignment)     │
      └──────────────── handoff ─────────────┘                                             │
      ^──────────────────────────── customer message ──────────────────────────────────────┘

A customer message keeps ``awaiting_agent`` and ``with_agent`` as they are (stored, the bot stays
quiet). After a resolution the next customer message goes to the bot; only the policy's decision on
*that* message can open a new handoff, so a resolved conversation never loops back by itself.

The handoff record itself (created ``offered`` or ``open`` by the policy's decision):

    offered --accept--> open --claim--> assigned --resolve--> resolved
            --decline--> declined       (claim: reassignment; reply: more answers)
"""

from __future__ import annotations

from enum import StrEnum

from firstlast.lifecycle import Lifecycle
from firstlast.records import ConversationStatus, HandoffStatus

__all__ = ["CONVERSATION", "HANDOFF", "TRANSITIONS", "Event", "HandoffEvent", "HandoffStatus", "State"]


State = ConversationStatus  # the conversation's states (records.py), by their short name here


class Event(StrEnum):
    MESSAGE = "message"  # a customer message
    OFFER = "offer"  # the policy offers a person
    ACCEPT = "accept"  # the customer says yes to the offer
    DECLINE = "decline"  # the customer says no (or asks something else)
    HANDOFF = "handoff"  # the policy hands off now
    CLAIM = "claim"  # an agent is assigned, claims it, or sends a first reply
    REPLY = "reply"  # an agent replies (without resolving)
    RESOLVE = "resolve"  # an agent resolves the handoff


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.BOT, Event.MESSAGE): State.BOT,
    (State.BOT, Event.OFFER): State.OFFERED,
    (State.BOT, Event.HANDOFF): State.AWAITING_AGENT,
    (State.OFFERED, Event.ACCEPT): State.AWAITING_AGENT,
    (State.OFFERED, Event.DECLINE): State.BOT,
    (State.AWAITING_AGENT, Event.MESSAGE): State.AWAITING_AGENT,  # stored, shown to the agent
    (State.AWAITING_AGENT, Event.CLAIM): State.WITH_AGENT,
    (State.WITH_AGENT, Event.MESSAGE): State.WITH_AGENT,
    (State.WITH_AGENT, Event.CLAIM): State.WITH_AGENT,  # reassignment
    (State.WITH_AGENT, Event.REPLY): State.WITH_AGENT,
    (State.WITH_AGENT, Event.RESOLVE): State.RESOLVED,
    (State.RESOLVED, Event.MESSAGE): State.BOT,
}


CONVERSATION: Lifecycle[State, Event] = Lifecycle("conversation", State, TRANSITIONS)


def transition(state: str, event: Event) -> State:
    """The state after ``event``; Conflict when the table has no such transition.

    >>> transition("awaiting_agent", Event.CLAIM)
    <State.WITH_AGENT: 'with_agent'>
    """
    return CONVERSATION.next(state, event)


def bot_answers(state: str) -> bool:
    """Does the bot reply to a customer message in this state (after the message transition)?"""
    return State(state) is State.BOT


class HandoffEvent(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CLAIM = "claim"  # assignment, reassignment or an agent's first reply
    REPLY = "reply"
    RESOLVE = "resolve"


HANDOFF: Lifecycle[HandoffStatus, HandoffEvent] = Lifecycle(
    "handoff",
    HandoffStatus,
    {
        (HandoffStatus.OFFERED, HandoffEvent.ACCEPT): HandoffStatus.OPEN,
        (HandoffStatus.OFFERED, HandoffEvent.DECLINE): HandoffStatus.DECLINED,
        (HandoffStatus.OPEN, HandoffEvent.CLAIM): HandoffStatus.ASSIGNED,
        (HandoffStatus.ASSIGNED, HandoffEvent.CLAIM): HandoffStatus.ASSIGNED,
        (HandoffStatus.ASSIGNED, HandoffEvent.REPLY): HandoffStatus.ASSIGNED,
        (HandoffStatus.ASSIGNED, HandoffEvent.RESOLVE): HandoffStatus.RESOLVED,
    },
    hints={HandoffEvent.RESOLVE: "reply to it before resolving"},
)
