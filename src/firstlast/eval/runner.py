"""``firstlast eval run``: a fresh store from the dataset's KB, every question asked through the
same answer path as the service, metrics written to ``metrics.json`` and per-question rows to
``results.jsonl``.

A reply is *correct* when the question is answerable, the bot answered, and its first citation is
a gold document. automation_rate = correct / answerable; precision = correct / answered;
handoff_recall = handed-off unanswerable / unanswerable.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from firstlast.config import Settings
from firstlast.errors import InvalidInput
from firstlast.eval.baselines import run_baselines
from firstlast.eval.datasets import LabelledQuestion, load_questions
from firstlast.eval.metrics import auroc, ece, percentile, recall_at, reciprocal_rank, voice_metrics
from firstlast.eval.report import write_report
from firstlast.ingest.loaders import load_path
from firstlast.types import Outcome

if TYPE_CHECKING:
    from firstlast.wiring import Services


@dataclass(frozen=True)
class Result:
    item: LabelledQuestion
    ranked_docs: tuple[str, ...]
    answered: bool
    correct: bool
    confidence: float
    first_citation: str
    reason: str
    latency_ms: float
    signals: dict[str, float]
    # issue #4: what the customer saw, and how an LLM reply was grounded
    reply: str = ""
    channel: str = "chat"
    answer_mode: str = "extractive"  # extractive | llm | fallback
    grounding_reason: str = ""
    first_delta_ms: float | None = None

    def row(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "question": self.item.question.text,
            "answerable": self.item.answerable,
            "gold": sorted(self.item.gold_doc_ids),
            "retrieved": list(self.ranked_docs[:10]),
            "answered": self.answered,
            "correct": self.correct,
            "confidence": self.confidence,
            "first_citation": self.first_citation,
            "reason": self.reason,
            "latency_ms": self.latency_ms,
            "signals": self.signals,
            "reply": self.reply,
            "channel": self.channel,
            "answer_mode": self.answer_mode,
            "grounding_reason": self.grounding_reason,
            "first_delta_ms": self.first_delta_ms,
        }


def judge(item: LabelledQuestion, outcome: Outcome) -> Result:
    ranked = tuple(dict.fromkeys(h.chunk.doc_id for h in outcome.hits))
    draft = outcome.draft
    first = draft.citations[0].doc_id if draft and draft.citations else ""
    answered = not outcome.decision.handed_off
    correct = item.answerable and answered and first in item.gold_doc_ids
    return Result(
        item=item,
        ranked_docs=ranked,
        answered=answered,
        correct=correct,
        confidence=draft.confidence if draft else 0.0,
        first_citation=first,
        reason=outcome.decision.reason.value if outcome.decision.reason else "",
        latency_ms=outcome.latency_ms,
        signals=dict(draft.signals) if draft else {},
        reply=outcome.reply_text,
        channel=outcome.question.channel,
        answer_mode=draft.grounding.mode if draft and draft.grounding else "extractive",
        grounding_reason=draft.grounding.reason if draft and draft.grounding else "",
        first_delta_ms=outcome.first_delta_ms,
    )


def _chunk_ranks(outcome: Outcome) -> list[str]:
    return [h.chunk.doc_id for h in outcome.hits]


def compute_metrics(
    dataset: str, results: Sequence[Result], chunk_docs: Sequence[Sequence[str]], threshold: float
) -> dict[str, Any]:
    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable]
    ranked = [c for r, c in zip(results, chunk_docs) if r.item.answerable]
    n = max(len(answerable), 1)
    correct = sum(r.correct for r in results)
    answered = sum(r.answered for r in results)
    labels = [r.correct for r in results]
    confidences = [r.confidence for r in results]
    return {
        "dataset": dataset,
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "retrieval": {
            "recall@1": sum(recall_at(c, r.item.gold_doc_ids, 1) for r, c in zip(answerable, ranked)) / n,
            "recall@5": sum(recall_at(c, r.item.gold_doc_ids, 5) for r, c in zip(answerable, ranked)) / n,
            "mrr@10": sum(reciprocal_rank(c, r.item.gold_doc_ids, 10) for r, c in zip(answerable, ranked))
            / n,
        },
        "answers": {
            "threshold": threshold,
            "automation_rate": correct / n,
            "precision": correct / answered if answered else 0.0,
            "handoff_recall": (
                sum(not r.answered for r in unanswerable) / len(unanswerable) if unanswerable else 0.0
            ),
            "auroc": auroc(confidences, labels),
            "ece": ece(confidences, labels),
        },
        "latency_ms": {
            "p50": percentile([r.latency_ms for r in results], 50),
            "p95": percentile([r.latency_ms for r in results], 95),
        },
    }


def fresh_services(
    base_settings: Settings, store_dir: Path, threshold: float | None = None, *, reuse: bool = False
) -> Services:
    """Services on an embedded store and SQLite file in ``store_dir``: deleted first, unless ``reuse``
    (then the incremental ingest that follows embeds only what changed since the last run)."""
    from firstlast.wiring import build

    if store_dir.exists() and not reuse:
        shutil.rmtree(store_dir)
    answer = base_settings.answer.model_copy(update={"threshold": threshold} if threshold is not None else {})
    settings = base_settings.model_copy(
        update={
            "data_dir": store_dir,
            "database_url": None,
            "answer": answer,
            "chroma": base_settings.chroma.model_copy(update={"mode": "embedded"}),
        }
    )
    return build(settings)


def run_eval(
    dataset_dir: Path,
    out: Path,
    *,
    base_settings: Settings,
    questions_file: Path | None = None,
    extra_files: Sequence[Path] = (),
    threshold: float | None = None,
    progress_console: Console | None = None,
    baselines: bool = True,
    reuse_store: bool = False,
) -> dict[str, Any]:
    kb = dataset_dir / "kb.jsonl"
    if not kb.is_file():
        raise InvalidInput(f"{dataset_dir}: no kb.jsonl")
    items = load_questions(questions_file or dataset_dir / "questions.jsonl")
    for extra in extra_files:
        items += load_questions(extra)
    if not items:
        raise InvalidInput("no questions to evaluate")
    services = fresh_services(base_settings, out / "store", threshold=threshold, reuse=reuse_store)
    source, documents = load_path(kb)
    services.ingestor.ingest(documents, source=source)
    services.bot.ask(items[0].question)  # warm-up: load lazily initialised parts before timing
    results: list[Result] = []
    chunk_docs: list[list[str]] = []
    console = progress_console or Console(stderr=True)
    with console.status(f"asking {len(items)} questions") as status:
        for i, item in enumerate(items, start=1):
            outcome = services.bot.ask(item.question)
            results.append(judge(item, outcome))
            chunk_docs.append(_chunk_ranks(outcome))
            if i % 25 == 0:
                status.update(f"asked {i}/{len(items)} questions")
    metrics = compute_metrics(dataset_dir.name, results, chunk_docs, services.bot.policy.threshold)
    metrics.update(generation_metrics(results, services))
    if baselines:
        with console.status("measuring baselines (vanilla dense, BM25) on the same data"):
            measured = run_baselines(
                documents, items, services.embedder, out / "baselines", reuse=reuse_store
            )
        metrics["baselines"] = {"dense": measured["vanilla_dense"], "bm25": measured["bm25_only"]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    rows = [r.row() for r in results]
    with (out / "results.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_report(out, metrics, rows)
    return metrics


def generation_metrics(results: Sequence[Result], services: Services) -> dict[str, Any]:
    """The answerer, brand-voice compliance and streaming latency (issue #4)."""
    voice = services.voice
    replies = [(r.reply, r.channel, r.answered) for r in results]
    first = [r.first_delta_ms for r in results if r.first_delta_ms is not None]
    modes = [r.answer_mode for r in results]
    return {
        "answerer": services.settings.llm.answerer,
        "voice": voice_metrics(replies, voice.banned_phrases, voice.max_length, voice.greeting),
        "streaming": {
            "first_delta_ms_p50": percentile(first, 50),
            "first_delta_ms_p95": percentile(first, 95),
        },
        "generation": {mode: modes.count(mode) for mode in ("extractive", "llm", "fallback")},
    }


def print_metrics(metrics: dict[str, Any], console: Console) -> None:
    table = Table(title=f"firstlast eval — {metrics['dataset']}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row(
        "questions (answerable / unanswerable)",
        f"{metrics['questions']} ({metrics['answerable']} / {metrics['unanswerable']})",
    )
    for group in ("retrieval", "answers", "latency_ms", "voice", "streaming", "generation"):
        for key, value in metrics.get(group, {}).items():
            table.add_row(f"{group}.{key}", f"{value:.3f}" if isinstance(value, float) else str(value))
    for name, values in metrics.get("baselines", {}).items():
        for key in ("recall@1", "recall@5", "mrr@10", "auroc"):
            table.add_row(f"baseline {name}.{key}", f"{values[key]:.3f}")
    console.print(table)
