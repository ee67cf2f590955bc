"""The HTML report: the risk–coverage points, the charts, and escaped worst misses."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from firstlast.eval.report import (
    operating_point,
    reliability,
    resolution_coverage,
    risk_coverage,
    worst_misses,
    worst_unresolved,
    write_report,
)


def row(
    qid: str,
    conf: float,
    *,
    answerable: bool,
    gold: list[str],
    first: str,
    answered: bool,
    reason: str = "",
    question: str = "",
    retrieved: list[str] | None = None,
) -> dict[str, Any]:
    correct = answerable and answered and first in gold
    return {
        "id": qid,
        "question": question or f"question {qid}",
        "answerable": answerable,
        "gold": gold,
        "retrieved": retrieved if retrieved is not None else [first] if first else [],
        "answered": answered,
        "correct": correct,
        "confidence": conf,
        "first_citation": first,
        "reason": reason,
        "latency_ms": 10.0 + 5 * conf,
        "signals": {},
    }


EVIL = "<script>alert('x')</script> talk to a human"

ROWS = [
    row("a", 0.9, answerable=True, gold=["d1"], first="d1", answered=True),
    row("b", 0.8, answerable=True, gold=["d2"], first="d3", answered=True),
    row("c", 0.4, answerable=True, gold=["d4"], first="d4", answered=False, reason="low_confidence"),
    row("d", 0.6, answerable=False, gold=[], first="d5", answered=True),
    row("e", 0.0, answerable=True, gold=["d6"], first="", answered=False, reason="no_knowledge"),
    # handed off because the customer asked for a person: no threshold would make the bot answer it
    row("f", 0.95, answerable=False, gold=[], first="d1", answered=False, reason="customer_request",
        question=EVIL),
]  # fmt: skip


def test_risk_coverage_points_for_every_distinct_confidence():
    points = risk_coverage(ROWS)
    expected = [(0.4, 2 / 4, 2 / 4), (0.6, 1 / 4, 1 / 3), (0.8, 1 / 4, 1 / 2), (0.9, 1 / 4, 1.0)]
    assert [t for t, _, _ in points] == [t for t, _, _ in expected]
    for got, want in zip(points, expected):
        assert got == pytest.approx(want)


def test_operating_point_at_the_run_threshold_matches_the_runner_rule():
    answerable = sum(r["answerable"] for r in ROWS)
    correct = sum(r["correct"] for r in ROWS)
    answered = sum(r["answered"] for r in ROWS)
    assert operating_point(ROWS, 0.5) == pytest.approx((correct / answerable, correct / answered))


def test_risk_coverage_of_no_rows_is_empty():
    assert risk_coverage([]) == []


def test_reliability_bins_hold_mean_confidence_draft_accuracy_and_count():
    bins = reliability(ROWS)
    assert [low for low, _, _, _ in bins] == pytest.approx([0.0, 0.4, 0.6, 0.8, 0.9])
    assert bins[-1][1:] == pytest.approx((0.925, 0.5, 2))  # a (correct) and f (not)
    # c was handed off below the threshold, but its draft cited the gold document: the bin shows that
    assert bins[1][1:] == pytest.approx((0.4, 1.0, 1))
    assert sum(n for _, _, _, n in bins) == len(ROWS)


def test_worst_misses_are_the_most_confident_wrong_rows():
    assert [r["id"] for r in worst_misses(ROWS, limit=3)] == ["f", "b", "d"]


def test_write_report_is_self_contained_with_charts_and_escaped_text(tmp_path: Path):
    metrics = {
        "dataset": "tiny<set>",
        "questions": 6,
        "retrieval": {"recall@1": 0.5, "recall@5": 0.75, "mrr@10": 0.6},
        "answers": {"threshold": 0.5, "automation_rate": 0.25, "precision": 1 / 3, "auroc": 0.7},
        "latency_ms": {"p50": 12.0, "p95": 14.5},
        "baselines": {
            "vanilla_dense": {"recall@1": 0.25, "recall@5": 0.5, "mrr@10": 0.4, "auroc": 0.6,
                              "latency_ms": {"p50": 5.0, "p95": 7.0}},
            "bm25_only": {"recall@1": 0.3, "recall@5": 0.6, "mrr@10": 0.45, "auroc": 0.55},
        },
    }  # fmt: skip
    path = write_report(tmp_path / "run", metrics, ROWS)
    assert path == tmp_path / "run" / "report.html"
    page = path.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 3
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; talk to a human" in page
    assert "<script>" not in page and "tiny<set>" not in page
    assert "baselines.bm25_only.recall@1" in page and "answers.threshold" in page
    assert "vanilla_dense" in page and "firstlast" in page
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page)  # nothing loaded from elsewhere


def test_write_report_without_rows_or_baselines(tmp_path: Path):
    path = write_report(tmp_path, {"dataset": "empty", "answers": {"threshold": 0.5}}, [])
    assert path.read_text(encoding="utf-8").count("data:image/png;base64,") == 3


def _with_answers(base: dict[str, Any], resolved: bool, reply: str = "reply") -> dict[str, Any]:
    return {**base, "has_gold_answer": True, "resolved_if_sent": resolved, "reply": reply,
            "gold_answer": "the gold answer", "answer_recall": 0.9 if resolved else 0.1}  # fmt: skip


ANSWER_ROWS = [
    _with_answers(row("a", 0.9, answerable=True, gold=["d1"], first="d1", answered=True), True),
    # cited the wrong section but the reply holds the answer: resolved all the same
    _with_answers(row("b", 0.8, answerable=True, gold=["d2"], first="d3", answered=True), True),
    _with_answers(row("c", 0.7, answerable=True, gold=["d4"], first="d4", answered=True), False, EVIL),
    _with_answers(
        row("g", 0.3, answerable=True, gold=["d7"], first="d7", answered=False, reason="low_confidence"), True
    ),
    row("d", 0.6, answerable=False, gold=[], first="d5", answered=True),
]


def test_resolution_coverage_uses_the_reply_not_the_citation():
    points = {t: (rate, precision) for t, rate, precision in resolution_coverage(ANSWER_ROWS)}
    assert points[0.9] == (pytest.approx(1 / 4), 1.0)
    assert points[0.8] == (pytest.approx(2 / 4), 1.0)  # "b" cites the wrong section and still resolves
    assert points[0.6] == (pytest.approx(2 / 4), pytest.approx(2 / 4))  # the unanswerable "d" counts
    assert points[0.3] == (pytest.approx(3 / 4), pytest.approx(3 / 5))


def test_the_report_lists_the_worst_non_resolving_replies_escaped(tmp_path: Path):
    assert [r["id"] for r in worst_unresolved(ANSWER_ROWS)] == ["c"]
    html = write_report(tmp_path, {"dataset": "tiny", "answers": {"threshold": 0.5}}, ANSWER_ROWS).read_text()
    assert "Worst non-resolving replies" in html and "the gold answer" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert html.count("data:image/png;base64,") == 4  # risk-, resolution-coverage, reliability, latency
