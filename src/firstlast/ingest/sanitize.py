"""Knowledge-base text without markup: raw HTML in a source (a ``<script>`` in Markdown, an
``onerror=`` attribute, ``&lt;script&gt;`` that an HTML page shows as text) never reaches a reply,
because the bot quotes what was ingested. Sanitised once, at ingest (the one write path), with nh3
(the maintained Rust HTML sanitiser): every tag is dropped, the text inside kept (the content of
``script`` and ``style`` dropped too), and entities are decoded and cleaned again until nothing
changes, so escaped markup cannot come back as markup.

    plain_text("Refunds <b onclick='x()'>today</b>")   # -> "Refunds today"
"""

from __future__ import annotations

import html
import re

import nh3

_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")  # Markdown autolinks are not tags
_SURROGATE = re.compile("[\ud800-\udfff\x00]")  # text that cannot be stored or sent as UTF-8
_ROUNDS = 5


def plain_text(text: str) -> str:
    """``text`` with no HTML tags or entities left (and no lone surrogates or NULs)."""
    text = _SURROGATE.sub("\ufffd", text)
    if "<" not in text and "&" not in text:
        return text
    text = _AUTOLINK.sub(r"\1", text)
    for _ in range(_ROUNDS):
        cleaned = nh3.clean(text, tags=set(), clean_content_tags={"script", "style"})
        decoded = html.unescape(cleaned)
        if decoded == text:
            return text
        text = decoded
    return nh3.clean(text, tags=set(), clean_content_tags={"script", "style"})  # escaped: inert
