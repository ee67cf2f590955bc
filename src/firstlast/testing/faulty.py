"""A KnowledgeStore wrapper that fails on purpose, around a real store: the knowledge base dying in
the middle of a write, a delete or a search, at the store seam (no mock library).

    store = FaultyStore(build_store(settings))
    store.failing = {"upsert"}   # the next writes store half their chunks, then raise
    store.failing = set()        # the knowledge base is back
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from firstlast.errors import BackendError
from firstlast.retriever.chroma_store import Change, ChunkEmbedder, KnowledgeStore, StoredDocument
from firstlast.types import Chunk

Fault = Literal["upsert", "delete", "search"]


class FaultyStore:
    def __init__(self, inner: KnowledgeStore) -> None:
        self.inner = inner
        self.failing: set[Fault] = set()
        self.failures = 0  # how many calls failed on purpose

    def _fail(self, what: Fault) -> None:
        self.failures += 1
        raise BackendError(f"injected failure: the knowledge base died during {what}")

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if "upsert" in self.failing:
            half = len(chunks) // 2
            if half:
                self.inner.upsert(chunks[:half], vectors[:half])  # half written, then the crash
            self._fail("upsert")
        self.inner.upsert(chunks, vectors)

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        if "delete" in self.failing:
            self._fail("delete")
        return self.inner.delete_documents(doc_ids)

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        if "search" in self.failing:
            self._fail("search")
        return self.inner.dense_search(vector, k)

    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]:
        return self.inner.documents(doc_ids)

    def chunks(self) -> list[Chunk]:
        return self.inner.chunks()

    def version(self) -> str:
        return self.inner.version()

    def writes(self) -> int:
        return self.inner.writes()

    def count(self) -> int:
        return self.inner.count()

    def embedding(self) -> str | None:
        return self.inner.embedding()

    def record_embedding(self, name: str) -> None:
        self.inner.record_embedding(name)

    def refresh(
        self, version: str, changes: Sequence[Change] | None = None, embed: ChunkEmbedder | None = None
    ) -> bool:
        return self.inner.refresh(version, changes, embed)

    def changes(self, since: int) -> list[Change] | None:
        return self.inner.changes(since)

    def chunks_of(self, doc_ids: Iterable[str]) -> list[Chunk]:
        return self.inner.chunks_of(doc_ids)
