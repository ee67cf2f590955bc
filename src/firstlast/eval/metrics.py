"""Metric functions for the offline evaluation; pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def recall_at(ranked_docs: Sequence[str], gold: frozenset[str], k: int) -> float:
    return 1.0 if gold.intersection(ranked_docs[:k]) else 0.0


def reciprocal_rank(ranked_docs: Sequence[str], gold: frozenset[str], k: int = 10) -> float:
    for rank, doc in enumerate(ranked_docs[:k], start=1):
        if doc in gold:
            return 1.0 / rank
    return 0.0


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney U with ties); 0.5 when only one class is present."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return 0.5
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def ece(confidences: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error with equal-width bins over [0, 1]."""
    c = np.asarray(confidences, dtype=float)
    y = np.asarray(labels, dtype=float)
    if len(c) == 0:
        return 0.0
    idx = np.minimum((c * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() / len(c) * abs(y[mask].mean() - c[mask].mean())
    return float(total)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0


# -- brand voice (issue #4) ------------------------------------------------------------------------


def voice_metrics(
    replies: Sequence[tuple[str, str, bool]],
    banned_phrases: Sequence[str],
    max_length: Mapping[Any, int],
    greeting: Mapping[Any, str],
) -> dict[str, float]:
    """Brand-voice compliance of (reply text, channel, answered) triples; goals 0 / 0 / 1.

    banned_phrase_rate and over_length_rate count every reply shown (answers and handoff messages);
    greeting_rate counts answers, each compliant when it starts with its channel's greeting (or the
    channel has none).
    """
    if not replies:
        return {"banned_phrase_rate": 0.0, "over_length_rate": 0.0, "greeting_rate": 1.0}
    patterns = [re.compile(rf"\b{re.escape(p)}\b", re.IGNORECASE) for p in banned_phrases]
    banned = sum(any(p.search(text) for p in patterns) for text, _, _ in replies)
    over = sum(len(text) > max_length.get(channel, 10**9) for text, channel, _ in replies)
    answers = [(text, channel) for text, channel, answered in replies if answered]
    greeted = sum(text.startswith(greeting.get(channel, "")) for text, channel in answers)
    return {
        "banned_phrase_rate": banned / len(replies),
        "over_length_rate": over / len(replies),
        "greeting_rate": greeted / len(answers) if answers else 1.0,
    }


# -- answer completeness (issue #9) ----------------------------------------------------------------

_CJK_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
RESOLVED_SHARE = 0.5  # a reply resolves a question when it holds half of the gold answer's content words


class AnswerTokenizer:
    """Tokens for comparing a reply with a gold answer: rouge-score's tokeniser with the Porter
    stemmer for Latin script (lower-cased, punctuation dropped), characters for CJK runs (Japanese
    and Korean have no spaces to split words on). Passed to ``rouge_score`` for ROUGE-L too.

    >>> AnswerTokenizer().tokenize("Click Download PDFs。設定")
    ['click', 'download', 'pdf', '設', '定']
    """

    def __init__(self) -> None:
        from rouge_score.tokenizers import DefaultTokenizer

        self._latin = DefaultTokenizer(use_stemmer=True)

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        last = 0
        for run in _CJK_CHARS.finditer(text):
            tokens += self._latin.tokenize(text[last : run.start()])
            tokens += list(run.group(0))
            last = run.end()
        return tokens + self._latin.tokenize(text[last:])


class AnswerScorer:
    """How much of a gold answer a reply carries.

    ``content_recall`` is the share of the gold answer's distinct content words (stemmed, stop words
    left out; CJK: characters) that appear in the reply; ``rouge_l_recall`` is ROUGE-L recall
    (``rouge-score``), which also rewards keeping the answer's word order.
    """

    def __init__(self) -> None:
        from rouge_score.rouge_scorer import RougeScorer

        from firstlast.retriever.text import STOP_WORDS

        self._tokenizer = AnswerTokenizer()
        self._rouge = RougeScorer(["rougeL"], tokenizer=self._tokenizer)
        self._stop = {t for w in STOP_WORDS for t in self._tokenizer.tokenize(w)}

    def content_words(self, text: str) -> set[str]:
        return {t for t in self._tokenizer.tokenize(text) if t not in self._stop}

    def content_recall(self, reply: str, gold: str) -> float:
        wanted = self.content_words(gold)
        return len(wanted & self.content_words(reply)) / len(wanted) if wanted else 0.0

    def rouge_l_recall(self, reply: str, gold: str) -> float:
        return float(self._rouge.score(gold, reply)["rougeL"].recall) if gold.strip() else 0.0


def answer_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """answer_recall, rouge_l_recall, resolution_rate and resolution_precision of eval rows.

    Each row has ``answerable``, ``answered``, ``has_gold_answer`` and, when it has one,
    ``answer_recall``/``rouge_l`` of the sent reply. answer_recall (and rouge_l_recall) is the mean
    over answered answerable rows with a gold answer; resolution_rate = answerable rows with a gold
    answer whose sent reply holds >= 50% of it, over answerable rows with a gold answer (a handoff
    resolves nothing; the citation is not required); resolution_precision = those resolved over the
    answered rows that could be judged (with a gold answer, or unanswerable: answering those is wrong).
    """
    gold = [r for r in rows if r["answerable"] and r.get("has_gold_answer")]
    if not gold:
        return {}  # nothing to compare replies with (e.g. a FAQ set without gold answers)
    answered = [r for r in gold if r["answered"]]
    resolved = [r for r in answered if float(r.get("answer_recall") or 0.0) >= RESOLVED_SHARE]
    judged = len(answered) + sum(bool(r["answered"]) for r in rows if not r["answerable"])
    return {
        "answer_recall": _mean([float(r.get("answer_recall") or 0.0) for r in answered]),
        "rouge_l_recall": _mean([float(r.get("rouge_l") or 0.0) for r in answered]),
        "resolution_rate": len(resolved) / len(gold) if gold else 0.0,
        "resolution_precision": len(resolved) / judged if judged else 0.0,
    }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else 0.0
