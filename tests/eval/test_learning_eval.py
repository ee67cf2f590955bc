"""`firstlast eval learning`: removed knowledge is handed off once, learned, then answered."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from firstlast.cli import app
from firstlast.eval.datasets import LabelledQuestion
from firstlast.eval.learning import covered_strictly, learnable_groups
from firstlast.types import Question


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _q(i: str, question: str, doc: str, answer: str | None = None) -> dict:
    return {"id": i, "question": question, "gold_doc_ids": [doc], "answerable": True, "gold_answer": answer}


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


def test_a_refused_first_question_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    _jsonl(
        folder / "kb.jsonl",
        [
            {"id": "pw", "title": "Reset your password", "text": "Open Settings, Security, Reset password."},
            {"id": "greet", "title": "Opening hours", "text": "Support answers from 9 to 5 on weekdays."},
            {"id": "refund", "title": "Refunds", "text": "Annual plans are refundable within 14 days."},
        ],
    )
    _jsonl(
        folder / "questions.jsonl",
        [
            _q("g1", "Hello! Thanks!", "greet", "Support answers from 9 to 5 on weekdays."),
            _q("g2", "When does support answer?", "greet", "From 9 to 5 on weekdays."),
            _q(
                "r1",
                "Can I get a refund for my annual plan?",
                "refund",
                "Annual plans are refundable within 14 days.",
            ),
            _q("r2", "Is a refund possible on the yearly plan?", "refund", "Yes, within 14 days."),
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", "learning", "--dataset", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "learning.json").read_text())
    assert metrics["documents_learned"] == 2
    (refused,) = metrics["refused"]
    assert refused["doc"] == "greet" and refused["question"] == "Hello! Thanks!" and refused["reason"]
    assert metrics["later_questions"] == 2
    assert metrics["learn_once_rate"] == 0.5  # the refund document was still learned and answered
    assert metrics["import"]["pairs"] == 4
    assert (out / "results.jsonl").read_text().count("\n") == 4  # every question after learning


def test_faq_data_without_gold_answers_is_learned_from_the_documents_own_text(tmp_path: Path) -> None:
    folder = tmp_path / "faq"
    folder.mkdir()
    _jsonl(
        folder / "kb.jsonl",
        [
            {
                "id": "f1",
                "title": "住民票の写しはどこで取れますか。",
                "text": "住民票の写しは市役所の市民課の窓口で交付します。本人確認書類をお持ちください。",
            },
            {
                "id": "f2",
                "title": "粗大ごみの出し方を知りたい。",
                "text": "粗大ごみは電話で申し込み、指定の日に出してください。",
            },
            {
                "id": "f3",
                "title": "図書館の開館時間は？",
                "text": "図書館は午前9時から午後7時まで開いています。",
            },
        ],
    )
    _jsonl(
        folder / "questions.jsonl",
        [
            _q("q1", "住民票の写しが欲しいのですが、どこで取れますか？", "f1"),
            _q("q2", "住民票の写しはどこでもらえますか", "f1"),
            _q("q3", "図書館は何時まで開いていますか", "f3"),
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["eval", "learning", "--dataset", str(folder), "--out", str(out)],
        env={"FIRSTLAST_EMBEDDING__BACKEND": "minilm"},
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "learning.json").read_text())
    assert metrics["agent_answer"] == "document"
    assert metrics["documents_learned"] == 1 and metrics["later_questions"] == 1
    assert metrics["first_answer_verdicts"] == {"new_knowledge": 1}
    (row,) = [json.loads(line) for line in (out / "learning_rows.jsonl").read_text().splitlines()]
    assert row["question"] == "住民票の写しはどこでもらえますか" and row["learned_rank"] == 1  # found first
    assert metrics["learn_once_rate"] == float(row["learned"])  # answered or not: the calibration decides


_INTRO = "Open the Home Screen, select Settings, then General, to manage the TV."


def test_strict_coverage_needs_what_the_question_asks_beyond_the_shared_section_text() -> None:
    learned = f"{_INTRO} To delete a notification, select it and press Delete."
    other_part = f"{_INTRO} To change the picture mode, select Picture Mode and choose Movie."
    same_part = f"{_INTRO} Select a notification, then press Delete to delete it."
    others = [other_part, same_part]
    assert covered_strictly(learned, learned, others)  # the same answer
    assert covered_strictly(same_part, learned, [other_part])  # its own words are in the learned answer
    assert not covered_strictly(other_part, learned, [same_part])  # only the section's intro is shared
    assert not covered_strictly(_INTRO, learned, others)  # nothing beyond the intro to be answered


def test_eval_learning_rows_say_whether_each_later_question_is_covered_strictly(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    section = (
        f"{_INTRO} To delete a notification, select it and press Delete. "
        "To change the picture mode, select Picture Mode and choose Movie."
    )
    _jsonl(
        folder / "kb.jsonl",
        [
            {"id": "home", "title": "The Home Screen", "text": section},
            {"id": "pw", "title": "Reset your password", "text": "Open Settings, Security, Reset password."},
        ],
    )
    _jsonl(
        folder / "questions.jsonl",
        [
            _q(
                "n1",
                "How do I delete a notification?",
                "home",
                f"{_INTRO} To delete a notification, select it and press Delete.",
            ),
            _q(
                "n2",
                "Can I remove notifications?",
                "home",
                f"{_INTRO} Select a notification, then press Delete to delete it.",
            ),
            _q(
                "m1",
                "How do I change the picture mode?",
                "home",
                f"{_INTRO} To change the picture mode, select Picture Mode and choose Movie.",
            ),
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", "learning", "--dataset", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "learning.json").read_text())
    assert metrics["later_questions"] == 2
    assert metrics["later_questions_covered"] == 2  # both share the section's introduction
    assert metrics["later_questions_covered_strict"] == 1  # only the notification question
    rows = {r["question"]: r for r in map(json.loads, (out / "learning_rows.jsonl").read_text().splitlines())}
    assert rows["Can I remove notifications?"]["covered_strict"] is True
    assert rows["How do I change the picture mode?"]["covered"] is True
    assert rows["How do I change the picture mode?"]["covered_strict"] is False
    strict_learned = rows["Can I remove notifications?"]["learned"]
    assert metrics["learn_once_rate_covered_strict"] == float(strict_learned)
