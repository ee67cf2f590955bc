"""The questions the knowledge base answers, matched question to question.

An FAQ's strongest signal is how close a new question is to the questions an entry already
answers. Those are a learned entry's generalised question and every customer wording merged into it
(``metadata["questions"]``), and the title or a heading of any document when it is itself a
question (an FAQ page). Each wording is embedded once (cached by text, so a rebuilt index embeds
only new wordings); a query gets, per document, its closest wording by cosine and the share of its
content words that wording holds.

What tells a paraphrase from a near miss is what the two do *not* share. *Can charities get a
discount?* and *Do you offer a discount for non-profit organisations?* differ in words that mean the
same (charities, non-profit organisations); *Do you offer a discount for students?* differs in a
qualifier the learned question does not cover. So for the closest documents the words each side
lacks (the query's words missing from the wording, and the wording's missing from the query) are
embedded and compared: ``residual`` is their cosine (1 when either side adds nothing).

    >>> index = QuestionIndex(embedder); index.rebuild(store.chunks())
    >>> index.match(embedder.embed_query("Can I pay by invoice?"), "Can I pay by invoice?")
    {'learned/5f0c…': QuestionMatch(wording='Do you accept invoices?', similarity=0.83, overlap=0.5,
                                    residual=0.61)}
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import replace

import numpy as np

from firstlast.retriever.embeddings import DocumentVectors, Embedder
from firstlast.retriever.text import content_words, has_cjk, tokenize
from firstlast.types import Chunk, QuestionMatch

LEARNED_SOURCE = "learned"  # the source of learned entries (firstlast.learning.verdict says the same)
QUESTIONS_KEY = "questions"  # a document's other wordings of its question, one per line

# A heading is a question when it ends with a question mark, or (Japanese FAQ titles are often
# phrased as requests or statements) with a question or request ending.
_QUESTION_END = re.compile(
    r"(?:[?？]|(?:か|かな|でしょうか|ですか|ますか|たい|ください|下さい)[。．.]?|(?:까|나요|가요|죠)[.。]?)\s*$"
)


def is_question(text: str) -> bool:
    return bool(text.strip()) and _QUESTION_END.search(text.strip()) is not None


def wordings(chunk: Chunk, titles: bool = True) -> list[str]:
    """The questions a chunk's document answers, by what the chunk carries (with ``titles``, also
    an FAQ-like document's title or heading that is a question)."""
    if chunk.source == LEARNED_SOURCE:
        others = chunk.metadata.get(QUESTIONS_KEY, "").splitlines()
        return list(dict.fromkeys(w.strip() for w in [chunk.title, *others] if w.strip()))
    if not titles:
        return []
    heading = chunk.section.rsplit(" > ", 1)[-1] if chunk.section else ""
    return [w.strip() for w in dict.fromkeys((chunk.title, heading)) if is_question(w)]


_TOKEN = re.compile(r"\w+")
_KANA = re.compile(r"[\u3040-\u309f]+")  # hiragana: particles and endings once the shared words are gone


def residual_text(text: str, shared: set[str]) -> str:
    """What ``text`` says beyond the ``shared`` content words, in its own surface form: the words
    whose content words are not shared and, in CJK runs, the characters no shared bigram covers."""
    pieces: list[str] = []
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text)):
        token = match.group()
        words = content_words(token)
        if not words:  # a stop word or punctuation
            continue
        if has_cjk(token):
            covered = [False] * len(token)
            for i in range(len(token) - 1):
                if token[i : i + 2].lower() in shared:
                    covered[i] = covered[i + 1] = True
            if len(token) == 1 and token.lower() in shared:
                covered[0] = True
            runs = re.findall(r"[^\0]+", "".join("\0" if c else ch for ch, c in zip(token, covered)))
            pieces.extend(r for r in runs if _KANA.sub("", r))
        elif not words & shared:
            pieces.append(token)
    return " ".join(pieces)


def overlap(question: set[str], wording: set[str]) -> float:
    """Share of the question's content words in the wording (both ways' minimum)."""
    if not question or not wording:
        return 0.0
    shared = len(question & wording)
    return min(shared / len(question), shared / len(wording))


class QuestionIndex:
    """Wordings by document, their vectors, and a match per document for a query."""

    def __init__(
        self, embedder: Embedder, cache_size: int = 50_000, *, titles: bool = False, compared: int = 3
    ) -> None:
        if compared < 0:
            raise ValueError(f"compared must be >= 0, got {compared}")
        self._titles = titles  # off by default: measured worse on localgovfaq_ja (README)
        self._compared = compared  # documents whose residual is measured (the closest ones)
        self._embedder = embedder
        self._vectors = DocumentVectors(embedder, size=cache_size)
        self._lock = threading.Lock()
        self._docs: list[str] = []  # one per wording
        self._texts: list[str] = []
        self._words: list[set[str]] = []
        self._answers: dict[str, set[str]] = {}  # content words of each document's own text
        self._matrix = np.zeros((0, 1), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._texts)

    def rebuild(self, chunks: Sequence[Chunk]) -> None:
        """Every document's wordings anew: an update of all documents, known and given."""
        with self._lock:
            known = set(self._docs) | set(self._answers)
        self.update(known | {c.doc_id for c in chunks}, chunks)

    def update(self, doc_ids: Collection[str], chunks: Sequence[Chunk]) -> None:
        """Replace the wordings of ``doc_ids`` by those their current ``chunks`` carry (none when
        the documents were deleted); embeds only wordings it has not seen."""
        pairs = list(dict.fromkeys((c.doc_id, w) for c in chunks for w in wordings(c, self._titles)))
        added = [w for _, w in pairs]
        vectors = self._vectors.get(added) if added else None
        answers: dict[str, set[str]] = {d: set() for d, _ in pairs}
        for chunk in chunks:
            if chunk.doc_id in answers:
                answers[chunk.doc_id] |= content_words(chunk.text)
        with self._lock:
            self._answers = {d: a for d, a in self._answers.items() if d not in doc_ids} | answers
            keep = [i for i, d in enumerate(self._docs) if d not in doc_ids]
            matrix = self._matrix[keep] if keep else None
            if vectors is not None:
                matrix = vectors if matrix is None else np.vstack([matrix, vectors])
            self._docs = [self._docs[i] for i in keep] + [d for d, _ in pairs]
            self._texts = [self._texts[i] for i in keep] + added
            self._words = [self._words[i] for i in keep] + [content_words(t) for t in added]
            self._matrix = matrix if matrix is not None else np.zeros((0, 1), dtype=np.float32)

    def match(self, vector: np.ndarray, question: str) -> dict[str, QuestionMatch]:
        """Per document with wordings: the closest one to the query (by cosine, then overlap); the
        closest few documents also get the residual similarity (else 0)."""
        with self._lock:
            docs, texts, words, matrix = self._docs, self._texts, self._words, self._matrix
            answers = self._answers
        if not texts:
            return {}
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        asked = content_words(question)
        best: dict[str, QuestionMatch] = {}
        for i in np.argsort(-sims):
            doc = docs[i]
            if doc not in best:
                best[doc] = QuestionMatch(texts[i], float(sims[i]), overlap(asked, words[i]))
        closest = [d for d, m in best.items() if m.overlap > 0][: self._compared]
        wanted = [(best[d].wording, answers.get(d, set())) for d in closest]
        for doc, value in zip(closest, self._residuals(question, asked, wanted)):
            best[doc] = replace(best[doc], residual=value)
        return best

    def _residuals(
        self, question: str, asked: set[str], wanted: Sequence[tuple[str, set[str]]]
    ) -> list[float]:
        """Cosine of what the query says beyond each wording (and beyond the document's own text)
        and what the wording says beyond the query; 1 when either adds nothing (the same question,
        or one that only narrows or widens the other)."""
        pairs = []
        for wording, answer in wanted:
            said = set(tokenize(wording))
            extra = residual_text(question, asked & (said | answer))
            pairs.append((extra, residual_text(wording, asked & said)))
        texts = list(dict.fromkeys(t for pair in pairs if all(pair) for t in pair))
        if not texts:
            return [1.0] * len(pairs)
        vectors = dict(zip(texts, self._embedder.embed_documents(texts)))
        return [float(np.dot(vectors[a], vectors[b])) if a and b else 1.0 for a, b in pairs]
