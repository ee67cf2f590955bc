"""Two `firstlast serve` processes on one data folder (embedded Chroma + SQLite): an answer approved
through process A answers the next customer of process B within one second."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


@pytest.fixture(scope="module")
def two_servers_on_chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The same, with Chroma as a server (`chroma run`) that both API processes talk to."""
    tmp = tmp_path_factory.mktemp("chroma-server")
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
    env = {
        **os.environ,
        "FIRSTLAST_DATA_DIR": str(tmp / "data"),
        "FIRSTLAST_CHROMA__MODE": "http",
        "FIRSTLAST_CHROMA__PORT": str(chroma_port),
        "FIRSTLAST_ANSWER__VOICE_PROFILE": str(REPO / "examples" / "voice.yaml"),
        "FIRSTLAST_API__WIDGET_KEYS": '["mp-widget"]',
        "FIRSTLAST_API__AGENT_KEYS": '["mp-agent"]',
    }
    try:
        chroma.wait_until_up("/api/v2/heartbeat")
        run_cli("ingest", str(REPO / "examples" / "sample_kb"), env=env)
        with firstlast_server(env) as a, firstlast_server(env) as b:
            yield a.base, b.base
    finally:
        chroma.stop()


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
