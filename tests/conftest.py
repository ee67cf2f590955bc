"""Shared fixtures: one real MiniLM model per test session, fresh stores per test."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from firstlast.config import Settings
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.testing.counting import CountingEmbedder
from firstlast.testing.postgres import PostgresCluster, PostgresUnavailable
from firstlast.wiring import Services, build

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "examples" / "sample_kb"
VOICE = REPO / "examples" / "voice.yaml"
EVALDATA = REPO.parent / "shared" / "evaldata"

WIDGET_KEY, AGENT_KEY, ADMIN_KEY = "test-widget-key", "test-agent-key", "test-admin-key"


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def embedder(minilm: MiniLMEmbedder) -> CountingEmbedder:
    return CountingEmbedder(minilm)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL server for the session (started on first use). Without PostgreSQL the
    tests that need it skip, except in CI (CI=true), where they fail."""
    try:
        with PostgresCluster.start() as cluster:
            yield cluster
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL is not available: {exc}")


@pytest.fixture
def sql_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The SQL database of a test: None (SQLite in the data folder) unless the test is parametrised
    with ``BOTH_DATABASES``, which runs it on a fresh PostgreSQL database too."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield None
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    yield url
    cluster.drop_database(url)


BOTH_DATABASES = pytest.mark.both_databases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_databases`` that use the SQL database run on SQLite and on PostgreSQL."""
    if "sql_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("sql_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def make_settings(tmp_path: Path, sql_url: str | None) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": sql_url,
            "answer": {"voice_profile": VOICE},
            "api": {"widget_keys": [WIDGET_KEY], "agent_keys": [AGENT_KEY], "admin_keys": [ADMIN_KEY]},
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def services(make_settings: Callable[..., Settings], embedder: CountingEmbedder) -> Iterator[Services]:
    yield build(make_settings(), embedder=embedder)


@pytest.fixture
def sample_services(services: Services) -> Services:
    """Services with the sample knowledge base ingested."""
    from firstlast.ingest.loaders import load_path

    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    return services


def clear_of_window_edge(window_seconds: int, margin: float = 10.0) -> None:
    """Wait past a clock-aligned rate-limit window's edge if it is less than ``margin`` away: sliding
    window counters weigh the previous window and round down, so a burst that straddles an edge is
    let through once more than the limit."""
    if (left := window_seconds - time.time() % window_seconds) < margin:
        time.sleep(left + 0.1)


def upload_and_wait(client: Any, files: list[Any], headers: dict[str, str], timeout: float = 120.0) -> dict:
    """POST /v1/knowledge (202 and a job), then poll the job until it is done or failed."""
    import time

    response = client.post("/v1/knowledge", headers=headers, files=files)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/v1/knowledge/jobs/{job['id']}"
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(response.headers["Location"], headers=headers).json()
    return dict(job)


def post_until_handoff(desk: Any, conversation_id: str, text: str) -> Any:
    """Post a customer message; when the bot offers a person (low confidence), accept the offer."""
    posted = desk.post(conversation_id, text)
    if posted.reply is not None and posted.reply.decision == "offer":
        posted = desk.post(conversation_id, "Yes please")
    return posted
