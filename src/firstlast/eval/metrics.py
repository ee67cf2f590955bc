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
