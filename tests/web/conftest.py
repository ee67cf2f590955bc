"""Browser tests (marker ``browser``): Playwright for Python driving Debian's Chromium against a real
``firstlast serve`` with the sample knowledge base.

Without /usr/bin/chromium (or the playwright package) the tests are skipped on a developer's
machine and FAIL in CI (``CI=true``), so a missing browser can never pass as green.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firstlast.testing.servers import firstlast_server, run_cli

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
KEYS = {"widget": "bt-widget-key", "agent": "bt-agent-key", "admin": "bt-admin-key"}
# a help-center article carrying script in its title and body: it must stay text in every page
XSS_ARTICLE = """---
title: "Redeem a gift card <img src=x onerror=window.__xss=1>"
url: https://help.nimbusnotes.example/articles/gift-cards
---

# Redeem a gift card <script>window.__xss=1</script>

To redeem a gift card, open Settings → Billing → Redeem gift card and enter the 16-digit code.
<img src=x onerror="window.__xss=1"> The credit is added to your next invoice.
"""


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests must run in CI, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``firstlast serve`` on 127.0.0.1 with the sample knowledge base and the XSS article."""
    tmp = tmp_path_factory.mktemp("browser")
    kb = tmp / "kb"
    shutil.copytree(REPO / "examples" / "sample_kb", kb)
    (kb / "gift-cards.md").write_text(XSS_ARTICLE, encoding="utf-8")
    env = {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(tmp / "data"),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": f'["{KEYS["widget"]}"]',
        "FIRSTLAST_API__AGENT_KEYS": f'["{KEYS["agent"]}"]',
        "FIRSTLAST_API__ADMIN_KEYS": f'["{KEYS["admin"]}"]',
        "FIRSTLAST_API__STREAM_POLL_SECONDS": "0.2",
    }
    run_cli("ingest", str(kb), env=env)
    with firstlast_server(env) as running:
        yield running.base
