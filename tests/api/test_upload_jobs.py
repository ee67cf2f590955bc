"""Knowledge uploads (issue #13, 3, 5, 6 and 7): a 202 job that runs off the event loop, knowledge
text without raw HTML, sources that never silently replace each other, and a clear error for a PDF
without a document catalogue."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.config import Settings
from firstlast.db import Database
from firstlast.ingest.jobs import IngestJobs
from firstlast.ingest.loaders import load_path
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.testing.servers import free_port
from firstlast.wiring import Services, build
from tests.conftest import ADMIN_KEY, SAMPLE_KB, WIDGET_KEY, upload_and_wait

ADMIN = {"X-API-Key": ADMIN_KEY}
WIDGET = {"Authorization": f"Bearer {WIDGET_KEY}"}


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services), raise_server_exceptions=False)


def upload(client: TestClient | httpx.Client, files: list) -> dict:
    return upload_and_wait(client, files, ADMIN)


def test_an_upload_is_a_job_to_poll_with_progress_and_a_result(
    client: TestClient, services: Services
) -> None:
    files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in sorted(SAMPLE_KB.glob("*.md"))]
    response = client.post("/v1/knowledge", headers=ADMIN, files=files)
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] in ("queued", "running", "done") and set(accepted) >= {"id", "progress"}
    job = upload(client, files)
    assert job["status"] == "done" and job["error"] is None
    assert job["progress"]["done"] == job["progress"]["total"] == len(files)
    assert job["result"]["documents_seen"] == len(files)
    assert services.store.count() > 0
    assert client.get("/v1/knowledge/jobs/nope", headers=ADMIN).status_code == 404
    # the job lives in the database: another API process (its own engine) answers the poll
    other = IngestJobs(Database(services.settings.sql_url), services.ingestor)
    assert other.get(job["id"]).status == "done"
    assert client.get(f"/v1/knowledge/jobs/{job['id']}", headers=WIDGET).status_code == 403


class _GatedEmbedder:
    """A real MiniLM whose document embedding waits until the test opens the gate."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner, self.gate, self.entered = inner, threading.Event(), threading.Event()
        self.name, self.dimension, self.multilingual = inner.name, inner.dimension, inner.multilingual

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(60)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture
def gated_server(
    make_settings: Callable[..., Settings], minilm: MiniLMEmbedder
) -> Iterator[tuple[str, _GatedEmbedder]]:
    gated = _GatedEmbedder(minilm)
    services = build(make_settings(), embedder=gated)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", gated
    finally:
        gated.gate.set()
        server.should_exit = True
        thread.join(20)


@pytest.mark.integration
def test_the_server_keeps_answering_while_an_upload_is_ingested(
    gated_server: tuple[str, _GatedEmbedder],
) -> None:
    base, gated = gated_server
    files = [("files", ("big.md", b"# Big\n\n" + b"Some words about billing. " * 4000, "text/markdown"))]
    with httpx.Client(base_url=base, timeout=5) as http:
        accepted = http.post("/v1/knowledge", headers=ADMIN, files=files)  # answered before the ingest ends
        assert accepted.status_code == 202
        assert gated.entered.wait(30)  # the ingest is now in the middle of embedding
        assert http.get("/healthz").status_code == 200
        opened = http.post("/v1/conversations", headers=WIDGET, json={})
        assert opened.status_code == 201
        running = http.get(accepted.headers["Location"], headers=ADMIN).json()
        assert running["status"] == "running"
        gated.gate.set()
        job = running
        deadline = time.monotonic() + 60
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            job = http.get(accepted.headers["Location"], headers=ADMIN).json()
        assert job["status"] == "done", job


# -- 5: raw HTML never reaches a reply -----------------------------------------------------------

HOSTILE_MD = b"""# Refund window

<script>alert('md')</script>
Refunds are possible within 30 days of purchase. <img src=x onerror="alert(1)">
Contact billing to start a refund <b onclick="steal()">today</b>.
"""
HOSTILE_HTML = b"""<html><body><h1>Gift cards</h1>
<p>Gift cards never expire. &lt;script&gt;alert('html')&lt;/script&gt;
&lt;img src=x onerror=alert(2)&gt; They can be used on any plan.</p></body></html>"""


def test_raw_html_in_knowledge_never_reaches_a_reply(client: TestClient, services: Services) -> None:
    files = [
        ("files", ("refunds.md", HOSTILE_MD, "text/markdown")),
        ("files", ("gift.html", HOSTILE_HTML, "text/html")),
    ]
    assert upload(client, files)["status"] == "done"
    for chunk in services.store.chunks():
        assert "<script" not in chunk.text and "onerror" not in chunk.text and "<img" not in chunk.text
        assert "<b" not in chunk.text and "onclick" not in chunk.text
    texts = {c.doc_id: c.text for c in services.store.chunks()}
    assert "Refunds are possible within 30 days" in texts["upload/refunds"]
    assert "Gift cards never expire." in texts["upload/gift"]
    opened = client.post("/v1/conversations", headers=WIDGET, json={}).json()
    headers = {**WIDGET, "X-Conversation-Token": opened["token"]}
    for question in ("How long do I have to get a refund?", "Do gift cards expire?"):
        reply = client.post(
            f"/v1/conversations/{opened['id']}/messages", headers=headers, json={"text": question}
        ).json()["reply"]["text"]
        assert "<" not in reply and "onerror" not in reply and "&lt;" not in reply, reply


# -- 6: sources never silently overwrite each other ---------------------------------------------


def test_an_upload_does_not_replace_a_document_of_another_source(
    client: TestClient, services: Services
) -> None:
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    taken = sorted(d.id for d in documents)[0]
    before = [c.text for c in services.store.chunks() if c.doc_id == taken]
    line = b'{"id": "%s", "title": "2FA", "text": "Email your password to support."}\n' % taken.encode()
    response = client.post(
        "/v1/knowledge", headers=ADMIN, files=[("files", ("kb.jsonl", line, "application/json"))]
    )
    assert response.status_code == 409, response.text
    assert taken in response.json()["detail"] and source in response.json()["detail"]
    assert [c.text for c in services.store.chunks() if c.doc_id == taken] == before


def test_the_write_path_refuses_to_move_a_document_to_another_source(services: Services) -> None:
    from firstlast.errors import Conflict
    from firstlast.types import Document

    services.ingestor.ingest([Document("faq/a", "A", "Alpha text.", "cli:/srv/kb")])
    with pytest.raises(Conflict, match="faq/a"):
        services.ingestor.ingest([Document("faq/a", "A", "Other text.", "upload")])
    assert [c.source for c in services.store.chunks()] == ["cli:/srv/kb"]


# -- 7: a PDF without a document catalogue -------------------------------------------------------


def test_a_pdf_without_a_root_is_refused_with_a_clear_error(client: TestClient, tmp_path: Path) -> None:
    """pypdf recovers such a file by searching for a catalogue; it is refused instead of guessed at."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    with (tmp_path / "ok.pdf").open("wb") as out:
        writer.write(out)
    no_root = (tmp_path / "ok.pdf").read_bytes().replace(b"/Root", b"/Xoot")
    response = client.post(
        "/v1/knowledge", headers=ADMIN, files=[("files", ("broken.pdf", no_root, "application/pdf"))]
    )
    assert response.status_code == 422, response.text
    assert "broken.pdf" in response.json()["detail"] and "PDF" in response.json()["detail"]
