"""The extractive summary and the suggested reply of the handoff packet."""

from __future__ import annotations

import pytest

from firstlast.handoff.packet import suggested_reply, summarize
from firstlast.records import DraftSnapshot, SourceRef
from firstlast.types import Citation


def test_summary_keeps_the_key_customer_sentences_in_order() -> None:
    said = [
        "Hi there!",
        "I was charged twice for the Team plan in March. The second charge of the Team plan was on March 3.",
        "Hello? Anyone there?",
        "Also the export button is grey.",
        "Please refund the second charge for the Team plan.",
    ]
    summary = summarize(said, "Why was I charged twice for the Team plan?", max_sentences=3)
    assert summary == (
        "I was charged twice for the Team plan in March.",
        "The second charge of the Team plan was on March 3.",
        "Please refund the second charge for the Team plan.",
    )


def test_summary_drops_small_talk_and_repeats() -> None:
    said = [
        "Hello?",
        "yes",
        "My invoice shows the wrong company name.",
        "my invoice shows the wrong company name",
    ]
    assert summarize(said, "") == ("My invoice shows the wrong company name.",)
    assert summarize(["hi", "ok"], "anything") == ()


def test_summary_works_for_japanese() -> None:
    said = ["こんにちは。", "請求書の会社名が間違っています。", "請求書を再発行してください。"]
    summary = summarize(said, "請求書の会社名を直したい", max_sentences=1)
    assert summary == ("請求書の会社名が間違っています。",)


def test_max_sentences_is_validated() -> None:
    with pytest.raises(ValueError, match="max_sentences must be >= 1, got 0"):
        summarize(["a b c"], max_sentences=0)


CITATION = Citation("billing", "billing#0", "Billing", "https://x/billing")
SOURCE = SourceRef(
    *CITATION.__dict__.values(), 0.3, "Invoices are in Settings. Click Billing. Then Download. Extra."
)


def test_suggested_reply_is_the_draft_when_it_has_citations() -> None:
    reply = suggested_reply(DraftSnapshot("Open Settings → Billing.", 0.4, (CITATION,)), [SOURCE])
    assert (reply.source, reply.text, reply.confidence) == ("draft", "Open Settings → Billing.", 0.4)
    assert reply.citations == (Citation("billing", "billing#0", "Billing", "https://x/billing"),)


def test_suggested_reply_falls_back_to_the_best_passage_then_to_nothing() -> None:
    reply = suggested_reply(DraftSnapshot("", None, ()), [SOURCE])
    assert reply.source == "passage"
    assert reply.text == "Invoices are in Settings. Click Billing. Then Download."
    assert reply.citations[0].doc_id == "billing"
    assert suggested_reply(DraftSnapshot(), []).source == "none"
