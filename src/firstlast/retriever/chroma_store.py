"""The knowledge store: chunks, their vectors and their document bookkeeping, all in one Chroma
collection (embedded ``PersistentClient`` by default, a ``chroma run`` server when scaled out).

Chroma never embeds anything itself: we always pass vectors, so its default ONNX model (which would
download) is never touched. Every write bumps ``kb_version`` in the collection metadata; readers
(the lexical index, other API processes) use it to notice that the knowledge changed, and then read
only what changed from the change feed: a second collection, ``<name>_changes``, with one record per
write (its time and the documents it touched, deletions included), kept for a day.

Several processes on one embedded store: each loads its own vector index, so another process's
writes are brought into this one's dense search as an :class:`~firstlast.retriever.overlay.Overlay`
(see ``refresh``), and the index is loaded again only once the overlay grows large, in the
background: queries go on against the old index meanwhile.
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
from firstlast.retriever.overlay import Overlay
from firstlast.types import Chunk

_CORE_KEYS = ("doc_id", "title", "section", "url", "lang", "source", "position", "doc_hash")
_EXTRA_PREFIX = "m_"
CHANGES_KEPT_NS = 24 * 3600 * 10**9  # a reader that has not caught up for a day reloads everything

# Embeds chunks as the ingest path does (the same model, the same text), for the overlay.
ChunkEmbedder = Callable[[Sequence["Chunk"]], np.ndarray]

# The path spellings ("kb", "kb/.", "kb/./.") of this process's embedded clients: Chroma shares one
# system (and its loaded indexes) between clients of one spelling, so a reload takes an unused one.
_spellings: dict[str, int] = {}
_spellings_lock = threading.Lock()


def _take_spelling(path: Path, fresh: bool) -> str:
    with _spellings_lock:
        n = int(fresh)
        while fresh and _spellings.get(str(path) + "/." * n):
            n += 1
        spelling = str(path) + "/." * n
        _spellings[spelling] = _spellings.get(spelling, 0) + 1
        return spelling


def _drop_spelling(spelling: str) -> None:
    with _spellings_lock:
        _spellings[spelling] -= 1
        if not _spellings[spelling]:
            del _spellings[spelling]


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

    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]: ...

    def chunks(self) -> list[Chunk]: ...

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]: ...

    def version(self) -> str: ...

    def writes(self) -> int: ...

    def count(self) -> int: ...

    def embedding(self) -> str | None: ...

    def record_embedding(self, name: str) -> None: ...

    def refresh(
        self, version: str, changes: Sequence[Change] | None = None, embed: ChunkEmbedder | None = None
    ) -> bool: ...

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
        self._overlay = Overlay()  # other processes' writes since this process's index was loaded
        self._opened_at = time.time_ns()  # writes recorded before this are in the index already
        self._own: dict[str, int] = {}  # the change feed ids of this process's writes, by seq
        self._writing = threading.RLock()  # own writes, overlay updates and reopens, one at a time
        self._spelling = ""  # the path as the current embedded client spells it (see _take_spelling)
        self.reopens = 0  # how often the vector index was loaded again (refresh), for metrics/tests
        self._writes = 0  # this process's writes, so a reader can tell them from the clock (writes())
        # Dense search's hits by chunk id (text and metadata), so a query asks Chroma for ids and
        # distances only: fetching 40 hits' documents and metadata cost ~3.9 ms a query against
        # ~0.9 ms without (sample KB). Forgotten for the documents every write touches, in this
        # process (upsert, delete) or another (refresh, from the change feed).
        self._hits: dict[str, Chunk] = {}
        self._hits_lock = threading.Lock()
        self._hits_generation = 0  # a fetch that overlapped a write must not fill the cache

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
        store._path, store._spelling = path, _take_spelling(path, fresh=False)
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
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"got {len(chunks)} chunks but {len(vectors)} vectors")
        with self._writing:
            self._upsert(chunks, vectors)
            self._overlay = self._overlay.upserted(chunks, vectors)
            self._forget_hits({c.doc_id for c in chunks})

    @_client_call
    def _upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
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

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(doc_ids))
        with self._writing:
            removed = self._delete(ids)
            self._overlay = self._overlay.deleted(ids)
            self._forget_hits(set(ids))
        return removed

    @_client_call
    def _delete(self, ids: list[str]) -> int:
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
        seq, change_id = time.time_ns(), uuid.uuid4().hex
        self._own = {i: s for i, s in self._own.items() if s > seq - CHANGES_KEPT_NS}
        self._own[change_id] = seq  # before the feed has it: a reader must never take it for foreign
        self._changes.add(
            ids=[change_id],
            embeddings=np.ones((1, 1), dtype=np.float32),
            metadatas=[{"seq": seq, "docs": "\n".join(doc_ids)}],
        )
        horizon = seq - CHANGES_KEPT_NS
        self._changes.delete(where={"seq": {"$lt": horizon}})
        version = uuid.uuid4().hex
        self._set_metadata(kb_version=version, changes_from=str(horizon))
        self._known_version = version  # this process's dense index already has its own writes
        self._writes += 1

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
    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]:
        """Every stored document, or those of ``doc_ids`` that are stored (read by id: an ingest of
        a few documents must not read the metadata of 100k chunks)."""
        if doc_ids is None:
            metas = self._all(["metadatas"])["metadatas"] or []
        else:
            ids, metas = list(dict.fromkeys(doc_ids)), []
            for start in range(0, len(ids), 500):
                where = {"doc_id": {"$in": ids[start : start + 500]}}
                metas += self._collection.get(where=where, include=["metadatas"])["metadatas"] or []  # type: ignore[arg-type]
        docs: dict[str, StoredDocument] = {}
        counts: dict[str, int] = {}
        for meta in metas:
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

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The ``k`` chunks closest to ``vector``; with an overlay, the stale index is asked for more
        until ``k`` of its hits lie outside the overlay's documents (or it has no more)."""
        overlay = self._overlay
        if not overlay.docs:
            return self._query(vector, k)
        n = k + max(len(overlay), 2 * len(overlay.docs))
        while True:
            found = self._query(vector, n)
            if len(found) < n or sum(not overlay.hides(c) for c, _ in found) >= k:
                return overlay.merge(found, vector, k)
            n *= 2

    @_client_call
    def _query(self, vector: np.ndarray, n: int) -> list[tuple[Chunk, float]]:
        res = self._collection.query(  # Chroma returns fewer than n when the store is smaller
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            include=["distances"],
        )
        ids = res["ids"][0]
        chunks = self._hit_chunks(ids)
        return [  # a record another process deleted is still in a stale index, but not in get()
            (chunks[cid], 1.0 - float(dist))
            for cid, dist in zip(ids, (res["distances"] or [[]])[0])
            if cid in chunks
        ]

    # Above this many cached hits the cache starts again (a KB's popular chunks come back quickly).
    HITS_MAX = 20_000

    def _hit_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks of ``ids`` from the cache, the rest read from Chroma (and cached)."""
        cached = self._hits
        found = {cid: cached[cid] for cid in ids if cid in cached}
        missing = [cid for cid in ids if cid not in found]
        if not missing:
            return found
        generation = self._hits_generation
        got = self._collection.get(ids=missing, include=["documents", "metadatas"])
        fetched = {
            cid: _to_chunk(cid, text, dict(meta))
            for cid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
            if meta is not None
        }
        with self._hits_lock:
            if generation == self._hits_generation:  # no write forgot anything meanwhile
                if len(self._hits) + len(fetched) > self.HITS_MAX:
                    self._hits = {}  # a new dict: readers of the old one never see it shrink
                self._hits.update(fetched)
        return {**found, **fetched}

    def _forget_hits(self, doc_ids: set[str] | None = None) -> None:
        """Drop the cached chunks of ``doc_ids`` (every one when None)."""
        with self._hits_lock:
            self._hits_generation += 1
            if doc_ids is None:
                self._hits = {}
            elif doc_ids:
                self._hits = {cid: c for cid, c in self._hits.items() if c.doc_id not in doc_ids}

    @_client_call
    def version(self) -> str:
        return str(self._metadata().get("kb_version", "0"))

    def writes(self) -> int:
        """How many writes this process has made: a reader that throttles ``version()`` (a
        collection read, ~0.7 ms of the interpreter per call) still sees its own process's writes
        at once."""
        return self._writes

    @_client_call
    def embedding(self) -> str | None:
        """The embedding backend that wrote this collection's vectors (None before the first write)."""
        name = self._metadata().get("embedding")
        return str(name) if name else None

    @_client_call
    def count(self) -> int:
        return int(self._collection.count())

    # -- several API processes on one embedded store (issues #5, #13) ----------------------------
    OVERLAY_EMBED_MAX = 200  # chunks embedded again per refresh; a larger write reloads the index
    OVERLAY_MAX = 2000  # chunks the overlay holds before the index is loaded again

    def refresh(
        self, version: str, changes: Sequence[Change] | None = None, embed: ChunkEmbedder | None = None
    ) -> bool:
        """Bring another process's writes into this process's dense search; True when it changed.

        Embedded Chroma keeps each process's vector index in memory: another process's writes show
        up in counts, metadata and ``get`` (SQLite) at once, but not in dense search. With the
        ``changes`` read from the feed since the last refresh and an ``embed`` for chunks, the
        documents other processes changed go into the overlay (writes of this process, and writes
        recorded before the index was loaded, are in it already: the retriever re-reads the feed
        30 s back). Without them, or when the overlay would
        grow too large, the index is loaded again (``reopens``): in the background, with queries held
        back only for the swap. A Chroma server (``chroma.mode=http``) is shared by every process and
        never needs this.
        """
        self._forget_hits(None if changes is None else {d for c in changes for d in c.doc_ids})
        if self._path is None:
            return False
        with self._writing:
            if changes is None or embed is None:
                return version != self._known_version and self._reopen(version)
            foreign = {  # an embedded store is on one host: the writers' clock is this one
                d for c in changes if c.id not in self._own and c.seq >= self._opened_at for d in c.doc_ids
            }
            if not foreign:
                self._known_version = version
                return False
            chunks = self.chunks_of(foreign)
            if len(chunks) > self.OVERLAY_EMBED_MAX or len(self._overlay) + len(chunks) > self.OVERLAY_MAX:
                return self._reopen(version)
            vectors = embed(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
            self._overlay = self._overlay.replaced(foreign, chunks, vectors)
            self._known_version = version
            return True

    def _reopen(self, version: str) -> bool:
        """Load the vector index again with a second client (another spelling of the path is another
        Chroma system with its own index), then swap it in and close the old one."""
        import chromadb
        from chromadb.config import Settings as ChromaClientSettings

        assert self._path is not None
        spelling = _take_spelling(self._path, fresh=True)
        opened_at = time.time_ns()
        try:
            client = chromadb.PersistentClient(
                path=spelling, settings=ChromaClientSettings(anonymized_telemetry=False)
            )
            collection = client.get_collection(self._name, embedding_function=None)
            collection.count()  # loads the vector index (0.5 s at 30k chunks) before the swap
            changes = client.get_or_create_collection(f"{self._name}_changes", embedding_function=None)
        except Exception as exc:
            _drop_spelling(spelling)
            raise BackendError(f"cannot reopen Chroma collection {self._name!r}: {exc}") from exc
        with self._gate.reopening():
            old, old_spelling = self._client, self._spelling
            self._client, self._collection, self._changes = client, collection, changes
            self._spelling, self._overlay, self._known_version = spelling, Overlay(), version
            self._opened_at = opened_at
        old.close()  # the last client of a spelling stops its system, dropping the old index
        _drop_spelling(old_spelling)
        self.reopens += 1
        return True
