"""Evaluation data in the shared JSONL format (see shared/evaldata/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from firstlast.errors import InvalidInput
from firstlast.types import Question, Turn


@dataclass(frozen=True)
class LabelledQuestion:
    id: str
    question: Question
    gold_doc_ids: frozenset[str]
    answerable: bool
    gold_answer: str | None = None
    expected_behavior: str = ""


def load_questions(path: Path, *, tags_as_page: bool = False) -> list[LabelledQuestion]:
    """The questions of a JSONL file; ``tags_as_page`` asks each question on the page its ``tags``
    name (smartstore_faq_ko's product tag, which a help widget knows from the page it is on), when
    its gold documents share one tag."""
    if not path.is_file():
        raise InvalidInput(f"questions file not found: {path}")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            history = tuple(
                Turn("customer" if t["role"] == "user" else "bot", t["text"]) for t in row.get("turns") or []
            )
            tags = {str(t) for t in row.get("tags") or [] if t} if tags_as_page else set()
            page = tags.pop() if len(tags) == 1 else ""
            out.append(
                LabelledQuestion(
                    id=str(row["id"]),
                    question=Question(row["question"], history, lang=row.get("lang") or "", page=page),
                    gold_doc_ids=frozenset(row.get("gold_doc_ids") or []),
                    answerable=bool(row.get("answerable", True)),
                    gold_answer=row.get("gold_answer"),
                    expected_behavior=row.get("expected_behavior") or "",
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{lineno}: not a valid question line: {exc}") from None
    return out
