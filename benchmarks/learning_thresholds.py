"""Measure the learning loop's thresholds on a labelled dev split (default emanual_smarttv).

1. Retrieval miss: for every (question, gold answer), how strongly do the gold document's chunks
   support the answer (positives: the KB already had it) and how strongly does the best chunk of any
   *other* document (negatives: what the learn-once eval sees once the gold document is removed)?
   Prints, for a grid of (similarity, overlap) thresholds, the share of positives detected and the
   share of negatives wrongly called a retrieval miss.
2. Same question (dedupe/conflict): cosine and content-word overlap of generalised questions, for
   pairs with the same gold document vs. pairs with different gold documents.
3. Agreeing answers (conflict): cosine of the gold answers of same-question pairs (question cosine
   >= 0.8) with the same gold document (they agree) vs. with different gold documents' answers.

    .venv/bin/python benchmarks/learning_thresholds.py --dataset ../shared/evaldata/emanual_smarttv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from firstlast.eval.datasets import load_questions
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.loaders import load_path
from firstlast.learning.generalise import generalise_question
from firstlast.learning.service import question_overlap
from firstlast.learning.verdict import overlap
from firstlast.retriever.embeddings import build_embedder
from firstlast.retriever.lexical import index_text

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=EVALDATA / "emanual_smarttv")
    args = parser.parse_args()
    embedder = build_embedder("minilm")
    _, documents = load_path(args.dataset / "kb.jsonl")
    chunker = Chunker(256, 32)
    chunks = [c for d in documents for c in chunker.chunk(d)]
    chunk_vecs = embedder.embed_documents([index_text(c) for c in chunks])
    items = [q for q in load_questions(args.dataset / "questions.jsonl") if q.gold_answer and q.gold_doc_ids]
    answers = embedder.embed_documents([q.gold_answer or "" for q in items])

    pos: list[tuple[float, float]] = []
    neg: list[tuple[float, float]] = []
    for item, vec in zip(items, answers):
        sims = chunk_vecs @ vec
        order = np.argsort(-sims)[:8]  # the product looks at the 8 nearest chunks
        best_pos = best_neg = (0.0, 0.0)
        for i in order:
            feat = (float(sims[i]), overlap(item.gold_answer or "", chunks[i]))
            if chunks[i].doc_id in item.gold_doc_ids:
                best_pos = max(best_pos, feat, key=sum)
            else:
                best_neg = max(best_neg, feat, key=sum)
        pos.append(best_pos)
        neg.append(best_neg)
    print(f"retrieval miss: {len(items)} answers")
    print("sim  overlap  detected(gold present)  false(gold removed)")
    for s in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
        for o in (0.5, 0.6, 0.7, 0.75, 0.8, 0.9):
            tp = sum(a >= s and b >= o for a, b in pos) / len(pos)
            fp = sum(a >= s and b >= o for a, b in neg) / len(neg)
            print(f"{s:.2f} {o:.2f}  {tp:.3f}  {fp:.3f}")

    qs = [generalise_question(q.question.text) for q in items]
    qv = embedder.embed_documents(qs)
    sims = qv @ qv.T
    same, diff = [], []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            pair = (float(sims[i, j]), question_overlap(qs[i], qs[j]))
            (same if items[i].gold_doc_ids & items[j].gold_doc_ids else diff).append(pair)
    print(f"\nsame question: {len(same)} same-document pairs, {len(diff)} different-document pairs")
    print("sim  overlap  same-doc merged  different-doc merged (false merges)")
    for s in (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
        for o in (0.0, 0.2, 0.3, 0.4, 0.5):
            tp = sum(a >= s and b >= o for a, b in same)
            fp = sum(a >= s and b >= o for a, b in diff)
            print(
                f"{s:.2f} {o:.2f}  {tp}/{len(same)} ({tp / len(same):.3f})  "
                f"{fp}/{len(diff)} ({fp / len(diff):.5f})"
            )

    av = answers / np.linalg.norm(answers, axis=1, keepdims=True)
    agree = [float(av[i] @ av[j]) for i in range(len(items)) for j in range(i + 1, len(items))
             if sims[i, j] >= 0.8 and items[i].gold_doc_ids & items[j].gold_doc_ids]  # fmt: skip
    other = [float(av[i] @ av[j]) for i in range(len(items)) for j in range(i + 1, len(items))
             if not items[i].gold_doc_ids & items[j].gold_doc_ids]  # fmt: skip
    print(f"\nagreeing answers: {len(agree)} same-question same-document pairs, {len(other)} others")
    for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85):
        a = sum(x >= t for x in agree) / max(len(agree), 1)
        o = sum(x >= t for x in other) / max(len(other), 1)
        print(f"{t:.2f}  agreeing pairs >= t: {a:.3f}   different-document answers >= t: {o:.4f}")


if __name__ == "__main__":
    main()
