"""Latency of the full answer path on a large knowledge base, next to vanilla Chroma query-by-text.

Builds a store of synthetic help-center articles (seeded, so every run sees the same text) through
the real wiring and ingest path, then times the same questions through

- ``services.bot.ask``: hybrid retrieval + extractive answer + calibrated confidence + handoff decision;
- vanilla Chroma: ``embed_query`` + ``collection.query(n_results=10)`` on a plain collection holding
  the same vectors.

    .venv/bin/python benchmarks/latency.py                  # ~20,000 chunks: a few minutes on 2 cores
    .venv/bin/python benchmarks/latency.py --chunks 3000    # a quick check
    .venv/bin/python benchmarks/latency.py --data-dir /tmp/bench20k   # keep the store; reruns skip ingest
    .venv/bin/python benchmarks/latency.py --torch-threads 1          # one intra-op thread per query
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

from firstlast.config import Settings
from firstlast.retriever.embeddings import build_embedder
from firstlast.types import Document, Question
from firstlast.wiring import Services, build

console = Console()

# -- synthetic help-center text -------------------------------------------------------------------

PRODUCTS = [
    "Nimbus Router", "Aurora Smart TV", "Pulse Earbuds", "Vega Thermostat", "Orbit Camera", "Atlas Laptop",
    "Cobalt Phone", "Helix Watch", "Quill Tablet", "Ember Speaker", "Drift Scooter", "Lumen Doorbell",
    "Sable Keyboard", "Tidal Washer", "Comet Vacuum", "Harbor Mesh Wi-Fi", "Prism Projector",
    "Juniper Fitness Band", "Kestrel Drone", "Mosaic Photo Frame",
]  # fmt: skip
TASKS = {
    "Account": [
        "reset your password", "change the email address on your account", "merge two accounts",
        "close your account", "update your profile name", "sign in with a passkey",
        "recover a locked account", "change your username",
    ],
    "Billing": [
        "update your payment card", "download an invoice", "change your billing address",
        "switch to annual billing", "understand a duplicate charge", "apply a promo code",
        "pay with a gift card", "request a VAT invoice",
    ],
    "Shipping": [
        "track your parcel", "change the delivery address", "choose express delivery",
        "report a missing package", "ship to a pickup point", "reschedule a delivery",
    ],
    "Returns": [
        "start a return", "print a return label", "exchange an item for another size",
        "check the status of your refund", "return a gift", "cancel an order before it ships",
    ],
    "Security": [
        "turn on two-factor authentication", "review devices signed in to your account",
        "report a phishing email", "recover a hacked account", "generate backup codes",
    ],
    "Connectivity": [
        "connect to Wi-Fi", "pair a Bluetooth device", "fix a dropped connection", "set a static IP address",
        "enable the guest network", "forward a port", "change the Wi-Fi channel",
    ],
    "Setup": [
        "set up the device for the first time", "register your product", "mount the device on a wall",
        "factory reset the device", "transfer data from an old device", "calibrate the sensors",
    ],
    "Updates": [
        "install a firmware update", "turn on automatic updates", "roll back an update",
        "check which software version you have",
    ],
    "Privacy": [
        "download a copy of your data", "turn off personalised ads", "delete your voice recordings",
        "manage cookie preferences", "stop sharing usage statistics",
    ],
    "Subscription": [
        "upgrade your plan", "cancel your subscription", "pause your membership", "add a family member",
        "change the renewal date", "move to a cheaper plan",
    ],
    "Warranty": [
        "check your warranty status", "make a warranty claim", "extend your warranty", "book a repair",
        "find an authorised service centre",
    ],
    "Troubleshooting": [
        "fix a device that will not turn on", "fix a battery that drains quickly",
        "stop the screen flickering", "fix audio that is out of sync", "fix a device that keeps restarting",
        "fix slow charging",
    ],
}  # fmt: skip
MENUS = ["Settings", "Account", "Billing", "Orders", "Security", "Devices", "Network", "Privacy", "Support"]
SUBMENUS = [
    "General", "Advanced", "Payment methods", "Sign-in and security", "Notifications", "Connected devices",
    "Data and privacy", "Plan details", "Delivery preferences", "Maintenance", "Diagnostics",
]  # fmt: skip
REMEDIES = [
    "restart the device and try again", "sign out and sign in again", "clear the app cache",
    "check that your payment method is still valid", "update the app to the latest version",
    "make sure the device is within 10 metres of the router", "contact your bank to approve the payment",
    "unplug the power cable for 30 seconds", "remove the batteries and insert them again",
    "try a different browser or turn off browser extensions",
]  # fmt: skip
PLANS = ["Basic", "Plus", "Premium", "Family", "Business", "Student"]
UNITS = ["minutes", "hours", "business days"]
OFF_TOPIC = [
    "what's the weather going to be like tomorrow", "recommend a good pizza place near me",
    "who won the football match last night", "how many calories are in a banana",
    "can you translate good morning into Italian", "what is the capital of Australia",
    "tell me a joke about cats", "how do I get to the airport by train",
]  # fmt: skip
FORMS = [
    "How do I {t} on my {p}?", "I can't {t}, my {p} won't let me", "where can I {t}", "{p}: how to {t}?",
    "is it possible to {t} without calling you?",
]  # fmt: skip
SECTIONS = ["Before you start", "Steps", "If it does not work", "Good to know", "Related questions"]


class HelpCenter:
    """Seeded generator of help-center articles and of the questions customers ask about them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.topics = list(TASKS)

    def _code(self) -> str:
        return f"{self.rng.choice('EFPW')}-{self.rng.randint(100, 9999)}"

    def _sentence(self, task: str, product: str) -> str:
        r = self.rng
        templates: list[Callable[[], str]] = [
            lambda: f"To {task}, open the app and go to {r.choice(MENUS)} > {r.choice(SUBMENUS)}.",
            lambda: f"Select {r.choice(SUBMENUS)} and confirm with {r.choice(['Save', 'Continue', 'Done'])}.",
            lambda: f"This can take up to {r.randint(2, 72)} {r.choice(UNITS)}.",
            lambda: f"If you see error {self._code()}, {r.choice(REMEDIES)}.",
            lambda: (
                f"On the {product} this option needs firmware {r.randint(1, 9)}.{r.randint(0, 20)} or later."
            ),
            lambda: (
                f"Customers on the {r.choice(PLANS)} plan can {r.choice(r.choice(list(TASKS.values())))} "
                "without contacting support."
            ),
            lambda: (
                "We send a confirmation email once the change is saved; check your spam folder if it "
                f"has not arrived after {r.randint(5, 30)} minutes."
            ),
            lambda: f"If the option is greyed out, {r.choice(REMEDIES)}.",
            lambda: (
                f"Model {product.split()[0][:2].upper()}-{r.randint(100, 999)} keeps your settings "
                "after a restart."
            ),
            lambda: f"You can also {r.choice(r.choice(list(TASKS.values())))} from the same screen.",
        ]
        return r.choice(templates)()

    def _paragraph(self, task: str, product: str) -> str:
        return " ".join(self._sentence(task, product) for _ in range(self.rng.randint(3, 6)))

    def documents(self) -> Iterator[Document]:
        n = 0
        while True:
            topic = self.rng.choice(self.topics)
            task = self.rng.choice(TASKS[topic])
            product = self.rng.choice(PRODUCTS)
            title = f"How to {task} on your {product}"
            parts = [self._paragraph(task, product)]
            for section in self.rng.sample(SECTIONS, self.rng.randint(2, 4)):
                parts.append(f"## {section}")
                parts += [self._paragraph(task, product) for _ in range(self.rng.randint(1, 3))]
            yield Document(f"kb-{n:06d}", title, "\n\n".join(parts), url=f"https://help.example.com/{n}")
            n += 1

    def questions(self, count: int) -> list[str]:
        r = self.rng
        out = []
        for _ in range(count):
            task = r.choice(r.choice(list(TASKS.values())))
            product = r.choice(PRODUCTS)
            roll = r.random()
            if roll < 0.15:
                out.append(r.choice(OFF_TOPIC) + "?")
            elif roll < 0.3:
                out.append(f"I get error {self._code()} when I try to {task} on my {product}")
            else:
                form = r.choice(FORMS)
                out.append(form.format(t=task, p=product))
        return out


# -- measurement ----------------------------------------------------------------------------------


def ingest(services: Services, target_chunks: int, seed: int) -> tuple[int, float]:
    """Ingest generated articles in batches until the store holds at least ``target_chunks``."""
    docs = HelpCenter(seed).documents()
    started = time.perf_counter()
    n_docs, per_doc = 0, 3.0
    while (have := services.store.count()) < target_chunks:
        batch = [next(docs) for _ in range(max(1, min(500, round((target_chunks - have) / per_doc))))]
        services.ingestor.ingest(batch, source="bench")
        n_docs += len(batch)
        have = services.store.count()
        per_doc = max(have / n_docs, 1.0)
        elapsed = time.perf_counter() - started
        console.print(
            f"  ingested {n_docs:,} articles -> {have:,}/{target_chunks:,} chunks "
            f"({elapsed:,.0f} s, {have / max(elapsed, 1e-9):,.0f} chunks/s)"
        )
    return n_docs, time.perf_counter() - started


def vanilla_collection(settings: Settings, workdir: Path) -> Any:
    """A plain Chroma collection holding the store's vectors, documents and metadata."""
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    client_settings = ChromaClientSettings(anonymized_telemetry=False)
    source = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=client_settings)
    store = source.get_collection(settings.chroma.collection, embedding_function=None)
    plain = chromadb.PersistentClient(path=str(workdir), settings=client_settings)
    collection = plain.get_or_create_collection(
        "vanilla_bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    if collection.count() == store.count():
        return collection
    for offset in range(0, store.count(), 2000):
        got = store.get(include=["embeddings", "documents", "metadatas"], limit=2000, offset=offset)
        collection.upsert(
            ids=got["ids"],
            embeddings=got["embeddings"],
            documents=got["documents"],
            metadatas=got["metadatas"],
        )
    return collection


def summary(ms: list[float]) -> tuple[str, str, str, str]:
    return (
        f"{np.percentile(ms, 50):.1f}",
        f"{np.percentile(ms, 95):.1f}",
        f"{statistics.fmean(ms):.1f}",
        f"{max(ms):.1f}",
    )


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir / "firstlast")
    services = build(settings)
    console.print(f"building a store of {args.chunks:,} chunks in {data_dir} ({services.embedder.name})")
    _, ingest_s = ingest(services, args.chunks, args.seed)
    chunks, n_docs = services.store.count(), len(services.store.documents())
    questions = HelpCenter(args.seed + 1).questions(args.questions)

    collection = vanilla_collection(settings, data_dir / "vanilla")
    # vanilla Chroma queries with the one model that wrote the collection (MiniLM for this English
    # store), not with the per-family embedder, whose vectors carry a block per language family
    embedder = build_embedder("minilm")

    def vanilla(q: str) -> tuple[float, float]:
        """(embed ms, query ms) for query-by-text against the plain collection."""
        started = time.perf_counter()
        vector = np.asarray(embedder.embed_query(q), dtype=np.float32).reshape(1, -1)
        embedded = time.perf_counter()
        collection.query(query_embeddings=vector, n_results=10)
        return (embedded - started) * 1000, (time.perf_counter() - embedded) * 1000

    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    started = time.perf_counter()
    services.bot.ask(Question(questions[0]))  # builds the in-memory BM25 index over every chunk
    first_ask_ms = (time.perf_counter() - started) * 1000
    for q in questions[:5]:  # warm-up
        services.bot.ask(Question(q))
        vanilla(q)
    # interleaved, so both paths see the same machine load
    load_before = os.getloadavg()[0]
    bot_ms: list[float] = []
    embed_ms: list[float] = []
    query_ms: list[float] = []
    answered = 0
    for q in questions:
        started = time.perf_counter()
        outcome = services.bot.ask(Question(q))
        bot_ms.append((time.perf_counter() - started) * 1000)
        answered += not outcome.decision.handed_off
        e, v = vanilla(q)
        embed_ms.append(e)
        query_ms.append(v)
    vanilla_ms = [e + v for e, v in zip(embed_ms, query_ms)]

    table = Table(title=f"latency over {len(questions)} questions, {chunks:,} chunks ({n_docs:,} articles)")
    table.add_column("path")
    for col in ("p50 ms", "p95 ms", "mean ms", "max ms"):
        table.add_column(col, justify="right")
    table.add_row("firstlast bot.ask", *summary(bot_ms))
    table.add_row("vanilla Chroma", *summary(vanilla_ms))
    table.add_row("  embed_query", *summary(embed_ms))
    table.add_row("  collection.query", *summary(query_ms))
    table.caption = (
        "bot.ask = hybrid retrieve + extractive answer + confidence + handoff decision; "
        "vanilla = embed_query + collection.query(n_results=10) on the same vectors"
    )
    console.print(table)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    console.print(
        f"chunks: {chunks:,}   ingest: {ingest_s:,.0f} s   "
        f"first ask (builds the BM25 index): {first_ask_ms:,.0f} ms\n"
        f"answered: {answered}/{len(questions)}   peak RSS: {peak_mb:,.0f} MiB   CPUs: {os.cpu_count()}   "
        f"torch threads: {torch_threads()}   "
        f"load average (1 min) before / after timing: {load_before:.1f} / {os.getloadavg()[0]:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks in the store (default 20000)")
    parser.add_argument("--questions", type=int, default=200, help="questions to time (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="keep the store here (default: a temp dir)")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads before timing")
    args = parser.parse_args(argv)
    if args.torch_threads is not None and args.torch_threads <= 0:
        parser.error(f"--torch-threads must be > 0, got {args.torch_threads}")
    if args.chunks <= 0 or args.questions <= 0:
        parser.error(f"--chunks and --questions must be > 0, got {args.chunks} and {args.questions}")
    if args.data_dir:
        run(args, args.data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="firstlast-bench-") as tmp:
            run(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
