"""Language-aware tokens for lexical search.

Latin-script text: lower-cased words without stop words, with a light suffix stemmer so "passwords"
matches "password". CJK text (Japanese, Chinese, Korean) has no spaces between words, so it becomes
overlapping character bigrams (plus single kanji/hangul), the standard trick for n-gram indexing.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_CJK_RUN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]+"
)
_CJK_ANY = _CJK_RUN

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "don",
        "isn",
        "aren",
        "wasn",
        "i'm",
        "it's",
        "let",
        "please",
        "hi",
        "hello",
        "thanks",
        "thank",
    ]
)


def stem(word: str) -> str:
    """A light English suffix stripper (plural and common verb endings)."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)] + repl
    return word


def has_cjk(text: str) -> bool:
    return _CJK_ANY.search(text) is not None


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: stemmed words for Latin script, character bigrams for CJK runs."""
    norm = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for run in _CJK_RUN.findall(norm):
        if len(run) == 1:
            tokens.append(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    latin = _CJK_RUN.sub(" ", norm)
    tokens.extend(stem(w) for w in _WORD.findall(latin) if w not in STOP_WORDS)
    return tokens


def content_words(text: str) -> set[str]:
    """Distinct tokens of a text, for overlap measures between question and passage."""
    return set(tokenize(text))


_PATH_WORD = re.compile(r"[^\W\d_]{3,}")
MAX_PAGE_TITLE_CHARS = 300  # what the widget sends of document.title


def page_query(page_url: str, page_title: str = "") -> str:
    """What the page is about: its title and its path's words (``/billing/invoices``: billing invoices)."""
    path = urlsplit(page_url).path if "://" in page_url else page_url
    return " ".join(
        [
            page_title.strip()[:MAX_PAGE_TITLE_CHARS],
            *_PATH_WORD.findall(path.replace("-", " ").replace("_", " ")),
        ]
    ).strip()
