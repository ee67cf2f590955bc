"""Bootstrapping from history: past resolved conversations into the suggestions queue.

Each pair (the customer's question or questions, the agent's final answer) goes through the same
path as a resolved handoff (:meth:`LearningService.on_resolved`): the judge, the personal-data scrub,
dedupe against pending suggestions, dismissed answers and conflict checks. Nothing is approved.

JSONL, one object a line::

    {"question": "Can I pay by invoice?", "answer": "Yes, on Team.", "id": "T-1", "date": "2026-05-01"}
    {"questions": ["hi", "can I pay by invoice?"], "answer": "...", "customer_name": "Dana Whitfield"}

CSV with a header: ``question`` (several questions in one cell are separated by line breaks) and
``answer`` are required; ``id``, ``conversation_id``, ``date``, ``agent`` and ``customer_name`` (scrubbed
like the widget's customer name) are optional.

    >>> report = import_pairs(learning, read_pairs(Path("history.jsonl")))
    >>> report.verdicts
    Counter({'new_knowledge': 812, 'retrieval_miss': 301, 'customer_specific': 120, 'dismissed': 3})
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from firstlast.errors import InvalidInput
from firstlast.learning.pii import customer_names
from firstlast.learning.service import LearningService
from firstlast.types import MAX_ANSWER_CHARS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS

MAX_PAIRS = 200_000  # a file larger than this is split by the caller


@dataclass(frozen=True)
class ImportedPair:
    questions: tuple[str, ...]  # the customer's messages, in order
    answer: str  # the agent's final answer
    id: str = ""
    conversation_id: str = ""
    date: str = ""  # ISO date of the conversation, when known
    agent: str = ""
    customer_name: str = ""  # scrubbed from question and answer, as the widget's attribute is


@dataclass
class ImportReport:
    pairs: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    suggestions: set[str] = field(default_factory=set)  # pending suggestions the pairs produced
    merged: int = 0  # pairs merged into a suggestion another pair had created
    conflicts: set[str] = field(default_factory=set)  # suggestions flagged as conflicting

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "verdicts": dict(sorted(self.verdicts.items())),
            "suggestions_after_dedupe": len(self.suggestions),
            "merged": self.merged,
            "conflicts": len(self.conflicts),
        }


def _pair(raw: dict[str, Any], where: str) -> ImportedPair:
    questions = raw.get("questions", raw.get("question"))
    if isinstance(questions, str):
        questions = [questions]
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise InvalidInput(f"{where}: 'question' (text) or 'questions' (a list of texts) is required")
    questions = [q.strip() for q in questions if q.strip()]
    answer = raw.get("answer")
    if not questions or not isinstance(answer, str) or not answer.strip():
        raise InvalidInput(f"{where}: a question and an 'answer' are required")
    if sum(len(q) for q in questions) > MAX_MESSAGE_CHARS or len(answer) > MAX_ANSWER_CHARS:
        raise InvalidInput(
            f"{where}: questions are limited to {MAX_MESSAGE_CHARS} and answers to "
            f"{MAX_ANSWER_CHARS} characters"
        )
    extra = {k: raw.get(k) for k in ("id", "conversation_id", "date", "agent", "customer_name")}
    for key, value in extra.items():
        if value is not None and not isinstance(value, str | int):
            raise InvalidInput(f"{where}: {key!r} must be text")
    when = str(extra["date"] or "")
    if when:
        try:
            date.fromisoformat(when[:10])
        except ValueError:
            raise InvalidInput(f"{where}: 'date' must be an ISO date (YYYY-MM-DD), got {when!r}") from None
    agent = str(extra["agent"] or "")
    if len(agent) > MAX_NAME_CHARS:
        raise InvalidInput(f"{where}: 'agent' is longer than {MAX_NAME_CHARS} characters")
    return ImportedPair(
        tuple(questions),
        answer.strip(),
        id=str(extra["id"] or ""),
        conversation_id=str(extra["conversation_id"] or "")[:32],
        date=when,
        agent=agent,
        customer_name=str(extra["customer_name"] or "")[:MAX_NAME_CHARS],
    )


def read_pairs(path: Path) -> list[ImportedPair]:
    """Every pair of a ``.jsonl`` or ``.csv`` file; a bad line is an error naming it (nothing is
    imported from a file with errors)."""
    if not path.is_file():
        raise InvalidInput(f"import file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise InvalidInput(f"{path}: import files are .jsonl or .csv, got {suffix or 'no extension'!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    pairs: list[ImportedPair] = []
    if suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{lineno}: not JSON ({exc.msg})") from None
            if not isinstance(raw, dict):
                raise InvalidInput(f"{path}:{lineno}: each line must be a JSON object")
            pairs.append(_pair(raw, f"{path}:{lineno}"))
    else:
        reader = csv.DictReader(text.splitlines(keepends=True))
        missing = {"question", "answer"} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(f"{path}: the CSV header needs the columns {sorted(missing)}")
        try:
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if None in row:
                    raise InvalidInput(f"{where}: more cells than header columns")
                questions = [q for q in (row.get("question") or "").splitlines() if q.strip()]
                pairs.append(_pair({**row, "questions": questions}, where))
        except csv.Error as exc:
            raise InvalidInput(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    if not pairs:
        raise InvalidInput(f"{path}: no question/answer pairs")
    if len(pairs) > MAX_PAIRS:
        raise InvalidInput(f"{path}: {len(pairs)} pairs; import at most {MAX_PAIRS} at a time")
    return pairs


def import_pairs(
    learning: LearningService,
    pairs: Sequence[ImportedPair],
    *,
    agent: str = "import",
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Each pair through the learning loop's judge into the suggestions queue; counts by verdict."""
    report = ImportReport()
    for n, pair in enumerate(pairs, start=1):
        resolution = learning.on_resolved(
            " ".join(pair.questions),
            pair.answer,
            agent=pair.agent or agent,
            conversation_id=pair.conversation_id or None,
            names=customer_names({"customer_name": pair.customer_name}) if pair.customer_name else (),
        )
        report.pairs += 1
        report.verdicts[resolution.verdict.kind] += 1
        suggestion = resolution.suggestion
        if suggestion is not None:
            report.merged += suggestion.id in report.suggestions or suggestion.count > 1
            report.suggestions.add(suggestion.id)
            if suggestion.conflict is not None:
                report.conflicts.add(suggestion.id)
        if progress is not None:
            progress(n, len(pairs))
    return report
