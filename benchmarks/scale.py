"""How the service scales with the knowledge base: at each size, ingest throughput next to the raw
embedding throughput, answer latency, the time from a write in one process to it being searchable in
another, and a serving process's memory (the models' share, and after loading the KB).

What is real and what is not (printed under the table too):
- Text: the English KBs of the eval data (mtrag, emanual_smarttv; read from ``--evaldata`` at run
  time, never copied) first, then the seeded synthetic help center of ``benchmarks/latency.py``.
- Bulk vectors: embedding 100k chunks with MiniLM on 2 shared cores takes hours, so the store grows
  through the real ingest path (chunker, hashes, Chroma, change feed) with one shortcut: the vectors
  of a pool of ``--pool`` real MiniLM chunk vectors, each reused with small seeded noise. Queries are
  embedded by the real model, so dense search works over realistic, clustered vectors.
- Ingest chunks/s: at every size, ``--sample`` chunks of fresh articles go through the real pipeline
  with the real MiniLM (embedding included), interleaved with embedding the same texts alone (raw).
- Answer latency: a separate serving process (``build()`` on the same data folder, as a worker),
  the full ``bot.ask`` path over real eval questions and generated ones.
- Write→searchable: the main process ingests a new article (real embedding) after the serving process
  starts polling with a question only that article answers; seconds from the write's return until
  the serving process's ``retrieve`` ranks it first (wall clock, one machine). Beside it the slowest
  ``retrieve`` while polling (the one that caught up) and how often the serving process reloaded
  its vector index (embedded Chroma: another process's writes go into an overlay instead).
- RSS: an English-only worker (the Korean/Japanese analysers load on the first CJK text; their cost
  is measured after the run, and shown apart).
- ``--chroma-server``: the same with a ``chroma run`` server on 127.0.0.1 (``chroma.mode=http``).

    .venv/bin/python benchmarks/scale.py                          # 1,000 and 10,000 chunks
    .venv/bin/python benchmarks/scale.py --sizes 1000             # a quick check
    nice -n 5 .venv/bin/python benchmarks/scale.py --sizes 1000,10000,100000
    .venv/bin/python benchmarks/scale.py --sizes 100000 --chroma-server
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from latency import HelpCenter, summary
from rich.console import Console
from rich.table import Table

from firstlast.config import Settings
from firstlast.ingest.chunker import Chunker
from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.lexical import index_text
from firstlast.types import Document, Question
from firstlast.wiring import Services, build

EVAL_KBS = ("mtrag", "emanual_smarttv")
console = Console(width=250)


def rss_mb() -> float:
    """Current resident memory of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settings_for(data_dir: Path, chroma_port: int | None = None) -> Settings:
    chroma = {"mode": "http", "port": chroma_port} if chroma_port else {}
    return Settings(data_dir=data_dir, embedding={"backend": "minilm"}, chroma=chroma)


@contextmanager
def chroma_server(data_dir: Path) -> Iterator[int]:
    """``chroma run`` on 127.0.0.1 with its data in ``data_dir``; its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(data_dir / "server")]
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- text -----------------------------------------------------------------------------------------
def eval_documents(evaldata: Path) -> list[Document]:
    docs = []
    for name in EVAL_KBS:
        path = evaldata / name / "kb.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                row = json.loads(line)
                docs.append(
                    Document(f"{name}-{row['id']}", row.get("title", ""), row["text"], url=row.get("url", ""))
                )
    return docs


def eval_questions(evaldata: Path) -> list[str]:
    out = []
    for name in EVAL_KBS:
        path = evaldata / name / "questions.jsonl"
        if path.exists():
            out += [json.loads(line)["question"] for line in path.read_text().splitlines()]
    return out


class PoolEmbedder:
    """The real model's name and query vectors; document vectors from a pool of real ones (the
    bulk-load shortcut): each text gets a pool vector picked by its hash, plus seeded noise."""

    def __init__(self, real: Embedder, pool: np.ndarray, noise: float = 0.05) -> None:
        self._real, self._pool, self._noise = real, pool, noise
        self.name, self.dimension, self.multilingual = real.name, real.dimension, real.multilingual

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self._pool.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = zlib.crc32(text.encode())
            rng = np.random.default_rng(seed)
            v = self._pool[seed % len(self._pool)] + self._noise * rng.standard_normal(self._pool.shape[1])
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._real.embed_query(text)


def grow(bulk: Services, docs: Iterator[Document], target: int) -> None:
    while (have := bulk.store.count()) < target:
        want = max(50, min(500, round((target - have) / 3)))  # articles; a little overshoot is fine
        bulk.ingestor.ingest(list(islice(docs, want)), source="bench")
        console.print(f"  {bulk.store.count():,}/{target:,} chunks", end="\r")


def ingest_rates(
    writer: Services, chunker: Chunker, docs: Iterator[Document], sample: int
) -> tuple[float, float]:
    """(ingest chunks/s through the real pipeline, raw embedding chunks/s on the same texts)."""
    batch, texts = [], []
    while len(texts) < sample:
        doc = next(docs)
        batch.append(doc)
        texts += [index_text(c) for c in chunker.chunk(doc)]
    raw = []
    started = time.perf_counter()
    writer.embedder.embed_documents(texts)
    raw.append(len(texts) / (time.perf_counter() - started))
    started = time.perf_counter()
    report = writer.ingestor.ingest(batch, source="bench")
    ingest = report.chunks_embedded / (time.perf_counter() - started)
    started = time.perf_counter()
    writer.embedder.embed_documents(texts)
    raw.append(len(texts) / (time.perf_counter() - started))
    return ingest, float(np.mean(raw))


# -- the serving process --------------------------------------------------------------------------
def serve(data_dir: Path, chroma_port: int | None) -> int:
    """The reader: one JSON line per command read from stdin."""
    imported = rss_mb()  # Python, onnxruntime, chromadb and the other libraries, imported
    services = build(settings_for(data_dir, chroma_port))
    built = rss_mb()
    services.embedder.embed_query("warm up the model")
    models = rss_mb()  # an English-only worker: Kiwi and Sudachi are not loaded (see "cjk")
    started = time.perf_counter()
    services.retriever.lexical_index()
    say(
        {
            "imported_rss": imported,
            "built_rss": built,
            "models_rss": models,
            "kb_rss": rss_mb(),
            "load_s": time.perf_counter() - started,
        }
    )
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "ask":
            ms = []
            for q in command["questions"]:
                started = time.perf_counter()
                services.bot.ask(Question(q))
                ms.append((time.perf_counter() - started) * 1000)
            say({"ms": ms, "rss": rss_mb()})
        elif command["do"] == "poll":
            question, doc = Question(command["question"]), command["doc"]
            say({"polling": True})
            deadline, slowest = time.time() + 120, 0.0
            while time.time() < deadline:
                started = time.perf_counter()
                hits = services.retriever.retrieve(question)
                slowest = max(slowest, time.perf_counter() - started)
                if hits and hits[0].chunk.doc_id.endswith(doc):
                    break
            reopens = getattr(services.store, "reopens", 0)
            say({"found_at": time.time(), "slowest_ms": slowest * 1000, "reopens": reopens})
        elif command["do"] == "cjk":
            before = rss_mb()
            for text in ("비밀번호를 잊어버렸어요", "パスワードを忘れました"):  # Kiwi, Sudachi load
                services.retriever.query_tokens(Question(text))
            say({"cjk_mb": rss_mb() - before, "rss": rss_mb()})
        else:
            break
    return 0


def say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


class Reader:
    def __init__(self, data_dir: Path, chroma_port: int | None) -> None:
        port = ["--chroma-port", str(chroma_port)] if chroma_port else []
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--reader", str(data_dir), *port],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        self.hello = self.read()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the serving process stopped")
        return json.loads(line)  # type: ignore[no-any-return]

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        self.send({"do": "quit"})
        self.proc.wait(timeout=60)


def write_to_searchable(writer: Services, reader: Reader, n: int) -> tuple[float, float, int]:
    """(seconds from the write to the reader ranking it first, the reader's slowest query meanwhile
    in ms, the reader's index reloads so far)."""
    word = f"zyxquartz{n}"
    doc = Document(
        f"fresh-{n}", f"The {word} policy", f"Customers may bring a {word} to the office on Fridays."
    )
    reader.send({"do": "poll", "question": f"Can I bring a {word} to the office?", "doc": doc.id})
    reader.read()  # polling
    writer.ingestor.ingest([doc], source="fresh")
    written = time.time()
    found = reader.read()
    return max(0.0, found["found_at"] - written), found["slowest_ms"], found["reopens"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated chunk counts")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument(
        "--sample", type=int, default=200, help="chunks ingested with real embeddings per size"
    )
    parser.add_argument("--pool", type=int, default=300, help="real vectors the bulk load reuses")
    parser.add_argument("--evaldata", type=Path, default=Path("../shared/evaldata"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chroma-server", action="store_true", help="a `chroma run` server (http)")
    parser.add_argument("--reader", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chroma-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reader:
        return serve(args.reader, args.chroma_port)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not sizes or sizes[0] <= 0:
        parser.error(f"--sizes must be positive counts, got {args.sizes!r}")
    mode = "chroma run server" if args.chroma_server else "embedded Chroma"
    table = Table(title=f"firstlast at scale, {mode} (one process writes, a separate serving process reads)")
    for column in ("chunks", "ingest chunks/s", "raw embed chunks/s", "answer p50 ms", "answer p95 ms",
                   "write→searchable s", "slowest query while catching up ms", "index reloads",
                   "RSS models MB", "RSS +KB MB", "RSS answering MB", "+Kiwi/Sudachi MB", "KB load s",
                   "loadavg"):  # fmt: skip
        table.add_column(column, justify="right")
    helpcenter = HelpCenter(args.seed)
    real = eval_documents(args.evaldata)
    docs = chain(real, helpcenter.documents())
    fresh = (  # articles for the measured real-embedding ingests
        replace(d, id=f"sample-{d.id}") for d in HelpCenter(args.seed + 1).documents()
    )
    questions = (eval_questions(args.evaldata)[: args.questions // 2] + helpcenter.questions(args.questions))[
        : args.questions
    ]
    with tempfile.TemporaryDirectory(prefix="firstlast-scale-") as tmp, ExitStack() as stack:
        port = stack.enter_context(chroma_server(Path(tmp))) if args.chroma_server else None
        settings = settings_for(Path(tmp), port)
        writer = build(settings)
        chunker = Chunker(
            settings.chunking.chunk_tokens, settings.chunking.overlap_tokens, settings.chunking.encoding
        )
        pool_docs = chain(real, HelpCenter(args.seed + 2).documents())
        pool_texts = list(islice((index_text(c) for d in pool_docs for c in chunker.chunk(d)), args.pool))
        pool = writer.embedder.embed_documents(pool_texts)
        bulk = build(settings, embedder=PoolEmbedder(writer.embedder, pool))
        console.print(f"pool of {len(pool)} real vectors; {len(real)} real documents first")
        for size in sizes:
            grow(bulk, docs, size - args.sample)
            ingest, raw = ingest_rates(writer, chunker, fresh, args.sample)
            reader = Reader(Path(tmp), port)
            reader.send({"do": "ask", "questions": questions})
            asked = reader.read()
            p50, p95, _mean, _max = summary(asked["ms"][5:])  # the first few warm the caches
            polls = [write_to_searchable(writer, reader, size * 10 + i) for i in range(5)]
            searchable = [seconds for seconds, _, _ in polls]
            reader.send({"do": "cjk"})
            cjk = reader.read()
            reader.close()
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            table.add_row(
                f"{writer.store.count():,}", f"{ingest:,.1f}", f"{raw:,.1f}", p50, p95,
                f"{np.median(searchable):.2f} (max {max(searchable):.2f})",
                f"{max(ms for _, ms, _ in polls):,.0f}", str(polls[-1][2]),
                f"{reader.hello['models_rss']:,.0f}", f"{reader.hello['kb_rss']:,.0f}",
                f"{asked['rss']:,.0f}", f"{cjk['cjk_mb']:,.0f}", f"{reader.hello['load_s']:.1f}", load,
            )  # fmt: skip
            console.print(table)
            stages = ("imported", "built", "models", "kb")
            console.print(
                f"  serving process RSS at {size:,}: "
                + ", ".join(f"{k} {reader.hello[k + '_rss']:,.0f} MB" for k in stages)
                + f" (libraries imported; build(); MiniLM warm; KB indexed in {reader.hello['load_s']:.1f} s)"
                f"; answering {asked['rss']:,.0f} MB; Kiwi + Sudachi +{cjk['cjk_mb']:,.0f} MB"
            )
    console.print(
        f"Real: chunk text ({len(real)} eval-data articles, then synthetic help-center articles), query "
        f"vectors, the {args.sample} sampled chunks per size and the write→searchable articles. Bulk "
        f"vectors: {len(pool)} real MiniLM vectors reused with noise."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
