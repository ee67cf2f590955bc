"""BM25 over chunk texts, tokenised by an :class:`Analyzer` (:mod:`firstlast.retriever.analysis`:
morphemes for Korean and Japanese, stemmed words otherwise), and updated one document at a time.

Each index is an immutable snapshot. ``updated()`` returns the next one: it analyses only the
changed chunks and adds them as a small segment of term counts (scipy sparse), marks the rows they
replace as deleted, and keeps the corpus statistics (N, average length, document frequencies) over
the live chunks only, so a score equals a from-scratch BM25 (Lucene idf, bm25s's "lucene" method)
over the same chunks. Scores are computed at query time from the counts, because every write
changes N and the average length, which a precomputed score matrix (bm25s) bakes in. Small
segments merge once there are more than ``MAX_SEGMENTS``; the rows are renumbered once a quarter of
them are deleted. Both work from stored term counts, never re-analysing text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from firstlast.retriever.analysis import Analyzer, TextAnalyzer
from firstlast.types import Chunk

# Anserini's BM25 defaults (k1 0.9, b 0.4) rather than the textbook 1.2 / 0.75: weaker length
# normalisation suits help content, where the section that answers is often a long overview. Measured
# on the dev splits with dense fusion: emanual_smarttv recall@5 0.869 -> 0.898, mtrag unchanged (0.981).
BM25_K1 = 0.9
BM25_B = 0.4

MAX_SEGMENTS = 8  # more than this many and all but the largest merge into one
DEAD_SHARE = 0.25  # deleted rows beyond this share of all rows: renumber the live ones

_Terms = tuple[np.ndarray, np.ndarray]  # a chunk's distinct term ids and their counts


def index_text(chunk: Chunk) -> str:
    """The text a chunk is found by: its title and heading path, then its body."""
    head = " > ".join(p for p in (chunk.title, chunk.section) if p)
    if head and not chunk.text.startswith(chunk.title or "\0"):
        return f"{head}\n{chunk.text}"
    return chunk.text


@dataclass(frozen=True)
class _Segment:
    rows: np.ndarray  # the index row of each of its chunks
    counts: sparse.csc_matrix  # one row per chunk, one column per term id known when it was built


def _segment(rows: Sequence[int], terms: Sequence[_Terms], n_terms: int) -> _Segment:
    sizes = [len(ids) for ids, _ in terms]
    cols = np.concatenate([ids for ids, _ in terms]) if terms else np.zeros(0, np.int32)
    data = np.concatenate([c for _, c in terms]) if terms else np.zeros(0, np.float32)
    local = np.repeat(np.arange(len(terms), dtype=np.int32), sizes)
    counts = sparse.csc_matrix(
        (data.astype(np.float32), (local, cols)), shape=(len(terms), n_terms), dtype=np.float32
    )
    return _Segment(np.asarray(rows, dtype=np.int64), counts)


class BM25Index:
    """A BM25 snapshot over a list of chunks.

    >>> index = BM25Index(chunks, analyzer=TextAnalyzer())
    >>> index.search("reset password", k=5)   # [(chunk, score), ...]
    >>> index = index.updated({"refunds"}, new_refund_chunks)   # the next snapshot

    ``previous`` is the index this one replaces: chunks it already analysed (same id and text)
    keep their terms, so a rebuild analyses only new or changed chunks (Korean morphemes cost about
    10 ms a chunk on a shared CPU). Snapshots share their vocabulary, which only grows; only one
    thread at a time may derive snapshots from one lineage (readers need no lock).
    """

    def __init__(
        self,
        chunks: Sequence[Chunk] = (),
        k1: float = BM25_K1,
        b: float = BM25_B,
        analyzer: Analyzer | None = None,
        previous: BM25Index | None = None,
    ) -> None:
        self.k1, self.b = k1, b
        self.analyzer = analyzer or TextAnalyzer()
        reuse = previous if previous is not None and previous.analyzer is self.analyzer else None
        self._vocab: dict[str, int] = reuse._vocab if reuse is not None else {}
        chunks = list(chunks)
        terms = [self._terms(c, reuse) for c in chunks]
        self._assemble(list(chunks), terms)

    # -- building ---------------------------------------------------------------------------------
    def _terms(self, chunk: Chunk, previous: BM25Index | None) -> _Terms:
        text = index_text(chunk)
        if previous is not None and (row := previous._row_by_id.get(chunk.id)) is not None:
            known = previous._chunks[row]
            if known is not None and index_text(known) == text:
                return previous._terms_of[row]  # type: ignore[return-value]
        tokens = self.analyzer.tokens(text) or ["\0"]
        ids = np.fromiter((self._vocab.setdefault(t, len(self._vocab)) for t in tokens), np.int32)
        unique, counts = np.unique(ids, return_counts=True)
        return unique.astype(np.int32), counts.astype(np.int32)

    def _assemble(self, chunks: Sequence[Chunk | None], terms: Sequence[_Terms | None]) -> None:
        """Index ``chunks`` (None for a deleted row) from scratch, as one segment."""
        live = [r for r, c in enumerate(chunks) if c is not None]
        self._chunks = [chunks[r] for r in live]
        self._terms_of: list[_Terms | None] = [terms[r] for r in live]
        kept: list[_Terms] = [t for t in self._terms_of if t is not None]
        n_terms = len(self._vocab)
        self._segments: tuple[_Segment, ...] = (_segment(range(len(kept)), kept, n_terms),) if kept else ()
        self._lengths = np.array([int(c.sum()) for _, c in kept], dtype=np.float64)
        self._alive = np.ones(len(kept), dtype=bool)
        self._df = np.zeros(n_terms, dtype=np.int64)
        for ids, _ in kept:
            self._df[ids] += 1
        self._row_by_id = {c.id: r for r, c in enumerate(self._chunks) if c is not None}
        self._rows_by_doc: dict[str, list[int]] = {}
        for r, c in enumerate(self._chunks):
            if c is not None:
                self._rows_by_doc.setdefault(c.doc_id, []).append(r)
        self._n = len(kept)
        self._total = float(self._lengths.sum())
        self._prepare()

    def _prepare(self) -> None:
        avgdl = self._total / self._n if self._n else 1.0
        self._norm = self.k1 * (1 - self.b + self.b * self._lengths / avgdl)

    def updated(self, doc_ids: Iterable[str], chunks: Sequence[Chunk]) -> BM25Index:
        """The next snapshot: every chunk of ``doc_ids`` is replaced by ``chunks`` (their current
        chunks; none when the documents were deleted). This snapshot stays valid for its readers."""
        new = object.__new__(BM25Index)
        new.k1, new.b, new.analyzer, new._vocab = self.k1, self.b, self.analyzer, self._vocab
        new._chunks, new._terms_of = list(self._chunks), list(self._terms_of)
        new._row_by_id, new._rows_by_doc = dict(self._row_by_id), dict(self._rows_by_doc)
        new._alive, new._lengths = self._alive.copy(), self._lengths
        new._n, new._total, new._segments = self._n, self._total, self._segments
        chunks = list({c.id: c for c in chunks}.values())
        added = [new._terms(c, self) for c in chunks]  # reuses the terms of unchanged chunks
        new._df = np.zeros(len(new._vocab), dtype=np.int64)
        new._df[: len(self._df)] = self._df
        gone = {r for d in doc_ids for r in new._rows_by_doc.pop(d, [])}
        gone |= {r for c in chunks if (r := new._row_by_id.get(c.id)) is not None}
        for r in gone:
            ids, counts = new._terms_of[r]  # type: ignore[misc]
            new._df[ids] -= 1
            new._n -= 1
            new._total -= float(new._lengths[r])
            old = new._chunks[r]
            if old is not None:
                new._row_by_id.pop(old.id, None)
                rows = [x for x in new._rows_by_doc.get(old.doc_id, []) if x != r]
                if rows:
                    new._rows_by_doc[old.doc_id] = rows
                else:
                    new._rows_by_doc.pop(old.doc_id, None)
            new._chunks[r], new._terms_of[r] = None, None
        if gone:
            new._alive[list(gone)] = False
        first = len(new._chunks)
        for offset, (chunk, (ids, counts)) in enumerate(zip(chunks, added)):
            row = first + offset
            new._chunks.append(chunk)
            new._terms_of.append((ids, counts))
            new._row_by_id[chunk.id] = row
            new._rows_by_doc[chunk.doc_id] = [*new._rows_by_doc.get(chunk.doc_id, []), row]
            new._df[ids] += 1
            new._n += 1
            new._total += float(counts.sum())
        if added:
            new_rows = range(first, first + len(added))
            new._alive = np.concatenate([new._alive, np.ones(len(added), dtype=bool)])
            lengths = np.array([float(c.sum()) for _, c in added])
            new._lengths = np.concatenate([new._lengths, lengths])
            new._segments = (*new._segments, _segment(new_rows, added, len(new._vocab)))
        dead = len(new._chunks) - new._n
        if dead > DEAD_SHARE * len(new._chunks):
            new._assemble(new._chunks, new._terms_of)  # renumber the live rows, one segment
            return new
        if len(new._segments) > MAX_SEGMENTS:
            new._merge_small()
        new._prepare()
        return new

    def _merge_small(self) -> None:
        """All segments but the largest become one, without their deleted rows."""
        largest = max(self._segments, key=lambda s: len(s.rows))
        rows = [int(r) for s in self._segments if s is not largest for r in s.rows if self._alive[r]]
        terms: list[_Terms] = [self._terms_of[r] for r in rows]  # type: ignore[misc]
        merged = (_segment(rows, terms, len(self._vocab)),) if rows else ()
        self._segments = (largest, *merged)

    # -- queries ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def chunks(self) -> list[Chunk]:
        """The live chunks, in index order."""
        return [c for c in self._chunks if c is not None]

    def search(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        return self.search_tokens(self.analyzer.tokens(query), k)

    def _row_scores(self, tokens: Sequence[str]) -> np.ndarray:
        scores = np.zeros(len(self._chunks), dtype=np.float64)
        ids = [i for t in tokens if (i := self._vocab.get(t)) is not None and i < len(self._df)]
        ids = [i for i in ids if self._df[i] > 0]
        if not ids or not self._n:
            return scores
        df = self._df[ids].astype(np.float64)
        idf = np.log(1 + (self._n - df + 0.5) / (df + 0.5))  # Lucene's, as bm25s's "lucene"
        for segment in self._segments:
            counts = segment.counts
            for term, weight in zip(ids, idf):
                if term >= counts.shape[1]:
                    continue
                start, end = counts.indptr[term], counts.indptr[term + 1]
                if start == end:
                    continue
                rows = segment.rows[counts.indices[start:end]]
                tf = counts.data[start:end]
                scores[rows] += weight * tf / (self._norm[rows] + tf)
        scores[~self._alive] = 0.0
        return scores

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk, in the order of ``chunks``."""
        return self._row_scores(tokens)[self._alive]

    def search_tokens(self, tokens: list[str], k: int) -> list[tuple[Chunk, float]]:
        if not self._n or not tokens:
            return []
        scores = self._row_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(c, float(scores[i])) for i in top if scores[i] > 0 and (c := self._chunks[i]) is not None]
