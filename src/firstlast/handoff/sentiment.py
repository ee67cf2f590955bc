"""Is the customer upset? VADER for English; a short phrase list for Japanese and Korean.

VADER (vaderSentiment) is a maintained lexicon-and-rule model made for short social text; a
compound score at or below ``threshold`` counts as frustration. It knows no CJK, so for Japanese and
Korean we match a small list of unmistakable complaint phrases instead: it catches the obvious cases
and never fires on neutral questions, which matters more than recall for a handoff trigger.
"""

from __future__ import annotations

import re

from firstlast.retriever.text import has_cjk

_CJK_COMPLAINTS = re.compile(
    r"ふざけ|最悪|ひどい|酷い|腹が立|むかつ|いい加減にして|役に立たない|使えない|怒"
    r"|짜증|최악|화가\s*나|열받|어이없|쓸모\s*없|답답",
)


class FrustrationDetector:
    """>>> FrustrationDetector()("This is useless, I am so angry!")  # True"""

    def __init__(self, threshold: float = -0.5) -> None:
        if not -1.0 <= threshold <= 0.0:
            raise ValueError(f"threshold must be in [-1, 0], got {threshold}")
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()
        self.threshold = threshold

    def __call__(self, text: str) -> bool:
        if has_cjk(text):
            return _CJK_COMPLAINTS.search(text) is not None
        return float(self._vader.polarity_scores(text)["compound"]) <= self.threshold
