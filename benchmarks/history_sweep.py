"""Earlier turns of a conversation as a retrieval hint: when do they help, when do they mislead?

A customer's follow-up ("and on mobile?") needs the earlier turns; a new topic in the same
conversation ("Cancel your subscription" after questions about two-factor sign-in) must not be
pulled back to the old one. On each dataset's real knowledge base (the product's ingest and
``HybridRetriever``), every answerable dev question is asked three ways:

- ``as asked``: with the turns the dataset gives (mtrag's real multi-turn conversations; none for
  emanual_smarttv);
- ``after another topic``: after two earlier questions of the same dataset about other documents;
- ``after the same topic``: after another question about the same gold document, where there is one.

For each gate (the turns are used when their summed vector is at least this similar to the
question's, or when the question's best dense match alone is below the "vague" value; 0 / 0 uses
them always) it prints doc-level recall@1/@5 and MRR@10; "none" uses no history at all. (Session 9
also compared the joined turns embedded as one text: the same ranks; see the README.) Stores are
kept under ``--store`` (the ingest skips unchanged documents on the next run).

    PYTHONPATH=src .venv/bin/python benchmarks/history_sweep.py --datasets emanual_smarttv mtrag
"""

from __future__ import annotations

import argparse
import os
import random
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from firstlast.config import Settings
from firstlast.eval.datasets import LabelledQuestion, load_questions
from firstlast.eval.metrics import recall_at, reciprocal_rank
from firstlast.eval.runner import fresh_services
from firstlast.ingest.loaders import load_path
from firstlast.types import Turn

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
BOT_SAYS = "Here is what I found about that."


def _asked_after(item: LabelledQuestion, earlier: list[LabelledQuestion]) -> LabelledQuestion:
    turns = tuple(t for e in earlier for t in (Turn("customer", e.question.text), Turn("bot", BOT_SAYS)))
    return replace(item, question=replace(item.question, history=turns))


def scenarios(items: list[LabelledQuestion], seed: int = 0) -> dict[str, list[LabelledQuestion]]:
    rng = random.Random(seed)
    answerable = [i for i in items if i.answerable and i.gold_doc_ids]
    by_doc: dict[str, list[LabelledQuestion]] = {}
    for item in answerable:
        for doc in item.gold_doc_ids:
            by_doc.setdefault(doc, []).append(item)
    other_topic, same_topic = [], []
    for item in answerable:
        others = [o for o in answerable if not (o.gold_doc_ids & item.gold_doc_ids)]
        other_topic.append(_asked_after(item, rng.sample(others, 2)))
        same = [o for d in item.gold_doc_ids for o in by_doc[d] if o.id != item.id]
        if same:
            same_topic.append(_asked_after(item, [rng.choice(same)]))
    return {"as asked": answerable, "after another topic": other_topic, "after the same topic": same_topic}


def score(retriever: object, items: list[LabelledQuestion]) -> tuple[float, float, float]:
    r1 = r5 = mrr = 0.0
    for item in items:
        hits = retriever.retrieve(item.question, k=10)  # type: ignore[attr-defined]
        ranked = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        r1 += recall_at(ranked, item.gold_doc_ids, 1)
        r5 += recall_at(ranked, item.gold_doc_ids, 5)
        mrr += reciprocal_rank(ranked, item.gold_doc_ids, 10)
    n = max(len(items), 1)
    return r1 / n, r5 / n, mrr / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["emanual_smarttv", "mtrag"])
    parser.add_argument("--store", type=Path, default=Path("/tmp/firstlast-history-sweep"))
    parser.add_argument("--gates", type=float, nargs="+", default=[0.0, 0.2, 0.3, 0.4, 0.5])
    parser.add_argument(
        "--standalone", type=float, nargs="+", default=[0.0], help="below this best dense match: vague"
    )
    args = parser.parse_args()
    print("| dataset | history | related at least / vague below | scenario | n | r@1 | r@5 | MRR@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        started = time.perf_counter()
        services = fresh_services(Settings(), args.store / name, reuse=True)
        source, documents = load_path(EVALDATA / name / "kb.jsonl")
        services.ingestor.ingest(documents, source=source, prune=True)
        items = load_questions(EVALDATA / name / "questions.jsonl")
        asked = scenarios(items)
        retriever = services.retriever
        weight = retriever._history_weight
        variants = [("none", 0.0, 0.0, 0.0)] + [
            ("turns", g, weight, v) for g in args.gates for v in args.standalone
        ]
        for mode, gate, w, vague in variants:
            retriever._history_gate, retriever._history_weight = gate, w
            retriever._history_standalone = vague
            for scenario, qs in asked.items():
                if not any(q.question.history for q in qs) and scenario == "as asked" and mode != "none":
                    continue  # no turns to use: the same as "none"
                r1, r5, mrr = score(retriever, qs)
                cells = f"{len(qs)} | {r1:.3f} | {r5:.3f} | {mrr:.3f}"
                print(f"| {name} | {mode} | {gate:.2f} / {vague:.2f} | {scenario} | {cells} |")
        print(f"<!-- {name}: {time.perf_counter() - started:.0f}s, load average {os.getloadavg()[0]:.1f} -->")
        services.close()


if __name__ == "__main__":
    main()
