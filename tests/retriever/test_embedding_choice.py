"""Which embedding model a knowledge base uses: per language family (``auto``: MiniLM for English,
e5 for Japanese and Korean, each in its own collection), recorded in the collection, reused by every
later process, and a mismatch refused instead of returning noise."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from tests.conftest import EVALDATA, SAMPLE_KB

from firstlast.config import Settings
from firstlast.errors import ConfigError
from firstlast.ingest.loaders import load_path
from firstlast.retriever.chroma_store import ChromaStore
from firstlast.retriever.embeddings import E5Embedder
from firstlast.retriever.families import FamilyEmbedder, FamilyStore
from firstlast.types import Document, Question
from firstlast.wiring import build, build_store


def japanese_faq(n: int) -> list[Document]:
    with (EVALDATA / "localgovfaq_ja" / "kb.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, n)]
    return [Document(id=r["id"], title=r["title"], text=r["text"], lang="ja") for r in rows]


def korean_faq(n: int) -> list[Document]:
    with (EVALDATA / "smartstore_faq_ko" / "kb.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, n)]
    return [Document(id=f"ko-{r['id']}", title=r["title"], text=r["text"], lang="ko") for r in rows]


def test_a_mixed_kb_gets_minilm_for_english_and_e5_for_japanese_and_korean(
    make_settings: Callable[..., Settings],
):
    settings = make_settings()
    assert settings.embedding.backend == "auto"
    services = build(settings)
    assert isinstance(services.embedder, FamilyEmbedder) and isinstance(services.store, FamilyStore)
    _, english = load_path(SAMPLE_KB)
    japanese, korean = japanese_faq(12), korean_faq(12)
    services.ingestor.ingest([*english, *japanese, *korean], source="mixed")

    embedder = services.embedder
    assert embedder.model("latin").name == "minilm" and embedder.model("cjk").name == "e5"
    latin, cjk = build_store(settings), build_store(settings, "_cjk")  # the two collections
    assert {c.doc_id for c in latin.chunks()} == {d.id for d in english}
    assert {c.doc_id for c in cjk.chunks()} == {d.id for d in [*japanese, *korean]}
    assert services.store.count() == latin.count() + cjk.count()
    assert services.store.embedding() == "families:latin,cjk"

    for question, doc_id, e5 in [
        (Question(japanese[7].title), japanese[7].id, 1.0),  # a Japanese FAQ question
        (Question("How do I reset my password?"), "account-reset-password", 0.0),
    ]:
        hits = services.retriever.retrieve(question)
        assert hits[0].chunk.doc_id == doc_id, question
        assert hits[0].dense_score is not None  # found by its family's model, not only by BM25
        draft = services.bot.ask(question).draft
        # the confidence reads the scale of the model that scored this question, whichever
        # family holds most of the knowledge base (and picks the calibration fitted for it)
        assert draft is not None and draft.signals["multilingual_model"] == e5, question
    korean_hit = services.retriever.retrieve(Question("네이버 커머스 ID로 스마트스토어센터에 가입하는 방법"))[
        0
    ]
    assert korean_hit.chunk.doc_id == "ko-faq0000" and korean_hit.dense_score is not None

    again = build(settings)  # a later process reads the recorded families
    assert isinstance(again.embedder, FamilyEmbedder)
    assert again.retriever.retrieve(Question(japanese[7].title))[0].chunk.doc_id == japanese[7].id


def test_a_reader_searches_the_family_another_writer_fills_first(make_settings: Callable[..., Settings]):
    """Another process's first Japanese article: the reader counted an empty Japanese collection
    before (its chunk counts are kept between changes) and must count again when it catches up."""
    settings = make_settings()
    reader, writer = build(settings), build(settings)
    _, english = load_path(SAMPLE_KB)
    writer.ingestor.ingest(english, source="kb")
    assert reader.retriever.retrieve(Question("How do I reset my password?"))[0].dense_score is not None
    assert reader.store.count() == writer.store.count() > 0

    japanese = japanese_faq(6)
    writer.ingestor.ingest(japanese, source="faq")
    hit = reader.retriever.retrieve(Question(japanese[3].title))[0]
    assert hit.chunk.doc_id == japanese[3].id and hit.dense_score is not None
    assert reader.store.count() == writer.store.count()


def test_a_kb_written_by_one_model_before_families_keeps_it(make_settings: Callable[..., Settings]):
    services = build(make_settings(embedding={"backend": "e5"}))
    docs = japanese_faq(8)
    services.ingestor.ingest(docs, source="faq")
    assert services.store.embedding() == "e5"
    again = build(make_settings())  # auto
    assert isinstance(again.embedder, E5Embedder) and isinstance(again.store, ChromaStore)
    assert again.retriever.retrieve(Question(docs[3].title))[0].chunk.doc_id == docs[3].id


def test_an_english_kb_never_loads_e5_and_a_mismatched_backend_is_refused(
    make_settings: Callable[..., Settings],
):
    services = build(make_settings())
    source, documents = load_path(SAMPLE_KB)
    services.ingestor.ingest(documents, source=source)
    assert services.store.embedding() == "families:latin,cjk"
    assert isinstance(services.embedder, FamilyEmbedder)
    assert services.embedder.families == ["latin", "cjk"]
    outcome = services.bot.ask(Question("How do I reset my password?"))
    assert outcome.hits[0].dense_score is not None
    assert outcome.draft is not None and outcome.draft.signals["multilingual_model"] == 0.0  # MiniLM's scale
    assert "cjk" not in services.embedder._models  # nothing CJK was written or asked

    with pytest.raises(ConfigError, match=r"embedded with 'families:latin,cjk'"):
        build(make_settings(embedding={"backend": "minilm"}))


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
