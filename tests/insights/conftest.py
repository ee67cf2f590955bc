"""The simulated traffic the insights tests share: one app with the sample help center and the A/B
rollout at 50%, and a seeded simulator's visits through its HTTP API (built once per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from firstlast.api.app import create_app
from firstlast.config import Settings
from firstlast.ingest.loaders import load_path
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.testing.traffic import Script, Simulator, Visit, VisitResult
from firstlast.wiring import Services, build
from tests.conftest import ADMIN_KEY, AGENT_KEY, SAMPLE_KB, VOICE, WIDGET_KEY

QUESTIONS = [  # answerable from the sample help center, and a few it cannot answer
    "How do I turn on two-factor authentication?",
    "How can I restore a note I deleted?",
    "How do I export my notes?",
    "Do you offer a discount for non-profit organisations?",
    "Can I pay with bitcoin?",
    "Is there a dark mode for the calendar?",
]


def _services(root: Path, minilm: MiniLMEmbedder, **overrides: object) -> Services:
    settings = Settings(
        data_dir=root,
        answer={"voice_profile": VOICE},
        api={"widget_keys": [WIDGET_KEY], "agent_keys": [AGENT_KEY], "admin_keys": [ADMIN_KEY]},
        **overrides,  # type: ignore[arg-type]
    )
    services = build(settings, embedder=minilm)
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    return services


@pytest.fixture(scope="module")
def traffic(
    tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder
) -> Iterator[tuple[Services, TestClient, list[VisitResult]]]:
    services = _services(
        tmp_path_factory.mktemp("traffic"),
        minilm,
        rollout={"enabled": True, "bot_percent": 50, "unit": "user"},  # seeded users: the same arms every run
    )
    client = TestClient(create_app(services))
    script = Script(seed=11, repeat_when_unhelped=0.0)
    visits = [Visit(q, context={"attributes": {"user_id": f"u{i}"}}) for i, q in enumerate(QUESTIONS * 4)]
    results = Simulator(client, WIDGET_KEY, AGENT_KEY, script).run(visits)
    yield services, client, results
    services.close()
