"""The knowledge store: chunks, their vectors and their document bookkeeping, all in one Chroma
collection (embedded ``PersistentClient`` by default, a ``chroma run`` server when scaled out).

Chroma never embeds anything itself: we always pass vectors, so its default ONNX model (which would
download) is never touched. Every write bumps ``kb_version`` in the collection metadata; readers
(the lexical index, other API processes) use it to notice that the knowledge changed, and then read
only what changed from the change feed: a second collection, ``<name>_changes``, with one record per
write (its time and the documents it touched, deletions included), kept for a day.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from firstlast.errors import BackendError
from firstlast.types import Chunk

_CORE_KEYS = ("doc_id", "title", "section", "url", "lang", "source", "position", "doc_hash")
_EXTRA_PREFIX = "m_"
CHANGES_KEPT_NS = 24 * 3600 * 10**9  # a reader that has not caught up for a day reloads everything


@dataclass(frozen=True)
class Change:
    """One write to the knowledge store: the documents whose chunks it added, replaced or deleted."""

    id: str
    seq: int  # nanoseconds since the epoch, on the writer's clock
    doc_ids: tuple[str, ...]


@dataclass(frozen=True)
class StoredDocument:
    doc_id: str
    title: str
    url: str
    source: str
    doc_hash: str
    chunks: int
    metadata: dict[str, str]


class KnowledgeStore(Protocol):
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete_documents(self, doc_ids: Iterable[str]) -> int: ...

    def documents(self) -> dict[str, StoredDocument]: ...

    def chunks(self) -> list[Chunk]: ...

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]: ...

    def version(self) -> str: ...

    def count(self) -> int: ...

    def embedding(self) -> str | None: ...

    def record_embedding(self, name: str) -> None: ...

    def refresh(self, version: str) -> bool: ...

    def changes(self, since: int) -> list[Change] | None: ...

    def chunks_of(self, doc_ids: Iterable[str]) -> list[Chunk]: ...


_T = TypeVar("_T")


class _Gate:
    """Many calls use the client at once; a reopen waits for them and holds new ones back."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._users = 0
        self._reopening = False

    @contextmanager
    def using(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._reopening)
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                self._cond.notify_all()

    @contextmanager
    def reopening(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._reopening)
            self._reopening = True
            self._cond.wait_for(lambda: self._users == 0)
        try:
            yield
        finally:
            with self._cond:
                self._reopening = False
                self._cond.notify_all()


def _client_call(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run a ChromaStore method while no reopen can swap its client."""

    @functools.wraps(method)
    def call(self: ChromaStore, *args: Any, **kwargs: Any) -> _T:
        with self._gate.using():
            return method(self, *args, **kwargs)

    return call


def _to_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "url": chunk.url,
        "lang": chunk.lang,
        "source": chunk.source,
        "position": chunk.position,
        "doc_hash": chunk.doc_hash,
    }
    for key, value in chunk.metadata.items():
        meta[_EXTRA_PREFIX + key] = str(value)
    return meta


def _to_chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    extra = {k[len(_EXTRA_PREFIX) :]: str(v) for k, v in meta.items() if k.startswith(_EXTRA_PREFIX)}
    return Chunk(
        id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        text=text or "",
        title=str(meta.get("title", "")),
        section=str(meta.get("section", "")),
        url=str(meta.get("url", "")),
        lang=str(meta.get("lang", "")),
        source=str(meta.get("source", "")),
        position=int(meta.get("position", 0)),
        doc_hash=str(meta.get("doc_hash", "")),
        metadata=extra,
    )


class ChromaStore:
    """Chunks in a Chroma collection with cosine distance.

    >>> store = ChromaStore.embedded(Path("data/chroma"), "firstlast_kb")
    """

    _BATCH = 2000

    def __init__(self, client: Any, collection: str) -> None:
        if len(collection) < 3:
            raise ValueError(f"collection name must have at least 3 characters, got {collection!r}")
        self._client = client
        self._name = collection
        self._gate = _Gate()  # refresh() must not swap the client under another thread's call
        try:
            self._collection = client.get_or_create_collection(
                collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"kb_version": "0"},
            )
            self._changes = self._open_changes()
        except Exception as exc:  # chromadb raises many types; all mean the store is unusable
            raise BackendError(f"cannot open Chroma collection {collection!r}: {exc}") from exc
        self._path: Path | None = None  # set for an embedded store, which refresh() may reopen
        self._known_version = str((self._collection.metadata or {}).get("kb_version", "0"))

    def _open_changes(self) -> Any:
        # one record per write, each with a one-dimensional placeholder vector (never searched)
        return self._client.get_or_create_collection(f"{self._name}_changes", embedding_function=None)

    @classmethod
    def embedded(cls, path: Path, collection: str) -> ChromaStore:
        import chromadb
        from chromadb.config import Settings as ChromaClientSettings

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaClientSettings(anonymized_telemetry=False)
        )
        store = cls(client, collection)
        store._path = path
        return store

    @classmethod
    def http(cls, host: str, port: int, collection: str) -> ChromaStore:
        import chromadb
        from chromadb.config import Settings as ChromaClientSettings

        try:
            client = chromadb.HttpClient(
                host=host, port=port, settings=ChromaClientSettings(anonymized_telemetry=False)
            )
        except Exception as exc:
            raise BackendError(f"cannot reach Chroma server at {host}:{port}: {exc}") from exc
        return cls(client, collection)

    # -- writes ---------------------------------------------------------------------------------
    @_client_call
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"got {len(chunks)} chunks but {len(vectors)} vectors")
        for start in range(0, len(chunks), self._BATCH):
            part = chunks[start : start + self._BATCH]
            self._collection.upsert(
                ids=[c.id for c in part],
                embeddings=np.asarray(vectors[start : start + self._BATCH], dtype=np.float32),
                documents=[c.text for c in part],
                metadatas=[_to_metadata(c) for c in part],
            )
        if chunks:
            self._record(dict.fromkeys(c.doc_id for c in chunks))

    @_client_call
    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(doc_ids))
        removed, touched = 0, []
        for start in range(0, len(ids), 500):
            where = {"doc_id": {"$in": ids[start : start + 500]}}
            found = self._collection.get(where=where, include=["metadatas"])
            if found["ids"]:
                self._collection.delete(ids=found["ids"])
                removed += len(found["ids"])
                touched += [str(m.get("doc_id", "")) for m in found["metadatas"] or []]
        if removed:
            self._record(dict.fromkeys(touched))
        return removed

    def _record(self, doc_ids: Iterable[str]) -> None:
        """Add the write to the change feed, drop records older than a day, then bump the version."""
        seq = time.time_ns()
        self._changes.add(
            ids=[uuid.uuid4().hex],
            embeddings=np.ones((1, 1), dtype=np.float32),
            metadatas=[{"seq": seq, "docs": "\n".join(doc_ids)}],
        )
        horizon = seq - CHANGES_KEPT_NS
        self._changes.delete(where={"seq": {"$lt": horizon}})
        version = uuid.uuid4().hex
        self._set_metadata(kb_version=version, changes_from=str(horizon))
        self._known_version = version  # this process's dense index already has its own writes

    def _metadata(self) -> dict[str, Any]:
        return dict(self._client.get_collection(self._name, embedding_function=None).metadata or {})

    def _set_metadata(self, **values: str) -> None:
        # Chroma's modify() replaces the whole metadata mapping, so merge with what is stored.
        self._collection.modify(metadata={**self._metadata(), **values})

    @_client_call
    def record_embedding(self, name: str) -> None:
        """Remember which embedding model wrote the vectors; queries must use the same one."""
        if self._metadata().get("embedding") != name:  # not self.embedding(): no nested gate
            self._set_metadata(embedding=name)

    # -- reads ----------------------------------------------------------------------------------
    _PAGE = 5000  # one get() of every record fails beyond ~32k chunks ("too many SQL variables")

    def _all(self, include: list[str]) -> dict[str, Any]:
        got: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
        offset = 0
        while True:
            page = self._collection.get(include=include, limit=self._PAGE, offset=offset)  # type: ignore[arg-type]
            for key, values in got.items():
                values += page[key] or []  # type: ignore[literal-required]
            if len(page["ids"]) < self._PAGE:
                return got
            offset += self._PAGE

    @_client_call
    def documents(self) -> dict[str, StoredDocument]:
        docs: dict[str, StoredDocument] = {}
        counts: dict[str, int] = {}
        for meta in self._all(["metadatas"])["metadatas"] or []:
            doc_id = str(meta.get("doc_id", ""))
            counts[doc_id] = counts.get(doc_id, 0) + 1
            if doc_id not in docs or int(meta.get("position", 0)) == 0:
                extra = {
                    k[len(_EXTRA_PREFIX) :]: str(v) for k, v in meta.items() if k.startswith(_EXTRA_PREFIX)
                }
                docs[doc_id] = StoredDocument(
                    doc_id=doc_id,
                    title=str(meta.get("title", "")),
                    url=str(meta.get("url", "")),
                    source=str(meta.get("source", "")),
                    doc_hash=str(meta.get("doc_hash", "")),
                    chunks=0,
                    metadata=extra,
                )
        return {
            doc_id: StoredDocument(**{**doc.__dict__, "chunks": counts[doc_id]})
            for doc_id, doc in docs.items()
        }

    @_client_call
    def chunks(self) -> list[Chunk]:
        got = self._all(["documents", "metadatas"])
        return [
            _to_chunk(cid, text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]

    @_client_call
    def chunks_of(self, doc_ids: Iterable[str]) -> list[Chunk]:
        """The current chunks of these documents (none of a deleted one)."""
        ids, out = list(dict.fromkeys(doc_ids)), []
        for start in range(0, len(ids), 500):
            got = self._collection.get(
                where={"doc_id": {"$in": ids[start : start + 500]}}, include=["documents", "metadatas"]
            )
            out += [
                _to_chunk(cid, text, meta)
                for cid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
            ]
        return out

    @_client_call
    def changes(self, since: int) -> list[Change] | None:
        """The writes after ``since`` (ns since the epoch) in the order they were made, or None when
        the feed no longer reaches back that far (the reader must reload everything)."""
        if since < int(self._metadata().get("changes_from", 0)):
            return None
        got = self._changes.get(where={"seq": {"$gt": since}}, include=["metadatas"])
        feed = [
            Change(cid, int(meta["seq"]), tuple(d for d in str(meta.get("docs", "")).split("\n") if d))
            for cid, meta in zip(got["ids"], got["metadatas"] or [])
        ]
        return sorted(feed, key=lambda c: c.seq)

    @_client_call
    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        res = self._collection.query(  # Chroma returns fewer than k when the store is smaller
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        ids = res["ids"][0]
        docs = (res["documents"] or [[]])[0]
        metas = (res["metadatas"] or [[]])[0]
        dists = (res["distances"] or [[]])[0]
        return [
            (_to_chunk(cid, text, dict(meta)), 1.0 - float(dist))
            for cid, text, meta, dist in zip(ids, docs, metas, dists)
        ]

    @_client_call
    def version(self) -> str:
        return str(self._metadata().get("kb_version", "0"))

    @_client_call
    def embedding(self) -> str | None:
        """The embedding backend that wrote this collection's vectors (None before the first write)."""
        name = self._metadata().get("embedding")
        return str(name) if name else None

    @_client_call
    def count(self) -> int:
        return int(self._collection.count())

    # -- several API processes on one embedded store (issue #5) -----------------------------------
    def refresh(self, version: str) -> bool:
        """Reopen an embedded collection that another process changed; True when it was reopened.

        Embedded Chroma keeps each process's vector index in memory: another process's writes show
        up in counts, metadata and ``get`` (SQLite) at once, but not in dense search until the
        collection is opened again (measured: 30-60 ms at the sample KB's size). Writes of this
        process are already in its index and are recognised by the version they set. A Chroma
        server (``chroma.mode=http``) is shared by every process and never needs this. Other calls
        wait while the client is swapped (the reopen's time grows with the collection).
        """
        if self._path is None or version == self._known_version:
            return False
        with self._gate.reopening():
            return version != self._known_version and self._reopen(version)

    def _reopen(self, version: str) -> bool:
        import chromadb
        from chromadb.config import Settings as ChromaClientSettings

        try:
            self._client.close()  # the last client of a path stops its system, dropping the old index
            self._client = chromadb.PersistentClient(
                path=str(self._path), settings=ChromaClientSettings(anonymized_telemetry=False)
            )
            self._collection = self._client.get_collection(self._name, embedding_function=None)
            self._changes = self._open_changes()
        except Exception as exc:
            raise BackendError(f"cannot reopen Chroma collection {self._name!r}: {exc}") from exc
        self._known_version = version
        return True
