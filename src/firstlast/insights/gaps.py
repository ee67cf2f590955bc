"""Content gaps: what customers ask that the bot could not answer, grouped into topics.

The questions handed off, offered a person, asked to rephrase, or answered below the low-confidence
line are embedded with the process's own embedder (MiniLM / e5), clustered with HDBSCAN
(scikit-learn; no number of topics to guess, and a one-off question stays unclustered instead of
being forced into a topic), and each topic is labelled by its most central questions and its key
terms (c-TF-IDF over the customers' own words, so the label is in their language).

    topics, unclustered = cluster_questions(questions, embedder, min_topic_size=3)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from sklearn.cluster import HDBSCAN
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from firstlast.retriever.embeddings import Embedder
from firstlast.retriever.text import STOP_WORDS, has_cjk

GapKind = Literal["handed_off", "offered", "no_answer", "low_confidence"]
_LATIN_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}")
_CJK_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+")
_STOP = frozenset(ENGLISH_STOP_WORDS) | STOP_WORDS | {"can", "does", "way", "want", "need", "use"}


@dataclass(frozen=True)
class GapQuestion:
    conversation_id: str
    text: str
    kind: GapKind
    at: datetime


@dataclass(frozen=True)
class Example:
    conversation_id: str
    question: str
    kind: GapKind


@dataclass(frozen=True)
class Topic:
    """One content gap: its size, label, and the questions closest to its centre first."""

    id: int
    count: int
    label: str  # the most central question
    central_questions: tuple[str, ...]
    terms: tuple[str, ...]
    handed_off_share: float
    examples: tuple[Example, ...]
    members: tuple[int, ...]  # indices into the clustered questions, most central first


def key_terms(cjk_tokens: Callable[[str], list[str]] | None = None) -> Callable[[str], list[str]]:
    """A tokeniser for labels: whole words for Latin script (stop words left out, not stemmed, so
    a label reads as the customer wrote it), morphemes (or character bigrams) for CJK text."""

    def tokens(text: str) -> list[str]:
        norm = unicodedata.normalize("NFKC", text).lower()
        words = [w for w in _LATIN_WORD.findall(_CJK_CHARS.sub(" ", norm)) if w not in _STOP]
        if has_cjk(norm):
            if cjk_tokens is not None:
                words += [t for t in cjk_tokens(norm) if has_cjk(t) and len(t) > 1]
            else:
                words += [run[i : i + 2] for run in _CJK_CHARS.findall(norm) for i in range(len(run) - 1)]
        return words

    return tokens


def cluster_questions(
    questions: Sequence[GapQuestion],
    embedder: Embedder,
    *,
    min_topic_size: int = 3,
    cjk_tokens: Callable[[str], list[str]] | None = None,
    terms: int = 5,
) -> tuple[list[Topic], int, np.ndarray]:
    """Topics, largest first; how many questions stayed unclustered; the topics' unit centroids."""
    if min_topic_size < 2:
        raise ValueError(f"min_topic_size must be >= 2, got {min_topic_size}")
    if len(questions) < min_topic_size:
        return [], len(questions), np.zeros((0, 0))
    vectors = np.asarray(embedder.embed_documents([q.text for q in questions]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    # on unit vectors the euclidean distance orders pairs exactly as the cosine does
    labels = HDBSCAN(
        min_cluster_size=min_topic_size,
        min_samples=min(min_topic_size, 2),
        cluster_selection_method="leaf",  # finer topics: purity 0.69 vs 0.67 (eom), all emanual dev questions
        copy=True,
    ).fit_predict(vectors)
    ids = sorted({int(label) for label in labels if label >= 0}, key=lambda c: -int(np.sum(labels == c)))
    orders, centroids = [], []
    for cluster in ids:  # each topic's questions, the most central (closest to the mean) first
        members = np.flatnonzero(labels == cluster)
        centroid = vectors[members].mean(axis=0)
        centroids.append(centroid / max(float(np.linalg.norm(centroid)), 1e-12))
        orders.append([int(i) for i in members[np.argsort(-(vectors[members] @ centroid))]])
    documents = [" \n".join(questions[i].text for i in order) for order in orders]
    noise = " \n".join(questions[int(i)].text for i in np.flatnonzero(labels < 0))
    top_terms = _ctfidf_terms([*documents, noise], key_terms(cjk_tokens), terms)
    topics = []
    for rank, order in enumerate(orders):
        central = tuple(dict.fromkeys(questions[i].text for i in order))[:3]
        topics.append(
            Topic(
                id=rank,
                count=len(order),
                label=central[0],
                central_questions=central,
                terms=top_terms[rank],
                handed_off_share=float(np.mean([questions[i].kind == "handed_off" for i in order])),
                examples=tuple(
                    Example(questions[i].conversation_id, questions[i].text, questions[i].kind)
                    for i in order[:5]
                ),
                members=tuple(order),
            )
        )
    return topics, int(np.sum(labels < 0)), np.asarray(centroids)


def _ctfidf_terms(
    documents: Sequence[str], tokenizer: Callable[[str], list[str]], top: int
) -> list[tuple[str, ...]]:
    """Each topic (one document of all its questions, most central first) described by the terms
    frequent in it and rare in the others: class-based TF-IDF as BERTopic computes it,
    ``tf(t, topic) * log(1 + mean words per topic / tf(t, all))``. Ties go to the term that comes
    first in the topic's most central questions."""
    if not any(tokenizer(d) for d in documents):
        return [() for _ in documents]
    vectorizer = CountVectorizer(analyzer=tokenizer)
    counts = vectorizer.fit_transform(documents).toarray().astype(float)
    vocabulary = vectorizer.get_feature_names_out()
    weight = np.log1p(counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1.0))
    out = []
    for document, row in zip(documents, counts * weight):
        first = {term: i for i, term in reversed(list(enumerate(tokenizer(document))))}
        candidates = [i for i in np.flatnonzero(row > 0)]
        candidates.sort(key=lambda i: (-row[i], first.get(str(vocabulary[i]), 0)))
        out.append(tuple(str(vocabulary[i]) for i in candidates[:top]))
    return out
