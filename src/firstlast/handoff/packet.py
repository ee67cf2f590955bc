"""The handoff packet an agent opens: live transcript, an extractive summary, a suggested reply and
the assignment history. Pure functions over typed records; the desk does the reading.

The summary needs no LLM: it keeps the few customer sentences whose content words recur most across
what the customer wrote (the topic), boosted when they overlap the handed-off question, in order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from firstlast.records import (
    Assignment,
    DraftSnapshot,
    Handoff,
    HandoffPacket,
    HistoryEvent,
    SourceRef,
    SuggestedReply,
    TranscriptEntry,
)
from firstlast.retriever.text import content_words
from firstlast.sentences import split_sentences
from firstlast.types import Citation


def summarize(customer_texts: Sequence[str], question: str = "", max_sentences: int = 3) -> tuple[str, ...]:
    """A few key customer sentences, in the order they were said.

    >>> summarize(["Hi!", "I was charged twice for March.", "Anyone there?"], "charged twice")
    ('I was charged twice for March.',)
    """
    if max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1, got {max_sentences}")
    candidates: list[tuple[int, str, set[str]]] = []
    for text in customer_texts:
        for sentence in split_sentences(text):
            words = content_words(sentence)
            if len(words) >= 2:  # "Hi!", "yes", "anyone there?" say nothing about the problem
                candidates.append((len(candidates), sentence, words))
    if not candidates:
        return ()
    frequency = Counter(w for _, _, words in candidates for w in words)
    asked = content_words(question)

    def score(words: set[str]) -> float:
        topical = sum(frequency[w] for w in words) / math.sqrt(len(words))
        overlap = len(words & asked) / len(words | asked) if asked else 0.0
        return topical * (1.0 + 2.0 * overlap)

    picked: list[tuple[int, str, set[str]]] = []
    for item in sorted(candidates, key=lambda c: score(c[2]), reverse=True):
        if any(len(item[2] & p[2]) / len(item[2] | p[2]) >= 0.6 for p in picked):
            continue  # the same thing said again
        picked.append(item)
        if len(picked) == max_sentences:
            break
    return tuple(sentence for _, sentence, _ in sorted(picked))


def suggested_reply(draft: DraftSnapshot, sources: Sequence[SourceRef]) -> SuggestedReply:
    """The bot's draft when it had one with citations; else the best retrieved passage; else nothing."""
    text = draft.text.strip()
    if text and draft.citations:
        return SuggestedReply(text, "draft", draft.confidence, draft.citations)
    if sources:
        best = sources[0]
        passage = " ".join(split_sentences(best.text)[:3])
        if passage:
            cited = Citation(best.doc_id, best.chunk_id, best.title, best.url)
            return SuggestedReply(passage, "passage", draft.confidence, (cited,))
    return SuggestedReply("", "none", draft.confidence)


def build_packet(
    handoff: Handoff,
    transcript: Sequence[TranscriptEntry],
    events: Sequence[HistoryEvent],
) -> HandoffPacket:
    assignments = tuple(
        Assignment(
            by=e.actor,
            at=e.at,
            to=str(e.detail["to"]),
            from_=str(e.detail["from"]) if e.detail.get("from") is not None else None,
        )
        for e in events
        if e.action == "assigned"
    )
    customer = [t.text for t in transcript if t.role == "customer"]
    return HandoffPacket(
        handoff=handoff,
        transcript=tuple(transcript),
        summary=summarize(customer, handoff.question),
        suggested_reply=suggested_reply(handoff.draft, handoff.sources),
        assignments=assignments,
        events=tuple(events),
    )
