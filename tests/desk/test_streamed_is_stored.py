"""What the customer is streamed is exactly what is stored (issue #11, bug 1), in every path: an
answer, a handoff out of business hours, the answer to an offer, and an LLM reply handed off after
some of it was shown."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.conftest import SAMPLE_KB, VOICE

from firstlast.ingest.loaders import load_path
from firstlast.records import PostedMessage
from firstlast.testing.scripted_chat import ScriptedChatModel
from firstlast.types import Question
from firstlast.wiring import Services, build

KNOWN = "How do I turn on two-factor authentication?"
UNKNOWN = "Do you offer a discount for non-profit organisations?"
NEVER_OPEN = {"timezone": "Asia/Tokyo", "weekly": {}}
REPLY = (
    "In Nimbus Notes, go to Settings → Security → Two-factor authentication and click Turn on [1]. "
    "Then scan the QR code with your authenticator app [1]. It also works on fax machines [2]."
)


def _post(services: Services, conversation_id: str, text: str) -> tuple[PostedMessage, str]:
    deltas: list[str] = []
    posted = services.desk.post(conversation_id, text, on_delta=deltas.append)
    return posted, "".join(deltas)


def _stored(services: Services, conversation_id: str) -> str:
    return services.desk.conversation(conversation_id).messages[-1].text


@pytest.fixture
def closed_desk(make_settings, embedder) -> Services:
    services = build(make_settings(handoff={"business_hours": NEVER_OPEN}), embedder=embedder)
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    return services


def test_out_of_hours_the_streamed_handoff_notice_is_the_stored_one(closed_desk: Services) -> None:
    conv, _ = closed_desk.desk.start()
    posted, streamed = _post(closed_desk, conv.id, "I want to cancel and get a refund")
    assert posted.reply is not None and posted.reply.decision == "handoff"
    assert (
        streamed
        == posted.reply.text
        == _stored(closed_desk, conv.id)
        == closed_desk.voice.out_of_hours_message
    )
    packet = closed_desk.desk.packet(posted.handoff_id)
    assert [t.text for t in packet.transcript if t.role == "bot"] == [streamed]


def test_the_answer_to_an_offer_is_streamed_as_it_is_stored(closed_desk: Services) -> None:
    conv, _ = closed_desk.desk.start()
    offered, streamed = _post(closed_desk, conv.id, UNKNOWN)
    assert offered.reply.decision == "offer" and streamed == _stored(closed_desk, conv.id)
    accepted, streamed = _post(closed_desk, conv.id, "yes")
    assert accepted.reply.decision == "handoff"
    assert (
        streamed
        == accepted.reply.text
        == _stored(closed_desk, conv.id)
        == closed_desk.voice.out_of_hours_message
    )

    other, _ = closed_desk.desk.start()
    _post(closed_desk, other.id, UNKNOWN)
    declined, streamed = _post(closed_desk, other.id, "no thanks")
    assert declined.reply.decision == "declined"
    assert streamed == _stored(closed_desk, other.id) == closed_desk.voice.offer_declined_message


def test_an_answer_is_streamed_as_it_is_stored(closed_desk: Services) -> None:
    conv, _ = closed_desk.desk.start()
    answered, streamed = _post(closed_desk, conv.id, KNOWN)
    assert answered.reply.decision == "answer" and streamed == _stored(closed_desk, conv.id)


def test_an_llm_reply_handed_off_after_streaming_stores_what_the_customer_saw(
    make_settings, embedder
) -> None:
    settings = make_settings(
        answer={"voice_profile": VOICE},
        llm={"answerer": "llm", "passages": 6},
        handoff={"modes": {"low_confidence": "now"}},
    )
    services = build(settings, embedder=embedder, chat_model=ScriptedChatModel(reply=REPLY))
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    # A threshold between the extractive draft's confidence (so the model runs and streams) and the
    # generated reply's (lowered by the sentence the guard dropped), so the reply is handed off.
    generated = services.bot.ask(Question(KNOWN)).draft
    assert generated is not None and generated.grounding is not None and generated.grounding.mode == "llm"
    base = generated.confidence / (0.5 + 0.5 * generated.signals["llm_kept_fraction"])
    services.bot.policy = replace(services.bot.policy, threshold=(generated.confidence + base) / 2)

    conv, _ = services.desk.start()
    posted, streamed = _post(services, conv.id, KNOWN)
    assert (posted.reply.decision, posted.reply.reason) == ("handoff", "low_confidence")
    assert "Two-factor authentication" in streamed and streamed.endswith(services.voice.handoff_message)
    assert streamed == posted.reply.text == _stored(services, conv.id)
    packet = services.desk.packet(posted.handoff_id)
    assert [t.text for t in packet.transcript if t.role == "bot"] == [streamed]
