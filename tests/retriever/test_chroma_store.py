"""The Chroma store reads everything back in pages, and its change feed lists every write."""

from __future__ import annotations

import time

import numpy as np

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
