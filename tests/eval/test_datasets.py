"""Eval questions from the shared JSONL format; ``--with-tags`` asks them on their tag's page."""

from __future__ import annotations

import json
from pathlib import Path

from firstlast.eval.datasets import load_questions


def test_a_questions_single_tag_becomes_its_page_only_when_asked(tmp_path: Path) -> None:
    rows = [
        {"id": "q1", "question": "조회 방법", "gold_doc_ids": ["d1"], "tags": ["혜택 리포트"]},
        {"id": "q2", "question": "상품 등록", "gold_doc_ids": ["d2", "d3"], "tags": ["상품", "주문"]},
        {"id": "q3", "question": "반품", "gold_doc_ids": ["d4"]},
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert [i.question.page for i in load_questions(path)] == ["", "", ""]
    assert [i.question.page for i in load_questions(path, tags_as_page=True)] == ["혜택 리포트", "", ""]
