"""Load on a real server: N customers chatting, an agent answering handoffs, an admin upload.

Starts ``firstlast serve`` (uvicorn) on 127.0.0.1 with the sample knowledge base in a throwaway data
dir, then runs, all at once and bounded:

- ``--customers`` threads, each opening a conversation and sending ``--messages`` questions (the
  sample KB's article titles in several phrasings, no text twice in a run, and now and then "talk to
  a human", which opens a handoff);
- one agent thread replying to every open handoff (which runs the learning step);
- one admin upload of a ~140 KiB Markdown file (202 + poll where the server has jobs, else the
  synchronous answer), with ``/healthz`` timed every 50 ms from a process of its own while it runs.

Each run gets a fresh copy of the ingested data dir. Scenarios: ``mix`` (the above) and
``messages`` (customers only, no handoffs, every message for the bot: the msg/s target; a
conversation the bot hands to a person is left for a new one), for every ``--workers`` count and
MiniLM ``--runtimes`` (interleaved A/B in one invocation). Prints messages/s, the share of them the
bot answered, p50/p95/p99 of message posts, errors by status, ``/healthz`` p99 during the upload,
the CPU time per message of the server's processes and of this load generator (both share the
machine's cores), and beside it the bare query rates of the same machine in as many processes as
the server has workers, at once: ``bot.ask`` (no HTTP, no database) and a bare embed + dense search
(vanilla query-by-text); and the load average before and after each run (other work shares the CPU).

    PYTHONPATH=src .venv/bin/python benchmarks/load.py --customers 16 --messages 10 --workers 1 2
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

from firstlast.testing.postgres import PostgresCluster
from firstlast.testing.servers import ServerProcess, firstlast_server, free_port, run_cli
from firstlast.testing.servers import start as start_process

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "examples" / "sample_kb"
SLOW_S = float(os.environ.get("LOAD_SLOW_S", "5"))  # a message slower than this is printed
KEYS = {"widget": "load-widget", "agent": "load-agent", "admin": "load-admin"}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# Ways customers phrase a request; with the sample KB's article titles, every message of a run is a
# different text, as in real traffic (a repeated text would find its vector already computed).
PHRASINGS = (
    "{t}",
    "How do I {l}?",
    "{t}, please",
    "Can you help me {l}?",
    "I need to {l}",
    "{t}?",
    "Question about {l}",
    "Help with {l}",
    "I'd like to {l}",
    "Please explain how to {l}",
    "How can I {l}?",
    "What's the way to {l}?",
    "Tell me how to {l}",
    "Where do I {l}?",
)


def _questions() -> list[str]:
    """Distinct customer questions about the sample KB's articles (titles in every phrasing)."""
    from firstlast.ingest.loaders import load_path

    _, documents = load_path(SAMPLE_KB)
    titles = [d.title for d in documents if d.title]
    return [p.format(t=t, l=t[0].lower() + t[1:]) for p in PHRASINGS for t in titles]


def unique(questions: list[str], n: int) -> str:
    """The ``n``-th text of an endless sequence without repeats: the questions, then again with a
    round number ("… (2)")."""
    text, round_ = questions[n % len(questions)], n // len(questions)
    return f"{text} ({round_ + 1})" if round_ else text


class Load:
    def __init__(
        self, base: str, questions: list[str], messages: int, handoffs: bool = True, keys: bool = False
    ) -> None:
        self.base, self.questions, self.messages, self.handoffs = base, questions, messages, handoffs
        self.keys = keys  # a fresh Idempotency-Key with every message, as the widget sends
        self.latencies: list[float] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.health: list[float] = []
        self.upload_done = threading.Event()
        self.customers_done = threading.Event()
        self.lock = threading.Lock()
        self.agent_replies = 0
        self.bot_replies = 0  # messages the bot answered (not a person's turn)

    def customer(self, n: int) -> None:
        """Post ``messages`` messages, each after the last is answered. In the messages scenario every
        message is for the bot: a conversation that went to a person (an offer or a handoff; the bot
        stays quiet after one) is left and the next message opens a new one, like the next visitor."""
        widget = {"Authorization": f"Bearer {KEYS['widget']}"}
        with httpx.Client(base_url=self.base, timeout=120) as http:
            conversation: tuple[str, dict[str, str]] | None = None
            for i in range(self.messages):
                if conversation is None:
                    conversation = self._open(http, widget)
                    if conversation is None:
                        return
                url, headers = conversation
                text = (
                    "I want to talk to a human"
                    if self.handoffs and (n + i) % 7 == 3
                    else unique(self.questions, n * self.messages + i)
                )
                start = time.perf_counter()
                key = {"Idempotency-Key": uuid.uuid4().hex} if self.keys else {}
                response = http.post(url, headers={**headers, **key}, json={"text": text})
                elapsed = time.perf_counter() - start
                reply = response.json() if response.status_code == 200 else {}
                with self.lock:
                    self.latencies.append(elapsed)
                    self.statuses[response.status_code] += 1
                    self.bot_replies += reply.get("reply") is not None
                    if elapsed > SLOW_S:
                        print(f"slow {elapsed:.1f}s at {time.time():.1f} ({url}): {text!r}", file=sys.stderr)
                if not self.handoffs and reply.get("decision") != "answer":
                    conversation = None

    def _open(self, http: httpx.Client, widget: dict[str, str]) -> tuple[str, dict[str, str]] | None:
        opened = http.post("/v1/conversations", headers=widget, json={})
        if opened.status_code != 201:
            with self.lock:
                self.statuses[opened.status_code] += 1
            return None
        body = opened.json()
        return f"/v1/conversations/{body['id']}/messages", {**widget, "X-Conversation-Token": body["token"]}

    def agent(self) -> None:
        headers = {"Authorization": f"Bearer {KEYS['agent']}"}
        answered: set[str] = set()
        with httpx.Client(base_url=self.base, timeout=120) as http:
            while not self.customers_done.is_set():
                listed = http.get("/v1/handoffs", headers=headers, params={"status": "open"})
                for handoff in listed.json() if listed.status_code == 200 else []:
                    if handoff["id"] in answered:
                        continue
                    answered.add(handoff["id"])
                    reply = {
                        "agent": "load-agent",
                        "text": "Our team can help with that: we have updated your account settings.",
                    }
                    http.post(f"/v1/handoffs/{handoff['id']}/reply", headers=headers, json=reply)
                    self.agent_replies += 1
                time.sleep(0.2)

    def upload(self) -> float:
        headers = {"X-API-Key": KEYS["admin"]}
        paragraph = "Billing questions are answered by the billing team within two working days. " * 6
        text = "# Load test handbook\n\n" + "\n\n".join(f"## Section {i}\n\n{paragraph}" for i in range(300))
        files = [("files", ("handbook.md", text.encode(), "text/markdown"))]
        start = time.perf_counter()
        with httpx.Client(base_url=self.base, timeout=600) as http:
            response = http.post("/v1/knowledge", headers=headers, files=files)
            if response.status_code == 202:
                job = response.json()
                while job["status"] in ("queued", "running"):
                    time.sleep(0.2)
                    job = http.get(response.headers["Location"], headers=headers).json()
        self.upload_done.set()
        return time.perf_counter() - start

    def healthz(self) -> None:
        """Probe /healthz from a process of its own until the upload is done: a thread here would
        wait for this process's GIL behind the customers' threads, and its delay would be ours."""
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        mine, theirs = context.Pipe()
        prober = context.Process(target=probe_healthz, args=(self.base, stop, theirs))
        prober.start()
        self.upload_done.wait()
        stop.set()
        self.health = mine.recv()
        prober.join()


def probe_healthz(base: str, stop: Any, out: Any) -> None:
    """GET /healthz every 50 ms until ``stop`` is set; the latencies (s) go to ``out``."""
    latencies = []
    with httpx.Client(base_url=base, timeout=120) as http:
        while not stop.is_set():
            start = time.perf_counter()
            http.get("/healthz")
            latencies.append(time.perf_counter() - start)
            time.sleep(0.05)
    out.send(latencies)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and every live descendant (Linux ``/proc``):
    the server's uvicorn supervisor and its workers."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            times[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(pid, 0.0) for pid in tree)


def vanilla_rates(
    data_dir: Path,
    questions: list[str],
    runtime: str,
    seconds: float = 8.0,
    start_at: float = 0.0,
    database: str | None = None,
) -> tuple[float, float]:
    """The machine's bare query rates, one process, one question after another: ``bot.ask`` (the
    whole answer, no HTTP, no database) and a bare embed + dense search (vanilla query-by-text).
    ``start_at`` (a ``time.time()``) lines up the loops of several processes."""
    from firstlast.config import load_settings
    from firstlast.types import Question
    from firstlast.wiring import build

    os.environ["FIRSTLAST_EMBEDDING__RUNTIME"] = runtime
    if database:
        os.environ["FIRSTLAST_DATABASE_URL"] = database
    services = build(load_settings(data_dir=data_dir))
    services.bot.ask(Question("warm-up"))
    time.sleep(max(0.0, start_at - time.time()))
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        services.bot.ask(Question(unique(questions, done)))
        done += 1
    ask = done / (time.perf_counter() - start)
    embedder, store = services.embedder, services.store
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        store.dense_search(embedder.embed_query(unique(questions, done)), 10)
        done += 1
    return ask, done / (time.perf_counter() - start)


def parallel_rates(
    data_dir: Path, questions: list[str], runtime: str, processes: int, database: str | None = None
) -> tuple[float, float]:
    """The bare rates of ``processes`` processes at once, summed: what that many workers could
    reach with no HTTP and no database on this machine (the ceiling the server's rate is read against)."""
    if processes == 1:
        return vanilla_rates(data_dir, questions, runtime, database=database)
    start_at = time.time() + 60  # every process has loaded its models by then
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context)
    try:
        runs = [
            pool.submit(vanilla_rates, data_dir, questions, runtime, 8.0, start_at, database)
            for _ in range(processes)
        ]
        # bounded: once (session 10) the pool never handed back results its idle processes had
        rates = [run.result(timeout=max(0.0, start_at - time.time()) + 180) for run in runs]
    except concurrent.futures.TimeoutError:
        print("bare rates: the processes did not report within 3 minutes", file=sys.stderr)
        return float("nan"), float("nan")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return sum(r[0] for r in rates), sum(r[1] for r in rates)


def _drive(
    args: argparse.Namespace,
    env: dict[str, str],
    workers: int,
    questions: list[str],
    mix: bool,
    chroma: ServerProcess | None,
) -> tuple[Load, float, float, float, list[float]]:
    """Serve with ``env`` and drive the load: the load, wall seconds, the CPU seconds of the server
    (with the Chroma server's, if any) and of this process, and the upload's time."""
    with firstlast_server(env, timeout=300, workers=workers) as server:
        # models, BM25 and caches in every worker, with texts the run does not ask
        warm = Load(server.base, [f"{q} (warm-up)" for q in questions], 2, handoffs=False)
        warmers = [threading.Thread(target=warm.customer, args=(n,)) for n in range(2 * workers)]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()
        load = Load(server.base, questions, args.messages, handoffs=mix, keys=args.idempotency_keys)
        customers = [threading.Thread(target=load.customer, args=(n,)) for n in range(args.customers)]
        agent = threading.Thread(target=load.agent)
        prober = threading.Thread(target=load.healthz)
        upload_time: list[float] = []
        uploader = threading.Thread(target=lambda: upload_time.append(load.upload()))
        start = time.perf_counter()
        pids = [server.proc.pid, *([chroma.proc.pid] if chroma else [])]
        server_cpu, own_cpu = sum(map(tree_cpu_seconds, pids)), time.process_time()
        extra = [agent, prober, uploader] if mix else []
        for thread in [*extra, *customers]:
            thread.start()
        for thread in customers:
            thread.join()
        wall = time.perf_counter() - start
        server_cpu = sum(map(tree_cpu_seconds, pids)) - server_cpu
        own_cpu = time.process_time() - own_cpu
        load.customers_done.set()
        for thread in extra:
            thread.join()
    return load, wall, server_cpu, own_cpu, upload_time


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[ServerProcess]:
    """A `chroma run` server on 127.0.0.1 over ``path``."""
    port = free_port()
    chroma = start_process(
        [
            str(Path(sys.executable).with_name("chroma")),
            "run",
            "--path",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        port,
    )
    try:
        chroma.wait_until_up("/api/v2/heartbeat")
        yield chroma
    finally:
        chroma.stop()


def run(
    args: argparse.Namespace, seed_dir: Path, workdir: Path, runtime: str, workers: int, mix: bool
) -> str:
    """One load run on a fresh copy of the ingested data dir; a table row."""
    questions = _questions()
    data_dir = workdir / f"data-{runtime}-{workers}-{mix}"
    shutil.copytree(seed_dir, data_dir)
    env = {**_env(data_dir), "FIRSTLAST_EMBEDDING__RUNTIME": runtime}
    database = args.fresh_database()  # PostgreSQL: a copy of the seeded database (SQLite's is in data_dir)
    if database:
        env["FIRSTLAST_DATABASE_URL"] = database
    before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        chroma = None
        if args.chroma == "server":  # the run's copy of the store, served by `chroma run`
            chroma = stack.enter_context(chroma_server(data_dir / "chroma"))
            env |= {"FIRSTLAST_CHROMA__MODE": "http", "FIRSTLAST_CHROMA__PORT": chroma.base.rsplit(":", 1)[1]}
        load, wall, server_cpu, own_cpu, upload_time = _drive(args, env, workers, questions, mix, chroma)
    during = os.getloadavg()[0]
    ask, bare = parallel_rates(data_dir, questions, runtime, workers, database)
    ms = [1000 * x for x in load.latencies]
    errors = {code: n for code, n in sorted(load.statuses.items()) if code >= 400}
    health = f"{1000 * _pct(load.health, 0.99):.0f} (n={len(load.health)})" if mix else "-"
    upload = f"{upload_time[0]:.1f}" if upload_time else "-"
    return (
        f"| {runtime} | {workers} | {'mix' if mix else 'messages'}{' + keys' * args.idempotency_keys} | "
        f"{len(ms) / wall:.1f} | "
        f"{100 * load.bot_replies / max(len(ms), 1):.0f} | "
        f"{_pct(ms, 0.5):.0f} | {_pct(ms, 0.95):.0f} | {_pct(ms, 0.99):.0f} | {errors or 'none'} | "
        f"{health} | {upload} | {load.agent_replies if mix else '-'} | "
        f"{1000 * server_cpu / max(len(ms), 1):.1f} / {1000 * own_cpu / max(len(ms), 1):.1f} | "
        f"{ask:.1f} | {bare:.1f} | "
        f"{before:.1f} / {during:.1f} |"
    )


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(data_dir),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": f'["{KEYS["widget"]}"]',
        "FIRSTLAST_API__AGENT_KEYS": f'["{KEYS["agent"]}"]',
        "FIRSTLAST_API__ADMIN_KEYS": f'["{KEYS["admin"]}"]',
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=16)
    parser.add_argument("--messages", type=int, default=10, help="per customer")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server processes")
    parser.add_argument("--runtimes", nargs="+", default=["torch", "onnx"], help="MiniLM runtimes (A/B)")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["mix", "messages"],
        choices=["mix", "messages"],
        help="mix: customers + agent + upload; messages: customers only (the msg/s target)",
    )
    parser.add_argument(
        "--idempotency-keys",
        action="store_true",
        help="send a fresh Idempotency-Key with every message, as the widget does",
    )
    parser.add_argument(
        "--chroma",
        choices=["embedded", "server"],
        default="embedded",
        help="server: each run's copy of the knowledge base served by `chroma run` (its writes hold "
        "no API process's interpreter lock)",
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="postgres: a throwaway local cluster (initdb/pg_ctl), a copy of the seeded database per run",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="firstlast-load-") as tmp, contextlib.ExitStack() as stack:
        seed = Path(tmp) / "seed"
        if args.database == "postgres":
            cluster = stack.enter_context(PostgresCluster.start())
            seeded = os.environ["FIRSTLAST_DATABASE_URL"] = cluster.create_database()
            args.fresh_database = lambda: cluster.create_database(template=seeded)
        else:
            args.fresh_database = lambda: None
        run_cli("ingest", str(SAMPLE_KB), env=_env(seed))
        for scenario in args.scenarios:  # interleaved: every runtime and worker count per scenario
            for workers in args.workers:
                for runtime in args.runtimes:
                    row = run(args, seed, Path(tmp), runtime, workers, scenario == "mix")
                    print(row, file=sys.stderr)
                    rows.append(row)
    print(f"\nload: {args.customers} customers x {args.messages} messages; mix adds an agent and an upload")
    print(
        "| MiniLM runtime | workers | scenario | msg/s | answered by the bot % | p50 ms | p95 ms | p99 ms "
        "| errors by status "
        "| /healthz p99 ms (upload) | upload s | agent replies "
        "| CPU ms per message: server / load generator | vanilla bot.ask q/s (workers' processes) "
        "| vanilla embed+search q/s | load avg before / after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
