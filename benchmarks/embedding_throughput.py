"""Ingest throughput and query latency of the embedding backends, side by side.

Ingests the first ``--docs`` documents of a dataset's KB through the real write path (chunker ->
embedder -> Chroma in a temporary folder) once per backend, then embeds and retrieves ``--queries``
of its questions one at a time. Prints docs/s, chunks/s, query-embedding p50/p95 and retrieve p50
(hybrid, BM25 included). The machine's load average is printed too: other work on a shared machine
slows every figure.

    .venv/bin/python benchmarks/embedding_throughput.py --dataset localgovfaq_ja --docs 300
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from firstlast.eval.datasets import load_questions
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.ingest.pipeline import Ingestor
from firstlast.retriever.chroma_store import ChromaStore
from firstlast.retriever.embeddings import build_embedder
from firstlast.retriever.hybrid import HybridRetriever

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="localgovfaq_ja")
    parser.add_argument("--backends", nargs="+", default=["minilm", "e5"])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    _, docs = load_path(EVALDATA / args.dataset / "kb.jsonl")
    docs = docs[: args.docs]
    questions = [i.question for i in load_questions(EVALDATA / args.dataset / "questions.jsonl")]
    questions = questions[: args.queries]
    rows = []
    for backend in args.backends:
        started = time.perf_counter()
        embedder = build_embedder(backend, args.batch_size)
        embedder.embed_query("warm up")
        load_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            store = ChromaStore.embedded(Path(tmp), "bench")
            ingestor = Ingestor(store, Chunker(256, 32), embedder)
            started = time.perf_counter()
            report = ingestor.ingest(docs, source="bench")
            ingest_s = time.perf_counter() - started
            embed_ms = []
            for q in questions:
                t = time.perf_counter()
                embedder.embed_query(q.text)
                embed_ms.append((time.perf_counter() - t) * 1000)
            retriever = HybridRetriever(store, embedder)
            retriever.retrieve(questions[0])  # builds the BM25 index
            retrieve_ms = []
            for q in questions:
                t = time.perf_counter()
                retriever.retrieve(q)
                retrieve_ms.append((time.perf_counter() - t) * 1000)
        rows.append(
            (
                backend,
                load_s,
                len(docs) / ingest_s,
                report.chunks_embedded / ingest_s,
                float(np.percentile(embed_ms, 50)),
                float(np.percentile(embed_ms, 95)),
                float(np.percentile(retrieve_ms, 50)),
            )
        )
    print(f"\n{args.dataset}: {len(docs)} docs, {len(questions)} queries, load average {os.getloadavg()}")
    print(
        f"{'backend':<8} {'load s':>7} {'docs/s':>8} {'chunks/s':>9} {'q p50':>7} {'q p95':>7} {'ret p50':>8}"
    )
    for name, load, dps, cps, p50, p95, r50 in rows:
        print(f"{name:<8} {load:7.1f} {dps:8.1f} {cps:9.1f} {p50:7.1f} {p95:7.1f} {r50:8.1f}")


if __name__ == "__main__":
    main()
