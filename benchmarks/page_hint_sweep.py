"""The page the customer is on as a retrieval hint: smartstore_faq_ko's product tags as the page.

Each question is asked with its product tag as the page (where its FAQs share one, as
``eval run --with-tags`` does) through the product's query building (``HybridRetriever``'s
``query_vector`` / ``query_tokens`` logic, reproduced on cached vectors) and ``fuse``. Variants: no
page; the page's vector added with weight w (dense) and/or its words added to BM25's query
(lexical); and the tag simply written in front of the question (what the earlier sweep measured,
which a product cannot do: the page would then count as much as the question).

The e5 vectors of the chunks are read from an ``eval run`` store (``--store``: its ``chroma``
folder) or embedded once; all vectors are cached (``--cache``), so a rerun costs BM25 time only.

    .venv/bin/python benchmarks/page_hint_sweep.py --store /tmp/eval/smartstore_faq_ko/store/chroma
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lexical_sweep import EVALDATA, dense_vectors

from firstlast.eval.datasets import load_questions
from firstlast.eval.metrics import recall_at, reciprocal_rank
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.retriever.analysis import TextAnalyzer
from firstlast.retriever.embeddings import build_embedder
from firstlast.retriever.hybrid import fuse
from firstlast.retriever.lexical import BM25Index


def embed_cached(texts: list[str], path: Path) -> np.ndarray:
    if path.exists():
        return np.load(path)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    embedder = build_embedder("e5")
    out = np.stack([embedder.embed_query(t) for t in texts])
    np.save(path, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="smartstore_faq_ko")
    parser.add_argument("--store", type=Path, help="an eval run's chroma folder (else e5 embeds the KB once)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cjk-cache"))
    parser.add_argument("--weights", nargs="+", type=float, default=[0.2, 0.3, 0.5, 1.0])
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--lexical-only", action="store_true", help="BM25 alone: no e5 at all")
    args = parser.parse_args()
    name = args.dataset
    _, docs = load_path(EVALDATA / name / "kb.jsonl")
    chunks = [c for d in docs for c in Chunker(256, 32).chunk(d)]
    items = [
        i for i in load_questions(EVALDATA / name / "questions.jsonl", tags_as_page=True) if i.answerable
    ]
    golds = [i.gold_doc_ids for i in items]
    questions = [i.question.text for i in items]
    pages = [i.question.page for i in items]
    unique = sorted({p for p in pages if p})
    if args.lexical_only:
        matrix = qvec = joined = np.zeros((len(items), 0), dtype=np.float32)
        args.weights = []
    else:
        matrix, _, qvec = dense_vectors(name, chunks, questions, args.cache, "-page-q", args.store)
        texts = [f"{p} {q}" if p else q for p, q in zip(pages, questions)]
        joined = embed_cached(texts, args.cache / f"{name}-page-joined.npy")
    pvec_of = dict(
        zip(unique, embed_cached(unique if args.weights else [], args.cache / f"{name}-page-p.npy"))
    )
    index = BM25Index(chunks, analyzer=TextAnalyzer())
    analyzer = TextAnalyzer()

    def dense(vectors: np.ndarray) -> list[list[tuple]]:
        out: list[list[tuple]] = []
        if args.lexical_only:
            return [[] for _ in vectors]
        for v in vectors:
            scores = matrix @ v
            top = np.argsort(-scores)[: args.candidates]
            out.append([(chunks[i], float(scores[i])) for i in top])
        return out

    def with_page(weight: float) -> np.ndarray:
        rows = []
        for q, p in zip(qvec, pages):
            v = q + weight * pvec_of[p] if p else q
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)

    def lexical(page_words: bool, joined_text: bool = False) -> list[list[tuple]]:
        out = []
        for q, p in zip(questions, pages):
            if joined_text:
                tokens = analyzer.tokens(f"{p} {q}" if p else q)
            else:
                tokens = analyzer.tokens(q)
                if page_words and p:
                    seen = set(tokens)
                    tokens += [t for t in dict.fromkeys(analyzer.tokens(p)) if t not in seen]
            out.append(index.search_tokens(tokens, args.candidates))
        return out

    plain_lex, page_lex, joined_lex = lexical(False), lexical(True), lexical(False, True)
    variants = {
        "no page": (dense(qvec), plain_lex),
        "tag in front of the question": (dense(joined), joined_lex),
    }
    variants["page words in BM25 only"] = (variants["no page"][0], page_lex)
    for w in args.weights:
        d = dense(with_page(w))
        variants[f"page vector w={w} only"] = (d, plain_lex)
        variants[f"page vector w={w} + words"] = (d, page_lex)
    print(
        f"\n{name}: {len(items)} answerable, {sum(1 for p in pages if p)} with a page, {len(chunks)} chunks"
    )
    print(f"{'variant':<32} {'r@1':>6} {'r@5':>6} {'mrr@10':>7}")
    for label, (d, lx) in variants.items():
        ranked = [
            list(dict.fromkeys(h.chunk.doc_id for h in fuse(a, b, k=args.candidates, dense_weight=1.0)))
            for a, b in zip(d, lx)
        ]
        r1 = np.mean([recall_at(r, g, 1) for r, g in zip(ranked, golds)])
        r5 = np.mean([recall_at(r, g, 5) for r, g in zip(ranked, golds)])
        mrr = np.mean([reciprocal_rank(r, g, 10) for r, g in zip(ranked, golds)])
        print(f"{label:<32} {r1:6.3f} {r5:6.3f} {mrr:7.3f}")
    print(json.dumps({"pages": len(unique)}))


if __name__ == "__main__":
    main()
