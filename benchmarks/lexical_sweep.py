"""BM25 tokenisers for Korean and Japanese, alone and fused with e5, on the CJK dev splits.

For each dataset: the KB is chunked as in production, every chunk and question gets its e5 vector
once (cached under --cache, so later sweeps cost only BM25 time), then each tokeniser mode
(character bigrams, morphemes, both) is scored with BM25 alone and fused with the dense ranking
(weighted RRF, the product's ``fuse``) at several dense weights. Prints doc-level recall@1/@5 and
MRR@10 over answerable questions.

``--with-tags`` asks smartstore_faq_ko's questions with their product tag in front (the page
context a help widget knows; the dataset's README, "Caveats"), where the question's FAQs share one.

A partial vector cache (``<name>-e5-partial.npy`` with ``<name>-e5-done.npy``, written by an
interrupted embedding run) restricts dense search to the chunks embedded so far; the table says so.
``--store`` (one dataset) takes the chunk vectors from an ``eval run`` store instead of embedding them.

    .venv/bin/python benchmarks/lexical_sweep.py --datasets localgovfaq_ja smartstore_faq_ko
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from firstlast.eval.datasets import load_questions
from firstlast.eval.metrics import recall_at, reciprocal_rank
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.retriever.analysis import LEXICAL_MODES, TextAnalyzer
from firstlast.retriever.embeddings import build_embedder
from firstlast.retriever.hybrid import fuse
from firstlast.retriever.lexical import BM25_B, BM25_K1, BM25Index, index_text
from firstlast.types import Chunk

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


Vectors = tuple[np.ndarray, np.ndarray, np.ndarray]


def with_tags(path: Path) -> list[str]:
    """Each question with its product tag in front, when its source FAQs share one."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        tags = {t for t in row.get("tags") or [] if t}
        out.append(f"{tags.pop()} {row['question']}" if len(tags) == 1 else row["question"])
    return out


def store_vectors(store: Path, ids: list[str]) -> np.ndarray:
    """The chunks' e5 vectors from an eval run's Chroma store (its CJK family collection)."""
    import chromadb

    client = chromadb.PersistentClient(path=str(store))
    name = next(c.name for c in client.list_collections() if c.name.endswith("_cjk"))
    got = client.get_collection(name).get(ids=ids, include=["embeddings"])
    by_id = dict(zip(got["ids"], got["embeddings"]))
    missing = [i for i in ids if i not in by_id]
    if len(missing) > len(ids) // 100:
        raise SystemExit(f"{len(missing)} chunks are not in {store} (e.g. {missing[0]}); chunking differs")
    if missing:  # a document ingest sanitised (markup removed) or put in the other family's collection
        print(f"{len(missing)} chunks are not in the store's e5 collection (e.g. {missing[0]}): no vector")
    dimension = len(next(iter(by_id.values())))
    return np.asarray([by_id.get(i, [0.0] * dimension) for i in ids], dtype=np.float32)


def dense_vectors(
    name: str,
    chunks: list[Chunk],
    questions: list[str],
    cache: Path,
    tag: str = "",
    store: Path | None = None,
) -> Vectors:
    """(chunk vectors, which chunks have one, question vectors), computed once and cached."""
    cache.mkdir(parents=True, exist_ok=True)
    full, partial = cache / f"{name}-e5-chunks.npy", cache / f"{name}-e5-partial.npy"
    qfile = cache / f"{name}-e5-questions{tag}.npy"
    ids_file = cache / f"{name}-chunk-ids.json"
    embedder = None
    if store is not None and not full.exists():  # an eval run's store already holds the vectors
        np.save(full, store_vectors(store, [c.id for c in chunks]))
        ids_file.write_text(json.dumps([c.id for c in chunks]))
    if full.exists() or partial.exists():
        ids = json.loads(ids_file.read_text())
        if ids != [c.id for c in chunks]:
            raise SystemExit(f"{ids_file} was written for other chunks; remove the cache")
    if full.exists():
        matrix, done = np.load(full), np.ones(len(chunks), dtype=bool)
    elif partial.exists():
        matrix, done = np.load(partial), np.load(cache / f"{name}-e5-done.npy")
    else:
        embedder = build_embedder("e5")
        started = time.time()
        matrix = embedder.embed_documents([index_text(c) for c in chunks])
        np.save(full, matrix)
        ids_file.write_text(json.dumps([c.id for c in chunks]))
        print(f"{name}: embedded {len(chunks)} chunks in {time.time() - started:.0f}s")
        done = np.ones(len(chunks), dtype=bool)
    if qfile.exists():
        qmatrix = np.load(qfile)
    else:
        embedder = embedder or build_embedder("e5")
        qmatrix = np.stack([embedder.embed_query(q) for q in questions])
        np.save(qfile, qmatrix)
    return matrix, done, qmatrix


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["localgovfaq_ja", "smartstore_faq_ko"])
    parser.add_argument("--modes", nargs="+", default=list(LEXICAL_MODES))
    parser.add_argument("--weights", nargs="+", type=float, default=[0.5, 1.0, 1.5, 2.0, 3.0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cjk-cache"))
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--with-tags", action="store_true")
    parser.add_argument("--store", type=Path, help="an eval run's chroma folder: its vectors, not e5 again")
    parser.add_argument("--k1", type=float, default=BM25_K1)
    parser.add_argument("--b", type=float, default=BM25_B)
    parser.add_argument("--rrf-k", nargs="+", type=int, default=[60], help="reciprocal rank constants")
    args = parser.parse_args()
    for name in args.datasets:
        _, docs = load_path(EVALDATA / name / "kb.jsonl")
        chunks = [c for d in docs for c in Chunker(256, 32).chunk(d)]
        every = load_questions(EVALDATA / name / "questions.jsonl")
        texts = [i.question.text for i in every]
        if args.with_tags:
            texts = with_tags(EVALDATA / name / "questions.jsonl")
        tag = "-tags" if args.with_tags else ""
        matrix, done, qmatrix = dense_vectors(name, chunks, texts, args.cache, tag, args.store)
        keep = [n for n, i in enumerate(every) if i.answerable]
        items = [every[n] for n in keep]
        golds = [i.gold_doc_ids for i in items]
        dense_lists = []
        for n in keep:
            scores = np.where(done, matrix @ qmatrix[n], -np.inf)
            top = np.argsort(-scores)[: args.candidates]
            dense_lists.append([(chunks[i], float(scores[i])) for i in top])
        rows: list[tuple[str, list[list[str]]]] = [
            ("dense e5", [list(dict.fromkeys(c.doc_id for c, _ in d)) for d in dense_lists])
        ]
        for mode in args.modes:
            analyzer = TextAnalyzer(korean=mode, japanese=mode)
            started = time.time()
            index = BM25Index(chunks, args.k1, args.b, analyzer=analyzer)
            lexical_lists = [index.search(texts[n], args.candidates) for n in keep]
            took = time.time() - started
            lexical_docs = [list(dict.fromkeys(c.doc_id for c, _ in lx)) for lx in lexical_lists]
            rows.append((f"bm25 {mode}", lexical_docs))
            for rrf_k in args.rrf_k:
                for weight in args.weights:
                    fused = [
                        [
                            h.chunk.doc_id
                            for h in fuse(d, lx, k=args.candidates, rrf_k=rrf_k, dense_weight=weight)
                        ]
                        for d, lx in zip(dense_lists, lexical_lists)
                    ]
                    label = f"{mode} + e5 wd={weight}" + (f" k={rrf_k}" if len(args.rrf_k) > 1 else "")
                    rows.append((label, [list(dict.fromkeys(f)) for f in fused]))
            print(f"{name}: {mode} analysed and searched in {took:.0f}s")
        coverage = "" if done.all() else f", dense over {done.sum()} of {len(chunks)} chunks only"
        label = f"{name} with tags" if args.with_tags else name
        print(f"\n{label} ({len(items)} answerable, {len(chunks)} chunks{coverage})")
        print(f"{'variant':<26} {'r@1':>6} {'r@5':>6} {'mrr@10':>7}")
        for label, ranked in rows:
            r1 = np.mean([recall_at(r, g, 1) for r, g in zip(ranked, golds)])
            r5 = np.mean([recall_at(r, g, 5) for r, g in zip(ranked, golds)])
            mrr = np.mean([reciprocal_rank(r, g, 10) for r, g in zip(ranked, golds)])
            print(f"{label:<26} {r1:6.3f} {r5:6.3f} {mrr:7.3f}")


if __name__ == "__main__":
    main()
