"""Another process's writes reach this process's dense search without reloading its vector index.

Two embedded stores on one folder behave as two processes when their clients spell the path
differently (Chroma keeps one system, with its own in-memory indexes, per spelling): here the
writer opens the folder through a symlink, as a second process would open it by its own path.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from firstlast.retriever.analysis import TextAnalyzer
from firstlast.retriever.chroma_store import ChromaStore
from firstlast.retriever.embeddings import MiniLMEmbedder
from firstlast.retriever.hybrid import HybridRetriever
from firstlast.retriever.lexical import index_text
from firstlast.types import Chunk, Question

TOPICS = [
    "Refunds are paid back to the original card within ten days.",
    "Invoices can be downloaded as PDF from the billing page.",
    "Two-factor authentication is set up under security settings.",
    "Team plans allow up to fifty members per workspace.",
    "Exports of your data are emailed as a CSV archive.",
    "The mobile app works offline and syncs when you reconnect.",
    "Passwords are reset from the sign-in page with an email link.",
    "Workspaces can be deleted by their owner after a week's notice.",
]


def doc_chunks(doc_id: str, sentences: list[str]) -> list[Chunk]:
    return [
        Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, text=text, title=doc_id, position=i)
        for i, text in enumerate(sentences)
    ]


def write(store: ChromaStore, minilm: MiniLMEmbedder, chunks: list[Chunk]) -> None:
    store.delete_documents(dict.fromkeys(c.doc_id for c in chunks))
    store.upsert(chunks, minilm.embed_documents([index_text(c) for c in chunks]))


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The store's folder and a second spelling of it (a symlink): a second process's view."""
    (tmp_path / "kb").mkdir()
    (tmp_path / "other").symlink_to(tmp_path / "kb")
    return tmp_path / "kb", tmp_path / "other"


def foreign_writes(writer: ChromaStore, minilm: MiniLMEmbedder) -> None:
    """A new document, a changed one (its chunk ids kept, one fewer chunk) and a deleted one."""
    write(writer, minilm, doc_chunks("new", ["Hamsters may join the Team plan as honorary members."]))
    write(
        writer, minilm, doc_chunks("d1", ["Invoices are now sent by post only.", "Ask billing for copies."])
    )
    writer.delete_documents(["d2"])


def test_dense_search_equals_a_fresh_index_after_another_process_writes(
    folders: tuple[Path, Path], minilm: MiniLMEmbedder, tmp_path: Path
) -> None:
    kb, other = folders
    reader = ChromaStore.embedded(kb, "kb_overlay")
    for d, start in enumerate(range(0, len(TOPICS), 2)):
        write(reader, minilm, doc_chunks(f"d{d}", TOPICS[start : start + 2]))
    queries = [minilm.embed_query(q) for q in ("hamster team plan", "download invoices", "reset password")]
    reader.dense_search(queries[0], 3)  # this process's index is loaded now
    since = time.time_ns()
    writer = ChromaStore.embedded(other, "kb_overlay")
    foreign_writes(writer, minilm)
    assert all(c.doc_id != "new" for c, _ in reader.dense_search(queries[0], 20)), "index not stale"

    feed = reader.changes(since)
    assert feed is not None and len(feed) == 4  # two deletions, two upserts
    embed = lambda chunks: minilm.embed_documents([index_text(c) for c in chunks])  # noqa: E731
    assert reader.refresh(reader.version(), feed, embed) is True
    assert reader.reopens == 0

    (tmp_path / "third").symlink_to(kb)
    fresh = ChromaStore.embedded(tmp_path / "third", "kb_overlay")  # loads the index as it is now
    for query in queries:
        for k in (1, 3, 20):
            got, want = reader.dense_search(query, k), fresh.dense_search(query, k)
            assert [c.id for c, _ in got] == [c.id for c, _ in want]
            assert [c.text for c, _ in got] == [c.text for c, _ in want]
            assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    everything = reader.dense_search(queries[1], 20)
    assert {c.doc_id for c, _ in everything} == {"d0", "d1", "d3", "new"}  # d2 is gone
    assert sorted(c.id for c, _ in everything if c.doc_id == "d1") == ["d1#0", "d1#1"]

    # This process's own write of an overlay document replaces the overlay's copy.
    write(reader, minilm, doc_chunks("new", ["Hamsters are no longer allowed on any plan."]))
    (tmp_path / "fourth").symlink_to(kb)
    latest = ChromaStore.embedded(tmp_path / "fourth", "kb_overlay")
    got, want = reader.dense_search(queries[0], 5), latest.dense_search(queries[0], 5)
    assert [(c.id, c.text) for c, _ in got] == [(c.id, c.text) for c, _ in want]
    assert reader.reopens == 0


def test_another_process_write_is_retrieved_at_once_without_a_reload(
    folders: tuple[Path, Path], minilm: MiniLMEmbedder
) -> None:
    kb, other = folders
    store = ChromaStore.embedded(kb, "kb_hybrid")
    for d, start in enumerate(range(0, len(TOPICS), 2)):
        write(store, minilm, doc_chunks(f"d{d}", TOPICS[start : start + 2]))
    retriever = HybridRetriever(store, minilm, top_k=3, candidates=10, analyzer=TextAnalyzer())
    assert retriever.retrieve(Question("How do I download invoices?"))[0].chunk.doc_id in {"d0", "d1"}
    foreign_writes(ChromaStore.embedded(other, "kb_hybrid"), minilm)

    hits = retriever.retrieve(Question("Can hamsters join the Team plan?"))
    assert hits[0].chunk.doc_id == "new"
    assert hits[0].dense_rank == 1, "dense search did not see the other process's write"
    security = retriever.retrieve(Question("How do I set up two-factor authentication?"), k=10)
    texts = [h.chunk.text for h in security]
    assert "Invoices are now sent by post only." in texts
    assert not set(TOPICS[2:6]) & set(texts)  # d1's old text, and d2 (deleted)
    assert store.reopens == 0


def test_a_large_foreign_write_reloads_the_index_and_is_found(
    folders: tuple[Path, Path], minilm: MiniLMEmbedder
) -> None:
    kb, other = folders
    store = ChromaStore.embedded(kb, "kb_large")
    write(store, minilm, doc_chunks("d0", TOPICS[:3]))
    store.OVERLAY_EMBED_MAX = 1  # more changed chunks than this: load the index again instead
    retriever = HybridRetriever(store, minilm, top_k=3, candidates=10, analyzer=TextAnalyzer())
    retriever.retrieve(Question("refunds"))
    write(ChromaStore.embedded(other, "kb_large"), minilm, doc_chunks("big", TOPICS[3:]))

    hits = retriever.retrieve(Question("Does the mobile app work offline?"))
    assert hits[0].chunk.doc_id == "big" and hits[0].dense_rank == 1
    assert store.reopens == 1


def test_writes_made_before_the_index_was_loaded_are_not_embedded_again(
    folders: tuple[Path, Path], minilm: MiniLMEmbedder
) -> None:
    """The retriever re-reads the feed 30 s back; what the loaded index already has is skipped."""
    kb, other = folders
    writer = ChromaStore.embedded(other, "kb_before")
    write(writer, minilm, doc_chunks("old", TOPICS[:4]))
    store = ChromaStore.embedded(kb, "kb_before")
    store.OVERLAY_EMBED_MAX = 1
    retriever = HybridRetriever(store, minilm, top_k=3, candidates=10, analyzer=TextAnalyzer())
    retriever.retrieve(Question("refunds"))
    write(writer, minilm, doc_chunks("new", ["Hamsters may join the Team plan as honorary members."]))

    hits = retriever.retrieve(Question("Can hamsters join the Team plan?"))
    assert hits[0].chunk.doc_id == "new" and hits[0].dense_rank == 1
    assert store.reopens == 0  # only the one new chunk was embedded, not "old"'s four again
