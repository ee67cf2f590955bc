"""Ranking variants beyond the product's fusion, on cached vectors of the dev splits (issue #15).

The product fuses, per chunk, the dense ranking and BM25 by weighted reciprocal rank (``fuse``). This
script scores, doc-level recall@1/@5 and MRR@10 over answerable questions, next to that baseline:

- ``prf``: dense pseudo-relevance feedback, the query vector plus ``alpha`` times the mean vector of
  its top chunks, searched again;
- ``doc-rrf``: fusion per document (each list reduced to its documents' best chunk) instead of per
  chunk, at several reciprocal-rank constants and dense weights;
- ``doc-sum``: per document, the z-scored dense and BM25 scores summed with a BM25 share;
- ``lead``: each document's opening (its first sentences, up to ``--lead-chars``; with its title in
  front for Latin-script sets) embedded as a passage and ranked as a third list, joined the way known
  questions join (``fuse(questions=…)``);
- ``titles``: each document's title embedded as a query and matched question to question (an FAQ
  whose title is its question, as localgovfaq_ja's), joined the same way.

CJK sets use e5 and the sweep's vector cache (``lexical_sweep.py --cache``, filled on first use);
Latin-script sets are embedded with MiniLM on each run (small).

    .venv/bin/python benchmarks/fusion_variants.py --datasets smartstore_faq_ko localgovfaq_ja emanual_smarttv
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lexical_sweep import EVALDATA, dense_vectors

from firstlast.config import RetrievalSettings
from firstlast.eval.datasets import load_questions
from firstlast.eval.metrics import recall_at, reciprocal_rank
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.retriever.analysis import TextAnalyzer, script_family
from firstlast.retriever.embeddings import build_embedder
from firstlast.retriever.hybrid import fuse
from firstlast.retriever.lexical import BM25Index, index_text
from firstlast.sentences import split_sentences
from firstlast.types import Chunk

CANDIDATES = 40
Ranked = list[tuple[Chunk, float]]


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12)


def lead(title: str, text: str, chars: int, with_title: bool) -> str:
    out = ""
    for sentence in split_sentences(text):
        out = f"{out} {sentence}".strip()
        if len(out) >= chars:
            break
    out = out[: 2 * chars]
    return f"{title}\n{out}" if with_title and title else out


def cached(path: Path | None, compute: Callable[[], np.ndarray]) -> np.ndarray:
    if path is not None and path.exists():
        return np.load(path)
    started = time.time()
    matrix = compute()
    if path is not None:
        np.save(path, matrix)
    print(f"embedded {len(matrix)} texts in {time.time() - started:.0f}s")
    return matrix


def per_doc(ranked: Ranked) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for chunk, score in ranked:
        best.setdefault(chunk.doc_id, score)
    return list(best.items())


@dataclass(frozen=True)
class Split:
    """One dev split's chunks, vectors (unit length) and BM25 results, for the variants below."""

    chunks: list[Chunk]
    chunk_m: np.ndarray
    question_m: np.ndarray
    lead_m: np.ndarray
    title_m: np.ndarray
    lexical: list[Ranked]  # per answerable question, BM25's top 100 chunks
    keep: list[int]  # the answerable questions' rows
    doc_ids: list[str]
    first_chunk: dict[str, Chunk]
    dense_weight: float  # the product's for the split's script (RetrievalSettings)

    def dense(self, vector: np.ndarray, k: int = CANDIDATES) -> Ranked:
        scores = self.chunk_m @ vector
        return [(self.chunks[i], float(scores[i])) for i in np.argsort(-scores)[:k]]

    def by_doc(self, matrix: np.ndarray, vector: np.ndarray) -> Ranked:
        """One vector per document (lead, title): its documents ranked, as their first chunk."""
        scores = matrix @ vector
        return [
            (self.first_chunk[self.doc_ids[i]], float(scores[i])) for i in np.argsort(-scores)[:CANDIDATES]
        ]

    def fused(
        self,
        j: int,
        n: int,
        extra: Ranked | None = None,
        weight: float = 0.0,
        vector: np.ndarray | None = None,
        lexical_share: float | None = None,
    ) -> list[str]:
        dense = self.dense(self.question_m[n] if vector is None else vector)
        hits = fuse(
            dense,
            self.lexical[j][:CANDIDATES],
            k=100,
            dense_weight=self.dense_weight,
            questions=extra or [],
            question_weight=weight,
            lexical_share=lexical_share,
        )
        return [h.chunk.doc_id for h in hits]


def prf(split: Split, j: int, n: int, alpha: float, top: int) -> list[str]:
    first = np.argsort(-(split.chunk_m @ split.question_m[n]))[:top]
    return split.fused(j, n, vector=unit(split.question_m[n] + alpha * split.chunk_m[first].mean(axis=0)))


def doc_rrf(split: Split, j: int, n: int, weight: float, k: int) -> list[str]:
    scores: dict[str, float] = {}
    for w, ranked in (
        (weight, per_doc(split.dense(split.question_m[n], 100))),
        (1.0, per_doc(split.lexical[j])),
    ):
        for rank, (doc, _) in enumerate(ranked[:CANDIDATES], start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return sorted(scores, key=lambda d: (-scores[d], d))


def doc_sum(split: Split, j: int, n: int, share: float) -> list[str]:
    dense = dict(per_doc(split.dense(split.question_m[n], 100)))
    lists = [(1 - share, dense), (share, dict(per_doc(split.lexical[j])))]
    seen = set(lists[0][1]) | set(lists[1][1])
    scores = dict.fromkeys(seen, 0.0)
    for w, values in lists:
        v = np.array(list(values.values()) or [0.0])
        mean, std, floor = v.mean(), v.std() + 1e-9, v.min()  # floor: a document not in the list
        for doc in seen:
            scores[doc] += w * (values.get(doc, floor) - mean) / std
    # ties (documents with the same text) as the product breaks them, by dense rank
    rank = {d: r for r, d in enumerate(dense)}
    return sorted(scores, key=lambda d: (-scores[d], rank.get(d, len(rank))))


def variants(split: Split, lead_chars: int) -> list[tuple[str, Callable[[int, int], Sequence[str]]]]:
    out: list[tuple[str, Callable[[int, int], Sequence[str]]]] = [
        ("product fusion (baseline)", lambda j, n: split.fused(j, n))
    ]
    for alpha in (0.3, 0.6, 1.0):
        for top in (3, 5):
            out.append((f"prf alpha={alpha} top={top}", lambda j, n, a=alpha, t=top: prf(split, j, n, a, t)))
    for weight in (1.0, 1.5):
        for k in (10, 30, 60):
            out.append((f"doc-rrf wd={weight} k={k}", lambda j, n, w=weight, k=k: doc_rrf(split, j, n, w, k)))
    for share in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        out.append((f"doc-sum bm25 share={share}", lambda j, n, s=share: doc_sum(split, j, n, s)))
        out.append(
            (f"chunk-sum bm25 share={share}", lambda j, n, s=share: split.fused(j, n, lexical_share=s))
        )
    for w in (0.5, 1.0):
        out.append(
            (
                f"lead{lead_chars} list w={w}",
                lambda j, n, w=w: split.fused(j, n, split.by_doc(split.lead_m, split.question_m[n]), w),
            )
        )
        out.append(
            (
                f"titles as questions w={w}",
                lambda j, n, w=w: split.fused(j, n, split.by_doc(split.title_m, split.question_m[n]), w),
            )
        )
    out.append(
        (
            f"lead{lead_chars} alone",
            lambda j, n: [c.doc_id for c, _ in split.by_doc(split.lead_m, split.question_m[n])],
        )
    )
    return out


def load_split(name: str, cache: Path, lead_chars: int) -> tuple[Split, list[frozenset[str]], str]:
    _, docs = load_path(EVALDATA / name / "kb.jsonl")
    chunks = [c for d in docs for c in Chunker(256, 32).chunk(d)]
    every = load_questions(EVALDATA / name / "questions.jsonl")
    texts = [i.question.text for i in every]
    cjk = script_family(" ".join(texts[:20])) == "cjk"
    model = build_embedder("e5" if cjk else "minilm")
    if cjk:  # e5 vectors of chunks and questions from the sweep's cache
        chunk_m, _, question_m = dense_vectors(name, chunks, texts, cache)
    else:
        chunk_m = model.embed_documents([index_text(c) for c in chunks])
        question_m = np.stack([model.embed_query(t) for t in texts])
    where = cache if cjk else None
    leads = [lead(d.title, d.text, lead_chars, not cjk) for d in docs]
    lead_m = cached(where and where / f"{name}-lead{lead_chars}.npy", lambda: model.embed_documents(leads))
    titles = [d.title or " " for d in docs]
    title_m = cached(
        where and where / f"{name}-titles-q.npy", lambda: np.stack([model.embed_query(t) for t in titles])
    )
    keep = [n for n, i in enumerate(every) if i.answerable]
    settings = RetrievalSettings()
    index = BM25Index(
        chunks, settings.bm25_k1, settings.bm25_b, analyzer=TextAnalyzer(korean="both", japanese="both")
    )
    first_chunk: dict[str, Chunk] = {}
    for c in chunks:
        first_chunk.setdefault(c.doc_id, c)
    split = Split(
        chunks=chunks,
        chunk_m=unit(chunk_m),
        question_m=unit(question_m),
        lead_m=unit(lead_m),
        title_m=unit(title_m),
        lexical=[index.search(texts[n], 100) for n in keep],
        keep=keep,
        doc_ids=[d.id for d in docs],
        first_chunk=first_chunk,
        dense_weight=settings.dense_weight_cjk if cjk else settings.dense_weight,
    )
    return split, [every[n].gold_doc_ids for n in keep], model.name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--datasets", nargs="+", default=["smartstore_faq_ko", "localgovfaq_ja", "emanual_smarttv"]
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cjk-cache"))
    parser.add_argument("--lead-chars", type=int, default=120)
    args = parser.parse_args()
    for name in args.datasets:
        split, golds, model = load_split(name, args.cache, args.lead_chars)
        print(f"\n{name} ({len(split.keep)} answerable, {len(split.chunks)} chunks, {model})")
        print(f"{'variant':<28} {'r@1':>6} {'r@5':>6} {'mrr@10':>7}")
        for label, rank in variants(split, args.lead_chars):
            ranked = [list(dict.fromkeys(rank(j, n))) for j, n in enumerate(split.keep)]
            r1 = np.mean([recall_at(r, g, 1) for r, g in zip(ranked, golds)])
            r5 = np.mean([recall_at(r, g, 5) for r, g in zip(ranked, golds)])
            mrr = np.mean([reciprocal_rank(r, g, 10) for r, g in zip(ranked, golds)])
            print(f"{label:<28} {r1:6.3f} {r5:6.3f} {mrr:7.3f}", flush=True)


if __name__ == "__main__":
    main()
