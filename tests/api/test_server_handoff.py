"""The real server (`firstlast serve` under uvicorn) with a webhook receiver on 127.0.0.1: the whole
handoff over HTTP, signed webhooks, feedback, and a clean shutdown of the webhook worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from firstlast.testing.servers import start_firstlast
from tests.api.test_server import REPO

SECRET = "it-webhook-secret-42"


@pytest.fixture
def received() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_served_handoff_with_webhooks_feedback_and_clean_shutdown(received, tmp_path) -> None:
    url, got = received
    env = {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(tmp_path / "data"),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": '["it-widget"]',
        "FIRSTLAST_API__AGENT_KEYS": '["it-agent"]',
        "FIRSTLAST_HANDOFF__WEBHOOK__URL": url,
        "FIRSTLAST_HANDOFF__WEBHOOK__SECRET": SECRET,
    }
    server = start_firstlast(env)
    base, proc = server.base, server.proc
    try:
        server.wait_until_up()
        widget, agent = {"Authorization": "Bearer it-widget"}, {"Authorization": "Bearer it-agent"}
        with httpx.Client(base_url=base, timeout=30) as http:
            conv = http.post("/v1/conversations", headers=widget, json={}).json()
            headers = {**widget, "X-Conversation-Token": conv["token"]}
            said = http.post(
                f"/v1/conversations/{conv['id']}/messages",
                headers=headers,
                json={"text": "I'm going to talk to my lawyer about this charge"},
            ).json()
            assert (said["decision"], said["reason"]) == ("handoff", "sensitive_topic")
            hid = said["handoff_id"]
            assert (
                http.post(f"/v1/handoffs/{hid}/assign", headers=agent, json={"agent": "sam"}).status_code
                == 200
            )
            done = http.post(
                f"/v1/handoffs/{hid}/reply", headers=agent, json={"agent": "sam", "text": "Refunded today."}
            )
            assert done.status_code == 200 and done.json()["handoff"]["status"] == "resolved"
            last = http.get(f"/v1/conversations/{conv['id']}", headers=headers).json()["messages"][-1]
            rated = http.post(
                f"/v1/conversations/{conv['id']}/feedback",
                headers=headers,
                json={"rating": 5, "message_id": last["id"]},
            )
            assert rated.status_code == 201
            assert [f["rating"] for f in http.get("/v1/feedback", headers=agent).json()] == [5]
        deadline = time.monotonic() + 20
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    stderr = server.stderr()
    # uvicorn re-raises SIGTERM after a graceful shutdown; the shutdown hook stopped the worker
    assert code in (0, -signal.SIGTERM) and "Application shutdown complete" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    events = [json.loads(body)["event"] for _, body in got]
    assert events == ["handoff.opened", "handoff.assigned", "handoff.resolved"]
    for headers_, body in got:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, headers_["X-Firstlast-Signature"])
