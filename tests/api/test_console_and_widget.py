"""The console's sign-in (session cookie, CSRF, CSP), the widget's origins, identity verification,
its words from the voice profile, and reports of bad bot answers (issue #10)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.db import LearnedEntryRow
from firstlast.desk import SqlDeskStore
from firstlast.records import NewMessage
from firstlast.types import Citation
from firstlast.web.identity import user_hash
from firstlast.wiring import Services, build
from tests.conftest import ADMIN_KEY, AGENT_KEY, WIDGET_KEY

WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
SECRET = "identity-secret-for-tests"
SITE = "https://shop.example.com"


@pytest.fixture
def client(make_settings: Callable, embedder) -> TestClient:
    api = {
        "widget_keys": [WIDGET_KEY],
        "agent_keys": [AGENT_KEY],
        "admin_keys": [ADMIN_KEY],
        "identity_secret": SECRET,
        "cors_origins": [SITE],
    }
    return TestClient(create_app(build(make_settings(api=api), embedder=embedder)))


def _sign_in(client: TestClient, key: str = AGENT_KEY, name: str = "sam") -> dict:
    response = client.post("/console/session", json={"key": key, "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def test_agent_key_signs_in_to_an_httponly_strict_cookie_and_writes_need_the_csrf_token(
    client: TestClient,
) -> None:
    response = client.post("/console/session", json={"key": AGENT_KEY, "name": "sam"})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain http
    assert AGENT_KEY not in response.text and AGENT_KEY not in cookie
    session = response.json()
    assert (session["name"], session["scope"]) == ("sam", "agent")
    assert client.get("/v1/handoffs").status_code == 200  # the cookie counts as the agent scope
    assert client.get("/v1/knowledge").status_code == 403  # ... and only the agent scope
    body = {"approver": "sam"}
    refused = client.post("/v1/suggestions/nope/approve", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = client.post("/v1/suggestions/nope/approve", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    right = client.post("/v1/suggestions/nope/approve", json=body, headers={"X-CSRF-Token": session["csrf"]})
    assert right.status_code == 404  # through the CSRF check, to the route
    assert client.delete("/console/session", headers={"X-CSRF-Token": session["csrf"]}).status_code == 204
    assert client.get("/v1/handoffs").status_code == 401
    assert client.get("/console/session").status_code == 401


def test_the_session_cookie_is_secure_over_https(client: TestClient) -> None:
    secure = TestClient(client.app, base_url="https://testserver")
    response = secure.post("/console/session", json={"key": AGENT_KEY, "name": "sam"})
    assert response.status_code == 201 and "Secure" in response.headers["set-cookie"]


def test_a_widget_key_cannot_open_the_console(client: TestClient) -> None:
    refused = client.post("/console/session", json={"key": WIDGET_KEY, "name": "mallory"})
    assert refused.status_code == 403 and "widget key" in refused.json()["detail"]
    assert "set-cookie" not in refused.headers
    assert client.post("/console/session", json={"key": "guess", "name": "x"}).status_code == 401
    assert client.get("/v1/handoffs").status_code == 401


def test_admin_session_reaches_the_admin_routes(client: TestClient) -> None:
    _sign_in(client, ADMIN_KEY, "lee")
    assert client.get("/v1/knowledge").status_code == 200


def test_pages_carry_a_csp_without_inline_scripts_or_handlers(client: TestClient) -> None:
    for path in ("/", "/console"):
        page = client.get(path)
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
        assert not re.search(r"\son[a-z]+\s*=", page.text), "inline event handler"
        assert AGENT_KEY not in page.text and ADMIN_KEY not in page.text
    widget = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert widget.headers["content-encoding"] == "gzip" and "attachShadow" in widget.text
    assert client.get("/console/../app.py").status_code == 404


def test_widget_origins_are_allowed_and_others_refused(client: TestClient) -> None:
    preflight = client.options(
        "/v1/conversations",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,last-event-id",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SITE
    allowed = client.post("/v1/conversations", headers={**WIDGET, "Origin": SITE}, json={})
    assert allowed.status_code == 201 and allowed.headers["access-control-allow-origin"] == SITE
    other = client.post("/v1/conversations", headers={**WIDGET, "Origin": "https://evil.example"}, json={})
    assert other.status_code == 403 and "not an allowed widget origin" in other.json()["detail"]
    own = client.post("/v1/conversations", headers={**WIDGET, "Origin": "http://testserver"}, json={})
    assert own.status_code == 201  # the demo page and the console are on the app's own origin


def test_identity_is_trusted_only_with_a_valid_user_hash(client: TestClient) -> None:
    def open_as(user: dict) -> dict:
        conv = client.post("/v1/conversations", headers=WIDGET, json={"user": user}).json()
        return client.get(f"/v1/conversations/{conv['id']}", headers=AGENT).json()["context"]

    good = {
        "user_id": "42",
        "email": "dana@example.com",
        "name": "Dana",
        "user_hash": user_hash("42", SECRET),
    }
    assert open_as(good)["identity"] == {
        "user_id": "42",
        "email": "dana@example.com",
        "name": "Dana",
        "verified": True,
    }
    forged = open_as({**good, "user_id": "43"})
    assert "identity" not in forged and forged["unverified_identity"]["verified"] is False
    assert "identity" not in open_as({"user_id": "42", "name": "Dana"})


def test_widget_words_come_from_the_voice_profile_per_language(client: TestClient) -> None:
    en = client.get("/v1/widget/config?locale=en-GB", headers=WIDGET).json()["strings"]
    ja = client.get("/v1/widget/config?locale=ja", headers=WIDGET).json()["strings"]
    ko = client.get("/v1/widget/config?locale=ko", headers=WIDGET).json()["strings"]
    assert en["launcher"] == "Ask Nova" and en["title"] == "Nova · Nimbus Notes"  # examples/voice.yaml
    assert (ja["lang"], ja["launcher"], ja["send"]) == ("ja", "Novaに質問", "送信")  # profile, built-in
    assert ko["yes"] == "네" and ko["csat_prompt"]
    unknown = client.get("/v1/widget/config?locale=xx", headers=WIDGET).json()["strings"]
    assert unknown["lang"] == "en"
    assert (en["suggested"], ja["suggested"], ko["suggested"]) == (
        "Suggested articles",
        "おすすめの記事",
        "추천 도움말",
    )
    assert client.get("/v1/widget/config", headers=WIDGET).json()["proactive"] is False  # off by default


def test_a_reported_bot_answer_is_linked_to_the_learned_entry_it_cited(
    make_settings: Callable, embedder
) -> None:
    services: Services = build(make_settings(), embedder=embedder)
    client = TestClient(create_app(services))
    with services.db.session() as s:
        s.add(LearnedEntryRow(id="e1", doc_id="learned/e1", question="Q?", answer="A.", status="active"))
    conv, _token = services.desk.start("chat")
    cited = Citation("learned/e1", "learned/e1#0", "Q?")
    with SqlDeskStore(services.db).transaction() as tx:
        bot = tx.add_message(conv.id, NewMessage("bot", "A.", "Nova", 0.9, (cited,), "answer"))
        customer = tx.add_message(conv.id, NewMessage("customer", "thanks"))
    made = client.post(
        "/v1/reports", headers=AGENT, json={"message_id": bot.id, "reporter": "sam", "note": "wrong"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["learned_entry_id"] == "e1" and made.json()["cited"] == ["learned/e1"]
    listed = client.get("/v1/reports?learned_entry_id=e1", headers=AGENT).json()
    assert [r["id"] for r in listed] == [made.json()["id"]]
    mine = client.post("/v1/reports", headers=AGENT, json={"message_id": customer.id, "reporter": "sam"})
    assert mine.status_code == 422 and "bot answer" in mine.json()["detail"]
    assert (
        client.post("/v1/reports", headers=WIDGET, json={"message_id": bot.id, "reporter": "x"}).status_code
        == 403
    )
