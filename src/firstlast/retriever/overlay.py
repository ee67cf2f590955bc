"""Another process's recent writes, for a process whose embedded vector index predates them.

Embedded Chroma loads each process's HNSW index into memory when the collection is opened. Another
process's writes reach SQLite at once (``get``, counts, metadata filters) but not that index, and
``get(include=["embeddings"])`` reads the stale index too (Chroma 1.5.9: a changed record comes back
with its old vector, a new one fails with "Error finding id"; a deleted one is still found by a
query, with no document or metadata). Reloading the whole index takes seconds at 50k chunks.

So a reading process keeps the documents other processes changed since its index was loaded in an
:class:`Overlay`: their current chunks (read back from SQLite) and vectors (embedded again here,
with the same model and text as the ingest path). Dense search asks the stale index for more
than ``k``, drops every chunk of an overlay document, and merges what is left with an exact search
over the overlay: the same chunks and scores a freshly loaded index would return for them.

    overlay = Overlay().replaced({"faq/refunds"}, chunks, vectors)
    hits = overlay.merge(stale_hits, query_vector, k)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from firstlast.types import Chunk


def _unit(vectors: np.ndarray) -> np.ndarray:
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True)
class Overlay:
    """The current chunks and unit vectors of ``docs``, documents the stale index must not answer
    for (a deleted document is in ``docs`` with no chunks). Immutable: searches read one snapshot."""

    docs: frozenset[str] = frozenset()
    chunks: tuple[Chunk, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.chunks)

    def replaced(self, doc_ids: Collection[str], chunks: Sequence[Chunk], vectors: np.ndarray) -> Overlay:
        """These documents as they are now: ``chunks`` (all of them, none for a deleted one)."""
        if len(chunks) != len(vectors):
            raise ValueError(f"got {len(chunks)} chunks but {len(vectors)} vectors")
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in doc_ids]
        return self._with(frozenset(doc_ids) | self.docs, keep, chunks, vectors)

    def upserted(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> Overlay:
        """After this process's own upsert: its chunks of overlay documents replace those with the
        same ids (the rest went into this process's index, which is fresh for them)."""
        rows = [i for i, c in enumerate(chunks) if c.doc_id in self.docs]
        if not rows:
            return self
        ids = {chunks[i].id for i in rows}
        keep = [i for i, c in enumerate(self.chunks) if c.id not in ids]
        return self._with(self.docs, keep, [chunks[i] for i in rows], np.asarray(vectors)[rows])

    def deleted(self, doc_ids: Collection[str]) -> Overlay:
        """After this process's own deletion: the documents stay hidden in the stale index."""
        if not self.docs & set(doc_ids):
            return self
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in doc_ids]
        return self._with(self.docs, keep, [], np.zeros((0, 0), dtype=np.float32))

    def _with(
        self, docs: frozenset[str], keep: list[int], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> Overlay:
        parts = [self.vectors[keep]] if keep else []
        if len(chunks):
            parts.append(_unit(vectors))
        merged = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        return Overlay(docs, tuple(self.chunks[i] for i in keep) + tuple(chunks), merged)

    def hides(self, chunk: Chunk) -> bool:
        return chunk.doc_id in self.docs

    def merge(
        self, stale: Sequence[tuple[Chunk, float]], vector: np.ndarray, k: int
    ) -> list[tuple[Chunk, float]]:
        """The best ``k`` of the stale index's hits outside the overlay's documents and the overlay's
        own chunks, by cosine similarity (Chroma's ``1 - distance``)."""
        found = [hit for hit in stale if not self.hides(hit[0])]
        if len(self.chunks):
            query = _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
            scores = self.vectors @ query
            top = np.argsort(-scores)[:k]
            found += [(self.chunks[i], float(scores[i])) for i in top]
        found.sort(key=lambda hit: -hit[1])
        return found[:k]
