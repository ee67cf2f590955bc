"""The package's one sentence splitter, for English, Japanese, Korean and other space-separated text.

A sentence ends at ``. ! ?`` followed by white space and a likely sentence start, at ``。！？`` (no space
needed), and at a line break. It does not end after a known abbreviation ("e.g.", "Mr.", "No."), a
list number ("1. Go to ...") or a single initial, and a decimal or version ("1.5", "v2.0") never
splits because no space follows the dot.

    >>> split_sentences("Go to Settings, e.g. on the web. Then click Save.\\n1. Open it")
    ['Go to Settings, e.g. on the web.', 'Then click Save.', '1. Open it']

Measured against ``pysbd`` (the maintained rule-based splitter) on 150 documents of each dev KB:
English (emanual) the same split in 145 of 150 documents, at 60 ms against pysbd's 1,030 ms; Japanese
(localgovfaq) pysbd cuts full-width list numbers ("３．") off as sentences of their own; pysbd has no
Korean. The answer path splits whole sections for every question, so this stays a regex.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    (
        "e.g",
        "i.e",
        "etc",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "no",
        "nos",
        "approx",
        "incl",
        "min",
        "max",
        "fig",
        "esp",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
    )
)
# a candidate end: closing punctuation, then space; or CJK full stops (space optional); or a newline
_CANDIDATE = re.compile(
    r"[.!?]+[\"')\]”’]*\s+|[。！？]+[」』）)]*\s*|\n+"
    r"|(?<=[\uac00-\ud7a3])\.(?=[\uac00-\ud7a3\[(※·])"  # Korean flattened without a space: "됩니다.다만"
)


def split_sentences(text: str) -> list[str]:
    """Sentences (and lines) of ``text`` in order, stripped, without empty pieces."""
    out: list[str] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        if "\n" not in match.group(0) and not _ends_sentence(text, match):
            continue
        piece = text[start : match.end()].strip()
        if piece and out and not any(c.isalnum() for c in piece):
            out[-1] += piece  # a stray full stop or bracket belongs to the sentence before it
        elif piece:
            out.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    mark = match.group(0).strip()
    if mark[:1] in "。！？!?" or (mark == "." and match.end() == match.start() + 1):
        return True  # CJK full stops, and a Korean "." directly followed by the next sentence
    end = match.start()
    word = text[max(text.rfind(" ", 0, end), text.rfind("\n", 0, end)) + 1 : end]
    bare = word.lstrip("(\"'“‘[").lower()
    if bare in _ABBREVIATIONS or bare.rstrip(".") in _ABBREVIATIONS:
        return False
    if bare.isdigit() and len(bare) <= 2:
        return False  # "1. Go to", "... app. 2. In Settings": a list number, not a sentence
    if len(word) == 1 and word.isupper():
        return False  # an initial: "J. Smith"
    return not text[match.end() : match.end() + 1].islower()  # "etc. and" carries on
