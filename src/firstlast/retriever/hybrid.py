"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates fused by reciprocal rank.

The lexical index lives in memory and follows the store's ``kb_version``. This process's own writes
are seen by the next query (the store counts them); other processes' writes when the version is read,
on every query by default, or at most every ``refresh_seconds`` (the service reads it every 0.25 s:
a read costs ~0.7 ms of the interpreter, a tenth of a busy server's). When it
changed, the store's change feed says which documents were written since the index's last catch-up
(in any process), and only those are read back, analysed and swapped into a new index snapshot
(with ``_documents`` and the question index); the store gets the same changes, so that another
process's writes reach this process's dense search too (``ChromaStore.refresh``). Queries never wait
for that: they read the current snapshot, and the one query that noticed the change does the catch-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from firstlast.retriever.analysis import Analyzer, TextAnalyzer
from firstlast.retriever.chroma_store import KnowledgeStore
from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.families import script_family
from firstlast.retriever.lexical import BM25_B, BM25_K1, BM25Index, index_text
from firstlast.retriever.questions import QuestionIndex
from firstlast.types import Chunk, Hit, Question, QuestionMatch

# The page the customer is on: its vector's weight next to the question's (whose is 1), so the
# page tips a question that could be about several products and never outweighs it
PAGE_WEIGHT = 0.3

# A known question enters the fusion only when it shares a content word with the query and its
# cosine clears this floor; otherwise a handful of learned entries would rank 1..n for any query.
QUESTION_FLOOR = 0.5

# The change feed is re-read this far back on every catch-up (changes already applied are skipped by
# id): a write whose time on its writer's clock lags the reader's last catch-up by less than this is
# still seen. Writers' clocks (several hosts on one Chroma server) must agree within it.
CLOCK_MARGIN_NS = 30 * 10**9


class Retriever(Protocol):
    def retrieve(self, question: Question, k: int | None = None) -> list[Hit]: ...


class HybridRetriever:
    """Dense + BM25 with reciprocal rank fusion.

    >>> retriever = HybridRetriever(store, embedder, top_k=8, analyzer=TextAnalyzer())
    >>> hits = retriever.retrieve(Question("How do I get a refund?"))

    The ``analyzer`` tokenises chunks and questions for BM25 (morphemes for Korean and Japanese);
    it keeps its loaded dictionaries, so build it once per process.
    """

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        top_k: int = 8,
        candidates: int = 40,
        rrf_k: int = 60,
        dense_weight: float = 0.5,
        dense_weight_cjk: float = 1.0,
        history_turns: int = 2,
        history_weight: float = 0.5,
        history_gate: float = 0.0,
        history_standalone: float = 0.0,
        page_weight: float = PAGE_WEIGHT,
        refresh_seconds: float = 0.0,
        bm25_k1: float = BM25_K1,
        bm25_b: float = BM25_B,
        analyzer: Analyzer | None = None,
        question_weight: float = 1.0,
        question_titles: bool = False,
        lexical_share: float | None = None,
        lexical_share_cjk: float | None = None,
    ) -> None:
        if top_k <= 0:
            raise ValueError(f"top_k must be > 0, got {top_k}")
        if candidates < top_k:
            raise ValueError(f"candidates must be >= top_k ({top_k}), got {candidates}")
        self._store = store
        self._embedder = embedder
        self.top_k = top_k
        self._candidates = candidates
        self._rrf_k = rrf_k
        if dense_weight < 0:
            raise ValueError(f"dense_weight must be >= 0, got {dense_weight}")
        self._dense_weight = dense_weight
        if question_weight < 0:
            raise ValueError(f"question_weight must be >= 0, got {question_weight}")
        self._question_weight = question_weight
        for share in (lexical_share, lexical_share_cjk):
            if share is not None and not 0 <= share <= 1:
                raise ValueError(f"lexical shares must be in [0, 1], got {share}")
        self._lexical_shares = (lexical_share, lexical_share_cjk)  # None: rank fusion (RRF)
        self._questions = QuestionIndex(embedder, titles=question_titles)
        self._dense_weight_cjk = dense_weight_cjk
        self._history_turns = history_turns
        self._history_weight = history_weight
        self._history_gate = history_gate
        self._history_standalone = history_standalone
        if not 0 <= page_weight <= 1:
            raise ValueError(f"page_weight must be in [0, 1], got {page_weight}")
        self._page_weight = page_weight
        # Query vectors kept by text: a customer turn is the history of the next few messages, and
        # pages repeat, so neither is embedded again.
        self._vectors: dict[str, np.ndarray] = {}
        self._refresh_seconds = refresh_seconds
        self._bm25_params = (bm25_k1, bm25_b)
        self._analyzer = analyzer or TextAnalyzer()
        self._update_lock = threading.Lock()  # one catch-up at a time; queries never take it
        self._index: BM25Index | None = None
        self._documents: dict[str, list[Chunk]] = {}
        self._index_version: str | None = None
        self._checked_at = 0.0
        self._writes_seen = -1  # the store's own-process write count at the last check
        self._since = 0  # the change feed is read from here (ns on the writers' clocks)
        self._applied: dict[str, int] = {}  # changes already in the index that the margin re-reads

    # -- lexical index lifecycle ------------------------------------------------------------------
    def lexical_index(self) -> BM25Index:
        """The current BM25 snapshot, first brought up to date with the store when it changed.

        Only the first call waits for the full load; later calls that find another thread catching
        up return the current snapshot at once.
        """
        if self._index is None:
            with self._update_lock:
                if self._index is None:
                    self._load()
        elif self._check_due() and self._update_lock.acquire(blocking=False):
            try:
                self._catch_up()
            finally:
                self._update_lock.release()
        assert self._index is not None
        return self._index

    def _check_due(self) -> bool:
        """Time to read the store's version: this process wrote, or ``refresh_seconds`` passed."""
        return (
            self._store.writes() != self._writes_seen
            or time.monotonic() - self._checked_at >= self._refresh_seconds
        )

    def _load(self) -> None:
        """Index everything the store holds (at start, or when the change feed no longer reaches
        back to the last catch-up), reusing the terms of chunks the current index analysed."""
        since = time.time_ns()  # before reading: a write during the read is re-read from the feed
        self._checked_at, self._writes_seen = time.monotonic(), self._store.writes()
        version = self._store.version()
        self._store.refresh(version)  # maybe another process wrote: dense search sees it too
        index = BM25Index(
            self._store.chunks(), *self._bm25_params, analyzer=self._analyzer, previous=self._index
        )
        if self._question_weight > 0:
            self._questions.rebuild(index.chunks)
        self._documents = _by_document(index.chunks)
        self._index, self._index_version, self._since, self._applied = index, version, since, {}

    def _catch_up(self) -> None:
        self._checked_at, self._writes_seen = time.monotonic(), self._store.writes()  # before the read
        version = self._store.version()
        if version == self._index_version:
            return
        feed = self._store.changes(self._since - CLOCK_MARGIN_NS)  # read after the version: it has all
        if feed is None:
            self._load()
            return
        fresh = [c for c in feed if c.id not in self._applied]
        self._store.refresh(version, fresh, self._embed_chunks)  # another process's writes: dense too
        doc_ids = {d for c in fresh for d in c.doc_ids}
        if doc_ids and self._index is not None:
            chunks = self._store.chunks_of(doc_ids)
            index = self._index.updated(doc_ids, chunks)
            if self._question_weight > 0:
                self._questions.update(doc_ids, chunks)
            documents = {d: cs for d, cs in self._documents.items() if d not in doc_ids}
            documents.update(_by_document(chunks))
            self._index, self._documents = index, documents
        self._applied.update((c.id, c.seq) for c in fresh)
        self._since = max([self._since, *(c.seq for c in feed)])
        self._applied = {i: seq for i, seq in self._applied.items() if seq > self._since - CLOCK_MARGIN_NS}
        self._index_version = version

    def _embed_chunks(self, chunks: Sequence[Chunk]) -> np.ndarray:
        return self._embedder.embed_documents([index_text(c) for c in chunks])  # as ingest does

    def document_chunks(self, chunk: Chunk) -> list[Chunk]:
        """Every chunk of ``chunk``'s document in order, so the answerer can quote a whole section
        (or a procedure the chunker cut in two), not only the chunks that were found."""
        if self._index is None:
            self.lexical_index()
        return self._documents.get(chunk.doc_id) or [chunk]

    # -- queries ----------------------------------------------------------------------------------
    def _history(self, question: Question) -> list[str]:
        if self._history_turns == 0 or self._history_weight <= 0:
            return []
        return question.earlier_customer_turns()[-self._history_turns :]

    def _vector(self, text: str) -> np.ndarray:
        vector = self._vectors.get(text)
        if vector is None:
            vector = self._embedder.embed_query(text)
            if len(self._vectors) >= 4096:
                self._vectors = {}
            self._vectors[text] = vector
        return vector

    def query_context(self, question: Question, dense: bool = True) -> tuple[np.ndarray | None, list[str]]:
        """The query vector (None when not ``dense``) and the earlier turns the question follows up.

        Earlier customer turns are a hint for a follow-up ("and on mobile?"), but a new topic in the
        same conversation ("Cancel your subscription" after questions about two-factor sign-in) must
        not be pulled back to the old one: the turns are used only when their vector is at least
        ``history_gate`` similar to the question's (0 uses them always)."""
        turns = self._history(question)
        if not dense:
            return None, turns
        vector = self._vector(question.text)
        if turns:  # the sum of the turns' own vectors (the joined turns as one text ranked alike)
            hint = np.sum([self._vector(t) for t in turns], axis=0)
            hint = hint / (np.linalg.norm(hint) or 1.0)
            related = float(vector @ hint) / (np.linalg.norm(vector) or 1.0) >= self._history_gate
            if related or self._vague(vector):
                vector = vector + self._history_weight * hint
                vector = vector / (np.linalg.norm(vector) or 1.0)
            else:
                turns = []
        page = question.page
        if page and self._page_weight > 0 and script_family(page) == script_family(question.text):
            # a page in another script would search another family's articles: lexical hint only
            vector = vector + self._page_weight * self._vector(page)
            vector = vector / (np.linalg.norm(vector) or 1.0)
        return vector, turns

    def _vague(self, vector: np.ndarray) -> bool:
        """A question that finds nothing close on its own ("How long does it take?") is a follow-up
        whatever its words: its best dense match is below ``history_standalone``."""
        if self._history_standalone <= 0:
            return False
        best = self._store.dense_search(vector, 1)
        return not best or best[0][1] < self._history_standalone

    def query_vector(self, question: Question) -> np.ndarray:
        vector, _ = self.query_context(question)
        assert vector is not None
        return vector

    def query_tokens(self, question: Question, turns: Sequence[str] | None = None) -> list[str]:
        """The question's tokens, then those of the earlier ``turns`` it follows up (by default as
        :meth:`query_context` decides) and of the page it was asked on that it does not already have
        (a page's words once each: a hint adds words, it never outweighs them)."""
        tokens = self._analyzer.tokens(question.text)
        if turns is None:  # as retrieve() decides
            turns = self.query_context(question, dense=self.dense_weight_for(question) > 0)[1]
        if turns:
            seen = set(tokens)
            tokens += [t for t in self._analyzer.tokens(" ".join(turns)) if t not in seen]
        if question.page and self._page_weight > 0:
            seen = set(tokens)
            tokens += [t for t in dict.fromkeys(self._analyzer.tokens(question.page)) if t not in seen]
        return tokens

    def retrieve(self, question: Question, k: int | None = None) -> list[Hit]:
        k = k or self.top_k
        index = self.lexical_index()
        if len(index) == 0:
            return []
        weight = self.dense_weight_for(question)
        vector, turns = self.query_context(question, dense=bool(weight or len(self._questions)))
        lexical = index.search_tokens(self.query_tokens(question, turns), self._candidates)
        dense = self._store.dense_search(vector, self._candidates) if weight and vector is not None else []
        matches = self._questions.match(vector, question.text) if vector is not None and weight else {}
        ranked = self._question_ranking(matches, dense, lexical)
        hits = fuse(
            dense,
            lexical,
            k=k,
            rrf_k=self._rrf_k,
            dense_weight=weight,
            questions=ranked,
            question_weight=self._question_weight * (weight > 0),
            lexical_share=self._lexical_shares[script_family(question.text) == "cjk"],
        )
        return [
            replace(h, question=matches[h.chunk.doc_id]) if h.chunk.doc_id in matches else h for h in hits
        ]

    def _question_ranking(
        self,
        matches: Mapping[str, QuestionMatch],
        dense: Sequence[tuple[Chunk, float]],
        lexical: Sequence[tuple[Chunk, float]],
    ) -> list[tuple[Chunk, float]]:
        """Documents by their closest question, each as its best chunk the other retrievers found
        (else its first chunk), for the fusion."""
        found: dict[str, Chunk] = {}
        for chunk, _ in [*dense, *lexical]:
            found.setdefault(chunk.doc_id, chunk)
        out = []
        close = [(d, m) for d, m in matches.items() if m.similarity >= QUESTION_FLOOR and m.overlap > 0]
        for doc_id, match in close[: self._candidates]:
            best = found.get(doc_id) or next(iter(self._documents.get(doc_id, [])), None)
            if best is not None:
                out.append((best, match.similarity))
        return out

    def dense_weight_for(self, question: Question) -> float:
        """The dense ranking's weight in the fusion, by the question's script.

        An English-only embedder cannot read CJK text, so BM25 ranks it alone; with a multilingual
        embedder (or e5 for the CJK family), CJK questions get ``dense_weight_cjk``.
        """
        if script_family(question.text) == "cjk":
            return self._dense_weight_cjk if getattr(self._embedder, "multilingual", False) else 0.0
        return self._dense_weight


def _by_document(chunks: list[Chunk]) -> dict[str, list[Chunk]]:
    documents: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        documents.setdefault(chunk.doc_id, []).append(chunk)
    for members in documents.values():
        members.sort(key=lambda c: c.position)
    return documents


def fuse(
    dense: list[tuple[Chunk, float]],
    lexical: list[tuple[Chunk, float]],
    *,
    k: int,
    rrf_k: int = 60,
    dense_weight: float = 1.0,
    questions: Sequence[tuple[Chunk, float]] = (),
    question_weight: float = 0.0,
    lexical_share: float | None = None,
) -> list[Hit]:
    """Weighted reciprocal rank fusion of ranked lists; keeps each retriever's score and rank.

    A hit scores ``dense_weight / (rrf_k + dense_rank) + 1 / (rrf_k + lexical_rank)``, plus
    ``question_weight / (rrf_k + question_rank)`` when its document's closest known question
    (an FAQ title, a learned entry's wordings) ranks among ``questions``.

    With ``lexical_share`` (0–1) the lists' scores are fused instead of their ranks: each list's
    scores are z-scored over the list (a chunk missing from a list gets that list's lowest), and a
    hit scores ``(1 - lexical_share) * z_dense + lexical_share * z_lexical`` (plus ``question_weight``
    times the question list's z). An empty list adds nothing.
    """
    table: dict[str, dict[str, object]] = {}
    for rank, (chunk, score) in enumerate(dense, start=1):
        table[chunk.id] = {"chunk": chunk, "dense_score": score, "dense_rank": rank}
    for rank, (chunk, score) in enumerate(lexical, start=1):
        entry = table.setdefault(chunk.id, {"chunk": chunk})
        entry["lexical_score"] = score
        entry["lexical_rank"] = rank
    for rank, (chunk, _) in enumerate(questions, start=1):
        table.setdefault(chunk.id, {"chunk": chunk})["question_rank"] = rank
    if lexical_share is not None:
        weights = ((1 - lexical_share, dense), (lexical_share, lexical), (question_weight, questions))
        standard = {chunk_id: 0.0 for chunk_id in table}
        for weight, ranked in weights:
            if ranked and weight:
                for chunk_id, z in _z_scores(ranked, table).items():
                    standard[chunk_id] += weight * z
    hits = []
    for chunk_id, entry in table.items():
        if lexical_share is not None:
            fused = standard[chunk_id]
        else:
            fused = 0.0
            if "dense_rank" in entry:
                fused += dense_weight / (rrf_k + int(entry["dense_rank"]))  # type: ignore[call-overload]
            if "lexical_rank" in entry:
                fused += 1.0 / (rrf_k + int(entry["lexical_rank"]))  # type: ignore[call-overload]
            if "question_rank" in entry and question_weight:
                fused += question_weight / (rrf_k + int(entry["question_rank"]))  # type: ignore[call-overload]
        hits.append(
            Hit(
                chunk=entry["chunk"],  # type: ignore[arg-type]
                score=fused,
                dense_score=entry.get("dense_score"),  # type: ignore[arg-type]
                lexical_score=entry.get("lexical_score"),  # type: ignore[arg-type]
                dense_rank=entry.get("dense_rank"),  # type: ignore[arg-type]
                lexical_rank=entry.get("lexical_rank"),  # type: ignore[arg-type]
            )
        )
    hits.sort(key=lambda h: (-h.score, h.dense_rank or 10**9))
    return diversify(hits, head=min(5, k))[:k]


def _z_scores(ranked: Sequence[tuple[Chunk, float]], table: Mapping[str, object]) -> dict[str, float]:
    """Every fused chunk's score in ``ranked`` as a z-score over the list; absent: the list's lowest."""
    scores = {chunk.id: score for chunk, score in ranked}
    values = np.fromiter(scores.values(), dtype=np.float64)
    mean, spread, floor = float(values.mean()), float(values.std()) or 1.0, float(values.min())
    return {chunk_id: (scores.get(chunk_id, floor) - mean) / spread for chunk_id in table}


def diversify(hits: list[Hit], head: int = 5) -> list[Hit]:
    """Reorder so the first ``head`` hits come from different documents where possible.

    Several chunks of one long document otherwise crowd out the next-best documents; the extra
    chunks keep their order right after the head, where the answerer still sees them.
    """
    firsts: list[Hit] = []
    extras: list[Hit] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.chunk.doc_id in seen or len(firsts) >= head:
            extras.append(hit)
        else:
            seen.add(hit.chunk.doc_id)
            firsts.append(hit)
    return firsts + extras
