"""Proactive help in a real Chromium (issue #14): with ``FIRSTLAST_INSIGHTS__PROACTIVE=true`` the widget
shows "Suggested articles" for the demo page as soon as it is opened, before the customer types, and
a click on one is recorded for the click-through rate."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from firstlast.testing.servers import firstlast_server, run_cli
from tests.web.conftest import KEYS, REPO

pytestmark = pytest.mark.browser
HELP_CENTER = "https://help.nimbusnotes.example/**"  # the sample articles' links; answered in-browser


@pytest.fixture(scope="module")
def proactive_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``firstlast serve`` on 127.0.0.1 with the sample knowledge base and proactive help on."""
    tmp: Path = tmp_path_factory.mktemp("proactive")
    shutil.copytree(REPO / "examples" / "sample_kb", tmp / "kb")
    env = {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(tmp / "data"),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": f'["{KEYS["widget"]}"]',
        "FIRSTLAST_API__AGENT_KEYS": f'["{KEYS["agent"]}"]',
        "FIRSTLAST_API__ADMIN_KEYS": f'["{KEYS["admin"]}"]',
        "FIRSTLAST_INSIGHTS__PROACTIVE": "true",
    }
    run_cli("ingest", str(tmp / "kb"), env=env)
    with firstlast_server(env) as running:
        yield running.base


def test_opening_the_widget_suggests_articles_for_the_page_and_a_click_is_recorded(
    proactive_site: str, chromium: Any
) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1100, "height": 760})
    try:
        # the links point at the sample help center: answer them here so nothing leaves 127.0.0.1
        context.route(HELP_CENTER, lambda route: route.fulfill(body="article", content_type="text/plain"))
        page = context.new_page()
        page.goto(proactive_site)
        with page.expect_response(lambda r: "/articles?" in r.url) as shown:
            page.get_by_role("button", name="Ask Nova").click()
        asked = shown.value.request
        assert "page_title=Nimbus+Notes+Help+Center" in asked.url and asked.headers["x-conversation-token"]

        box = page.get_by_role("group", name="Suggested articles")
        expect(box).to_be_visible(timeout=20_000)
        links = box.get_by_role("link")
        count = links.count()
        assert 1 <= count <= 3
        assert page.locator(".msg.customer").count() == 0  # before the customer typed anything
        first = links.first
        href = first.get_attribute("href")
        assert href and href.startswith("https://help.nimbusnotes.example/articles/")

        with (
            page.expect_response(lambda r: r.url.endswith("/click")) as clicked,
            context.expect_page() as opened,
        ):
            first.click()
        assert clicked.value.status == 204
        assert opened.value.url == href  # the article opened in a new tab

        agent = {"Authorization": f"Bearer {KEYS['agent']}"}
        rate = httpx.get(f"{proactive_site}/v1/analytics/proactive", headers=agent).json()
        assert (rate["shown"], rate["clicked"]) == (1, 1)
    finally:
        context.close()
