"""What the desk tells the policy about a conversation: the streak, the offer, and the history."""

from __future__ import annotations

from firstlast.desk.state import conversation_state as _conversation_state
from firstlast.desk.state import history as _history
from firstlast.records import Message


def _m(role: str, text: str = "t", decision: str | None = None, reason: str | None = None) -> Message:
    return Message(0, role, text, "", decision=decision, reason=reason)  # type: ignore[arg-type]


def test_streak_counts_unanswered_bot_turns_back_to_the_last_answer() -> None:
    messages = [
        _m("customer"),
        _m("bot", decision="answer"),
        _m("customer"),
        _m("bot", decision="offer", reason="low_confidence"),
        _m("customer", "no"),
        _m("bot", decision="declined", reason="low_confidence"),  # not a turn of its own
        _m("customer"),
        _m("bot", decision="no_answer", reason="no_knowledge"),
    ]
    state = _conversation_state(messages)
    assert state.low_confidence_streak == 2 and state.offered


def test_an_agent_reply_or_another_reason_ends_the_streak() -> None:
    after_agent = [_m("bot", decision="handoff", reason="low_confidence"), _m("agent"), _m("customer")]
    assert _conversation_state(after_agent).low_confidence_streak == 0
    other = [
        _m("bot", decision="offer", reason="low_confidence"),
        _m("bot", decision="handoff", reason="frustration"),
    ]
    assert _conversation_state(other).low_confidence_streak == 0
    assert _conversation_state([]).offered is False


def test_history_leaves_out_the_bots_notices_but_keeps_its_answers_and_agents() -> None:
    messages = [
        _m("customer", "How do I export?"),
        _m("bot", "Offer a person?", decision="offer", reason="low_confidence"),
        _m("customer", "no"),
        _m("bot", "Ok, ask another way", decision="declined"),
        _m("customer", "Export my notes to PDF"),
        _m("bot", "Use File > Export.", decision="answer"),
        _m("agent", "Also try the app."),
    ]
    assert [(t.role, t.text) for t in _history(messages)] == [
        ("customer", "How do I export?"),
        ("customer", "no"),
        ("customer", "Export my notes to PDF"),
        ("bot", "Use File > Export."),
        ("agent", "Also try the app."),
    ]


def test_the_messages_page_decides_then_the_conversations() -> None:
    from firstlast.desk.state import page_of

    opened = {"page_url": "https://app.example/billing/invoices", "page_title": "Invoices"}
    assert page_of(None, opened) == "Invoices"
    # a later page without a title: the earlier title no longer applies, and the URL is no hint
    assert page_of({"page_url": "https://app.example/account/export"}, opened) == ""
    assert page_of({"attributes": {"plan": "plus"}}, {}) == ""
