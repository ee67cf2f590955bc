"""A dense index per language family, so a knowledge base can mix English and Japanese/Korean.

MiniLM reads English well and CJK not at all; multilingual-e5 reads CJK at about 4x MiniLM's CPU
cost. The ``auto`` backend therefore embeds each text with its family's model (Latin script:
MiniLM; Hangul, kana or kanji: e5) and keeps each family's vectors in a collection of its own.

Mathematically the embedding is the direct sum of the families' spaces: a text's vector is the
concatenation of one block per family, all zero but its own family's (unit) block.

    [ minilm(text) | 0 ]   an English text          [ 0 | e5(text) ]   a Japanese text

Dot products between such vectors are the family model's cosine within a family and 0 across
families, so everything that compares vectors (dense search, dedupe, grounding) keeps working,
unchanged, on mixed knowledge bases. :class:`FamilyStore` stores each block in its family's Chroma
collection (one HNSW graph per model: a single graph over orthogonal clusters would not connect
them) and searches the families a query vector has weight in, merging by the full dot product, so
it returns exactly what one exact index over the concatenated vectors would.

A question is embedded in its own family only: an English question searches the English articles
with MiniLM, a Korean one the CJK articles with e5; BM25 covers every article in either case.

    embedder = FamilyEmbedder({"latin": lambda: MiniLMEmbedder(), "cjk": lambda: E5Embedder()})
    store = FamilyStore({"latin": ChromaStore.embedded(p, "kb"), "cjk": ChromaStore.embedded(p, "kb_cjk")})
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from firstlast.retriever.analysis import script_family
from firstlast.retriever.chroma_store import Change, ChunkEmbedder, KnowledgeStore, StoredDocument
from firstlast.retriever.embeddings import Embedder
from firstlast.types import Chunk

FAMILIES = ("latin", "cjk")


class FamilyEmbedder:
    """Embeds each text with its family's model into that family's block of a longer vector.

    A family's model is built on first use: an English knowledge base never loads e5.
    """

    def __init__(self, models: Mapping[str, Callable[[], Embedder]], dimension: int = 384) -> None:
        unknown = set(models) - set(FAMILIES)
        if unknown or not models:
            raise ValueError(f"models must be keyed by {FAMILIES}, got {sorted(models)}")
        if dimension <= 0:
            raise ValueError(f"dimension must be > 0, got {dimension}")
        self._factories = dict(models)
        self._block = dimension
        self._families = [f for f in FAMILIES if f in models]
        self._models: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    # -- the Embedder protocol --------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "families:" + ",".join(self._families)

    @property
    def dimension(self) -> int:
        return self._block * len(self._families)

    @property
    def multilingual(self) -> bool:
        return "cjk" in self._factories  # CJK text is read by its own model

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            groups.setdefault(self.family(text), []).append(i)
        for family, rows in groups.items():
            start = self.block(family)
            vectors = self.model(family).embed_documents([texts[i] for i in rows])
            out[rows, start : start + self._block] = vectors
        return out

    def embed_query(self, text: str) -> np.ndarray:
        family = self.family(text)
        out = np.zeros(self.dimension, dtype=np.float32)
        start = self.block(family)
        out[start : start + self._block] = self.model(family).embed_query(text)
        return out

    # -- families ---------------------------------------------------------------------------------
    def family(self, text: str) -> str:
        """The text's family, or the only one there is."""
        family = script_family(text)
        return family if family in self._factories else self._families[0]

    def block(self, family: str) -> int:
        """Where the family's block starts in a vector."""
        return self._families.index(family) * self._block

    @property
    def families(self) -> list[str]:
        return list(self._families)

    def model(self, family: str) -> Embedder:
        with self._lock:
            if family not in self._models:
                model = self._factories[family]()
                if model.dimension != self._block:
                    raise ValueError(f"{family} model {model.name!r} has dimension {model.dimension}")
                self._models[family] = model
            return self._models[family]


class FamilyStore:
    """One knowledge store per family behind the :class:`KnowledgeStore` protocol.

    Vectors come from a :class:`FamilyEmbedder` with the same families, in the same order: a
    chunk goes to the family whose block of its vector is non-zero. The first family's store is
    the primary one and records which embedding wrote the knowledge base.
    """

    def __init__(self, stores: Mapping[str, KnowledgeStore], dimension: int = 384) -> None:
        unknown = set(stores) - set(FAMILIES)
        if unknown or not stores:
            raise ValueError(f"stores must be keyed by {FAMILIES}, got {sorted(stores)}")
        self._families = [f for f in FAMILIES if f in stores]
        self._stores = [stores[f] for f in self._families]
        self._block = dimension

    def _blocks(self, vectors: np.ndarray) -> np.ndarray:
        """(rows, families, block) view of (rows, families * block) vectors."""
        return np.asarray(vectors, dtype=np.float32).reshape(-1, len(self._stores), self._block)

    # -- writes -----------------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        # the write path deletes a changed document (in every family) before writing its chunks,
        # so a chunk never has to move from one family to another
        if len(chunks) != len(vectors):
            raise ValueError(f"got {len(chunks)} chunks but {len(vectors)} vectors")
        blocks = self._blocks(vectors)
        owner = np.argmax(np.linalg.norm(blocks, axis=2), axis=1) if len(chunks) else []
        for f, store in enumerate(self._stores):
            rows = [i for i, o in enumerate(owner) if o == f]
            if rows:
                store.upsert([chunks[i] for i in rows], blocks[rows, f])

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        ids = list(doc_ids)
        return sum(store.delete_documents(ids) for store in self._stores)

    def record_embedding(self, name: str) -> None:
        self._stores[0].record_embedding(name)

    # -- reads ------------------------------------------------------------------------------------
    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]:
        ids = None if doc_ids is None else list(doc_ids)
        merged: dict[str, StoredDocument] = {}
        for store in self._stores:
            for doc_id, doc in store.documents(ids).items():
                if doc_id in merged:
                    doc = replace(merged[doc_id], chunks=merged[doc_id].chunks + doc.chunks)
                merged[doc_id] = doc
        return merged

    def chunks(self) -> list[Chunk]:
        return [c for store in self._stores for c in store.chunks()]

    def chunks_of(self, doc_ids: Iterable[str]) -> list[Chunk]:
        ids = list(doc_ids)
        return [c for store in self._stores for c in store.chunks_of(ids)]

    def changes(self, since: int) -> list[Change] | None:
        feeds = [store.changes(since) for store in self._stores]
        if any(feed is None for feed in feeds):
            return None
        return sorted((c for feed in feeds for c in feed or []), key=lambda c: c.seq)

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        blocks = self._blocks(vector)[0]
        found: list[tuple[Chunk, float]] = []
        for block, store in zip(blocks, self._stores):
            weight = float(np.linalg.norm(block))
            if weight > 1e-6:  # the question's family (an empty collection finds nothing)
                found += [(c, weight * s) for c, s in store.dense_search(block / weight, k)]
        found.sort(key=lambda hit: -hit[1])
        return found[:k]

    def version(self) -> str:
        return "|".join(store.version() for store in self._stores)

    def writes(self) -> int:
        return sum(store.writes() for store in self._stores)

    def count(self) -> int:
        return sum(store.count() for store in self._stores)

    def embedding(self) -> str | None:
        return self._stores[0].embedding()

    def refresh(
        self, version: str, changes: Sequence[Change] | None = None, embed: ChunkEmbedder | None = None
    ) -> bool:
        """Each family's store follows the changes with its own block of ``embed``'s vectors."""
        parts = version.split("|")
        if len(parts) != len(self._stores):
            return False
        return any(
            [
                store.refresh(v, changes, None if embed is None else self._block_of(embed, f))
                for f, (store, v) in enumerate(zip(self._stores, parts))
            ]
        )

    def _block_of(self, embed: ChunkEmbedder, family: int) -> ChunkEmbedder:
        return lambda chunks: self._blocks(embed(chunks))[:, family]
