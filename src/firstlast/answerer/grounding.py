"""The grounding guard: every sentence of a generated reply must be supported by the passages.

Support is measured two ways, and a sentence needs both:

* **meaning** — cosine between the sentence and its closest passage sentence,
  with the service's embedding model;
* **words** — the share of the sentence's content words (stemmed; character bigrams for CJK) that
  occur in the passages, and every number in the sentence must occur there too.

Sentences about the prompt itself ("as the passage says", "the customer wants to know ...") are not
claims about the product and are dropped. What this cannot catch: a sentence that recombines the
passages' own words into a wrong claim (that would need an entailment model).

An English-only embedder cannot read CJK text, so for CJK sentences the lexical test decides alone.

    guard = GroundingGuard(embedder)
    evidence = guard.prepare(["Open Settings > Security and turn on two-factor authentication."])
    guard.check("Turn on two-factor authentication in Settings > Security.", evidence).supported  # True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from firstlast.retriever.embeddings import DocumentVectors, Embedder
from firstlast.retriever.text import content_words, has_cjk
from firstlast.sentences import split_sentences

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
# Talk about the prompt rather than the product ("as the passage says", "[n]", restating the request).
_META = re.compile(
    r"\bpassages?\b|\[n\]|</?\s*(?:passage|knowledge|customer_message)"
    r"|\bthe (?:customer|member|user) (?:wants|is asking|asks|would like)\b",
    re.IGNORECASE,
)


def passage_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if len(s) > 1]


@dataclass(frozen=True)
class Evidence:
    """Passages prepared once per question: their words, numbers and sentence vectors."""

    passages: tuple[str, ...]
    words: tuple[frozenset[str], ...]  # content words per passage
    numbers: frozenset[str]
    vectors: np.ndarray  # (passage sentences, dim)
    owner: tuple[int, ...]  # passage index of each row of ``vectors``


@dataclass(frozen=True)
class Support:
    sentence: str
    cosine: float  # best cosine to a passage sentence, 0 when not measured (CJK, English-only model)
    overlap: float  # share of the sentence's content words found in the passages
    passage: int  # index of the best supporting passage, -1 when none
    supported: bool
    why: str = ""
    claim: bool = True  # False for sentences that state nothing about the product (fillers, prompt talk)


class GroundingGuard:
    """Checks generated sentences against the retrieved passages.

    >>> GroundingGuard(embedder, min_support=0.6, min_overlap=0.65)
    """

    def __init__(self, embedder: Embedder, min_support: float = 0.6, min_overlap: float = 0.65) -> None:
        if not 0.0 <= min_support <= 1.0:
            raise ValueError(f"min_support must be in [0, 1], got {min_support}")
        if not 0.0 <= min_overlap <= 1.0:
            raise ValueError(f"min_overlap must be in [0, 1], got {min_overlap}")
        self._embedder = embedder
        self.min_support = min_support
        self.min_overlap = min_overlap
        self._sentences = DocumentVectors(embedder)  # the same passages come back for many questions

    def prepare(self, passages: Sequence[str]) -> Evidence:
        texts: list[str] = []
        owner: list[int] = []
        for i, passage in enumerate(passages):
            for sentence in passage_sentences(passage):
                texts.append(sentence)
                owner.append(i)
        vectors = self._sentences.get(texts)
        numbers = frozenset(n for p in passages for n in _NUMBER.findall(p))
        return Evidence(
            tuple(passages),
            tuple(frozenset(content_words(p)) for p in passages),
            numbers,
            vectors,
            tuple(owner),
        )

    def check(self, sentence: str, evidence: Evidence, ignore: frozenset[str] = frozenset()) -> Support:
        """``ignore``: words that are not claims (the brand voice's own vocabulary and phrases)."""
        words = content_words(sentence) - ignore
        if not words:
            return Support(sentence, 0.0, 0.0, -1, False, "no content words", claim=False)
        if _META.search(sentence):
            return Support(
                sentence, 0.0, 0.0, -1, False, "talks about the prompt, not the product", claim=False
            )
        if not evidence.passages:
            return Support(sentence, 0.0, 0.0, -1, False, "no passages")
        everything = frozenset().union(*evidence.words)
        overlap = len(words & everything) / len(words)
        per_passage = [len(words & w) / len(words) for w in evidence.words]
        missing_numbers = set(_NUMBER.findall(sentence)) - evidence.numbers
        cjk_only = has_cjk(sentence) and not getattr(self._embedder, "multilingual", False)
        cosine = 0.0
        best = int(np.argmax(per_passage))
        if not cjk_only and len(evidence.vectors):
            vector = self._embedder.embed_query(sentence)
            sims = evidence.vectors @ vector
            row = int(np.argmax(sims))
            cosine = float(sims[row])
            best = evidence.owner[row]
        if missing_numbers:
            return Support(
                sentence, cosine, overlap, best, False, f"numbers not in passages: {missing_numbers}"
            )
        if overlap < self.min_overlap:
            return Support(sentence, cosine, overlap, best, False, f"word overlap {overlap:.2f}")
        if not cjk_only and cosine < self.min_support:
            return Support(sentence, cosine, overlap, best, False, f"similarity {cosine:.2f}")
        return Support(sentence, cosine, overlap, best, True)

    def supports(self, sentence: str, evidence: Evidence, passage: int) -> bool:
        """Whether one given passage (e.g. the one the model cited) carries the sentence's words."""
        words = content_words(sentence)
        if not words or not 0 <= passage < len(evidence.words):
            return False
        return len(words & evidence.words[passage]) / len(words) >= self.min_overlap
