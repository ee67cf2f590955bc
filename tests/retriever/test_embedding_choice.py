"""Which embedding model a knowledge base uses: chosen by its language (``auto``), recorded in the
collection, reused by every later process, and a mismatch refused instead of returning noise."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from tests.conftest import EVALDATA, SAMPLE_KB

from firstlast.config import Settings
from firstlast.errors import ConfigError
from firstlast.ingest.loaders import load_path
from firstlast.retriever.embeddings import AutoEmbedder, E5Embedder, MiniLMEmbedder
from firstlast.types import Document, Question
from firstlast.wiring import build


def japanese_faq(n: int) -> list[Document]:
    with (EVALDATA / "localgovfaq_ja" / "kb.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, n)]
    return [Document(id=r["id"], title=r["title"], text=r["text"], lang="ja") for r in rows]


def test_auto_gives_a_japanese_kb_the_multilingual_model_and_later_processes_reuse_it(
    make_settings: Callable[..., Settings],
):
    settings = make_settings()
    assert settings.embedding.backend == "auto"
    services = build(settings)
    assert isinstance(services.embedder, AutoEmbedder)
    docs = japanese_faq(30)
    services.ingestor.ingest(docs, source="faq")
    assert services.store.embedding() == "e5"
    assert services.embedder.multilingual

    target = docs[7]
    hits = services.retriever.retrieve(Question(target.title))
    assert hits[0].chunk.doc_id == target.id
    assert any(h.dense_score is not None for h in hits)  # dense search ran: e5 reads Japanese

    again = build(settings)  # a second process on the same stores
    assert isinstance(again.embedder, E5Embedder)
    assert again.retriever.retrieve(Question(target.title))[0].chunk.doc_id == target.id


def test_auto_gives_an_english_kb_minilm_and_a_mismatched_backend_is_refused(
    make_settings: Callable[..., Settings],
):
    services = build(make_settings())
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    assert services.store.embedding() == "minilm"
    assert isinstance(build(make_settings()).embedder, MiniLMEmbedder)

    with pytest.raises(ConfigError, match=r"embedded with 'minilm'.*FIRSTLAST_EMBEDDING__BACKEND=minilm"):
        build(make_settings(embedding={"backend": "e5"}))


def test_an_empty_knowledge_base_fixes_nothing(make_settings: Callable[..., Settings]):
    services = build(make_settings())
    assert services.retriever.retrieve(Question("anything at all?")) == []
    assert services.store.embedding() is None
    assert build(make_settings(embedding={"backend": "e5"})).embedder.name == "e5"


def test_document_vectors_embed_each_text_once_and_drop_the_oldest(embedder) -> None:
    from firstlast.retriever.embeddings import DocumentVectors

    cache = DocumentVectors(embedder, size=2)
    first = cache.get(["reset my password", "export notes", "reset my password"])
    assert first.shape == (3, embedder.dimension) and embedder.documents_embedded == 2
    assert (first[0] == first[2]).all()
    cache.get(["export notes"])
    assert embedder.documents_embedded == 2  # cached
    cache.get(["cancel my plan"])  # a third text: the oldest ("reset my password") goes
    cache.get(["reset my password"])
    assert embedder.documents_embedded == 4
    assert cache.get([]).shape == (0, 1)
