"""Baselines measured in the same run as ``firstlast eval run``, so the numbers are comparable.

- ``vanilla_dense``: what a plain Chroma setup gives — one vector per document (title + text, cut
  off where the embedding model truncates), top-10 by cosine, confidence = top-1 cosine.
- ``bm25_only``: one BM25 entry per document with the product's tokeniser, confidence = the top-1
  score squashed by s / (s + 10) (only its ranking matters for AUROC).

Both see the current question only (no conversation history), as a vanilla setup would. Where the
questions have gold answers, each baseline's reply is the first ``reply_chars`` characters of its top
document, sent for every question (a vanilla setup has no threshold), and scored as the bot's is.

    runs = [vanilla_dense(documents, items, embedder, out / "vanilla"), bm25_only(documents, items)]
    table = {run.name: baseline_metrics(run, items) for run in runs}
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from firstlast.eval.datasets import LabelledQuestion
from firstlast.eval.metrics import AnswerScorer, answer_metrics, auroc, percentile, recall_at, reciprocal_rank
from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.lexical import BM25Index
from firstlast.types import Chunk, Document

TOP_K = 10
BM25_SQUASH = 10.0
_COLLECTION = "vanilla_dense"
_BATCH = 2000


@dataclass(frozen=True)
class BaselineRun:
    """One baseline's answers to the evaluation questions, in the order of the items."""

    name: str
    ranked_docs: tuple[tuple[str, ...], ...]  # per question, best first, at most TOP_K
    confidences: tuple[float, ...]
    latencies_ms: tuple[float, ...]

    def __post_init__(self) -> None:
        sizes = {len(self.ranked_docs), len(self.confidences), len(self.latencies_ms)}
        if len(sizes) != 1:
            raise ValueError(
                f"ranked_docs, confidences and latencies_ms must have one entry per question, "
                f"got {len(self.ranked_docs)}, {len(self.confidences)} and {len(self.latencies_ms)}"
            )


def _unique(documents: Sequence[Document]) -> list[Document]:
    """One entry per id; the last copy of a repeated id wins, as in ingestion."""
    return list({doc.id: doc for doc in documents}.values())


def vanilla_dense(
    documents: Sequence[Document],
    items: Sequence[LabelledQuestion],
    embedder: Embedder,
    workdir: Path,
    *,
    reuse: bool = False,
) -> BaselineRun:
    """One vector per document in a separate Chroma store under ``workdir``; query by cosine.

    ``reuse`` keeps a collection from an earlier run when it holds exactly these documents' ids and
    was embedded by the same model."""
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings
    from chromadb.errors import NotFoundError

    docs = _unique(documents)
    workdir.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(
        path=str(workdir), settings=ChromaClientSettings(anonymized_telemetry=False)
    )
    kept = False
    if reuse:
        with contextlib.suppress(NotFoundError):
            old = client.get_collection(_COLLECTION, embedding_function=None)
            same_ids = set(old.get(include=[])["ids"]) == {d.id for d in docs}
            kept = same_ids and (old.metadata or {}).get("embedding") == embedder.name
    if not kept:
        with contextlib.suppress(NotFoundError):  # a rerun in the same folder starts from empty
            client.delete_collection(_COLLECTION)
    collection = client.get_or_create_collection(
        _COLLECTION,
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"embedding": embedder.name},
    )
    for start in range(0, 0 if kept else len(docs), _BATCH):
        part = docs[start : start + _BATCH]
        vectors = embedder.embed_documents([f"{d.title}\n{d.text}".strip() for d in part])
        collection.add(ids=[d.id for d in part], embeddings=np.asarray(vectors, dtype=np.float32))
    n = min(TOP_K, len(docs))
    ranked: list[tuple[str, ...]] = []
    confidences: list[float] = []
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter()
        ids: list[str] = []
        distances: list[float] = []
        if n:
            vector = embedder.embed_query(item.question.text)
            res = collection.query(
                query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
                n_results=n,
                include=["distances"],
            )
            ids = list(res["ids"][0])
            distances = [float(d) for d in (res["distances"] or [[]])[0]]
        latencies.append((time.perf_counter() - started) * 1000)
        ranked.append(tuple(ids))
        confidences.append(1.0 - distances[0] if distances else 0.0)
    return BaselineRun("vanilla_dense", tuple(ranked), tuple(confidences), tuple(latencies))


def bm25_only(documents: Sequence[Document], items: Sequence[LabelledQuestion]) -> BaselineRun:
    """One BM25 entry per document (title + text), the same tokeniser as the product."""
    chunks = [
        Chunk(id=d.id, doc_id=d.id, text=d.text, title=d.title, lang=d.lang, source=d.source)
        for d in _unique(documents)
    ]
    index = BM25Index(chunks)
    ranked: list[tuple[str, ...]] = []
    confidences: list[float] = []
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter()
        found = index.search(item.question.text, TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked.append(tuple(c.doc_id for c, _ in found))
        top = found[0][1] if found else 0.0
        confidences.append(top / (top + BM25_SQUASH) if top > 0 else 0.0)
    return BaselineRun("bm25_only", tuple(ranked), tuple(confidences), tuple(latencies))


def baseline_metrics(
    run: BaselineRun,
    items: Sequence[LabelledQuestion],
    *,
    texts: dict[str, str] | None = None,
    scorer: AnswerScorer | None = None,
    reply_chars: int = 800,
) -> dict[str, Any]:
    """Retrieval metrics over answerable items; AUROC of confidence for "top-1 document is gold";
    with ``texts`` (document id -> text) and a ``scorer``, the answer metrics of the top document's
    first ``reply_chars`` characters as the reply.

    Unanswerable items count as never correct, so a confident top-1 for them lowers the AUROC.
    """
    if len(run.ranked_docs) != len(items):
        raise ValueError(f"run {run.name!r} has {len(run.ranked_docs)} questions, items have {len(items)}")
    answerable = [(item, ranked) for item, ranked in zip(items, run.ranked_docs) if item.answerable]
    n = max(len(answerable), 1)
    correct = [
        item.answerable and bool(ranked) and ranked[0] in item.gold_doc_ids
        for item, ranked in zip(items, run.ranked_docs)
    ]
    out: dict[str, Any] = {
        "recall@1": sum(recall_at(r, i.gold_doc_ids, 1) for i, r in answerable) / n,
        "recall@5": sum(recall_at(r, i.gold_doc_ids, 5) for i, r in answerable) / n,
        "mrr@10": sum(reciprocal_rank(r, i.gold_doc_ids, 10) for i, r in answerable) / n,
        "auroc": auroc(run.confidences, correct),
        "latency_ms": {"p50": percentile(run.latencies_ms, 50), "p95": percentile(run.latencies_ms, 95)},
    }
    if texts is not None and scorer is not None and any(i.gold_answer for i in items):
        rows = []
        for item, ranked in zip(items, run.ranked_docs):
            reply = texts.get(ranked[0], "")[:reply_chars] if ranked else ""
            gold = (item.gold_answer or "").strip()
            recall = scorer.content_recall(reply, gold) if gold and item.answerable else None
            rows.append(
                {
                    "answerable": item.answerable,
                    "answered": bool(ranked),
                    "has_gold_answer": recall is not None,
                    "answer_recall": recall,
                }
            )
        out.update({k: v for k, v in answer_metrics(rows).items() if k != "rouge_l_recall"})
    return out


def run_baselines(
    documents: Sequence[Document],
    items: Sequence[LabelledQuestion],
    embedder: Embedder,
    workdir: Path,
    *,
    reuse: bool = False,
    scorer: AnswerScorer | None = None,
    reply_chars: int = 800,
) -> dict[str, dict[str, Any]]:
    """Both baselines and their metrics, keyed by baseline name (for ``metrics["baselines"]``)."""
    runs = [vanilla_dense(documents, items, embedder, workdir, reuse=reuse), bm25_only(documents, items)]
    texts = {d.id: d.text for d in _unique(documents)}
    return {
        run.name: baseline_metrics(run, items, texts=texts, scorer=scorer, reply_chars=reply_chars)
        for run in runs
    }
