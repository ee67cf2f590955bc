"""Baselines: vanilla dense (one vector per document in its own Chroma) and BM25 over whole documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from firstlast.eval.baselines import BaselineRun, baseline_metrics, bm25_only, run_baselines, vanilla_dense
from firstlast.eval.datasets import LabelledQuestion
from firstlast.types import Document, Question

KEYS = {"recall@1", "recall@5", "mrr@10", "auroc"}

DOCS = [
    Document(
        "password",
        "Reset your password",
        "Forgot your password? On the sign-in page choose 'Forgot password', enter the email address of "
        "your account and follow the link we send you. The link expires after 30 minutes.",
    ),
    Document(
        "refunds",
        "Refunds",
        "You can ask for a refund within 14 days of purchase. Open Orders, pick the order and press "
        "'Request refund'. The money is returned to the original card within 5 business days.",
    ),
    Document(
        "shipping",
        "Shipping times",
        "Standard delivery takes 3 to 5 working days; express delivery arrives the next day when you "
        "order before 2 pm. You get a tracking number by email once the parcel leaves our warehouse.",
    ),
    Document(
        "delete-account",
        "Delete your account",
        "To close your account for good go to Settings > Privacy > Delete account. All your data is "
        "erased after 30 days and cannot be restored.",
    ),
    Document(
        "change-plan",
        "Change your plan",
        "Upgrade or downgrade your subscription under Billing > Plan. Upgrades apply at once; a "
        "downgrade takes effect at the end of the current billing period.",
    ),
    Document(
        "two-factor",
        "Two-factor authentication",
        "Protect your login with a second step: enable two-factor authentication in Settings > Security "
        "and scan the QR code with an authenticator app such as Google Authenticator.",
    ),
]


def item(qid: str, text: str, *gold: str) -> LabelledQuestion:
    return LabelledQuestion(qid, Question(text), frozenset(gold), answerable=bool(gold))


ITEMS = [
    item("q1", "I forgot my password and cannot log in", "password"),
    item("q2", "how long does delivery take?", "shipping"),
    item("q3", "I want my money back for an order", "refunds"),
    item("q4", "how do I turn on 2FA with an authenticator app", "two-factor"),
    item("q5", "what is the capital of Australia?"),
]


def test_vanilla_dense_ranks_the_obviously_matching_document_first(minilm, tmp_path: Path):
    run = vanilla_dense(DOCS, ITEMS, minilm, tmp_path / "vanilla")
    assert run.name == "vanilla_dense"
    assert [ranked[0] for ranked in run.ranked_docs[:4]] == ["password", "shipping", "refunds", "two-factor"]
    assert all(len(ranked) == len(DOCS) for ranked in run.ranked_docs)  # top-10 of a 6-document KB
    assert len(run.confidences) == len(run.latencies_ms) == len(ITEMS)
    assert all(-1.0 <= c <= 1.0 for c in run.confidences)
    # the off-topic question gets a clearly lower top-1 cosine than every matching one
    assert run.confidences[4] < min(run.confidences[:4]) - 0.1
    metrics = baseline_metrics(run, ITEMS)
    assert set(metrics) - {"latency_ms"} == KEYS
    assert metrics["recall@1"] == metrics["mrr@10"] == metrics["auroc"] == 1.0


def test_vanilla_dense_rerun_in_the_same_folder_forgets_old_documents(minilm, tmp_path: Path):
    vanilla_dense(DOCS, ITEMS, minilm, tmp_path / "vanilla")
    run = vanilla_dense(DOCS[:2], ITEMS[:1], minilm, tmp_path / "vanilla")
    assert sorted(run.ranked_docs[0]) == ["password", "refunds"]


def test_bm25_only_finds_documents_by_their_words():
    run = bm25_only(DOCS, ITEMS)
    assert run.name == "bm25_only"
    assert run.ranked_docs[0][0] == "password"
    assert run.ranked_docs[1][0] == "shipping"  # "delivery" only occurs in the shipping document
    assert all(0.0 <= c < 1.0 for c in run.confidences)
    assert run.confidences[4] == 0.0  # no query word occurs in the KB
    assert set(baseline_metrics(run, ITEMS)) - {"latency_ms"} == KEYS


def test_baseline_metrics_on_a_hand_made_run():
    items = [item("a", "q a", "d1"), item("b", "q b", "d2"), item("c", "q c", "d3"), item("u", "q u")]
    run = BaselineRun(
        "hand",
        ranked_docs=(("d1", "x"), ("x", "y", "d2"), ("x",), ("d1",)),
        confidences=(0.9, 0.5, 0.2, 0.95),
        latencies_ms=(1.0, 2.0, 3.0, 4.0),
    )
    m = baseline_metrics(run, items)
    assert m["recall@1"] == pytest.approx(1 / 3)
    assert m["recall@5"] == pytest.approx(2 / 3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3)
    # only "a" is correct (top-1 gold); "u" is more confident but unanswerable: 2 of 3 pairs ranked right
    assert m["auroc"] == pytest.approx(2 / 3)
    assert m["latency_ms"]["p50"] == pytest.approx(2.5)


def test_baseline_run_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one entry per question"):
        BaselineRun("bad", ranked_docs=((),), confidences=(), latencies_ms=(1.0,))


def test_empty_knowledge_base_gives_zeros_and_chance_auroc(minilm, tmp_path: Path):
    items = [item("u1", "any headlines from my area"), item("u2", "how much is an overdraft fee")]
    table = run_baselines([], items, minilm, tmp_path / "vanilla")
    assert set(table) == {"vanilla_dense", "bm25_only"}
    for metrics in table.values():
        assert set(metrics) - {"latency_ms"} == KEYS
        assert (metrics["recall@1"], metrics["recall@5"], metrics["mrr@10"]) == (0.0, 0.0, 0.0)
        assert metrics["auroc"] == 0.5
    run = vanilla_dense([], items, minilm, tmp_path / "empty")
    assert run.ranked_docs == ((), ()) and run.confidences == (0.0, 0.0)
