"""The outgoing webhook against a real HTTP receiver on 127.0.0.1: signed bodies, retries with
exponential backoff, failures recorded, and the customer never waits for the receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from tests.conftest import AGENT_KEY, SAMPLE_KB, WIDGET_KEY

from firstlast.api.app import create_app
from firstlast.db import Database
from firstlast.desk.webhooks import WebhookNotifier
from firstlast.handoff.webhook import sign
from firstlast.ingest.loaders import load_path
from firstlast.records import Handoff
from firstlast.wiring import build

SECRET = "whsec-test-7f3a9c"


@dataclass
class Receiver:
    """Answers 500 to the first ``failures`` requests, then 204; can be slow."""

    failures: int = 0
    delay: float = 0.0
    requests: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def received(self, timeout: float = 10.0, count: int = 1) -> list[tuple[float, dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def delivered(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.requests[self.failures :]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((time.monotonic(), dict(self.headers), body))
            time.sleep(state.delay)
            failing = len(state.requests) <= state.failures
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/firstlast"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _handoff(hid: str = "h1") -> Handoff:
    return Handoff(hid, "c1", "open", "customer_request", "asked", "talk to a human", (), {}, (), {}, "now")


def _verify(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the HMAC of the raw body and compare in constant time."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Firstlast-Signature"])


def test_failed_attempts_are_retried_with_backoff_and_the_signature_verifies(receiver, tmp_path) -> None:
    receiver.failures = 2
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    notifier = WebhookNotifier(db, receiver.url, SECRET, max_attempts=4, base_delay=0.2)
    try:
        notifier.notify("handoff.opened", _handoff())
        assert notifier.idle(10)
    finally:
        notifier.close()
    requests = receiver.requests
    assert len(requests) == 3  # 500, 500, 204
    bodies = {body for _, _, body in requests}
    assert len(bodies) == 1  # the same delivery, byte for byte
    for _, headers, body in requests:
        assert _verify(headers, body)
        assert headers["X-Firstlast-Event"] == "handoff.opened"
        assert abs(int(headers["X-Firstlast-Timestamp"]) - time.time()) < 30
        assert headers["Content-Type"] == "application/json"
    assert not _verify(requests[0][1], requests[0][2] + b" ")  # a changed body does not verify
    gaps = [b[0] - a[0] for a, b in pairwise(requests)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # base, then doubled
    payload = json.loads(requests[-1][2])
    assert payload["event"] == "handoff.opened" and payload["handoff"]["id"] == "h1"
    assert payload["id"] == requests[-1][1]["X-Firstlast-Delivery"]
    [row] = notifier.deliveries("h1")
    assert (row.status, row.attempts, row.response_status) == ("delivered", 3, 204)
    assert sign(SECRET, requests[-1][2]) == requests[-1][1]["X-Firstlast-Signature"]


def test_a_receiver_that_keeps_failing_is_recorded_as_failed(receiver, tmp_path) -> None:
    receiver.failures = 100
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    notifier = WebhookNotifier(db, receiver.url, SECRET, max_attempts=3, base_delay=0.01)
    notifier.notify("handoff.resolved", _handoff("h2"))
    assert notifier.idle(10)
    notifier.close()
    [row] = notifier.deliveries("h2")
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 500")
    assert len(receiver.requests) == 3


def test_an_unreachable_receiver_is_recorded_and_shutdown_cuts_the_backoff_short(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    notifier = WebhookNotifier(db, "http://127.0.0.1:9/nothing", SECRET, max_attempts=5, base_delay=30)
    notifier.notify("handoff.assigned", _handoff("h3"))
    time.sleep(0.3)  # first attempt fails, the worker now waits 30 s
    started = time.monotonic()
    notifier.close()
    assert time.monotonic() - started < 5
    [row] = notifier.deliveries("h3")
    assert row.status == "abandoned" and row.attempts == 1 and "ConnectError" in row.last_error


def test_unknown_events_and_bad_arguments_are_value_errors(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(ValueError, match="max_attempts"):
        WebhookNotifier(db, "http://127.0.0.1:9/", SECRET, max_attempts=0)
    notifier = WebhookNotifier(db, "http://127.0.0.1:9/", SECRET)
    with pytest.raises(ValueError, match="event must be one of"):
        notifier.notify("handoff.exploded", _handoff())
    notifier.close()


@pytest.mark.integration
def test_handoff_lifecycle_posts_opened_assigned_resolved_without_making_the_customer_wait(
    receiver, make_settings, embedder
) -> None:
    receiver.failures, receiver.delay = 1, 1.5  # slow, and the first attempt fails
    settings = make_settings(
        handoff={"webhook": {"url": receiver.url, "secret": SECRET, "base_delay_seconds": 0.05}}
    )
    services = build(settings, embedder=embedder)
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    widget = {"Authorization": f"Bearer {WIDGET_KEY}"}
    agent = {"Authorization": f"Bearer {AGENT_KEY}"}
    with TestClient(create_app(services)) as client:
        conv = client.post("/v1/conversations", headers=widget, json={}).json()
        headers = {**widget, "X-Conversation-Token": conv["token"]}
        reply = client.post(
            f"/v1/conversations/{conv['id']}/messages", headers=headers, json={"text": "talk to a human"}
        )
        returned = time.monotonic()
        assert reply.status_code == 200 and reply.json()["decision"] == "handoff"
        # the receiver takes 1.5 s per call; the customer's reply came back before the first call
        # could have finished (measured from its arrival, so a slow answer on a busy machine is no flake)
        first_call = receiver.received()[0][0]
        assert returned < first_call + receiver.delay
        hid = reply.json()["handoff_id"]
        assert (
            client.post(f"/v1/handoffs/{hid}/assign", headers=agent, json={"agent": "sam"}).status_code == 200
        )
        done = client.post(f"/v1/handoffs/{hid}/reply", headers=agent, json={"agent": "sam", "text": "Done."})
        assert done.status_code == 200
        assert services.notifier is not None and services.notifier.idle(30)
    # leaving the TestClient ran the app's shutdown, which stopped the worker
    assert services.notifier._thread.is_alive() is False
    events = [(p["event"], p["handoff"]["id"]) for p in receiver.delivered()]
    assert events == [("handoff.opened", hid), ("handoff.assigned", hid), ("handoff.resolved", hid)]
    # each event carries the handoff as it was right after that change
    states = [(p["handoff"]["status"], p["handoff"]["agent"]) for p in receiver.delivered()]
    assert states == [("open", None), ("assigned", "sam"), ("resolved", "sam")]
    assert all(_verify(h, b) for _, h, b in receiver.requests)
    rows = services.notifier.deliveries(hid)
    assert [(r.event, r.status) for r in rows] == [
        ("handoff.opened", "delivered"),
        ("handoff.assigned", "delivered"),
        ("handoff.resolved", "delivered"),
    ]
    assert rows[0].attempts == 2
