"""Two `firstlast serve` processes on one data folder (embedded Chroma + SQLite), on a `chroma run`
server, and on PostgreSQL + a `chroma run` server with one of them running two workers: an answer
approved through process A answers the next customer of process B within one second."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from firstlast.testing.postgres import PostgresCluster
from firstlast.testing.servers import firstlast_server, free_port, run_cli, start
from firstlast.types import Question
from firstlast.wiring import Services
from tests.api.test_server import REPO

AGENT = {"Authorization": "Bearer mp-agent"}
WIDGET = {"Authorization": "Bearer mp-widget"}


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("shared") / "data"
    env = {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(data),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": '["mp-widget"]',
        "FIRSTLAST_API__AGENT_KEYS": '["mp-agent"]',
    }
    run_cli("ingest", str(REPO / "examples" / "sample_kb"), env=env)
    with firstlast_server(env) as a, firstlast_server(env) as b:
        yield a.base, b.base


def _ask(http: httpx.Client, base: str, text: str) -> dict:
    conv = http.post(f"{base}/v1/conversations", headers=WIDGET, json={}).json()
    headers = {**WIDGET, "X-Conversation-Token": conv["token"]}
    response = http.post(
        f"{base}/v1/conversations/{conv['id']}/messages", headers=headers, json={"text": text}
    )
    assert response.status_code == 200, response.text
    reply = response.json()
    if reply["decision"] == "offer":  # low confidence offers a person first; the customer accepts
        response = http.post(
            f"{base}/v1/conversations/{conv['id']}/messages", headers=headers, json={"text": "Yes please"}
        )
        assert response.status_code == 200, response.text
        reply = response.json()
    return reply


@contextmanager
def _chroma_server(tmp: Path) -> Iterator[int]:
    """A `chroma run` server on 127.0.0.1 with its data in ``tmp``; its port."""
    chroma_port = free_port()
    chroma_bin = Path(sys.executable).with_name("chroma")
    if not chroma_bin.exists():
        pytest.skip("the chroma CLI is not installed next to this Python")
    chroma = start(
        [
            str(chroma_bin),
            "run",
            "--path",
            str(tmp / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(chroma_port),
        ],
        chroma_port,
    )
    try:
        chroma.wait_until_up("/api/v2/heartbeat")
        yield chroma_port
    finally:
        chroma.stop()


def _env(tmp: Path, chroma_port: int, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(tmp / "data"),
        "FIRSTLAST_CHROMA__MODE": "http",
        "FIRSTLAST_CHROMA__PORT": str(chroma_port),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": '["mp-widget"]',
        "FIRSTLAST_API__AGENT_KEYS": '["mp-agent"]',
        **more,
    }


@pytest.fixture(scope="module")
def two_servers_on_chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The same, with Chroma as a server (`chroma run`) that both API processes talk to."""
    tmp = tmp_path_factory.mktemp("chroma-server")
    with _chroma_server(tmp) as chroma_port:
        env = _env(tmp, chroma_port)
        run_cli("ingest", str(REPO / "examples" / "sample_kb"), env=env)
        with firstlast_server(env) as a, firstlast_server(env) as b:
            yield a.base, b.base


@pytest.fixture(scope="module")
def scaled_out(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster: PostgresCluster
) -> Iterator[tuple[str, str]]:
    """The production shape: PostgreSQL, a `chroma run` server, and `serve --workers 2` (A) beside a
    one-worker `serve` (B), all on one database and one Chroma."""
    tmp = tmp_path_factory.mktemp("scaled-out")
    url = postgres_cluster.create_database()
    with _chroma_server(tmp) as chroma_port:
        env = _env(tmp, chroma_port, FIRSTLAST_DATABASE_URL=url)
        run_cli("ingest", str(REPO / "examples" / "sample_kb"), env=env)
        with firstlast_server(env, timeout=300, workers=2) as a, firstlast_server(env, timeout=300) as b:
            yield a.base, b.base
    postgres_cluster.drop_database(url)


@pytest.mark.integration
def test_approved_through_one_process_answers_through_another_within_a_second(
    two_servers: tuple[str, str],
) -> None:
    _approve_in_a_answer_in_b(*two_servers)


@pytest.mark.integration
def test_with_a_chroma_server_approved_through_one_process_answers_through_another(
    two_servers_on_chroma_server: tuple[str, str],
) -> None:
    _approve_in_a_answer_in_b(*two_servers_on_chroma_server)


@pytest.mark.integration
def test_on_postgresql_and_a_chroma_server_with_workers_approved_in_one_answers_in_another(
    scaled_out: tuple[str, str],
) -> None:
    _approve_in_a_answer_in_b(*scaled_out)


@pytest.mark.integration
def test_serve_with_two_workers_answers_from_both_and_adds_up_their_metrics(
    scaled_out: tuple[str, str],
) -> None:
    a, _b = scaled_out
    processes: set[int] = set()
    for _ in range(60):  # a new connection each time: the kernel hands it to either worker
        ready = httpx.get(f"{a}/readyz", headers={"Connection": "close"}, timeout=30)
        assert ready.status_code == 200, ready.text
        processes.add(ready.json()["process"])
        if len(processes) == 2:
            break
    assert len(processes) == 2, processes
    time.sleep(1)  # the last /readyz above is recorded
    before = _readyz_count(httpx.get(f"{a}/metrics", timeout=30).text)
    for _ in range(10):
        assert httpx.get(f"{a}/readyz", headers={"Connection": "close"}, timeout=30).status_code == 200
    # whichever worker answers /metrics counts both workers' requests (each records its request
    # just after the response went out: allow it a moment)
    deadline, counted = time.monotonic() + 5, 0.0
    while time.monotonic() < deadline and counted < 10:
        counted = _readyz_count(httpx.get(f"{a}/metrics", timeout=30).text) - before
    assert counted == 10


def _readyz_count(metrics: str) -> float:
    line = next(
        x
        for x in metrics.splitlines()
        if x.startswith("firstlast_request_seconds_count") and '"/readyz"' in x
    )
    return float(line.rsplit(" ", 1)[1])


def _approve_in_a_answer_in_b(a: str, b: str) -> None:
    with httpx.Client(timeout=30) as http:
        # B has served from its in-memory index before anything is learned: a person is needed.
        handed = _ask(http, b, "Do you offer a discount for non-profit organisations?")
        assert handed["decision"] == "handoff"
        before = _ask(http, b, "Is there a non-profit discount?")
        assert before["decision"] == "handoff"
        # The agent answers and the lead approves through A (the handoff is in the shared database).
        replied = http.post(
            f"{a}/v1/handoffs/{handed['handoff_id']}/reply",
            headers=AGENT,
            json={
                "agent": "sam",
                "text": "Yes: registered non-profit organisations get 50% off the Team plan.",
            },
        ).json()
        suggestion = replied["suggestion"]
        approved = http.post(
            f"{a}/v1/suggestions/{suggestion['id']}/approve", headers=AGENT, json={"approver": "lead"}
        )
        assert approved.status_code == 200, approved.text
        started = time.perf_counter()
        after = _ask(http, b, "Is there a non-profit discount?")
        elapsed = time.perf_counter() - started
        assert after["decision"] == "answer", after
        assert after["citations"][0]["doc_id"] == approved.json()["learned_doc_id"]
        assert "50% off" in after["reply"]["text"]
        assert elapsed < 1.0, f"{elapsed:.2f} s"
        # Retiring through B removes it from A at once as well.
        entry = approved.json()["learned_doc_id"].removeprefix("learned/")
        retired = http.post(f"{b}/v1/learned/{entry}/retire", headers=AGENT, json={"actor": "lead"})
        assert retired.status_code == 200, retired.text
        gone = _ask(http, a, "Is there a non-profit discount?")
        assert all(c["doc_id"] != approved.json()["learned_doc_id"] for c in gone["citations"])


def test_dense_search_sees_another_process_writes_after_the_version_changes(
    sample_services: Services, tmp_path: Path
) -> None:
    """Embedded Chroma keeps its vector index per process; the retriever reopens it on a foreign write."""
    retriever, store = sample_services.retriever, sample_services.store
    assert retriever.retrieve(Question("Can hamsters join the Team plan?"))  # warm: index in memory
    own_version = store.version()
    assert store.refresh(own_version) is False  # this process's own writes never reopen anything
    article = tmp_path / "pets.md"
    article.write_text("# Pets policy\n\nHamsters may join the Team plan for free as honorary members.\n")
    env = {**os.environ, "FIRSTLAST_DATA_DIR": str(sample_services.settings.data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "firstlast.cli", "ingest", str(article)], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()
    hits = retriever.retrieve(Question("Can hamsters join the Team plan?"))
    top = hits[0]
    assert top.chunk.doc_id.endswith("pets")
    assert top.dense_rank == 1, "dense search did not see the other process's write"
