"""The one write path into the knowledge base: documents -> chunks -> vectors -> store.

Each document carries a content hash (text, title, url, metadata and the chunker settings). A
document whose stored hash matches is skipped without embedding; a changed one has its old chunks
replaced; with ``prune=True`` documents of the same source that were not seen this time are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from firstlast.errors import Conflict, InvalidInput
from firstlast.ingest.chunker import Chunker
from firstlast.ingest.sanitize import plain_text
from firstlast.language import LanguageDetector
from firstlast.retriever.chroma_store import KnowledgeStore, StoredDocument
from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.lexical import index_text
from firstlast.types import Chunk, Document, IngestReport

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (documents done, documents total)


class Ingestor:
    """Writes documents into the knowledge store, doing only the work that changed.

    >>> report = ingestor.ingest(documents, source="/srv/help-center", prune=True)
    >>> report.chunks_embedded
    0
    """

    def __init__(
        self,
        store: KnowledgeStore,
        chunker: Chunker,
        embedder: Embedder,
        batch_docs: int = 64,
        detector: LanguageDetector | None = None,
    ):
        self._store = store
        self._chunker = chunker
        self._embedder = embedder
        self._batch_docs = batch_docs
        self._detector = detector  # tags chunks of documents that came without a ``lang``

    def ingest(
        self,
        documents: Iterable[Document],
        *,
        source: str | None = None,
        prune: bool = False,
        progress: Progress | None = None,
        take_over: bool = False,
    ) -> IngestReport:
        """Write ``documents``; with ``source`` they all belong to it. A document id another source
        holds is refused (Conflict, nothing written) unless ``take_over`` says to move it here."""
        docs = list(documents)
        if prune and source is None:
            raise InvalidInput("prune needs the source whose missing documents should be removed")
        seen: dict[str, Document] = {}
        for doc in docs:
            if not doc.id.strip():
                raise InvalidInput("every document needs a non-empty id")
            if source is not None and doc.source != source:
                doc = replace(doc, source=source)
            seen[doc.id] = _sanitised(doc)  # the last copy of a repeated id wins
        stored = self._store.documents(None if prune else seen)  # pruning needs the source's others
        if not take_over:
            self.check_sources(seen.values(), stored)
        added = updated = unchanged = written = embedded = 0
        pending: list[Document] = []
        done = 0
        for doc in seen.values():
            old = stored.get(doc.id)
            if (
                old is not None
                and old.doc_hash == self._chunker.document_hash(doc)
                and old.source == doc.source
            ):
                unchanged += 1
                done += 1
                if progress:
                    progress(done, len(seen))
                continue
            if old is None:
                added += 1
            else:
                updated += 1
            pending.append(doc)
            if len(pending) >= self._batch_docs:
                w, e = self._write(pending, stored)
                written, embedded, done = written + w, embedded + e, done + len(pending)
                pending = []
                if progress:
                    progress(done, len(seen))
        if pending:
            w, e = self._write(pending, stored)
            written, embedded, done = written + w, embedded + e, done + len(pending)
            if progress:
                progress(done, len(seen))
        removed = 0
        if prune:
            gone = [d for d, info in stored.items() if info.source == source and d not in seen]
            if gone:
                self._store.delete_documents(gone)
            removed = len(gone)
        report = IngestReport(len(seen), added, updated, unchanged, removed, written, embedded)
        log.info("ingest finished", extra={"report": report.__dict__})
        return report

    def check_sources(
        self, documents: Iterable[Document], stored: Mapping[str, StoredDocument] | None = None
    ) -> None:
        """Conflict when a document would replace one that another source wrote: an upload must
        not silently overwrite an article ingested from a folder (or the reverse)."""
        documents = list(documents)
        stored = self._store.documents(d.id for d in documents) if stored is None else stored
        for doc in documents:
            old = stored.get(doc.id)
            if old is not None and old.source != doc.source:
                raise Conflict(
                    f"document {doc.id!r} belongs to another source ({old.source!r}), not {doc.source!r}; "
                    "delete it there first or give this one another id"
                )

    def _write(self, docs: Sequence[Document], stored: Mapping[str, object]) -> tuple[int, int]:
        chunks: list[Chunk] = [c for doc in docs for c in self._tagged(self._chunker.chunk(doc), doc)]
        replaced = [d.id for d in docs if d.id in stored]
        if replaced:
            self._store.delete_documents(replaced)
        if not chunks:
            return 0, 0
        vectors = self._embedder.embed_documents([index_text(c) for c in chunks])
        self._store.upsert(chunks, vectors)
        self._store.record_embedding(self._embedder.name)
        return len(chunks), len(chunks)

    def _tagged(self, chunks: list[Chunk], doc: Document) -> list[Chunk]:
        """Chunks with the document's detected language when it had none (the hash is unchanged)."""
        if doc.lang or self._detector is None or not chunks:
            return chunks
        lang = self._detector.detect(f"{doc.title}\n{doc.text}")
        return [replace(c, lang=lang) for c in chunks] if lang else chunks

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Remove documents (all their chunks); returns how many chunks were removed."""
        return self._store.delete_documents(doc_ids)


def _sanitised(doc: Document) -> Document:
    """The document as the knowledge base keeps it: text without HTML markup (``sanitize.py``)."""
    title, text = plain_text(doc.title), plain_text(doc.text)
    metadata = {k: plain_text(v) for k, v in doc.metadata.items()}
    if (title, text, metadata) == (doc.title, doc.text, doc.metadata):
        return doc
    return replace(doc, title=title, text=text, metadata=metadata)
