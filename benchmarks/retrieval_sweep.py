"""Compare retrieval variants on the dev splits: dense only, BM25 only, and fusions.

Embeds each dataset's chunks once per backend (cached under --cache), then scores every variant with
exact cosine search in memory, so a sweep takes seconds after the first run. Prints a table of
doc-level recall@1/@5 and MRR@10 over answerable questions.

    .venv/bin/python benchmarks/retrieval_sweep.py --backend minilm --datasets emanual_smarttv mtrag
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from firstlast.eval.datasets import load_questions
from firstlast.eval.metrics import recall_at, reciprocal_rank
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.retriever.embeddings import build_embedder
from firstlast.retriever.lexical import BM25Index, index_text

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


def ranked_docs(order: list[int], chunk_docs: list[str]) -> list[str]:
    return list(dict.fromkeys(chunk_docs[i] for i in order))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="minilm")
    parser.add_argument("--datasets", nargs="+", default=["emanual_smarttv", "mtrag", "localgovfaq_ja"])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/firstlast-sweep"))
    parser.add_argument("--chunk-tokens", type=int, default=256)
    args = parser.parse_args()
    embedder = build_embedder(args.backend)
    chunker = Chunker(args.chunk_tokens, 32)
    for name in args.datasets:
        _, docs = load_path(EVALDATA / name / "kb.jsonl")
        chunks = [c for d in docs for c in chunker.chunk(d)]
        cache = args.cache / f"{name}-{args.backend}-{args.chunk_tokens}.npy"
        if cache.exists():
            matrix = np.load(cache)
        else:
            started = time.time()
            matrix = embedder.embed_documents([index_text(c) for c in chunks])
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, matrix)
            print(f"{name}: embedded {len(chunks)} chunks in {time.time() - started:.0f}s")
        bm25 = BM25Index(chunks)
        chunk_docs = [c.doc_id for c in chunks]
        items = [q for q in load_questions(EVALDATA / name / "questions.jsonl") if q.answerable]
        variants: dict[str, list[list[str]]] = {}
        for item in items:
            q = item.question
            history = " ".join(q.earlier_customer_turns()[-2:])
            qv = embedder.embed_query(q.text)
            if history:
                qv = qv + 0.5 * embedder.embed_query(history)
                qv /= np.linalg.norm(qv)
            dense = matrix @ qv
            d_order = list(np.argsort(-dense)[:100])
            tokens = bm25.analyzer.tokens(q.text)
            tokens += [t for t in bm25.analyzer.tokens(history) if t not in set(tokens)]
            lex = bm25._bm25.get_scores(tokens) if bm25._bm25 and tokens else np.zeros(len(chunks))
            l_order = list(np.argsort(-lex)[:100])
            variants.setdefault("dense", []).append(ranked_docs(d_order, chunk_docs))
            variants.setdefault("bm25", []).append(ranked_docs(l_order, chunk_docs))
            for k, wd in ((60, 1.0), (10, 1.0), (60, 2.0), (60, 0.5)):
                score: dict[int, float] = {}
                for r, i in enumerate(d_order[:40], 1):
                    score[i] = score.get(i, 0) + wd / (k + r)
                for r, i in enumerate(l_order[:40], 1):
                    score[i] = score.get(i, 0) + 1.0 / (k + r)
                order = sorted(score, key=lambda i: -score[i])
                variants.setdefault(f"rrf k={k} wd={wd}", []).append(ranked_docs(order, chunk_docs))
                if k == 60 and wd in (1.0, 0.5):
                    # document-level: a document's score is the sum of its two best chunk scores
                    per_doc: dict[str, list[float]] = {}
                    for i, v in score.items():
                        per_doc.setdefault(chunk_docs[i], []).append(v)
                    agg = {d: sum(sorted(v, reverse=True)[:2]) for d, v in per_doc.items()}
                    variants.setdefault(f"rrf wd={wd} doc-sum2", []).append(
                        sorted(agg, key=lambda d: -agg[d])
                    )
                    # document-level ranks first, then fuse
                    d_docs = ranked_docs(d_order, chunk_docs)[:40]
                    l_docs = ranked_docs(l_order, chunk_docs)[:40]
                    fused: dict[str, float] = {}
                    for r, d in enumerate(d_docs, 1):
                        fused[d] = fused.get(d, 0) + wd / (k + r)
                    for r, d in enumerate(l_docs, 1):
                        fused[d] = fused.get(d, 0) + 1.0 / (k + r)
                    variants.setdefault(f"rrf wd={wd} doc-ranks", []).append(
                        sorted(fused, key=lambda d: -fused[d])
                    )
        print(f"\n{name} ({len(items)} answerable, {len(chunks)} chunks, {args.backend})")
        print(f"{'variant':<22} {'r@1':>6} {'r@5':>6} {'mrr':>6}")
        for label, runs in variants.items():
            golds = [i.gold_doc_ids for i in items]
            r1 = np.mean([recall_at(r, g, 1) for r, g in zip(runs, golds)])
            r5 = np.mean([recall_at(r, g, 5) for r, g in zip(runs, golds)])
            mrr = np.mean([reciprocal_rank(r, g, 10) for r, g in zip(runs, golds)])
            print(f"{label:<22} {r1:6.3f} {r5:6.3f} {mrr:6.3f}")


if __name__ == "__main__":
    main()
