"""Extractive answerer: the reply is built from the knowledge base's own text, no LLM.

Retrieval decides the document; among its sections in the hits, the one whose units cover the
question best answers it. The reply is made of whole units of that section (a procedure with all its
steps, a list with its lead-in, a paragraph; see :mod:`firstlast.answerer.units`), as much of the
section as the channel's length allows, with a "read more" link to the article when it was cut. A
question with two parts that one section does not cover gets a second section for the other part.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from firstlast.answerer.brand_voice import VoiceProfile
from firstlast.answerer.confidence import Calibrator, signals
from firstlast.answerer.protocol import Answerer as Answerer  # re-exported: the seam moved to protocol.py
from firstlast.answerer.units import Selection, Unit, parse_units, question_parts, render, select
from firstlast.language import mismatched
from firstlast.retriever.text import content_words
from firstlast.types import Chunk, Citation, Draft, Hit, Question

_PARSED_SECTIONS = 2048  # sections whose units are kept parsed


class DocumentSource(Protocol):
    """Every chunk of the document a chunk belongs to, in document order (the chunk included)."""

    def document_chunks(self, chunk: Chunk) -> Sequence[Chunk]: ...


class _HitsOnly:
    """Without a store: a document is the chunk that was found."""

    def document_chunks(self, chunk: Chunk) -> Sequence[Chunk]:
        return [chunk]


def top_section(path: str) -> str:
    """The top-level section of a heading path: "Export > What's not included" -> "Export"."""
    return path.split(" > ", 1)[0]


def sections(chunks: Sequence[Chunk]) -> dict[str, list[Chunk]]:
    """A document's chunks by top-level section, in document order (sub-sections belong to theirs)."""
    out: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        out.setdefault(top_section(chunk.section), []).append(chunk)
    return out


def section_text(chunks: Sequence[Chunk]) -> str:
    """One section's text from its chunks: the overlap the chunker repeats between neighbours is
    removed, and each sub-section starts with its heading line, so its units know it."""
    text, current = "", None
    for chunk in chunks:
        piece = chunk.text.strip()
        if chunk.section != current:
            if top_section(chunk.section) != chunk.section:
                piece = f"#### {chunk.section.rsplit(' > ', 1)[-1]}\n{piece}"
            text = f"{text}\n\n{piece}" if text else piece
            current = chunk.section
            continue
        overlap = next(
            (k for k in range(min(len(text), len(piece), 800), 15, -1) if text.endswith(piece[:k])), 0
        )
        rest = piece[overlap:].lstrip()
        text = f"{text}{' ' if overlap else chr(10)}{rest}" if rest else text
    return text


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    section: str  # top-level heading path
    selection: Selection
    score: float


class ExtractiveAnswerer:
    """Answers with whole units of the best section.

    >>> ExtractiveAnswerer(profile, calibrator, documents=retriever).answer(Question("Refund?"), hits)
    """

    def __init__(
        self,
        voice: VoiceProfile,
        calibrator: Calibrator,
        *,
        documents: DocumentSource | None = None,
        long_paragraph: int = 320,
        multilingual_model: Callable[[Question], bool] = lambda question: False,
    ) -> None:
        if long_paragraph <= 0:
            raise ValueError(f"long_paragraph must be > 0, got {long_paragraph}")
        self._voice = voice
        self._calibrator = calibrator
        self._documents = documents or _HitsOnly()
        self._long_paragraph = long_paragraph
        self._multilingual_model = multilingual_model  # whether e5 scored this question's hits
        self._parsed: OrderedDict[tuple[str, str, str, int], list[Unit]] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, question: Question, hits: Sequence[Hit]) -> Draft:
        if not hits:
            sig = signals(question, hits, None, multilingual_model=self._multilingual_model(question))
            return Draft("", (), self._calibrator.probability(sig), "", sig)
        top_lang = hits[0].chunk.lang
        note = ""
        if mismatched(question.lang, top_lang):  # no knowledge in the customer's language
            if self._voice.language_policy == "handoff":
                sig = signals(question, hits, hits[0], multilingual_model=self._multilingual_model(question))
                sig = {**sig, "language_mismatch": 1.0}
                return Draft("", (), self._calibrator.probability(sig), "", sig)
            note = self._voice.note_for(question.lang)
        url = hits[0].chunk.url
        budget = self._voice.body_budget(question.channel, url) - (len(note) + 1 if note else 0)
        chosen = self._choose(question, hits, budget)
        if not all(c.selection.complete for c in chosen) and chosen[0].hit.chunk.url:
            more = self._voice.read_more(chosen[0].hit.chunk.url, chosen[0].hit.chunk.lang, question.channel)
            chosen = self._choose(question, hits, budget - len(more) - 2)
        else:
            more = ""
        evidence = "\n\n".join(render(c.selection.units) for c in chosen)
        top = chosen[0].hit
        sig = signals(
            question, hits, top, multilingual_model=self._multilingual_model(question), reply=evidence
        )
        body = "\n\n".join(p for p in (note, evidence, more) if p)
        text = self._voice.render(body, question.channel, link=top.chunk.url)
        citations = tuple(
            Citation(c.hit.chunk.doc_id, c.hit.chunk.id, c.hit.chunk.title, c.hit.chunk.url) for c in chosen
        )
        return Draft(text, citations, self._calibrator.probability(sig), evidence, sig)

    def _choose(self, question: Question, hits: Sequence[Hit], budget: int) -> list[_Candidate]:
        """The best section of the top document; with a question of several parts, the best section
        for each part (another document's when it answers that part clearly better)."""
        parts = question_parts(question.text)
        words = frozenset().union(*parts)
        best = max(self._document_candidates(hits, parts, words, budget), key=lambda c: c.score)
        if len(parts) < 2:
            return [best]
        pool: dict[tuple[str, str], Hit] = {}
        for hit in hits[:8]:
            pool.setdefault((hit.chunk.doc_id, top_section(hit.chunk.section)), hit)
        winners: list[tuple[str, str]] = []
        for part in parts:
            own = self._document_candidates(hits, [part], part, budget)
            other = [
                self._candidate(hit, key[1], [part], part, budget, rank + 3)  # the top document first
                for rank, (key, hit) in enumerate(pool.items())
                if key[0] != hits[0].chunk.doc_id
            ]
            win = max([*own, *other], key=lambda c: c.score)
            if win.selection.unit_coverage[0] >= 0.5:
                winners.append((win.hit.chunk.doc_id, win.section))
                pool.setdefault(winners[-1], win.hit)
        order = list(dict.fromkeys(winners))
        if len(order) < 2:
            return [best]
        first_key, second_key = order[0], order[1]
        own_parts = [p for p, w in zip(parts, winners) if w == second_key]
        second = self._candidate(
            pool[second_key], second_key[1], own_parts, frozenset().union(*own_parts), budget // 2, 0
        )
        rest = budget - len(render(second.selection.units)) - 2
        main_parts = [p for p, w in zip(parts, winners) if w != second_key] or parts
        first = self._candidate(
            pool[first_key], first_key[1], main_parts, frozenset().union(*main_parts), rest, 0
        )
        if first.selection.trimmed or second.selection.trimmed:  # never cut a procedure for another part
            return [self._candidate(pool[first_key], first_key[1], main_parts, words, budget, 0)]
        return [first, second]

    def _document_candidates(
        self, hits: Sequence[Hit], parts: Sequence[frozenset[str]], words: frozenset[str], budget: int
    ) -> list[_Candidate]:
        """Every top-level section of the top document, those with hits first in retrieval order.

        Rank among the document's own sections: diversification moves a document's extra chunks
        behind other documents, which says nothing about which of its sections answers best.
        """
        top = hits[0].chunk
        found: dict[str, Hit] = {}
        for hit in hits:
            if hit.chunk.doc_id == top.doc_id:
                found.setdefault(top_section(hit.chunk.section), hit)
        by_section = sections(self._documents.document_chunks(top))
        for name, chunks in by_section.items():
            found.setdefault(name, Hit(chunks[0], 0.0))
        return [
            self._candidate(hit, name, parts, words, budget, rank, by_section.get(name))
            for rank, (name, hit) in enumerate(found.items())
        ]

    def _units(self, section: str, chunks: Sequence[Chunk]) -> list[Unit]:
        """The section's units, parsed once per version of its document (a bounded cache)."""
        key = (chunks[0].doc_id, section, chunks[0].doc_hash, len(chunks))
        with self._lock:
            cached = self._parsed.get(key)
        if cached is None:
            cached = parse_units(section_text(chunks), self._long_paragraph)
            with self._lock:
                self._parsed[key] = cached
                while len(self._parsed) > _PARSED_SECTIONS:
                    self._parsed.popitem(last=False)
        return cached

    def _candidate(
        self,
        hit: Hit,
        section: str,
        parts: Sequence[frozenset[str]],
        words: frozenset[str],
        budget: int,
        rank: int,
        chunks: Sequence[Chunk] | None = None,
    ) -> _Candidate:
        if chunks is None:
            chunks = sections(self._documents.document_chunks(hit.chunk)).get(section) or [hit.chunk]
        units = self._units(section, chunks)
        heading = frozenset(content_words(section)) & words
        selection = select(units, parts, max(budget, 40), heading)
        # A section with one unit that answers (a part of) the question beats a long one that
        # mentions every word somewhere; with several parts, answering one well beats touching all.
        dense = max(selection.unit_coverage) if selection.unit_coverage else 0.0
        score = 0.5 * dense + 0.5 * selection.coverage + len(heading) / (len(words) or 1) - 0.03 * rank
        return _Candidate(hit, section, selection, score)
