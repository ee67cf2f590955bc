"""A seeded traffic simulator: customers ask questions through the HTTP API, accept or decline the
offer of a person, rate replies or ask again; scripted agents answer the handoffs. It drives the real
app (a ``TestClient`` or an ``httpx.Client`` on a real server), so analytics are tested on traffic
that went through the real desk.

    sim = Simulator(client, widget_key, agent_key, Script(seed=7))
    results = sim.run([Visit("How do I export notes?", agent_answer="Use File → Export.")])

``advance(seconds)`` is called wherever time passes for the simulated people (an agent taking a few
minutes to answer, a customer reading); pass a clock's shift (e.g. ``time_machine``) to make stored
times realistic, or leave it out to run at machine speed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Visit:
    """One simulated customer: the question, how to tell a good reply, what an agent would answer."""

    question: str
    agent_answer: str = "Thanks for asking: our team will follow up on this by email."
    good_reply: Callable[[dict[str, Any]], bool] | None = None  # the API reply -> did it answer?
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Script:
    seed: int = 0
    accept_offer: float = 0.7  # a customer offered a person says yes
    feedback: float = 0.6  # a customer rates the conversation
    repeat_when_unhelped: float = 0.3  # a customer whose answer did not help asks again
    agent_delay_s: tuple[float, float] = (60.0, 900.0)  # uniform, before an agent answers
    read_s: float = 45.0  # a customer reading a reply before rating it


@dataclass(frozen=True)
class VisitResult:
    conversation_id: str
    arm: str | None
    decisions: tuple[str, ...]
    handoff_id: str | None
    agent_replied: bool
    rating: str | None  # thumbs given: up | down


class Simulator:
    def __init__(
        self,
        client: Any,  # httpx.Client-like: .post(url, headers=, json=)
        widget_key: str,
        agent_key: str,
        script: Script = Script(),
        advance: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._widget = {"Authorization": f"Bearer {widget_key}"}
        self._agent = {"Authorization": f"Bearer {agent_key}"}
        self._script = script
        self._random = random.Random(script.seed)
        self._advance = advance or (lambda _seconds: None)

    def run(self, visits: Sequence[Visit]) -> list[VisitResult]:
        return [self.visit(v) for v in visits]

    def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        response = self._client.post(url, headers=headers, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text}")
        return response.json()  # type: ignore[no-any-return]

    def visit(self, visit: Visit) -> VisitResult:
        s, rnd = self._script, self._random
        opened = self._post("/v1/conversations", self._widget, {"channel": "chat", "context": visit.context})
        cid, headers = opened["id"], {**self._widget, "X-Conversation-Token": opened["token"]}
        say = lambda text: self._post(f"/v1/conversations/{cid}/messages", headers, {"text": text})  # noqa: E731
        decisions: list[str] = []
        reply = say(visit.question)
        decisions.append(str(reply["decision"]))
        if reply["decision"] == "answer":
            helped = visit.good_reply(reply) if visit.good_reply else True
            if not helped and rnd.random() < s.repeat_when_unhelped:
                self._advance(s.read_s)
                reply = say(visit.question)  # the same question again: the policy's repetition
                decisions.append(str(reply["decision"]))
        if reply["decision"] == "offer":
            self._advance(5.0)
            reply = say("Yes please" if rnd.random() < s.accept_offer else "No thanks")
            decisions.append(str(reply["decision"]))
        handoff_id = reply.get("handoff_id") if reply["decision"] == "handoff" else None
        agent_replied = False
        if handoff_id:
            self._advance(rnd.uniform(*s.agent_delay_s))
            self._post(
                f"/v1/handoffs/{handoff_id}/reply",
                self._agent,
                {"agent": "sim-agent", "text": visit.agent_answer},
            )
            agent_replied = True
        rating = None
        if rnd.random() < s.feedback:
            self._advance(s.read_s)
            if agent_replied:
                good = rnd.random() < 0.85
            elif reply["decision"] == "answer":
                good = visit.good_reply(reply) if visit.good_reply else True
            else:
                good = False
            rating = "up" if good else "down"
            self._post(f"/v1/conversations/{cid}/feedback", headers, {"thumbs": rating})
        return VisitResult(cid, opened.get("arm"), tuple(decisions), handoff_id, agent_replied, rating)
