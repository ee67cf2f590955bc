"""The ingest pipeline does only the work that changed: real Chroma, real MiniLM, counted embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest

from firstlast.errors import Conflict, InvalidInput
from firstlast.ingest.loaders import load_path
from firstlast.types import Document
from firstlast.wiring import build

SAMPLE_KB = Path(__file__).resolve().parents[2] / "examples" / "sample_kb"


def docs(source: str = "help", **texts: str) -> list[Document]:
    return [Document(doc_id, doc_id.title(), text, source=source) for doc_id, text in texts.items()]


def chunk_texts(services, doc_id: str) -> list[str]:
    return [c.text for c in services.store.chunks() if c.doc_id == doc_id]


def test_reingesting_unchanged_sample_kb_embeds_nothing(sample_services, embedder):
    source, documents = load_path(SAMPLE_KB)
    chunks_before = sample_services.store.count()
    version_before = sample_services.store.version()
    embedder.reset()

    report = sample_services.ingestor.ingest(documents, source=source)

    assert embedder.documents_embedded == 0
    assert report.documents_seen == len(documents) == 23
    assert report.unchanged == 23
    assert (report.added, report.updated, report.removed, report.chunks_embedded) == (0, 0, 0, 0)
    assert sample_services.store.count() == chunks_before
    assert sample_services.store.version() == version_before  # readers see no change


def test_changed_document_replaces_its_old_chunks_and_only_it_is_reembedded(make_settings, embedder):
    services = build(make_settings(chunking={"chunk_tokens": 32, "overlap_tokens": 0}), embedder=embedder)
    long_refunds = " ".join(
        f"Old refund rule {i} says annual payments come back within fourteen days." for i in range(12)
    )
    first = docs(
        refunds=long_refunds,
        sync="Sync runs every few seconds while the app is open.",
        export="Export your notes as Markdown from Settings.",
    )
    services.ingestor.ingest(first, source="help")
    assert len(chunk_texts(services, "refunds")) > 2
    embedder.reset()

    second = docs(
        refunds="Refunds for annual payments are possible within 30 days.",
        sync=first[1].text,
        export=first[2].text,
    )
    report = services.ingestor.ingest(second, source="help")

    assert (report.updated, report.unchanged, report.added) == (1, 2, 0)
    assert embedder.documents_embedded == report.chunks_embedded == 1
    assert chunk_texts(services, "refunds") == ["Refunds for annual payments are possible within 30 days."]
    assert not any("Old refund rule" in c.text for c in services.store.chunks())
    assert chunk_texts(services, "sync") == [first[1].text]
    assert chunk_texts(services, "export") == [first[2].text]


def test_changed_document_is_found_by_its_new_text(services):
    services.ingestor.ingest(docs(plans="Plus costs eight dollars."), source="help")
    services.ingestor.ingest(docs(plans="Plus costs nine dollars, billed through Paddle."), source="help")
    hits = services.store.dense_search(services.embedder.embed_query("Paddle billing"), k=5)
    assert [c.text for c, _ in hits] == ["Plus costs nine dollars, billed through Paddle."]


def test_prune_removes_documents_missing_from_the_source_and_leaves_other_sources_alone(services, embedder):
    services.ingestor.ingest(docs(a="Alpha article.", b="Beta article.", c="Gamma article."), source="help")
    services.ingestor.ingest(docs("upload", x="An uploaded file."), source="upload")
    embedder.reset()

    report = services.ingestor.ingest(docs(a="Alpha article.", b="Beta article."), source="help", prune=True)

    assert report.removed == 1
    assert report.unchanged == 2
    assert embedder.documents_embedded == 0
    assert set(services.store.documents()) == {"a", "b", "x"}
    assert services.store.documents()["x"].source == "upload"


def test_prune_without_a_source_is_invalid_input_and_writes_nothing(services, embedder):
    with pytest.raises(InvalidInput, match="prune needs the source"):
        services.ingestor.ingest(docs(a="Alpha article."), prune=True)
    assert services.store.count() == 0
    assert embedder.documents_embedded == 0


def test_document_without_an_id_is_invalid_input(services):
    with pytest.raises(InvalidInput, match="non-empty id"):
        services.ingestor.ingest([Document("  ", "T", "text")], source="help")


def test_same_document_under_another_source_is_refused_unless_taken_over(services, embedder):
    """A moved folder takes its documents over only when told to (``firstlast ingest --take-over``);
    otherwise one source never silently replaces another's document (issue #13)."""
    services.ingestor.ingest(docs(a="Alpha article."), source="old-folder")
    embedder.reset()
    with pytest.raises(Conflict, match="old-folder"):
        services.ingestor.ingest(docs(a="Alpha article."), source="new-folder")
    assert services.store.documents()["a"].source == "old-folder"
    report = services.ingestor.ingest(docs(a="Alpha article."), source="new-folder", take_over=True)
    assert report.updated == 1 and embedder.documents_embedded == 1
    assert services.store.documents()["a"].source == "new-folder"
