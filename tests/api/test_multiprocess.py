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

from firstlast.types import Question
from firstlast.wiring import Services
from tests.api.test_server import REPO, _free_port

AGENT = {"Authorization": "Bearer mp-agent"}
WIDGET = {"Authorization": "Bearer mp-widget"}


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "firstlast.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait(proc: subprocess.Popen[bytes], base: str, path: str = "/healthz") -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server exited"
    pytest.fail("server did not come up within 90 s")


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
    cli = [sys.executable, "-m", "firstlast.cli"]
    subprocess.run(
        [*cli, "ingest", str(REPO / "examples" / "sample_kb")], env=env, check=True, capture_output=True
    )
    a, base_a = _start(env)
    b, base_b = _start(env)
    try:
        _wait(a, base_a)
        _wait(b, base_b)
        yield base_a, base_b
    finally:
        for proc in (a, b):
            proc.terminate()
        for proc in (a, b):
            proc.wait(timeout=20)


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
    chroma_port = _free_port()
    chroma_bin = Path(sys.executable).with_name("chroma")
    if not chroma_bin.exists():
        pytest.skip("the chroma CLI is not installed next to this Python")
    chroma = subprocess.Popen(
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
    procs = [chroma]
    try:
        _wait(chroma, f"http://127.0.0.1:{chroma_port}", path="/api/v2/heartbeat")
        subprocess.run(
            [sys.executable, "-m", "firstlast.cli", "ingest", str(REPO / "examples" / "sample_kb")],
            env=env,
            check=True,
            capture_output=True,
        )
        a, base_a = _start(env)
        b, base_b = _start(env)
        procs += [a, b]
        _wait(a, base_a)
        _wait(b, base_b)
        yield base_a, base_b
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


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
