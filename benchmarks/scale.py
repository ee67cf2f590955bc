"""How the service scales with the knowledge base: at each size, ingest throughput next to the raw
embedding throughput, answer latency, the time from a write in one process to it being searchable in
another, and memory.

The store grows through the real ingest path with the seeded synthetic help center of
``benchmarks/latency.py``; "another process" is a second ``build()`` on the same data folder with its
own warm in-memory indexes (what a second worker has), polled until it finds the new document.

    .venv/bin/python benchmarks/scale.py                          # 1,000 and 10,000 chunks
    .venv/bin/python benchmarks/scale.py --sizes 1000             # a quick check
    .venv/bin/python benchmarks/scale.py --sizes 1000,10000,100000  # hours of embedding on 2 cores
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from latency import HelpCenter, console, summary
from rich.table import Table

from firstlast.config import Settings
from firstlast.types import Document, Question
from firstlast.wiring import Services, build


def rss_mb() -> float:
    """Peak resident memory of this process (both "processes" of the measurement live in it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def grow(services: Services, docs, target: int) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Ingest articles until the store holds ``target`` chunks: (chunks added, seconds)."""
    start_count, started = services.store.count(), time.perf_counter()
    while (have := services.store.count()) < target:
        want = max(1, min(500, round((target - have) / 3)))
        services.ingestor.ingest([next(docs) for _ in range(want)], source="bench")
    return services.store.count() - start_count, time.perf_counter() - started


def embedding_rate(services: Services, sample: int = 512) -> float:
    texts = [c.text for c in services.store.chunks()[:sample]]
    started = time.perf_counter()
    services.embedder.embed_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def write_to_searchable(writer: Services, reader: Services, n: int, timeout: float = 120.0) -> float:
    """Seconds from the end of a write in ``writer`` until ``reader`` retrieves it first."""
    word = f"zyxquartz{n}"
    doc = Document(
        f"fresh-{n}", f"The {word} policy", f"Customers may bring a {word} to the office on Fridays."
    )
    writer.ingestor.ingest([doc], source="fresh")
    written = time.perf_counter()
    while time.perf_counter() - written < timeout:
        hits = reader.retriever.retrieve(Question(f"Can I bring a {word} to the office?"))
        if hits and hits[0].chunk.doc_id.endswith(f"fresh-{n}"):
            return time.perf_counter() - written
    return float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated chunk counts")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not sizes or sizes[0] <= 0:
        parser.error(f"--sizes must be positive counts, got {args.sizes!r}")
    table = Table(title="firstlast at scale (one process writes, a second one reads)")
    for column in ("chunks", "ingest chunks/s", "raw embed chunks/s", "answer p50 ms", "answer p95 ms",
                   "write→searchable s", "peak RSS MB"):  # fmt: skip
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="firstlast-scale-") as tmp:
        settings = Settings(data_dir=Path(tmp), embedding={"backend": "minilm"})
        writer = build(settings)
        reader = build(settings, embedder=writer.embedder)  # its own indexes, as a second worker has
        helpcenter = HelpCenter(args.seed)
        docs, questions = helpcenter.documents(), helpcenter.questions(args.questions)
        for size in sizes:
            added, seconds = grow(writer, docs, size)
            raw = embedding_rate(writer)
            reader.retriever.lexical_index()  # warm, as a serving worker is
            latencies = []
            for q in questions:
                started = time.perf_counter()
                reader.bot.ask(Question(q))
                latencies.append((time.perf_counter() - started) * 1000)
            p50, p95, _mean, _max = summary(latencies)
            searchable = float(
                np.median([write_to_searchable(writer, reader, size * 10 + i) for i in range(3)])
            )
            table.add_row(
                f"{writer.store.count():,}", f"{added / seconds:,.0f}", f"{raw:,.0f}", p50, p95,
                f"{searchable:.2f}", f"{rss_mb():,.0f}",
            )  # fmt: skip
            console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
