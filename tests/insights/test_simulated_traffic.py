"""Analytics and the A/B rollout on generated traffic through the real desk: a seeded simulator sends
questions through the HTTP API (real app, Chroma, SQLite and MiniLM), scripted agents answer the
handoffs, simulated customers rate replies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from firstlast.db import ConversationRow, EventRow, HandoffRow, MessageRow, SuggestionRow, utcnow
from firstlast.insights.rollout import Rollout
from firstlast.insights.service import Insights
from tests.conftest import AGENT_KEY, WIDGET_KEY
from tests.insights.conftest import QUESTIONS

AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}


def test_every_conversation_and_every_event_carries_its_arm(traffic) -> None:
    services, _client, results = traffic
    assert {r.arm for r in results} == {"bot", "control"}
    with services.db.session() as s:
        arm_of = {c.id: c.arm for c in s.scalars(select(ConversationRow))}
        handoff_conv = {h.id: h.conversation_id for h in s.scalars(select(HandoffRow))}
        message_conv = {str(m.id): m.conversation_id for m in s.scalars(select(MessageRow))}
        suggestion_conv = {r.id: r.conversation_id for r in s.scalars(select(SuggestionRow))}
        events = list(
            s.scalars(
                select(EventRow).where(
                    EventRow.entity.in_(["conversation", "handoff", "message", "suggestion"])
                )
            )
        )
    assert all(arm_of[r.conversation_id] == r.arm for r in results)
    assert len(events) > len(results)
    for e in events:
        conversation = {
            "conversation": e.entity_id,
            "handoff": handoff_conv.get(e.entity_id),
            "message": message_conv.get(e.entity_id),
            "suggestion": suggestion_conv.get(e.entity_id),  # the conversation it was first learned from
        }[e.entity]
        assert e.arm == arm_of[conversation], (e.entity, e.action)
    assert {e.entity for e in events} == {"conversation", "handoff", "suggestion"}
    assigned = [e for e in events if e.action == "arm_assigned"]
    assert len(assigned) == len(results)


def test_the_desk_assigns_the_arm_the_rollout_hash_gives(traffic) -> None:
    services, _client, results = traffic
    rollout = Rollout(50, unit="user")
    for i, r in enumerate(results):  # the fixture's visits carry user_id u0, u1, ...
        assert r.arm == rollout.arm(r.conversation_id, {"attributes": {"user_id": f"u{i}"}})
    assert services.settings.rollout.bot_percent == 50


def test_the_control_arm_goes_straight_to_a_person(traffic) -> None:
    services, _client, results = traffic
    control = [r for r in results if r.arm == "control"]
    bot = [r for r in results if r.arm == "bot"]
    assert control and bot
    assert all(r.decisions == ("handoff",) and r.agent_replied for r in control)
    with services.db.session() as s:
        for r in control:
            replies = list(
                s.scalars(
                    select(MessageRow).where(
                        MessageRow.conversation_id == r.conversation_id, MessageRow.role == "bot"
                    )
                )
            )
            assert [(m.decision, m.reason, m.confidence) for m in replies] == [
                ("handoff", "rollout_control", None)
            ]
    assert any("answer" in r.decisions for r in bot)  # the bot arm is answered by the bot


def test_resolution_by_the_bot_follows_the_readme_definition(traffic) -> None:
    services, client, results = traffic
    answered = [r for r in results if r.decisions[-1] == "answer" and r.handoff_id is None]
    assert answered and any(r.rating is None for r in answered) and any(r.rating == "up" for r in answered)
    body = client.get("/v1/analytics/resolution?since=1d", headers=AGENT).json()["summary"]
    assert body["conversations"] == len(results)
    assert body["bot_involved"] == sum(r.arm == "bot" for r in results)
    # within the quiet window only a thumbs up resolves; the silent ones are pending
    assert body["resolved_by_bot"]["n"] == body["bot_involved"]
    assert round(body["resolved_by_bot"]["value"] * body["bot_involved"]) == sum(
        r.rating == "up" for r in answered
    )
    assert body["pending"] == sum(r.rating is None for r in answered)
    assert body["resolved_by_agent"] == sum(r.agent_replied for r in results)
    assert sum(body["handoff_reasons"].values()) == sum(r.handoff_id is not None for r in results)
    assert body["handoff_reasons"]["rollout_control"] == sum(r.arm == "control" for r in results)
    # once the window has passed, silence counts as resolved too
    later = utcnow() + timedelta(minutes=31)
    insights = Insights(services.db, services.embedder, clock=lambda: later)
    summary = insights.resolution(later - timedelta(days=1)).summary
    assert round((summary.resolved_by_bot.value or 0) * summary.bot_involved) == len(answered)
    assert summary.pending == 0


def test_thumbs_down_and_a_repeated_question_are_not_resolved_by_the_bot(traffic) -> None:
    services, client, _results = traffic
    opened = []
    while len(opened) < 2:  # two bot-arm conversations
        body = client.post(
            "/v1/conversations", headers={"Authorization": f"Bearer {WIDGET_KEY}"}, json={}
        ).json()
        if body["arm"] == "bot":
            opened.append(
                (body["id"], {"Authorization": f"Bearer {WIDGET_KEY}", "X-Conversation-Token": body["token"]})
            )
    (down, h1), (repeat, h2) = opened
    question = QUESTIONS[0]
    reply = client.post(f"/v1/conversations/{down}/messages", headers=h1, json={"text": question}).json()
    assert reply["decision"] == "answer"
    client.post(
        f"/v1/conversations/{down}/feedback",
        headers=h1,
        json={"thumbs": "down", "message_id": reply["reply"]["id"]},
    )
    client.post(f"/v1/conversations/{repeat}/messages", headers=h2, json={"text": question})
    again = client.post(f"/v1/conversations/{repeat}/messages", headers=h2, json={"text": question}).json()
    assert again["reason"] == "repetition"
    later = utcnow() + timedelta(hours=1)
    facts = {
        f.id: f
        for f in Insights(services.db, services.embedder, clock=lambda: later).facts(
            later - timedelta(days=1)
        )
    }
    assert facts[down].bot_answered and not facts[down].resolved_by_bot and not facts[down].pending
    assert facts[down].ratings[0].responder == "bot" and not facts[down].ratings[0].satisfied
    assert facts[repeat].repeated and facts[repeat].handed_off and not facts[repeat].resolved_by_bot


def test_the_rollout_comparison_says_the_sample_is_too_small(traffic) -> None:
    _services, client, _results = traffic
    body = client.get("/v1/analytics/rollout?since=1d", headers=AGENT).json()
    assert body["enabled"] and body["bot_percent"] == 50
    comparison = body["comparison"]
    assert comparison["too_small"] and comparison["statement"].startswith("The sample is too small to tell")
    metrics = {m["name"]: m for m in comparison["metrics"]}
    assert set(metrics) == {
        "resolution_rate",
        "resolved_by_bot",
        "handoff_rate",
        "csat",
        "time_to_first_reply",
        "time_to_resolution",
    }
    assert metrics["handoff_rate"]["control"]["value"] == 1.0
    assert all(m["verdict"].startswith("too small to tell") for m in metrics.values())


def test_analytics_need_an_agent_key_and_a_valid_period(traffic) -> None:
    _services, client, _results = traffic
    widget = {"Authorization": f"Bearer {WIDGET_KEY}"}
    assert client.get("/v1/analytics/resolution", headers=widget).status_code == 403
    assert client.get("/v1/analytics/gaps", headers=widget).status_code == 403
    bad = client.get("/v1/analytics/resolution?since=yesterday", headers=AGENT)
    assert bad.status_code == 422 and "since must be like 30d" in bad.json()["detail"]
    assert client.get("/v1/analytics/rollout?since=9999d", headers=AGENT).status_code == 422
    assert client.get("/v1/analytics/resolution?bucket=month", headers=AGENT).status_code == 422
    weekly = client.get("/v1/analytics/resolution?since=30d&bucket=week", headers=AGENT)
    assert weekly.status_code == 200 and len(weekly.json()["summary"]["periods"]) == 1
