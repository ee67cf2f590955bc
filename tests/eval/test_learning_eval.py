"""`firstlast eval learning`: removed knowledge is handed off once, learned, then answered."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from firstlast.cli import app
from firstlast.eval.datasets import LabelledQuestion
from firstlast.eval.learning import learnable_groups
from firstlast.types import Question


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_learnable_groups_need_two_questions_with_gold_answers() -> None:
    def q(i: str, doc: str, answer: str | None = "a") -> LabelledQuestion:
        return LabelledQuestion(i, Question(i), frozenset({doc}), True, answer)

    groups = learnable_groups([q("1", "A"), q("2", "A"), q("3", "B"), q("4", "C"), q("5", "C", None)])
    assert list(groups) == ["A"] and [i.id for i in groups["A"]] == ["1", "2"]


def test_eval_learning_learns_a_removed_document_once(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    _jsonl(
        folder / "kb.jsonl",
        [
            {"id": "pw", "title": "Reset your password", "text": "Open Settings, Security, Reset password."},
            {
                "id": "export",
                "title": "Export notes",
                "text": "Choose File, Export to download a zip of Markdown.",
            },
            {
                "id": "refund",
                "title": "Refunds",
                "text": "Annual plans are refundable within 14 days of purchase.",
            },
        ],
    )
    _jsonl(
        folder / "questions.jsonl",
        [
            {
                "id": "r1",
                "question": "Can I get a refund for my annual plan?",
                "gold_doc_ids": ["refund"],
                "answerable": True,
                "gold_answer": "Annual plans can be refunded within 14 days of purchase.",
            },
            {
                "id": "r2",
                "question": "Is a refund possible on the yearly plan?",
                "gold_doc_ids": ["refund"],
                "answerable": True,
                "gold_answer": "Yes, within 14 days.",
            },
            {
                "id": "p1",
                "question": "How do I reset my password?",
                "gold_doc_ids": ["pw"],
                "answerable": True,
            },
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", "learning", "--dataset", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "learning.json").read_text())
    assert metrics["documents_learned"] == 1
    assert metrics["first_questions_handed_off"] == 1.0  # the refund document was removed
    assert metrics["learn_once_rate"] == 1.0  # the paraphrase is answered from the learned entry
    assert metrics["false_learn_rate"] == 0.0  # the password question does not cite it
    assert metrics["needed_a_person"] == {"before": 1, "after": 0}
