"""Bootstrapping from history: ``firstlast learn import FILE`` runs past question/answer pairs
through the same judge, PII scrub, dedupe and conflict checks as a resolved handoff and fills the
suggestions queue; a bad file is one line and an exit code, and imports nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import SAMPLE_KB
from typer.testing import CliRunner

from firstlast.cli import app
from firstlast.errors import InvalidInput
from firstlast.learning.importer import import_pairs, read_pairs
from firstlast.wiring import Services, build

DISCOUNT = "Yes: registered non-profit organisations get 50% off the Team plan."
HISTORY = [
    {  # personal data in the question and the answer
        "id": "T-1",
        "date": "2026-03-02",
        "customer_name": "Dana Whitfield",
        "questions": [
            "Hi, I'm Dana Whitfield (dana.whitfield@example.com).",
            "Do you offer a discount for non-profits?",
        ],
        "answer": DISCOUNT + " Call me on +44 20 7946 0958 if you need help with the form.",
    },
    {  # the same question again: merged into the first suggestion
        "id": "T-2",
        "question": "hello! do you offer discounts for non-profits? thanks",
        "answer": DISCOUNT,
        "agent": "kim",
    },
    {  # an action taken for this one customer
        "id": "T-3",
        "question": "Where is my refund?",
        "answer": "I've refunded your order #A-99812 today, it will show in 3 days.",
    },
    {  # an FAQ of the knowledge base says otherwise
        "id": "T-4",
        "question": "Which payment methods do you accept?",
        "answer": "We only accept bank transfers; cards were discontinued last year.",
    },
    {  # the knowledge base already says this: a retrieval miss, not a suggestion
        "id": "T-5",
        "question": "how long do I have to ask for my money back on a yearly plan",
        "answer": "You can get a full refund within 14 days of an annual Plus charge. This covers a "
        "first-time annual purchase, a switch from monthly to annual billing, and an automatic yearly renewal.",
    },
]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_an_import_fills_the_queue_with_scrubbed_deduplicated_flagged_suggestions(
    sample_services: Services, tmp_path: Path
) -> None:
    pairs = read_pairs(_write_jsonl(tmp_path / "history.jsonl", HISTORY))
    seen = []
    report = import_pairs(sample_services.learning, pairs, progress=lambda n, total: seen.append((n, total)))
    assert seen[-1] == (5, 5)
    assert report.as_dict() == {
        "pairs": 5,
        "verdicts": {"customer_specific": 1, "new_knowledge": 3, "retrieval_miss": 1},
        "suggestions_after_dedupe": 2,
        "merged": 1,
        "conflicts": 1,
    }
    queue = {s.question: s for s in sample_services.learning.list(status="pending")}
    assert len(queue) == 2
    discount = next(s for q, s in queue.items() if "non-profit" in q)
    assert discount.count == 2 and {src.agent for src in discount.sources} == {"import", "kim"}
    stored = json.dumps([discount.question, discount.answer, [src.question for src in discount.sources]])
    for secret in ("Dana", "Whitfield", "dana.whitfield@example.com", "7946 0958"):
        assert secret not in stored
    payment = queue["Which payment methods do you accept?"]
    assert payment.conflict is not None and payment.conflict.doc_id.endswith("faq")


def test_a_csv_import_reads_several_questions_per_cell(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "id,question,answer,date\n"
        'C-1,"Hello\nDo you offer a discount for non-profits?",' + f'"{DISCOUNT}",2026-04-01\n',
        encoding="utf-8",
    )
    (pair,) = read_pairs(path)
    assert pair.questions == ("Hello", "Do you offer a discount for non-profits?") and pair.id == "C-1"
    report = import_pairs(services.learning, [pair])
    assert report.verdicts["new_knowledge"] == 1 and len(report.suggestions) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "h.jsonl",
            '{"question": "Refund?", "answer": "Within 14 days."}\n{not json\n',
            "h.jsonl:2: not JSON",
        ),
        ("h.jsonl", '{"question": "Refund?"}\n', "h.jsonl:1: a question and an 'answer' are required"),
        ("h.jsonl", '["Refund?", "Yes"]\n', "h.jsonl:1: each line must be a JSON object"),
        (
            "h.jsonl",
            '{"question": "Refund?", "answer": "Yes", "date": "last week"}\n',
            "'date' must be an ISO date",
        ),
        ("h.csv", "question,reply\nRefund?,Yes\n", "the CSV header needs the columns ['answer']"),
        ("h.csv", "question,answer\nRefund?,Yes,extra\n", "h.csv:2: more cells than header columns"),
        ("h.txt", "Refund? Yes\n", "import files are .jsonl or .csv"),
        ("h.jsonl", "\n\n", "no question/answer pairs"),
    ],
)
def test_a_bad_import_file_is_one_line_and_an_exit_code_and_imports_nothing(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["learn", "import", str(path), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # the file is checked before anything is opened


def test_a_missing_import_file_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="import file not found"):
        read_pairs(Path("/nonexistent/history.jsonl"))


def test_the_import_command_prints_counts_by_verdict(tmp_path: Path, make_settings, embedder) -> None:
    data = tmp_path / "data"
    services = build(make_settings(data_dir=data), embedder=embedder)
    source, documents = _sample()
    services.ingestor.ingest(documents, source=source)
    path = _write_jsonl(tmp_path / "history.jsonl", HISTORY[:3])
    result = CliRunner().invoke(app, ["learn", "import", str(path), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "3 pairs: 1 customer_specific, 2 new_knowledge; 1 suggestions to review" in result.output


def _sample() -> tuple[str, list]:
    from firstlast.ingest.loaders import load_path

    return load_path(SAMPLE_KB)
