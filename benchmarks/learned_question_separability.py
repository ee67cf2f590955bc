"""Can question-to-question similarity tell a learned FAQ's later queries from other FAQs' queries?

``firstlast eval learning``'s document simulation (localgovfaq_ja) learns, for every FAQ with two or
more single-gold dev queries, its first query; the FAQ's later queries should then be answered from
the learned entry, and no query of another FAQ should. This script embeds every dev query with e5 (as
a query, as the question index does) and prints, for thresholds on the cosine to a learned (first)
query, the share of later queries at or above it (their own learned query) next to the share of all
dev queries that reach it for a learned query of another FAQ (neither gold nor related). It measures
the question signal alone: retrieval and the calibration add the answer text and the competition of
the knowledge base's own articles (README, "Learning loop", session 11).

    .venv/bin/python benchmarks/learned_question_separability.py
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from firstlast.retriever.embeddings import build_embedder

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=EVALDATA / "localgovfaq_ja" / "questions.jsonl")
    parser.add_argument("--model", default="e5", choices=["e5", "minilm"])
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line]
    by_doc: dict[str, list[int]] = defaultdict(list)
    for n, row in enumerate(rows):
        if row.get("answerable", True) and len(row["gold_doc_ids"]) == 1:
            by_doc[row["gold_doc_ids"][0]].append(n)
    groups = {doc: ns for doc, ns in by_doc.items() if len(ns) >= 2}
    embedder = build_embedder(args.model)
    vectors = np.stack([embedder.embed_query(row["question"]) for row in rows])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = list(groups)
    firsts = vectors[[groups[d][0] for d in docs]]
    similarity = vectors @ firsts.T  # (queries, learned entries)
    own = np.array([similarity[n, c] for c, d in enumerate(docs) for n in groups[d][1:]])
    foreign = np.array(
        [
            [d not in row["gold_doc_ids"] and d not in row.get("related_doc_ids", []) for d in docs]
            for row in rows
        ]
    )
    other = np.where(foreign, similarity, -np.inf).max(axis=1)
    print(f"{args.questions.parent.name}: {len(docs)} learned queries, {len(own)} later, {len(rows)} in all")
    print(f"later queries' cosine to their learned query: {own.min():.3f}-{own.max():.3f}")
    print(f"highest cosine of a query to another FAQ's learned query: {other.max():.3f}")
    print(f"{'threshold':>9} {'later queries matched':>22} {'queries matched to another FAQ':>31}")
    for threshold in (0.84, 0.86, 0.88, 0.90, 0.92):
        print(f"{threshold:9.2f} {np.mean(own >= threshold):22.3f} {np.mean(other >= threshold):31.3f}")


if __name__ == "__main__":
    main()
