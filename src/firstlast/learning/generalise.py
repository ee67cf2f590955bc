"""From one customer's words to a question anyone could ask, and a test for answers that only fit
one customer.

    >>> generalise_question("Hi there! I'm Dana. Do you offer discounts for charities? Thanks!", ["Dana"])
    'Do you offer discounts for charities?'
    >>> personal_reason("I've refunded your order [reference], it will show in 3 days.")
    'the answer is about this customer's own order or account'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from firstlast.learning.pii import scrub
from firstlast.retriever.text import content_words
from firstlast.sentences import split_sentences

PLACEHOLDER = re.compile(r"\[(?:email|phone|card number|bank account|reference|number|name|address)\]")
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|dear\s+\w+)"
    r"(?:\s+(?:there|team|all|everyone|folks|guys|support|\[name\]))*(?:\s+(?-i:[A-Z][a-z]+)(?=\s*,))?"
    r"\s*[,!.:;\-–—]*\s*",
    re.IGNORECASE,
)
_FILLER_SENTENCE = re.compile(
    r"^\s*(?:(?:many\s+|a\s+lot\s+of\s+)?thanks?(?:\s+(?:you|a\s+lot|so\s+much|very\s+much|in\s+advance))*"
    r"|thank\s+you(?:\s+(?:so|very)\s+much)?(?:\s+in\s+advance)?|cheers|regards|best(?:\s+regards)?"
    r"|kind\s+regards|ok(?:ay)?|please\s+help(?:\s+me)?|help(?:\s+me)?(?:\s+please)?"
    r"|(?:i\s*['’]?m|i\s+am|my\s+name\s+is|this\s+is|it\s*['’]s)\s+\[name\](?:\s+here)?"
    r"|\[name\](?:\s+here)?|(?:i\s+)?hope\s+you\s*['’]?re\s+well|(?:i\s+)?hope\s+you\s+are\s+well"
    r"|any\s+help\s+(?:is|would\s+be)\s+(?:much\s+|greatly\s+)?appreciated)"
    r"(?:\s*,?\s*\[name\])?\s*[.!?,]*\s*$",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(
    r"^\s*(?:(?:so|well|um+|uh+)\s*,?\s+)?(?:quick\s+question\s*[:,\-–—]\s*|i\s+have\s+a\s+question\s*[:,\-–—]\s*)",
    re.IGNORECASE,
)
_TRAILING_THANKS = re.compile(r"\s*[,;]?\s*(?:thanks|thank\s+you|cheers|please)\s*[.!]*\s*$", re.IGNORECASE)

# "your order", "your account": the answer is about something that belongs to this customer
_OWN_THING = re.compile(
    r"\byour\s+(?:order|account|invoice|ticket|booking|case|subscription|payment|package|parcel|"
    r"delivery|refund|card|shipment|reservation|claim|return|balance|statement|bill)\b",
    re.IGNORECASE,
)
# "I've refunded", "we have cancelled": something an agent did for this one customer
_DONE_FOR_YOU = re.compile(
    r"\b(?:i|we)(?:\s*['’]ve|\s+have|\s+just|\s*['’]ll|\s+will|\s+went\s+ahead\s+and)?\s+(?:just\s+|now\s+|already\s+)?"
    r"(?:refunded|cancell?ed|reset|updated|changed|sent|re-?sent|issued|credited|shipped|processed|"
    r"applied|removed|unlocked|reactivated|restored|escalated|forwarded|added|upgraded|downgraded|"
    r"extended|waived|reversed|closed|merged|verified|re-?issued|refund|cancel|unlock|credit|ship)\b",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?=[.!?]|$)", "", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;:-–—")


def generalise_question(question: str, names: Iterable[str] = ()) -> str:
    """The customer's question without personal data, greetings, thanks or self-introductions.

    Personal-data placeholders are dropped from the question ("my card [card number]" -> "my card"),
    since a question asked by anyone does not carry them.
    """
    text = scrub(question.strip(), names)
    kept = []
    for sentence in split_sentences(text):
        sentence = _GREETING.sub("", sentence)
        sentence = _LEAD_IN.sub("", sentence)
        if not sentence.strip() or _FILLER_SENTENCE.match(sentence):
            continue
        kept.append(sentence)
    text = " ".join(kept)
    text = _TRAILING_THANKS.sub("", text) if len(kept) > 0 else text
    text = PLACEHOLDER.sub("", text)
    text = _clean(text)
    return text[:1].upper() + text[1:] if text else ""


def personal_share(scrubbed: str) -> float:
    """Share of the words of scrubbed text that are personal-data placeholders."""
    placeholders = len(PLACEHOLDER.findall(scrubbed))
    words = len(re.findall(r"\w+", PLACEHOLDER.sub(" ", scrubbed)))
    return placeholders / max(placeholders + words, 1)


def personal_reason(scrubbed_answer: str, max_share: float = 0.25) -> str:
    """Why a (scrubbed) agent answer fits only this customer, or "" when it is general."""
    general_words = content_words(PLACEHOLDER.sub(" ", scrubbed_answer))
    if personal_share(scrubbed_answer) >= max_share:
        return "the answer is mostly personal data or identifiers"
    if len(general_words) < 2:
        return "nothing general is left once personal data is removed"
    has_identifier = re.search(r"\[(?:reference|number|card number|bank account)\]", scrubbed_answer)
    if has_identifier and _OWN_THING.search(scrubbed_answer):
        return "the answer is about this customer's own order or account"
    if _DONE_FOR_YOU.search(scrubbed_answer) and (
        _OWN_THING.search(scrubbed_answer)
        or has_identifier
        or re.search(r"\b(?:your|for\s+you|sent\s+you|to\s+you)\b", scrubbed_answer, re.I)
    ):
        return "the answer reports an action taken for this customer"
    return ""


def question_reason(generalised: str, original: str = "") -> str:
    """Why a generalised question cannot become knowledge, or "" when it can.

    A question is refused when nothing general is left, or when it was mostly personal data or
    greetings (``original``, the customer's words, had more than twice the content words that
    remain). A short question that was short to begin with ("What is SmartThings?") is kept.
    """
    words = content_words(generalised)
    removed_most = len(words) < 2 and len(content_words(original)) > 2 * len(words)
    if not words or removed_most:
        return "the question is mostly personal data or greetings; nothing general is left"
    return ""
