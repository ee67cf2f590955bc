"""The support desk walks the state machine with real Chroma, SQLite and MiniLM: offers and their
answers, quiet bot while an agent owns the conversation, several agent replies, resolution, no loops,
and the out-of-hours notice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import BOTH_DATABASES, SAMPLE_KB

from firstlast.errors import Conflict
from firstlast.ingest.loaders import load_path
from firstlast.wiring import Services, build

pytestmark = BOTH_DATABASES  # SQLite and PostgreSQL

KNOWN = "How do I turn on two-factor authentication?"
UNKNOWN = "Do you offer a discount for non-profit organisations?"
UNKNOWN_2 = "Is there a special price for schools and universities?"


@pytest.fixture
def make_services(make_settings, embedder) -> Callable[..., Services]:
    built: list[Services] = []

    def make(kb: bool = True, **handoff: Any) -> Services:
        services = build(make_settings(handoff=handoff), embedder=embedder)
        if kb:
            source, documents = load_path(SAMPLE_KB)
            services.ingestor.ingest(documents, source=source)
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


def _status(services: Services, conversation_id: str) -> str:
    return services.desk.conversation(conversation_id).status


def test_declined_offer_continues_with_the_bot_and_the_next_miss_hands_off(make_services) -> None:
    services = make_services()
    desk, voice = services.desk, services.voice
    conv, _ = desk.start()

    offered = desk.post(conv.id, UNKNOWN)
    assert offered.reply is not None and offered.reply.decision == "offer"
    assert offered.reply.text == voice.offer_message
    assert _status(services, conv.id) == "offered"
    assert desk.handoff(offered.handoff_id).status == "offered"
    assert [h.id for h in desk.handoffs("open")] == []  # agents are not bothered by an offer

    declined = desk.post(conv.id, "No thanks")
    assert declined.reply.decision == "declined" and declined.reply.text == voice.offer_declined_message
    assert _status(services, conv.id) == "bot"
    assert desk.handoff(offered.handoff_id).status == "declined"

    answered = desk.post(conv.id, KNOWN)  # the bot keeps helping
    assert answered.reply.decision == "answer"

    missed = desk.post(conv.id, UNKNOWN_2)  # offered once already: asks to rephrase, no new offer
    assert (missed.reply.decision, missed.reply.text) == ("no_answer", voice.no_answer_message)
    assert missed.handoff_id is None and _status(services, conv.id) == "bot"

    again = desk.post(conv.id, "What about charities then?")  # second miss in a row: a person, now
    assert again.reply.decision == "handoff" and again.reply.reason == "low_confidence_streak"
    assert again.reply.text == voice.handoff_message  # the customer is told
    assert _status(services, conv.id) == "awaiting_agent"
    assert [h.id for h in desk.handoffs("open")] == [again.handoff_id]


def test_a_new_question_instead_of_yes_or_no_goes_to_the_bot(make_services) -> None:
    services = make_services()
    conv, _ = services.desk.start()
    offer = services.desk.post(conv.id, UNKNOWN)
    answered = services.desk.post(conv.id, KNOWN)
    assert answered.reply.decision == "answer"
    assert services.desk.handoff(offer.handoff_id).status == "declined"
    assert _status(services, conv.id) == "bot"


def test_while_an_agent_owns_the_conversation_the_bot_is_quiet_and_the_agent_sees_everything(
    make_services,
) -> None:
    services = make_services(kb=False)
    desk = services.desk
    conv, _ = desk.start(context={"page_url": "https://app.example/billing", "attributes": {"plan": "team"}})
    handed = desk.post(conv.id, "My lawyer says your refund policy is unfair")
    assert handed.reply.reason == "sensitive_topic" and _status(services, conv.id) == "awaiting_agent"

    quiet = desk.post(conv.id, "I was charged twice for the Team plan in March.")
    assert quiet.reply is None and quiet.outcome is None

    desk.reply(handed.handoff_id, "sam", "Let me look at your invoices.", resolve=False)
    assert _status(services, conv.id) == "with_agent"
    still_quiet = desk.post(conv.id, KNOWN)  # even a question the bot knows: the agent has it
    assert still_quiet.reply is None

    packet = desk.packet(handed.handoff_id)
    roles = [(t.role, t.after_handoff) for t in packet.transcript]
    assert roles == [
        ("customer", False),
        ("bot", False),
        ("customer", True),
        ("agent", True),
        ("customer", True),
    ]
    assert packet.handoff.agent == "sam" and packet.handoff.status == "assigned"
    assert "I was charged twice for the Team plan in March." in packet.summary
    assert packet.handoff.customer_context["page_url"] == "https://app.example/billing"


def test_several_replies_then_resolve_learns_the_last_answer_and_no_loop_follows(make_services) -> None:
    services = make_services()
    desk = services.desk
    conv, _ = desk.start()
    handed = desk.post(conv.id, "I want to talk to a human")
    hid = handed.handoff_id

    with pytest.raises(Conflict, match="reply to it before resolving"):
        desk.resolve(hid, "sam")  # nothing answered yet
    first, none = desk.reply(hid, "sam", "Checking with billing, one moment.", resolve=False)
    assert first.status == "assigned" and none is None
    assert [(a.by, a.from_, a.to) for a in desk.packet(hid).assignments] == [("sam", None, "sam")]  # claimed
    second, _ = desk.reply(hid, "sam", "Non-profits get 50% off the Team plan.", resolve=False)
    assert second.status == "assigned"
    resolved, suggestion = desk.resolve(hid, "sam")
    assert resolved.status == "resolved" and resolved.answer == "Non-profits get 50% off the Team plan."
    assert suggestion is not None and suggestion.answer == "Non-profits get 50% off the Team plan."
    assert _status(services, conv.id) == "resolved"

    with pytest.raises(Conflict, match="already resolved"):
        desk.reply(hid, "sam", "One more thing")
    with pytest.raises(Conflict):
        desk.assign(hid, "kim")

    # A new question after the resolution goes to the bot; the old handoff does not re-open.
    after = desk.post(conv.id, KNOWN)
    assert after.reply.decision == "answer" and _status(services, conv.id) == "bot"
    assert [h.id for h in desk.handoffs("open")] == []
    # The packet of the resolved handoff ends at its resolution.
    assert desk.packet(hid).transcript[-1].text == "Non-profits get 50% off the Team plan."


def test_reassignment_keeps_everything_and_records_who_when_from_to(make_services) -> None:
    services = make_services(kb=False)
    desk = services.desk
    conv, _ = desk.start()
    hid = desk.post(conv.id, "talk to a person please").handoff_id
    desk.assign(hid, "sam", by="lead")
    assert _status(services, conv.id) == "with_agent"
    desk.assign(hid, "kim", by="lead")
    desk.reply(hid, "kim", "Hi, Kim here. Sorted!")
    packet = desk.packet(hid)
    moves = [(a.by, a.from_, a.to) for a in packet.assignments]
    assert moves == [("lead", None, "sam"), ("lead", "sam", "kim")]
    assert all(a.at for a in packet.assignments)
    assert packet.handoff.question == "talk to a person please"


def test_out_of_hours_the_customer_gets_the_out_of_hours_message(make_services) -> None:
    services = make_services(kb=False, business_hours={"timezone": "Asia/Tokyo", "weekly": {}})  # never open
    conv, _ = services.desk.start(channel="email")
    handed = services.desk.post(conv.id, "I want to cancel and get a refund")
    assert handed.reply.reason == "sensitive_topic"
    assert handed.reply.text == services.voice.out_of_hours_message
    # accepting an offer out of hours says the same
    conv2, _ = services.desk.start()
    services.desk.post(conv2.id, UNKNOWN)
    accepted = services.desk.post(conv2.id, "yes")
    assert accepted.reply.decision == "handoff" and accepted.reply.text == services.voice.out_of_hours_message


def test_low_confidence_now_mode_hands_off_without_offering(make_services) -> None:
    services = make_services(modes={"low_confidence": "now"})
    conv, _ = services.desk.start()
    handed = services.desk.post(conv.id, UNKNOWN)
    assert (handed.reply.decision, handed.reply.reason) == ("handoff", "low_confidence")
    assert services.desk.handoff(handed.handoff_id).status == "open"


def test_a_request_for_a_person_hands_off_with_the_question_the_customer_asked_before(make_services) -> None:
    services = make_services()
    conv, _ = services.desk.start()
    services.desk.post(conv.id, UNKNOWN)  # offered a person
    services.desk.post(conv.id, "no thanks")  # declined
    handed = services.desk.post(conv.id, "Actually, I want to talk to a human")
    assert handed.reply.reason == "customer_request" and handed.handoff_id
    # The agent (and the learning loop) see the real question, not "talk to a human".
    assert services.desk.handoff(handed.handoff_id).question == UNKNOWN

    alone, _ = services.desk.start()
    first = services.desk.post(alone.id, "talk to a human please")
    assert services.desk.handoff(first.handoff_id).question == "talk to a human please"
