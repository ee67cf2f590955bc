"""Learned knowledge in two stores, kept agreeing: the database says what is learned, the knowledge
base (Chroma) holds it.

Every change of a learned entry (approve, supersede, retire, roll back) writes a ``kb_sync`` job to
the outbox in the same transaction, and the job is run after the commit: it makes the knowledge
base hold exactly what the database says for that document (rewritten when active, removed
otherwise). A job that fails stays pending and is run again by :meth:`KnowledgeSync.reconcile`,
after the next change and on start-up, which also removes learned chunks the database does not know.

    sync.reconcile()   # -> documents rewritten or removed
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstlast.db import Database, LearnedEntryRow, LearnedVersionRow, OutboxRow, SuggestionRow, iso, utcnow
from firstlast.ingest.pipeline import Ingestor
from firstlast.learning.records import EntryStatus
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.retriever.chroma_store import KnowledgeStore
from firstlast.retriever.questions import QUESTIONS_KEY
from firstlast.sentences import split_sentences
from firstlast.types import Document

log = logging.getLogger(__name__)
KB_SYNC = "kb_sync"


def learned_document(
    doc_id: str,
    question: str,
    answer: str,
    metadata: Mapping[str, str],
    section_sentences: int = 0,
    variants: Sequence[str] = (),
) -> Document:
    """The knowledge-base document for a learned answer: the question is its title, and the other
    wordings customers used (merged suggestions) head the answer, so they are searched too but never
    quoted as the answer.

    With ``section_sentences > 0`` a longer answer is written as sections of that many sentences,
    each headed by the question, so each part is embedded on its own and a later, narrower question
    finds the part that answers it (off by default: on emanual_smarttv, 3 raised learn_once_rate
    0.295 -> 0.362 but false_learn_rate 0.029 -> 0.051; see README).
    """
    others = list(dict.fromkeys(v.replace("\n", " ").strip("# ") for v in variants if v != question))
    also = " / ".join(others)
    if others:  # indexed question by question (retriever/questions.py)
        metadata = {**metadata, QUESTIONS_KEY: "\n".join(others)}
    sentences = split_sentences(answer)
    if section_sentences <= 0 or len(sentences) <= section_sentences:
        text = f"## {also}\n\n{answer}" if also else answer
    else:
        step = section_sentences
        parts = [" ".join(sentences[i : i + step]) for i in range(0, len(sentences), step)]
        heads = [
            f"{question} ({n}/{len(parts)})" + (f" / {also}" if also else "")
            for n in range(1, len(parts) + 1)
        ]
        text = "\n\n".join(f"## {head}\n\n{part}" for head, part in zip(heads, parts))
    return Document(id=doc_id, title=question, text=text, source=LEARNED_SOURCE, metadata=dict(metadata))


class KnowledgeSync:
    def __init__(
        self, db: Database, ingestor: Ingestor, store: KnowledgeStore, section_sentences: int = 0
    ) -> None:
        if section_sentences < 0:
            raise ValueError(f"section_sentences must be >= 0, got {section_sentences}")
        self._db = db
        self._ingestor = ingestor
        self._store = store
        self._section_sentences = section_sentences

    def enqueue(self, s: Session, doc_id: str) -> None:
        """Inside the change's transaction: this document must be brought in line after the commit."""
        s.add(OutboxRow(kind=KB_SYNC, key=doc_id, payload={}))

    def document(self, s: Session, doc_id: str) -> Document | None:
        """What the knowledge base should hold for ``doc_id``: the current version, or nothing."""
        entry = s.scalars(select(LearnedEntryRow).where(LearnedEntryRow.doc_id == doc_id)).first()
        if entry is None or entry.status != EntryStatus.ACTIVE:
            return None
        version = s.scalars(
            select(LearnedVersionRow).where(
                LearnedVersionRow.entry_id == entry.id, LearnedVersionRow.version == entry.version
            )
        ).one()
        suggestion = s.get(SuggestionRow, version.suggestion_id) if version.suggestion_id else None
        metadata = {
            "kind": "learned",
            "approved_by": version.approved_by,
            "approved_at": iso(version.approved_at) or "",
            "conversation_id": (suggestion.conversation_id or "") if suggestion else "",
            "suggestion_id": version.suggestion_id or "",
            "version": str(version.version),
        }
        return learned_document(
            doc_id,
            version.question,
            version.answer,
            metadata,
            self._section_sentences,
            version.variants or [],
        )

    def sync(self, doc_id: str) -> None:
        """Rewrite (or remove) one learned document from the database's truth; safe to repeat."""
        with self._db.session() as s:
            document = self.document(s, doc_id)
        self._ingestor.delete([doc_id])  # a write that died half-way leaves no stray chunks
        if document is not None:
            self._ingestor.ingest([document])  # the one write path into the KB

    def run_pending(self) -> int:
        """Run the pending sync jobs, oldest first; how many are still pending afterwards."""
        with self._db.session() as s:
            jobs = [
                (job.id, job.key)
                for job in s.scalars(
                    select(OutboxRow)
                    .where(OutboxRow.kind == KB_SYNC, OutboxRow.done_at.is_(None))
                    .order_by(OutboxRow.id)
                )
            ]
        failed, done = 0, set[str]()
        for job_id, doc_id in jobs:
            error = ""
            if doc_id not in done:
                try:
                    self.sync(doc_id)
                    done.add(doc_id)
                except Exception as exc:
                    log.warning(
                        "knowledge-base write for %s failed; it will be retried", doc_id, exc_info=True
                    )
                    error, failed = f"{type(exc).__name__}: {exc}", failed + 1
            with self._db.session() as s:
                row = s.get(OutboxRow, job_id)
                if row is not None:
                    row.attempts, row.last_error = row.attempts + 1, error[:2000]
                    row.done_at = None if error else utcnow()
        return failed

    def reconcile(self) -> int:
        """Pending jobs, then every learned document either store knows: each one ends as the database
        says (on start-up, and whenever a write failed). Returns how many documents were repaired."""
        pending = self.run_pending()
        with self._db.session() as s:
            entries = {e.doc_id: (e.status, e.version) for e in s.scalars(select(LearnedEntryRow))}
        stored = {d: info for d, info in self._store.documents().items() if info.source == LEARNED_SOURCE}

        def agrees(doc_id: str) -> bool:
            status, version = entries.get(doc_id, (None, 0))
            info = stored.get(doc_id)
            if status != EntryStatus.ACTIVE:
                return info is None
            return info is not None and info.metadata.get("version") == str(version)

        wrong = sorted(d for d in set(entries) | set(stored) if not agrees(d))
        for doc_id in wrong:
            self.sync(doc_id)
        if pending:
            log.warning("%d knowledge-base writes are still pending", pending)
        return len(wrong)
