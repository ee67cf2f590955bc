"""`firstlast eval run` end to end through the CLI, on a small hand-made set and on real dev data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firstlast.cli import app

EVALDATA = Path(
    os.environ.get("FIRSTLAST_EVALDATA", Path(__file__).resolve().parents[3] / "shared" / "evaldata")
)
KEYS = {
    "dataset",
    "questions",
    "answerable",
    "unanswerable",
    "retrieval",
    "answers",
    "latency_ms",
    "baselines",
    "answerer",
    "voice",
    "streaming",
    "generation",
}


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    docs = [
        (
            "pw",
            "Reset your password",
            "Open Settings, choose Security and press Reset password. A link is emailed.",
        ),
        (
            "refund",
            "Refunds",
            "Annual plans can be refunded within 14 days of the charge by contacting support.",
        ),
        (
            "export",
            "Export your notes",
            "Choose File, then Export, to download all notes as Markdown in a zip.",
        ),
        (
            "2fa",
            "Two-factor authentication",
            "Turn on two-factor authentication under Settings, Security, 2FA.",
        ),
    ]
    _write_jsonl(folder / "kb.jsonl", [{"id": i, "title": t, "text": x, "lang": "en"} for i, t, x in docs])
    questions = [
        {
            "id": "q1",
            "question": "How can I reset my password?",
            "gold_doc_ids": ["pw"],
            "answerable": True,
            "gold_answer": "Open Settings, choose Security and press Reset password.",
        },
        {
            "id": "q2",
            "question": "Can I get my money back for a yearly plan?",
            "gold_doc_ids": ["refund"],
            "answerable": True,
        },
        {
            "id": "q3",
            "question": "How long do I have?",
            "gold_doc_ids": ["refund"],
            "answerable": True,
            "turns": [
                {"role": "user", "text": "I want a refund for my annual plan"},
                {"role": "agent", "text": "Sure, let me check."},
            ],
        },
        {"id": "q4", "question": "What is the capital of Peru?", "gold_doc_ids": [], "answerable": False},
    ]
    _write_jsonl(folder / "questions.jsonl", questions)
    return folder


def test_eval_run_writes_metrics_results_and_report(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    extra = _write_jsonl(
        tmp_path / "oos.jsonl",
        [
            {
                "id": "o1",
                "question": "how many sides does a hexagon have",
                "gold_doc_ids": [],
                "answerable": False,
            },
        ],
    )
    result = CliRunner().invoke(
        app,
        ["eval", "run", "--dataset", str(tiny_dataset), "--out", str(out), "--extra-questions", str(extra)],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == KEYS
    assert (metrics["questions"], metrics["answerable"], metrics["unanswerable"]) == (5, 3, 2)
    assert set(metrics["retrieval"]) == {"recall@1", "recall@5", "mrr@10"}
    assert set(metrics["answers"]) == {
        "threshold",
        "automation_rate",
        "precision",
        "handoff_recall",
        "auroc",
        "ece",
        "answer_recall",
        "rouge_l_recall",
        "resolution_rate",
        "resolution_precision",
    }
    assert set(metrics["latency_ms"]) == {"p50", "p95"}
    assert set(metrics["baselines"]) == {"dense", "bm25", "section_prefix"}
    assert set(metrics["baselines"]["section_prefix"]) == {
        "answer_recall",
        "resolution_rate",
        "resolution_precision",
    }
    assert metrics["baselines"]["bm25"]["answer_recall"] == 1.0  # its top document holds the whole answer
    assert metrics["retrieval"]["recall@5"] == 1.0  # four documents: every gold is in the top 5
    assert metrics["answerer"] == "extractive" and metrics["generation"]["extractive"] == 5
    assert set(metrics["voice"]) == {"banned_phrase_rate", "over_length_rate", "greeting_rate"}
    assert metrics["voice"]["banned_phrase_rate"] == 0.0 and metrics["voice"]["over_length_rate"] == 0.0
    assert 0 < metrics["streaming"]["first_delta_ms_p50"] <= metrics["latency_ms"]["p95"]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    reset = next(r for r in rows if r["id"] == "q1")
    assert reset["has_gold_answer"] and reset["draft_recall"] == 1.0  # the one-paragraph document, whole
    assert next(r for r in rows if r["id"] == "q2")["has_gold_answer"] is False
    follow_up = next(r for r in rows if r["id"] == "q3")
    assert follow_up["retrieved"][0] == "refund"  # the earlier turn made "How long do I have?" findable
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_eval_run_reuse_store_writes_nothing_when_the_kb_is_unchanged(tiny_dataset: Path, tmp_path: Path):
    from firstlast.retriever.chroma_store import ChromaStore

    out = tmp_path / "out"
    args = ["eval", "run", "--dataset", str(tiny_dataset), "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    first = json.loads((out / "metrics.json").read_text())
    version = ChromaStore.embedded(out / "store" / "chroma", "firstlast_kb").version()

    result = CliRunner().invoke(app, [*args, "--reuse-store"])
    assert result.exit_code == 0, result.output
    assert ChromaStore.embedded(out / "store" / "chroma", "firstlast_kb").version() == version  # no writes
    again = json.loads((out / "metrics.json").read_text())
    assert again["retrieval"] == first["retrieval"]
    for name in ("dense", "bm25"):
        for key in ("recall@1", "recall@5", "mrr@10", "auroc"):
            assert again["baselines"][name][key] == first["baselines"][name][key]


def test_eval_run_bad_dataset_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "run", "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "no kb.jsonl" in result.output and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.skipif(not EVALDATA.is_dir(), reason=f"shared evaluation data not found at {EVALDATA}")
def test_eval_run_on_real_emanual_dev_with_out_of_scope_traffic(tmp_path: Path) -> None:
    subset = _write_jsonl(
        tmp_path / "q.jsonl",
        [
            json.loads(line)
            for line in (EVALDATA / "emanual_smarttv" / "questions.jsonl").read_text().splitlines()[:30]
        ],
    )
    oos = _write_jsonl(
        tmp_path / "oos.jsonl",
        [
            json.loads(line)
            for line in (EVALDATA / "clinc150_oos" / "questions.jsonl").read_text().splitlines()[:30]
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "run",
            "--dataset",
            str(EVALDATA / "emanual_smarttv"),
            "--questions",
            str(subset),
            "--extra-questions",
            str(oos),
            "--out",
            str(out),
            "--no-baselines",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["questions"] == 60 and metrics["unanswerable"] == 30
    assert metrics["retrieval"]["recall@5"] >= 0.7
    assert metrics["answers"]["handoff_recall"] >= 0.9  # out-of-scope traffic goes to people
    assert metrics["answers"]["auroc"] >= 0.8
