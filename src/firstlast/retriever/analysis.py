"""Tokens for BM25 that read the language: morphemes for Korean and Japanese, stemmed words otherwise.

Korean and Japanese do not mark word boundaries the way BM25 needs: Japanese has no spaces, and a
Korean space-separated word (eojeol) glues particles and endings to the stem ("회원가입은",
"가입했는데"). Character bigrams (:func:`firstlast.retriever.text.tokenize`) find some of the right
words and many wrong ones; a morphological analyser finds the words themselves:

- Korean: Kiwi (``kiwipiepy``, model in ``kiwipiepy-model``), its nouns, numerals and Chinese
  characters; particles, endings and verb stems are dropped (verb stems such as 하/되 match
  everything, and measured no better than nouns alone).
- Japanese (kana or kanji): Sudachi (``sudachipy`` with ``sudachidict-core``), split mode A, the
  normalised form of each content morpheme, so "失くす" and "無くす" are one word.

Each language can keep the character bigrams too (``"both"``): bigrams catch compounds and
spellings that the dictionary splits differently in the question and the article. Which mode wins
was measured per language on the dev splits (``benchmarks/lexical_sweep.py``; README, "Retrieval").

The analysers are loaded on first use of their language (Kiwi about 1.5 s and ~300 MB, Sudachi
well under a second) and kept by the :class:`TextAnalyzer` that loaded them, which the composition
root builds once. Only a text written in CJK (:func:`script_family`) is analysed: the CJK words of an
English text ("日本語 | 한국어 | 中文" in a language menu) become bigrams, so an English knowledge
base never loads either analyser.

    analyzer = TextAnalyzer(korean="morphemes", japanese="morphemes")
    analyzer.tokens("반품안심케어를 해지하고 싶어요")   # ['반품', '안심', '케어']
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any, Literal, Protocol

from firstlast.errors import BackendError
from firstlast.retriever.text import STOP_WORDS, stem

LexicalMode = Literal["bigrams", "morphemes", "both"]
LEXICAL_MODES: tuple[LexicalMode, ...] = ("bigrams", "morphemes", "both")

HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
JAPANESE = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_HANGUL_RUN = re.compile(f"[{HANGUL}]+")
_JAPANESE_RUN = re.compile(f"[{JAPANESE}]+")
_CJK_RUN = re.compile(f"[{HANGUL}{JAPANESE}]+")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_CJK_CHAR = re.compile(f"[{HANGUL}{JAPANESE}]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
# One CJK character carries about as much as three Latin letters (a kanji or a Hangul syllable is
# a word or a syllable; an English word has about five letters), so a text is CJK when its CJK
# characters weigh at least as much as its Latin letters: "スマホでQRコードを読む" is CJK,
# "How do I export to 엑셀?" is not.
_LETTERS_PER_CJK_CHAR = 3.0


def script_family(text: str) -> str:
    """``"cjk"`` or ``"latin"``, by which script carries most of the text."""
    cjk = len(_CJK_CHAR.findall(text))
    if not cjk:
        return "latin"
    return "cjk" if cjk * _LETTERS_PER_CJK_CHAR >= len(_LATIN_LETTER.findall(text)) else "latin"


# Kiwi tags kept: common and proper nouns, numerals, Chinese characters (Latin words and numbers in
# Korean text come from the Latin path). Measured on smartstore_faq_ko dev, BM25 alone, r@5: these
# 0.748, adding verb/adjective stems, bound nouns and roots 0.738, adding suffixes 0.753.
KOREAN_TAGS = frozenset({"NNG", "NNP", "NR", "SH"})
# Sudachi parts of speech kept (first level): nouns, verbs, adjectives, adjectival nouns, adverbs,
# prefixes and noun-like suffixes ("納付書" -> 納付 + 書).
JAPANESE_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "接頭辞", "接尾辞"})
# Sudachi refuses inputs over 49,149 bytes; longer texts are analysed line by line in pieces.
_SUDACHI_MAX_CHARS = 4000


class Analyzer(Protocol):
    """Turns a text into the tokens a lexical index matches on."""

    def tokens(self, text: str) -> list[str]: ...


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _pieces(text: str, size: int) -> list[str]:
    """Text cut at line ends into pieces of at most ``size`` characters (a longer line is cut hard)."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > size:
            pieces.append(line[:size])
            line = line[size:]
        if len(current) + len(line) + 1 > size and current:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces


class TextAnalyzer:
    """Latin words (stemmed, stop words dropped) plus, per CJK language, morphemes and/or bigrams.

    A text's Korean is its Hangul; its Japanese is its kana and kanji (so Chinese text, which this
    project does not target, is read by the Japanese analyser and its bigrams). Thread-safe.
    """

    def __init__(self, korean: LexicalMode = "both", japanese: LexicalMode = "both") -> None:
        for name, mode in (("korean", korean), ("japanese", japanese)):
            if mode not in LEXICAL_MODES:
                raise ValueError(f"{name} must be one of {LEXICAL_MODES}, got {mode!r}")
        self.korean: LexicalMode = korean
        self.japanese: LexicalMode = japanese
        # one lock per analyser: each is loaded once and analyses one text at a time
        self._kiwi_lock = threading.Lock()
        self._sudachi_lock = threading.Lock()
        self._kiwi: Any = None
        self._sudachi: Any = None

    # -- analysers, loaded on first use -----------------------------------------------------------
    def _korean_analyser(self) -> Any:  # called with _kiwi_lock held
        if self._kiwi is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError as exc:
                raise BackendError("Korean morphemes need the kiwipiepy package") from exc
            # the default model (cong); cong-global was no better with bigrams (BM25 r@5 0.772 vs
            # 0.778 on smartstore_faq_ko dev) and analyses about 3x slower
            self._kiwi = Kiwi()
        return self._kiwi

    def _japanese_analyser(self) -> Any:  # called with _sudachi_lock held
        if self._sudachi is None:
            try:
                from sudachipy import Dictionary, SplitMode
            except ImportError as exc:
                raise BackendError("Japanese morphemes need sudachipy and sudachidict-core") from exc
            # split mode A (short units): measured on localgovfaq_ja dev, BM25 alone, r@5
            # A 0.684, B 0.641, C 0.564 (compounds in questions are split unlike in answers)
            self._sudachi = Dictionary(dict="core").tokenizer(mode=SplitMode.A)
        return self._sudachi

    # -- tokens -----------------------------------------------------------------------------------
    def tokens(self, text: str) -> list[str]:
        norm = unicodedata.normalize("NFKC", text).lower()
        cjk = script_family(norm) == "cjk"  # else its few CJK words are bigrams: no analyser loads
        tokens: list[str] = []
        if self.korean != "morphemes" or not cjk:
            tokens += [b for run in _HANGUL_RUN.findall(norm) for b in _bigrams(run)]
        if self.japanese != "morphemes" or not cjk:
            tokens += [b for run in _JAPANESE_RUN.findall(norm) for b in _bigrams(run)]
        if cjk and self.korean != "bigrams" and _HANGUL_RUN.search(norm):
            tokens.extend(self._korean_morphemes(norm))
        if cjk and self.japanese != "bigrams" and _JAPANESE_RUN.search(norm):
            tokens.extend(self._japanese_morphemes(norm))
        latin = _CJK_RUN.sub(" ", norm)
        tokens.extend(stem(w) for w in _WORD.findall(latin) if w not in STOP_WORDS)
        return tokens

    def _korean_morphemes(self, norm: str) -> list[str]:
        with self._kiwi_lock:
            found = self._korean_analyser().tokenize(norm)
        return [t.form for t in found if t.tag in KOREAN_TAGS]

    def _japanese_morphemes(self, norm: str) -> list[str]:
        out: list[str] = []
        with self._sudachi_lock:  # a Sudachi tokenizer is not safe to share between threads
            sudachi = self._japanese_analyser()
            for piece in _pieces(_HANGUL_RUN.sub(" ", norm), _SUDACHI_MAX_CHARS):
                for m in sudachi.tokenize(piece):
                    if m.part_of_speech()[0] in JAPANESE_POS:
                        form = m.normalized_form()
                        if _JAPANESE_RUN.search(form):
                            out.append(form)
        return out
