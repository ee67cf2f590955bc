"""What the desk reads out of a conversation for the bot: pure functions of the stored messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from firstlast.handoff.policy import UNANSWERED, answer_to_offer, asks_for_person
from firstlast.records import Message
from firstlast.retriever.text import MAX_PAGE_TITLE_CHARS
from firstlast.types import ConversationState, HandoffReason, Outcome, Turn

_UNANSWERED = {r.value for r in UNANSWERED}


def conversation_state(messages: Sequence[Message], *, out_of_hours: bool = False) -> ConversationState:
    """Offer already made? How many bot turns in a row, up to now, could not answer? Is anyone in?"""
    offered = any(m.role == "bot" and m.decision == "offer" for m in messages)
    streak = 0
    for m in reversed(messages):
        if m.role == "agent":
            break
        if m.role != "bot" or m.decision == "declined":
            continue
        if m.decision in ("handoff", "offer", "no_answer") and m.reason in _UNANSWERED:
            streak += 1
            continue
        break  # an answer, or a handoff for another reason, ends the streak
    return ConversationState(low_confidence_streak=streak, offered=offered, out_of_hours=out_of_hours)


def history(messages: Sequence[Message]) -> tuple[Turn, ...]:
    """The turns the bot sees. Its own handoff, offer and rephrase notices are not answers, so they
    are left out: asking again after such a notice is not "the bot's answer did not help"."""
    return tuple(Turn(m.role, m.text) for m in messages if m.role != "bot" or m.decision == "answer")


def page_of(*contexts: Mapping[str, object] | None) -> str:
    """The title of the page the customer is on, when the host page set one: the retriever's weak
    hint. The first context that names a page decides (the message's, then the conversation's), so
    a title from an earlier page never outlives a move to another page. Empty when none has a title.

    Only the title the host sets counts, never the URL's path words: measured on emanual_smarttv dev,
    one site-wide title on every question ("Samsung Smart TV e-Manual | Help Center") took recall@5
    from 0.898 to 0.730, and path words are as generic on most sites ("hc en us articles").
    """
    for context in contexts:
        if context and (context.get("page_url") or context.get("page_title")):
            title = context.get("page_title")
            return title.strip()[:MAX_PAGE_TITLE_CHARS] if isinstance(title, str) else ""
    return ""


def handoff_question(outcome: Outcome) -> str:
    """The question the agent answers (and the learning loop learns): the customer's message, or,
    when that message only asks for a person, the latest earlier customer message that asked something."""
    text = outcome.question.text
    if outcome.decision.reason is not HandoffReason.CUSTOMER_REQUEST:
        return text
    for turn in reversed(outcome.question.history):
        if turn.role == "customer" and not asks_for_person(turn.text) and answer_to_offer(turn.text) is None:
            return turn.text
    return text
