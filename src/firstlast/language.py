"""The customer's language: detected with lingua (a maintained n-gram detector), built once in wiring.

The detector is restricted to the languages in settings (fewer languages: faster and more accurate
on short text). Short Latin-script questions are often ambiguous ("reset password" scores Italian
first), so a language other than the default is taken only when lingua is confident about it; CJK
scripts are unambiguous and always taken. Measured: ~2 s and ~240 MB to load the models once per
process, then well under 1 ms per question.

    detector = LanguageDetector(["en", "ja"])
    detector.detect("パスワードを変更するには？")  # "ja"
    hits = prefer_language(hits, "ja")             # hits in Japanese first, order otherwise kept
"""

from __future__ import annotations

from collections.abc import Sequence

from firstlast.errors import ConfigError
from firstlast.retriever.text import has_cjk
from firstlast.types import Hit


class LanguageDetector:
    """ISO 639-1 code of a text's language, or "" when it cannot tell (too short, no letters).

    >>> LanguageDetector(["en", "ja", "de"]).detect("Wie ändere ich mein Passwort?")
    'de'
    """

    def __init__(
        self, languages: Sequence[str], default: str = "en", min_confidence: float = 0.5, min_words: int = 3
    ) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")

        chosen = []
        for code in languages:
            try:
                chosen.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(code)))
            except (ValueError, KeyError, AttributeError):
                raise ConfigError(f"language.languages: unknown ISO 639-1 code {code!r}") from None
        if len(chosen) < 2:
            raise ConfigError(f"language.languages needs at least two languages, got {list(languages)}")
        self._detector = LanguageDetectorBuilder.from_languages(*chosen).build()
        self.languages = tuple(languages)
        self.default = default
        self._min_confidence = min_confidence
        self._min_words = min_words

    def detect(self, text: str, max_chars: int = 1000) -> str:
        text = text.strip()[:max_chars]
        if not any(ch.isalpha() for ch in text):
            return ""
        values = self._detector.compute_language_confidence_values(text)
        if not values:
            return self.default
        code = values[0].language.iso_code_639_1.name.lower()
        if has_cjk(text) or code == self.default:
            return code
        if len(text.split()) < self._min_words or values[0].value < self._min_confidence:
            return self.default
        return code


def prefer_language(hits: Sequence[Hit], lang: str) -> list[Hit]:
    """Hits in ``lang`` first (each group in its retrieval order); unchanged when none or all are.

    A small post-retrieval step: fusion stays language-blind, and an untagged chunk counts as a match
    (its language is unknown, so it is not pushed down).
    """
    hits = list(hits)
    if not lang:
        return hits
    same = [h for h in hits if not h.chunk.lang or same_language(h.chunk.lang, lang)]
    if not same or len(same) == len(hits):
        return hits
    return same + [h for h in hits if h.chunk.lang and not same_language(h.chunk.lang, lang)]


def same_language(a: str, b: str) -> bool:
    """Whether two language tags name the same language ("en-US" and "en" do)."""
    return a.split("-")[0].split("_")[0].lower() == b.split("-")[0].split("_")[0].lower()


def mismatched(question_lang: str, chunk_lang: str) -> bool:
    """Both languages known and different: the reply would come from another language's knowledge."""
    return bool(question_lang and chunk_lang) and not same_language(question_lang, chunk_lang)
