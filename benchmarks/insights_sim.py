"""Content gaps and the A/B rollout on simulated traffic through the real desk (issue #14).

1. **Gaps.** Every dev question (plus extra out-of-scope ones) is sent through the HTTP API by the
   seeded simulator (real app, Chroma, SQLite, MiniLM); customers accept or decline the offer of a
   person, a scripted agent answers with the gold answer. The handed-off / offered / low-confidence
   questions are clustered exactly as ``GET /v1/analytics/gaps`` does, and each topic's **purity**
   is measured against the gold groups (questions sharing a gold document; out-of-scope questions are
   their own group): the share of a topic's questions in its largest group.
2. **A/B.** The same questions again, shuffled, into a second database with the rollout at
   ``--bot-percent``; a simulated clock (time-machine) spaces the visits 10-30 minutes apart and
   lets agents take 1-15 minutes, so stored times are realistic. The per-arm comparison is printed.

    .venv/bin/python benchmarks/insights_sim.py --dataset ../shared/evaldata/emanual_smarttv \\
        --extra ../shared/evaldata/clinc150_oos/questions.jsonl --out runs/insights
    # then the report on the A/B database:
    FIRSTLAST_DATA_DIR=runs/insights/data FIRSTLAST_DATABASE_URL=sqlite:///runs/insights/ab.db \\
        firstlast report --since 30d --out runs/insights/report
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import time_machine
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from firstlast.api.app import create_app
from firstlast.config import Settings
from firstlast.db import utcnow
from firstlast.eval.datasets import LabelledQuestion, load_questions
from firstlast.ingest.loaders import load_path
from firstlast.insights.gaps import cluster_questions
from firstlast.insights.stats import Estimate
from firstlast.testing.traffic import Script, Simulator, Visit
from firstlast.wiring import Services, build

KEYS = {"widget_keys": ["bench-widget"], "agent_keys": ["bench-agent"], "admin_keys": ["bench-admin"]}
REPO = Path(__file__).resolve().parents[1]
OOS = "(out of scope)"
console = Console(width=170)


def _visit(q: LabelledQuestion) -> Visit:
    gold = q.gold_doc_ids

    def good(reply: dict[str, Any]) -> bool:
        return any(c["doc_id"] in gold for c in reply.get("citations") or [])

    answer = q.gold_answer or "Sorry, that is not something we can help with here."
    return Visit(q.question.text, agent_answer=answer[:1500], good_reply=good)


def _services(out: Path, **overrides: Any) -> Services:
    settings = Settings(
        data_dir=out / "data",
        answer={"voice_profile": REPO / "examples" / "voice.yaml"},
        api=KEYS,
        **overrides,
    )
    return build(settings)


def gaps(services: Services, questions: list[LabelledQuestion], seed: int, min_topic_size: int) -> dict:
    client = TestClient(create_app(services))
    start = utcnow()
    t = time.perf_counter()
    Simulator(client, "bench-widget", "bench-agent", Script(seed=seed)).run([_visit(q) for q in questions])
    console.print(f"gaps: {len(questions)} conversations simulated in {time.perf_counter() - t:.0f} s")
    assert services.insights is not None
    found = services.insights.gap_questions(start)
    group = {}
    for q in questions:
        group.setdefault(q.question.text, sorted(q.gold_doc_ids)[0] if q.gold_doc_ids else OOS)
    kinds = Counter(g.kind for g in found)
    topics, unclustered, _ = cluster_questions(
        found, services.embedder, min_topic_size=min_topic_size, cjk_tokens=None
    )
    rows = []
    for topic in topics:
        groups = Counter(group.get(found[i].text, OOS) for i in topic.members)
        top_group, top_count = groups.most_common(1)[0]
        rows.append(
            {
                "count": topic.count,
                "purity": top_count / topic.count,
                "gold_group": top_group,
                "handed_off_share": topic.handed_off_share,
                "label": topic.label,
                "terms": list(topic.terms),
            }
        )
    clustered = sum(r["count"] for r in rows)
    # purity by chance: the same topic sizes with the clustered questions' groups shuffled
    labels = [group.get(found[i].text, OOS) for t in topics for i in t.members]
    shuffler, chance = random.Random(seed), []
    for _ in range(200):
        shuffler.shuffle(labels)
        at, hits = 0, 0
        for t in topics:
            hits += Counter(labels[at : at + t.count]).most_common(1)[0][1]
            at += t.count
        chance.append(hits / max(clustered, 1))
    in_domain = [r for r in rows if r["gold_group"] != OOS]
    summary = {
        "conversations": len(questions),
        "gap_questions": len(found),
        "by_kind": dict(kinds),
        "topics": len(rows),
        "clustered": clustered,
        "unclustered": unclustered,
        "purity": sum(r["purity"] * r["count"] for r in rows) / max(clustered, 1),
        "purity_by_chance": sum(chance) / len(chance),
        "purity_in_domain_topics": sum(r["purity"] * r["count"] for r in in_domain)
        / max(sum(r["count"] for r in in_domain), 1),
        "top": rows[:10],
    }
    table = Table(title=f"content gaps: top 10 of {len(rows)} topics")
    for column in ("#", "count", "purity", "handed off", "label (most central question)", "key terms"):
        table.add_column(column)
    for i, r in enumerate(rows[:10], 1):
        table.add_row(
            str(i),
            str(r["count"]),
            f"{r['purity']:.2f}",
            f"{r['handed_off_share']:.2f}",
            r["label"][:70],
            ", ".join(r["terms"][:4]),
        )
    console.print(table)
    console.print({k: v for k, v in summary.items() if k != "top"})
    return summary


def _cell(e: Estimate, share: bool) -> str:
    if e.value is None or e.low is None or e.high is None:
        return "n/a"
    if share:
        return f"{e.value:.3f} ({e.low:.3f} to {e.high:.3f}) n={e.n}"
    return f"{e.value:.0f} s ({e.low:.0f} to {e.high:.0f}) n={e.n}"


def ab(out: Path, questions: list[LabelledQuestion], seed: int, percent: float) -> dict:
    services = _services(
        out,
        database_url=f"sqlite:///{out / 'ab.db'}",
        rollout={"enabled": True, "bot_percent": percent, "salt": f"bench-{seed}"},
    )
    client = TestClient(create_app(services))
    visits = [_visit(q) for q in questions]
    random.Random(seed).shuffle(visits)
    start = utcnow() - timedelta(days=9)
    rnd = random.Random(seed + 1)
    with time_machine.travel(start, tick=True) as clock:
        sim = Simulator(client, "bench-widget", "bench-agent", Script(seed=seed), advance=clock.shift)
        for v in visits:
            sim.visit(v)
            clock.shift(timedelta(minutes=rnd.uniform(10, 30)))
    assert services.insights is not None
    comparison = services.insights.rollout(start - timedelta(minutes=1))
    table = Table(title=f"A/B on simulated traffic: bot arm {percent:g}%")
    for column in (
        "measure",
        "bot arm (95% CI)",
        "control arm (95% CI)",
        "bot - control (95% CI)",
        "verdict",
    ):
        table.add_column(column)
    for m in comparison.metrics:
        share = m.kind == "proportion"
        table.add_row(
            m.name,
            _cell(m.bot, share),
            _cell(m.control, share),
            _cell(m.difference, share).rsplit(" n=", 1)[0],
            m.verdict,
        )
    console.print(table)
    console.print(comparison.statement)
    services.close()
    return {"conversations": comparison.conversations, "statement": comparison.statement}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--extra", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bot-percent", type=float, default=50.0)
    parser.add_argument("--min-topic-size", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions (0: all)")
    parser.add_argument("--skip-ab", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    questions = load_questions(args.dataset / "questions.jsonl")
    for extra in args.extra:
        questions += load_questions(extra)
    questions = [q for q in questions if not q.question.history]  # one-question visits
    if args.limit:
        questions = random.Random(args.seed).sample(questions, min(args.limit, len(questions)))
    for db in ("gaps.db", "ab.db"):  # each run starts from empty conversations (the store is kept)
        if db == "gaps.db" or not args.skip_ab:
            (args.out / db).unlink(missing_ok=True)
    services = _services(args.out, database_url=f"sqlite:///{args.out / 'gaps.db'}")
    t = time.perf_counter()
    source, documents = load_path(args.dataset / "kb.jsonl")
    report = services.ingestor.ingest(documents, source=source)
    console.print(f"ingest: {report.chunks_embedded} chunks embedded in {time.perf_counter() - t:.0f} s")
    result = {"gaps": gaps(services, questions, args.seed, args.min_topic_size)}
    services.close()
    if not args.skip_ab:
        result["ab"] = ab(args.out, questions, args.seed, args.bot_percent)
    (args.out / "insights.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {args.out / 'insights.json'}")


if __name__ == "__main__":
    main()
