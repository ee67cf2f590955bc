"""The Chroma store reads everything back in pages, and its change feed lists every write."""

from __future__ import annotations

import time

import numpy as np
import pytest

from firstlast.retriever.chroma_store import ChromaStore
from firstlast.types import Chunk


def chunks(n: int) -> list[Chunk]:
    return [
        Chunk(id=f"c{i}", doc_id=f"d{i // 2}", text=f"text {i}", title="T", position=i % 2) for i in range(n)
    ]


def test_everything_is_read_back_across_pages(tmp_path) -> None:
    store = ChromaStore.embedded(tmp_path, "kb_pages")
    store.upsert(chunks(7), np.random.default_rng(0).random((7, 4)))
    store._PAGE = 2  # one get() of ~32k records or more fails inside Chroma, so reads are paged
    assert sorted(c.id for c in store.chunks()) == [f"c{i}" for i in range(7)]
    documents = store.documents()
    assert sorted(documents) == ["d0", "d1", "d2", "d3"]
    assert [documents[d].chunks for d in sorted(documents)] == [2, 2, 2, 1]
    some = store.documents(["d1", "d3", "missing"])  # by id: an ingest reads only its own documents
    assert {d: doc.chunks for d, doc in some.items()} == {"d1": 2, "d3": 1}
    assert some["d1"] == documents["d1"]


def test_the_change_feed_lists_writes_and_deletions_in_order(tmp_path) -> None:
    store = ChromaStore.embedded(tmp_path, "kb_feed")
    since = time.time_ns()
    store.upsert(chunks(4), np.random.default_rng(0).random((4, 4)))
    store.delete_documents(["d0", "missing"])
    feed = store.changes(since)
    assert feed is not None
    assert [c.doc_ids for c in feed] == [("d0", "d1"), ("d0",)]
    assert store.changes(feed[0].seq) == feed[1:]
    assert [c.id for c in store.chunks_of(["d0", "d1"])] == ["c2", "c3"]
    assert store.changes(0) is None  # the feed keeps a day: older readers reload everything


def test_dense_search_reads_hits_once_and_follows_this_process_writes(tmp_path) -> None:
    store = ChromaStore.embedded(tmp_path, "kb_hits")
    vectors = np.eye(4, dtype=np.float32)
    store.upsert(chunks(4), vectors)
    query = np.array([1.0, 0.1, 0.0, 0.0], dtype=np.float32)
    assert [(c.id, c.text) for c, _ in store.dense_search(query, 2)] == [("c0", "text 0"), ("c1", "text 1")]
    assert set(store._hits) == {"c0", "c1"}  # their text and metadata, read once

    changed = [Chunk(id="c0", doc_id="d0", text="new text", title="T2", position=0)]
    store.upsert(changed, vectors[:1])  # the same chunk id, new text: the cached hit must go
    hit, score = store.dense_search(query, 1)[0]
    assert (hit.id, hit.text, hit.title) == ("c0", "new text", "T2")
    assert score == pytest.approx(float(query @ vectors[0] / np.linalg.norm(query)), abs=1e-5)

    store.delete_documents(["d0"])
    assert {c.id for c, _ in store.dense_search(query, 2)} == {"c2", "c3"}  # c0 and c1 are gone
