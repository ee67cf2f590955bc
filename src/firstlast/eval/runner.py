"""``firstlast eval run``: a fresh store from the dataset's KB, every question asked through the
same answer path as the service, metrics written to ``metrics.json`` and per-question rows to
``results.jsonl``.

A reply is *correct* when the question is answerable, the bot answered, and its first citation is
a gold document. automation_rate = correct / answerable; precision = correct / answered;
handoff_recall = handed-off unanswerable / unanswerable. Where a question has a gold answer, the
reply is also compared with it (:func:`firstlast.eval.metrics.answer_metrics`): it *resolves* the
question when it holds at least half of the gold answer's content words, cited or not. The
``section_prefix`` baseline sends the first characters (the channel's limit) of the cited section
instead of the bot's reply, with the bot's decisions.
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

from firstlast.answerer.extractive import section_text, sections, top_section
from firstlast.config import Settings
from firstlast.errors import InvalidInput
from firstlast.eval.baselines import run_baselines
from firstlast.eval.datasets import LabelledQuestion, load_questions
from firstlast.eval.metrics import (
    RESOLVED_SHARE,
    AnswerScorer,
    answer_metrics,
    auroc,
    ece,
    percentile,
    recall_at,
    reciprocal_rank,
    voice_metrics,
)
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
    # issue #9: how much of the gold answer the replies carry (None without a gold answer)
    answer_recall: float | None = None  # the sent reply (0 when handed off)
    draft_recall: float | None = None  # the draft, sent or not: what the calibration predicts
    rouge_l: float | None = None
    prefix_recall: float | None = None  # the cited section's first characters (baseline)

    @property
    def resolved_if_sent(self) -> bool:
        """The draft would resolve the question; without a gold answer, its citation must be gold."""
        if self.draft_recall is None:
            return self.item.answerable and self.first_citation in self.item.gold_doc_ids
        return self.item.answerable and self.draft_recall >= RESOLVED_SHARE

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
            "has_gold_answer": self.draft_recall is not None,
            "gold_answer": (self.item.gold_answer or "")[:2000],
            "answer_recall": self.answer_recall,
            "draft_recall": self.draft_recall,
            "rouge_l": self.rouge_l,
            "prefix_recall": self.prefix_recall,
            "resolved_if_sent": self.resolved_if_sent,
        }


def judge(
    item: LabelledQuestion, outcome: Outcome, scorer: AnswerScorer | None = None, prefix: str = ""
) -> Result:
    """The eval row of one question; ``prefix`` is the baseline reply (the cited section's start)."""
    ranked = tuple(dict.fromkeys(h.chunk.doc_id for h in outcome.hits))
    draft = outcome.draft
    first = draft.citations[0].doc_id if draft and draft.citations else ""
    answered = not outcome.decision.handed_off
    correct = item.answerable and answered and first in item.gold_doc_ids
    gold = (item.gold_answer or "").strip() if scorer is not None and item.answerable else ""
    completeness: dict[str, float | None] = {}
    if gold and scorer is not None:
        draft_text = draft.text if draft else ""
        completeness = {
            "answer_recall": scorer.content_recall(outcome.reply_text, gold) if answered else 0.0,
            "draft_recall": scorer.content_recall(draft_text, gold),
            "rouge_l": scorer.rouge_l_recall(outcome.reply_text, gold) if answered else 0.0,
            "prefix_recall": scorer.content_recall(prefix, gold) if answered else 0.0,
        }
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
        **completeness,  # type: ignore[arg-type]
    )


def section_prefix(services: Services, outcome: Outcome) -> str:
    """The first characters (the channel's limit) of the section the bot cited first."""
    draft = outcome.draft
    if not draft or not draft.citations:
        return ""
    cited = next((h.chunk for h in outcome.hits if h.chunk.id == draft.citations[0].chunk_id), None)
    if cited is None:
        return ""
    section = sections(services.retriever.document_chunks(cited)).get(top_section(cited.section), [cited])
    text = section_text(section)
    return text[: services.voice.max_length.get(outcome.question.channel, 800)]


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
            **answer_metrics([r.row() for r in results]),
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
    tags_as_page: bool = False,
) -> dict[str, Any]:
    kb = dataset_dir / "kb.jsonl"
    if not kb.is_file():
        raise InvalidInput(f"{dataset_dir}: no kb.jsonl")
    items = load_questions(questions_file or dataset_dir / "questions.jsonl", tags_as_page=tags_as_page)
    for extra in extra_files:
        items += load_questions(extra, tags_as_page=tags_as_page)
    if not items:
        raise InvalidInput("no questions to evaluate")
    services = fresh_services(base_settings, out / "store", threshold=threshold, reuse=reuse_store)
    source, documents = load_path(kb)
    services.ingestor.ingest(documents, source=source)
    services.bot.ask(items[0].question)  # warm-up: load lazily initialised parts before timing
    results: list[Result] = []
    chunk_docs: list[list[str]] = []
    scorer = AnswerScorer()
    console = progress_console or Console(stderr=True)
    with console.status(f"asking {len(items)} questions") as status:
        for i, item in enumerate(items, start=1):
            outcome = services.bot.ask(item.question)
            results.append(judge(item, outcome, scorer, section_prefix(services, outcome)))
            chunk_docs.append(_chunk_ranks(outcome))
            if i % 25 == 0:
                status.update(f"asked {i}/{len(items)} questions")
    metrics = compute_metrics(dataset_dir.name, results, chunk_docs, services.bot.policy.threshold)
    metrics.update(generation_metrics(results, services))
    if baselines:
        with console.status("measuring baselines (vanilla dense, BM25) on the same data"):
            measured = run_baselines(
                documents,
                items,
                services.embedder,
                out / "baselines",
                reuse=reuse_store,
                scorer=scorer,
                reply_chars=services.voice.max_length.get("chat", 800),
            )
        metrics["baselines"] = {"dense": measured["vanilla_dense"], "bm25": measured["bm25_only"]}
        if any(r.draft_recall is not None for r in results):
            metrics["baselines"]["section_prefix"] = section_prefix_metrics(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    rows = [r.row() for r in results]
    with (out / "results.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_report(out, metrics, rows)
    return metrics


def section_prefix_metrics(results: Sequence[Result]) -> dict[str, Any]:
    """The cited-section-prefix baseline: the bot's decisions, the section's start as the reply."""
    rows = [{**r.row(), "answer_recall": r.prefix_recall, "rouge_l": None} for r in results]
    metrics = answer_metrics(rows)
    metrics.pop("rouge_l_recall", None)
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


ANSWER_KEYS = ("answer_recall", "resolution_rate", "resolution_precision")


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
        for key in ("recall@1", "recall@5", "mrr@10", "auroc", *ANSWER_KEYS):
            if isinstance(values.get(key), float):
                table.add_row(f"baseline {name}.{key}", f"{values[key]:.3f}")
    console.print(table)
