"""The issue's scenario in a real Chromium: a customer in the widget, an agent in the console (two
browser contexts), one server. The tests run in file order and share the pages of one scenario:

1. a KB question is answered by a streamed reply with a citation link;
2. a question the KB lacks gets the offer; "Yes" brings the handoff notice;
3. the handoff appears in the agent's inbox without a reload; the packet shows transcript, context
   and draft; the agent's reply appears in the widget without a reload; the agent resolves;
4. the learning prompt appears inline; the agent edits and approves;
5. a new customer asks a paraphrase and is answered from the learned entry;
6. the CSAT given in the widget shows in the console; script in a KB article and in a message stays
   text; a widget key cannot open the console;
7. the Insights tab shows the resolution analytics, the rollout statement and the content gaps.

Screenshots go to docs/screenshots/ (shown in the README); the widget's size and time to
interactive are printed, not asserted.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import KEYS, REPO

pytestmark = pytest.mark.browser
SHOTS = REPO / "docs" / "screenshots"
ANSWER = (
    "Yes: registered non-profit organisations get 50% off the Team plan. "
    "Email support from your organisation's address to apply."
)
EDITED = (
    "Registered non-profit organisations and charities get 50% off the Team plan; "
    "apply by emailing support from the organisation's address."
)
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


@pytest.fixture(scope="module")
def scene(site: str, chromium: Any) -> dict[str, Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    customer = chromium.new_context(viewport={"width": 1100, "height": 760})
    agent = chromium.new_context(viewport={"width": 1280, "height": 900})
    return {"site": site, "customer": customer.new_page(), "agent": agent.new_page(), "browser": chromium}


def _final(response: Any) -> dict:
    """The ``final`` event of a streamed reply."""
    for block in response.text().split("\n\n"):
        if block.startswith("event: final"):
            return json.loads(block.split("data: ", 1)[1])
    raise AssertionError(f"no final event in {response.text()[:300]!r}")


def _ask(page: Any, text: str) -> dict:
    box = page.get_by_role("textbox", name="Type your question…")
    box.fill(text)
    with page.expect_response(lambda r: r.url.endswith("/messages") and r.request.method == "POST") as info:
        box.press("Enter")
    response = info.value
    assert response.headers["content-type"].startswith("text/event-stream")  # streamed, not JSON
    assert response.request.headers["accept"] == "text/event-stream"
    assert response.request.headers.get("idempotency-key")
    return _final(response)


def _shot(page: Any, name: str, **options: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), **options)


def _inert(page: Any) -> None:
    assert page.evaluate("window.__xss") is None, "script from content ran"


def test_agent_signs_in_to_the_console_with_a_session_cookie(scene: dict) -> None:
    from playwright.sync_api import expect

    agent = scene["agent"]
    agent.goto(f"{scene['site']}/console")
    agent.get_by_label("Your name").fill("sam")
    agent.get_by_label("Key").fill(KEYS["agent"])
    agent.get_by_role("button", name="Sign in").click()
    expect(agent.locator("#who")).to_have_text("sam (agent)")
    expect(agent.get_by_text("No open handoffs.")).to_be_visible()
    cookie = next(c for c in agent.context.cookies() if c["name"] == "firstlast_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert KEYS["agent"] not in agent.content() and KEYS["agent"] not in agent.url


def test_1_kb_question_gets_a_streamed_answer_with_a_citation_link(scene: dict) -> None:
    from playwright.sync_api import expect

    page = scene["customer"]
    page.goto(scene["site"] + "/")
    page.get_by_role("button", name="Ask Nova").click()
    expect(page.get_by_role("dialog", name="Nova · Nimbus Notes")).to_be_visible()
    final = _ask(page, "How do I turn on two-factor authentication?")
    assert final["decision"] == "answer"
    bubble = page.locator(f'.msg.bot[data-id="{final["reply"]["id"]}"]')
    expect(bubble).to_contain_text("Two-factor authentication")
    source = bubble.locator(".sources a")
    expect(source).to_have_attribute(
        "href", "https://help.nimbusnotes.example/articles/account-two-factor-authentication"
    )
    expect(source).to_have_text("Turn on two-factor authentication")


def test_2_unknown_question_gets_the_offer_and_yes_brings_the_handoff_notice(scene: dict) -> None:
    from playwright.sync_api import expect

    page = scene["customer"]
    offered = _ask(page, "Do you offer a discount for non-profit organisations?")
    assert offered["decision"] == "offer"
    with page.expect_response(lambda r: r.url.endswith("/messages")) as info:
        page.get_by_role("button", name="Yes", exact=True).click()
    handed = _final(info.value)
    assert handed["decision"] == "handoff"
    scene["handoff_id"] = handed["handoff_id"]
    expect(page.locator(f'.msg.notice[data-id="{handed["reply"]["id"]}"]')).to_contain_text(
        "I'll bring in someone from our support team"
    )
    expect(page.get_by_role("button", name="Yes", exact=True)).to_have_count(0)


def test_3_agent_sees_the_handoff_live_opens_the_packet_and_the_reply_reaches_the_widget(
    scene: dict,
) -> None:
    from playwright.sync_api import expect

    agent, page = scene["agent"], scene["customer"]
    item = agent.locator(f'button.item[data-handoff="{scene["handoff_id"]}"]')
    expect(item).to_contain_text("Do you offer a discount for non-profit organisations?")  # no reload
    item.click()
    transcript = agent.locator("#transcript")
    expect(transcript).to_contain_text("How do I turn on two-factor authentication?")
    bot_line = transcript.locator(".line.bot").first  # the reply's Markdown bold as nodes, not asterisks
    expect(bot_line.locator("strong").first).to_be_visible()
    expect(bot_line).not_to_contain_text("**")
    expect(agent.locator(".context")).to_contain_text(scene["site"])  # the page the customer was on
    expect(agent.get_by_role("heading", name="Bot's draft")).to_be_visible()
    expect(agent.get_by_text("low_confidence", exact=True)).to_be_visible()

    _ask(page, f"Are you there? {PAYLOAD}")  # said after the handoff: shown live, and only as text
    expect(transcript.locator(".line.after")).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(page.locator(".msg.customer").last).to_contain_text("<script>window.__xss=1</script>")

    agent.get_by_label("Your reply").fill(ANSWER)
    agent.get_by_role("button", name="Send reply", exact=True).click()
    expect(page.locator(".msg.agent")).to_contain_text("50% off the Team plan")  # no reload
    expect(page.locator(".msg.agent .who")).to_have_text("sam")
    _shot(page, "widget.png")
    agent.get_by_role("button", name="Resolve", exact=True).click()
    scene["resolved"] = True


def test_4_learning_prompt_appears_inline_and_the_agent_edits_and_approves(scene: dict) -> None:
    from playwright.sync_api import expect

    agent = scene["agent"]
    prompt = agent.locator("#learning .prompt")
    expect(prompt.locator(".ask")).to_contain_text("I hadn't seen this question before — is it right that")
    expect(prompt).to_contain_text("50% off the Team plan")
    agent.get_by_role("button", name="Edit and approve").click()
    agent.get_by_label("Edited answer").fill(EDITED)
    _shot(agent, "console.png", full_page=True)
    agent.get_by_role("button", name="Save and approve").click()
    expect(prompt).to_contain_text("Approved: learned as learned/")
    scene["learned"] = prompt.inner_text().split("learned as ")[1].rstrip(".").strip()


def test_5_a_new_customer_is_answered_from_the_learned_entry(scene: dict) -> None:
    from playwright.sync_api import expect

    context = scene["browser"].new_context(viewport={"width": 390, "height": 760})  # a phone
    page = context.new_page()
    page.goto(scene["site"] + "/")
    page.get_by_role("button", name="Ask Nova").click()
    final = _ask(page, "Do you offer discounts to charities?")
    assert final["decision"] == "answer", final
    assert final["citations"][0]["doc_id"] == scene["learned"]
    expect(page.locator(f'.msg.bot[data-id="{final["reply"]["id"]}"]')).to_contain_text(
        "50% off the Team plan"
    )
    scene["fresh"] = page


def test_6_csat_reaches_the_console_script_stays_inert_and_a_widget_key_cannot_sign_in(
    scene: dict,
) -> None:
    from playwright.sync_api import expect

    page, agent = scene["customer"], scene["agent"]
    expect(page.get_by_text("Did Nova and the team help?")).to_be_visible()  # after the resolution
    page.get_by_role("button", name="5 / 5").click()
    page.get_by_role("textbox", name="Anything to add? (optional)").fill("Quick and kind <b onmouseover=x()>")
    page.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    agent.get_by_role("button", name="Feedback").click()
    expect(agent.locator("table")).to_contain_text("5/5")
    expect(agent.locator("table")).to_contain_text("Quick and kind <b onmouseover=x()>")

    fresh = scene["fresh"]
    final = _ask(fresh, "How do I redeem a gift card?")
    assert final["citations"][0]["doc_id"] == "gift-cards"
    bubble = fresh.locator(f'.msg.bot[data-id="{final["reply"]["id"]}"]')
    # the article's markup was stripped at ingest: neither markup nor its text reaches the page
    expect(bubble).to_contain_text("enter the 16-digit code. The credit is added")
    expect(bubble).not_to_contain_text("onerror")
    expect(bubble.locator("img, script")).to_have_count(0)
    fresh.goto(scene["site"] + "/")  # the demo page lists the article's title, stripped
    title = "Redeem a gift card"
    expect(fresh.locator(".articles li", has_text=title)).to_be_visible()
    expect(fresh.locator(".articles li", has_text="onerror")).to_have_count(0)
    expect(fresh.locator(".sources a", has_text=title)).to_have_count(1)  # kept over the reload
    for p in (page, agent, fresh):
        _inert(p)

    intruder = scene["browser"].new_context().new_page()
    intruder.goto(f"{scene['site']}/console")
    intruder.get_by_label("Your name").fill("mallory")
    intruder.get_by_label("Key").fill(KEYS["widget"])
    intruder.get_by_role("button", name="Sign in").click()
    expect(intruder.locator("#status")).to_contain_text("a widget key cannot open the console")
    expect(intruder.locator("#tabs")).to_be_hidden()
    assert not [c for c in intruder.context.cookies() if c["name"] == "firstlast_console"]


def test_7_insights_show_the_resolution_rollout_and_gaps_as_text(scene: dict) -> None:
    from playwright.sync_api import expect

    agent, site = scene["agent"], scene["site"]
    widget = {"Authorization": f"Bearer {KEYS['widget']}"}
    asks = (  # two content gaps (a topic needs three questions) whose questions carry script
        *("Can I pay with goats?", "Can I pay in goats?", "Do you take goats as payment?"),
        *("Do you ship to Mars?", "Can you deliver to Mars?", "Is shipping to Mars possible?"),
    )
    with httpx.Client(base_url=site, timeout=30) as http:
        for ask in asks:
            conv = http.post("/v1/conversations", headers=widget, json={}).json()
            said = {**widget, "X-Conversation-Token": conv["token"]}
            http.post(
                f"/v1/conversations/{conv['id']}/messages", headers=said, json={"text": f"{ask} {PAYLOAD}"}
            )
    agent.get_by_role("button", name="Insights").click()
    agent.get_by_role("button", name="Last 7d").click()
    expect(agent.get_by_role("button", name="Last 7d")).to_have_attribute("aria-pressed", "true")
    total = agent.locator("#resolution tfoot td").nth(1)
    expect(total).not_to_have_text("0")
    assert int(total.inner_text()) >= 1
    expect(agent.locator("#rollout-statement")).to_contain_text("too small to tell")  # rollout is off
    expect(agent.locator("#gaps")).to_contain_text('<img src=x onerror="window.__xss=1">')
    _inert(agent)


def test_a_customer_specific_answer_says_so_instead_of_asking_and_a_bot_answer_can_be_reported(
    scene: dict,
) -> None:
    from playwright.sync_api import expect

    agent, site = scene["agent"], scene["site"]
    widget = {"Authorization": f"Bearer {KEYS['widget']}"}
    with httpx.Client(base_url=site, timeout=30) as http:
        body = {"context": {"attributes": {"customer_name": "Dana Whitfield"}}}
        conv = http.post("/v1/conversations", headers=widget, json=body).json()
        said = {**widget, "X-Conversation-Token": conv["token"]}
        url = f"/v1/conversations/{conv['id']}/messages"
        http.post(url, headers=said, json={"text": "How do I reset my password?"})
        handoff = http.post(url, headers=said, json={"text": "I want to talk to a human"}).json()[
            "handoff_id"
        ]
    agent.get_by_role("button", name="Inbox").click()
    agent.locator(f'button.item[data-handoff="{handoff}"]').click()  # arrived live
    expect(agent.locator(".context")).to_contain_text("Dana Whitfield")
    bot_line = agent.locator("#transcript .line.bot").first
    bot_line.get_by_role("button", name="Report bad answer").click()
    bot_line.get_by_label("What was wrong").fill("Should mention the link expires after an hour")
    bot_line.get_by_role("button", name="Send report").click()
    expect(bot_line).to_contain_text("Reported")
    agent.get_by_label("Your reply").fill(
        "Dana, I refunded invoice INV-4411 of 12 March to your card ending 4242 today; "
        "you will see it within 5 days."
    )
    agent.get_by_role("button", name="Reply and resolve").click()
    expect(agent.locator("#learning")).to_contain_text("specific to this customer")
    expect(agent.locator("#learning .prompt")).to_have_count(0)
    agent.get_by_role("button", name="Reported answers").click()
    expect(agent.locator("table")).to_contain_text("Should mention the link expires after an hour")


def test_an_admin_uploads_and_deletes_a_knowledge_document_in_the_console(
    scene: dict, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    article = tmp_path / "pets.md"
    article.write_text("# Pets policy\n\nHamsters may join the Team plan for free.\n", encoding="utf-8")
    admin = scene["browser"].new_context().new_page()
    admin.goto(f"{scene['site']}/console")
    admin.get_by_label("Your name").fill("lee")
    admin.get_by_label("Key").fill(KEYS["admin"])
    admin.get_by_role("button", name="Sign in").click()
    admin.get_by_role("button", name="Knowledge").click()
    admin.get_by_label("Files to upload").set_input_files(str(article))
    posted = lambda r: r.request.method == "POST" and r.url.endswith("/v1/knowledge")  # noqa: E731
    with admin.expect_response(posted) as answer:
        admin.get_by_role("button", name="Upload", exact=True).click()
    assert answer.value.status == 202  # a job, which the console polls at Location until done
    job = answer.value.json()
    assert answer.value.headers["location"] == f"/v1/knowledge/jobs/{job['id']}"
    expect(admin.locator("#status")).to_have_text("Uploaded: 1 added, 0 updated, 0 unchanged.")
    row = admin.locator("tr", has_text="upload/pets")
    expect(row).to_contain_text("Pets policy")
    row.get_by_role("button", name="Delete").click()
    expect(admin.locator("tr", has_text="upload/pets")).to_have_count(0)
    admin.context.close()


def test_widget_survives_a_reload_and_shutdown_ends_the_conversation(scene: dict) -> None:
    from playwright.sync_api import expect

    page = scene["customer"]
    page.reload()
    page.get_by_role("button", name="Ask Nova").click()
    expect(page.locator(".msg.agent")).to_contain_text("50% off the Team plan")  # the token was kept
    page.evaluate("Firstlast.shutdown()")
    expect(page.locator("#firstlast-widget")).to_have_count(0)
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('firstlast:'))") == []


def test_widget_size_and_time_to_interactive_are_measured(scene: dict, capsys: Any) -> None:
    raw = httpx.get(f"{scene['site']}/widget.js", headers={"Accept-Encoding": "identity"}).content
    packed = len(gzip.compress(raw, compresslevel=9, mtime=0))
    context = scene["browser"].new_context()
    page = context.new_page()
    page.goto(scene["site"] + "/")
    page.get_by_role("button", name="Ask Nova").wait_for()
    tti = page.evaluate("performance.getEntriesByName('firstlast:interactive')[0].startTime")
    dcl = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    context.close()
    with capsys.disabled():
        print(
            f"\nwidget.js: {len(raw)} bytes, {packed} bytes gzipped; demo page: widget interactive "
            f"{tti:.0f} ms after navigation start (DOMContentLoaded {dcl:.0f} ms)"
        )
    assert packed > 0 and tti > 0
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
