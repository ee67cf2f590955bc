"""Extractive answerer: the reply is built from the knowledge base's own sentences, no LLM.

From the best hit it picks the window of up to ``max_sentences`` consecutive sentences that covers
the question best (content-word overlap, earlier sentences slightly preferred), renders it in the
brand voice and cites the chunk it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from firstlast.answerer.brand_voice import VoiceProfile
from firstlast.answerer.confidence import Calibrator, signals
from firstlast.answerer.protocol import Answerer as Answerer  # re-exported: the seam moved to protocol.py
from firstlast.language import mismatched
from firstlast.retriever.text import content_words
from firstlast.types import Citation, Draft, Hit, Question

_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|\n+|(?<=。)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a passage, markup-light, in order."""
    out = []
    for piece in _SPLIT.split(text):
        piece = re.sub(r"<br\s*/?>", " ", piece).strip()
        if piece and not re.fullmatch(r"[#>*\-\s|]+", piece):
            out.append(piece.lstrip("#").strip())
    return out


def best_window(question: str, sentences: Sequence[str], size: int) -> tuple[int, int]:
    """[start, end) of the window of at most ``size`` sentences that best covers the question."""
    start, end, _ = scored_window(question, sentences, size)
    return start, end


def scored_window(question: str, sentences: Sequence[str], size: int) -> tuple[int, int, float]:
    """Like :func:`best_window`, with the window's coverage score."""
    if not sentences:
        return 0, 0, -1.0
    q = content_words(question)
    sent_words = [content_words(s) for s in sentences]
    best, best_score = (0, min(size, len(sentences))), -1.0
    for start in range(len(sentences)):
        for end in range(start + 1, min(start + size, len(sentences)) + 1):
            covered = set().union(*sent_words[start:end]) & q
            score = len(covered) / (len(q) or 1) - 0.02 * start - 0.01 * (end - start)
            if score > best_score:
                best, best_score = (start, end), score
    start, end = best
    # A list item with its lead-in reads better: extend over following list items, within size.
    while end < len(sentences) and end - start < size and _LIST_ITEM.match(sentences[end]):
        end += 1
    # A window ending on a question ("Forgot your password?") has its answer in the next sentence.
    while end < len(sentences) and end - start < size and sentences[end - 1].endswith(("?", "？")):
        end += 1
    return start, end, best_score


class ExtractiveAnswerer:
    """Answers with sentences from the top passage.

    >>> ExtractiveAnswerer(profile, calibrator).answer(Question("Can I get a refund?"), hits)
    """

    def __init__(
        self,
        voice: VoiceProfile,
        calibrator: Calibrator,
        max_sentences: int = 3,
        *,
        multilingual_model: Callable[[], bool] = lambda: False,
    ) -> None:
        if max_sentences <= 0:
            raise ValueError(f"max_sentences must be > 0, got {max_sentences}")
        self._voice = voice
        self._calibrator = calibrator
        self._max_sentences = max_sentences
        self._multilingual_model = multilingual_model  # the embedder's, read per answer (auto backend)

    def answer(self, question: Question, hits: Sequence[Hit]) -> Draft:
        if not hits:
            sig = signals(question, hits, None, multilingual_model=self._multilingual_model())
            return Draft("", (), self._calibrator.probability(sig), "", sig)
        top, evidence = self._extract(question, hits)
        citation = Citation(top.chunk.doc_id, top.chunk.id, top.chunk.title, top.chunk.url)
        sig = signals(question, hits, top, multilingual_model=self._multilingual_model())
        body = evidence
        if mismatched(question.lang, top.chunk.lang):  # no knowledge in the customer's language
            if self._voice.language_policy == "handoff":
                sig = {**sig, "language_mismatch": 1.0}
                return Draft("", (), self._calibrator.probability(sig), evidence, sig)
            body = f"{self._voice.note_for(question.lang)} {evidence}"
        text = self._voice.render(body, question.channel, link=top.chunk.url)
        return Draft(text, (citation,), self._calibrator.probability(sig), evidence, sig)

    def _extract(self, question: Question, hits: Sequence[Hit]) -> tuple[Hit, str]:
        """The best window among the top document's chunks in the first hits.

        Retrieval decides the document; within it, the section that covers the question best
        (its sentences, plus its heading at half weight) supplies the answer.
        """
        doc_id = hits[0].chunk.doc_id
        words = content_words(question.text)
        best: tuple[float, Hit, str] | None = None
        # Rank among this document's chunks: diversification moves a document's extra chunks behind
        # other documents, which says nothing about which of its sections answers best.
        same_doc = [hit for hit in hits if hit.chunk.doc_id == doc_id]
        for rank, hit in enumerate(same_doc):
            sentences = split_sentences(hit.chunk.text)
            start, end, score = scored_window(question.text, sentences, self._max_sentences)
            heading = content_words(hit.chunk.section) & words
            score += 0.5 * len(heading) / (len(words) or 1) - 0.03 * rank
            evidence = " ".join(sentences[start:end]) or hit.chunk.text.strip()
            if best is None or score > best[0]:
                best = (score, hit, evidence)
        assert best is not None  # hits[0] is always a candidate
        return best[1], best[2]
