"""The LLM answerer: a generated reply, grounded sentence by sentence, with the extractive reply as
its floor.

For every question the extractive draft is made first (milliseconds): it supplies the calibrated
confidence and the fallback. Only when that draft would be sent does the chat model run. Its tokens
are buffered into sentences; each finished sentence goes through the grounding guard and the brand
voice (preferred words, banned phrases, emoji, channel format, length) and is emitted only when it
is kept, so a stream never shows text that is later withdrawn. When nothing is kept, the model says
the passages do not answer, or the model fails or times out, the extractive reply is used instead;
:class:`~firstlast.types.Grounding` on the draft records which and why.

    answerer = LLMAnswerer(ChatOpenAI(...), extractive, GroundingGuard(embedder), voice)
    for item in answerer.stream(question, hits):   # str deltas, then one Draft
        ...
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from firstlast.answerer.brand_voice import VoiceProfile, fit
from firstlast.answerer.grounding import Evidence, GroundingGuard
from firstlast.answerer.prompt import NO_ANSWER, Passage, build_messages, clean_passage
from firstlast.answerer.protocol import Answerer
from firstlast.retriever.text import content_words
from firstlast.sentences import split_sentences
from firstlast.types import Channel, Citation, Draft, Grounding, Hit, Question

log = logging.getLogger(__name__)

_BOUNDARY = re.compile(r"[.!?](?=\s)|[。！？]|\n")
_FINISHED = re.compile(r"[.!?。！？)\]*_\"'”’]\s*$")
_MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")

Delta = str


def _complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Sentences finished in ``buffer`` and the unfinished rest."""
    last = None
    for last in _BOUNDARY.finditer(buffer):  # noqa: B007 - we want the last boundary
        pass
    if last is None:
        return [], buffer
    done, rest = buffer[: last.end()], buffer[last.end() :]
    return split_sentences(done), rest


def chat_model_from_settings(llm: Any) -> Any:
    """``ChatOpenAI`` for any OpenAI-compatible endpoint (``llm`` is :class:`config.LLMSettings`)."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=llm.model,
        base_url=llm.base_url,
        api_key=llm.api_key,
        timeout=llm.timeout_s,
        max_retries=0,  # a retry doubles the customer's wait; the extractive reply is the fallback
        max_tokens=llm.max_tokens,  # sent as max_completion_tokens ...
        extra_body={"max_tokens": llm.max_tokens},  # ... which llama.cpp's server ignores
        temperature=llm.temperature,
        stream_usage=False,
    )


class LLMAnswerer:
    """Answers with a chat model over the top passages; never worse than the extractive reply.

    >>> LLMAnswerer(chat_model, ExtractiveAnswerer(voice, calibrator), GroundingGuard(embedder), voice)
    """

    def __init__(
        self,
        chat_model: Any,  # a langchain BaseChatModel: .stream(messages) yields message chunks
        extractive: Answerer,  # the fallback, and the draft the policy sees before the model runs
        guard: GroundingGuard,
        voice: VoiceProfile,
        *,
        passages: int = 3,
        timeout_s: float = 20.0,
        model_name: str = "",
    ) -> None:
        if passages <= 0:
            raise ValueError(f"passages must be > 0, got {passages}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._chat = chat_model
        self._extractive = extractive
        self._guard = guard
        self._voice = voice
        self._passages = passages
        self._timeout_s = timeout_s
        self._model_name = model_name or str(getattr(chat_model, "model_name", "") or "")
        brand = [*voice.vocabulary, *voice.vocabulary.values(), *voice.banned_phrases]
        self._voice_words = frozenset(w for phrase in brand for w in content_words(phrase))

    def answer(self, question: Question, hits: Sequence[Hit]) -> Draft:
        draft: Draft | None = None
        for item in self.stream(question, hits):
            if isinstance(item, Draft):
                draft = item
        assert draft is not None  # stream always ends with a Draft
        return draft

    def stream(
        self, question: Question, hits: Sequence[Hit], proceed: Callable[[Draft], bool] | None = None
    ) -> Iterator[Delta | Draft]:
        """Text deltas of the kept reply, then the Draft (whose text is the deltas joined).

        ``proceed`` sees the extractive draft first; when it says no (the reply would be handed off
        anyway) the model is not called. A fallback Draft comes with no deltas before it.
        """
        base = self._extractive.answer(question, hits)
        if not hits or not base.citations or (proceed is not None and not proceed(base)):
            yield base
            return
        started = time.perf_counter()
        top = self._passages_for(base, hits)
        passages = [Passage(i + 1, c.title, text) for i, (c, text) in enumerate(top)]
        evidence = self._guard.prepare([p.text for p in passages])
        channel = question.channel
        limit = self._voice.max_length.get(channel, 800)
        head, _ = self._voice.frame(channel)
        _, widest_tail = self._voice.frame(channel, max((c.url for c, _ in top), key=len))
        budget = max(limit - len(head) - len(widest_tail), 40)
        messages = build_messages(self._voice, question, passages, budget)

        reply = _Reply(channel, head, budget, evidence)
        buffer, error, no_answer = "", "", False
        chunks = self._chat.stream(messages)
        try:
            for chunk in chunks:
                buffer += chunk.content if isinstance(chunk.content, str) else ""
                if NO_ANSWER in buffer:
                    no_answer = True
                    break
                finished, buffer = _complete_sentences(buffer)
                for sentence in finished:
                    piece = self._take(sentence, reply)
                    if piece:
                        yield piece
                if reply.full or time.perf_counter() - started > self._timeout_s:
                    error = "" if reply.full else f"timed out after {self._timeout_s:g} s"
                    break
            else:
                rest = buffer.strip()
                if rest and not _FINISHED.search(rest):  # cut off by max_tokens mid-sentence
                    reply.dropped.append(rest)
                    rest = ""
                for sentence in _complete_sentences(rest + "\n")[0]:
                    piece = self._take(sentence, reply)
                    if piece:
                        yield piece
        except Exception as exc:
            log.warning("LLM call failed; using the extractive reply", exc_info=True)
            error = f"llm error: {type(exc).__name__}: {str(exc)[:200]}"
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

        if not reply.kept:
            reason = error or (
                "the model said the passages do not answer"
                if no_answer
                else f"no generated sentence was supported ({len(reply.dropped)} removed)"
                if reply.dropped
                else "the model returned no text"
            )
            log.info("LLM reply replaced by the extractive one: %s", reason)
            grounding = Grounding("fallback", reason, (), tuple(reply.dropped), 0.0, self._model_name)
            yield replace(base, grounding=grounding)
            return
        order = sorted(set(reply.cited))
        citations = tuple(top[i][0] for i in order)
        _, tail = self._voice.frame(channel, citations[0].url)
        if tail:
            yield tail
        kept, dropped = tuple(reply.kept), tuple(reply.dropped)
        reason = (
            "all sentences supported"
            if not dropped
            else f"{len(dropped)} sentence(s) removed ({reply.unsupported} unsupported)"
        )
        if error:
            reason += f"; stopped early: {error}"
        kept_fraction = len(kept) / (len(kept) + reply.unsupported)
        support = sum(reply.cosines) / len(reply.cosines)
        grounding = Grounding("llm", reason, kept, dropped, support, self._model_name)
        signals = {**base.signals, "llm_kept_fraction": kept_fraction, "llm_support": support}
        log.info("LLM reply grounded: %s", reason)
        confidence = base.confidence * (0.5 + 0.5 * kept_fraction)  # the guard caps the calibrated value
        yield Draft(reply.body + tail, citations, confidence, " ".join(kept), signals, grounding)

    def _passages_for(self, base: Draft, hits: Sequence[Hit]) -> list[tuple[Citation, str]]:
        """The extractive answer's units first (the same whole steps and lists a customer would get
        without the model), then the other hits, its own document's first."""
        cited = base.citations[0]
        quoted = set(base.evidence.split("\n"))
        rest = sorted(
            (h for h in hits if h.chunk.id not in {c.chunk_id for c in base.citations}),
            key=lambda h: h.chunk.doc_id != cited.doc_id,
        )  # stable: retrieval order within each group
        out = [(cited, clean_passage(base.evidence))]
        for hit in rest:
            text = clean_passage(hit.chunk.text)
            if len(out) < self._passages and not set(text.split("\n")) <= quoted:
                c = hit.chunk
                out.append((Citation(c.doc_id, c.id, c.title, c.url), text))
        return out

    def _take(self, raw: str, reply: _Reply) -> str:
        """The delta for one generated sentence; empty when it is dropped or there is no room."""
        if reply.full:
            return ""
        markers = [int(n) - 1 for m in _MARKERS.finditer(raw) for n in m.group(1).split(",")]
        sentence = _MARKERS.sub("", raw).strip()
        if not sentence or re.fullmatch(r"[\W\d_]+", sentence):
            return ""  # a stray marker or list number, not a sentence
        support = self._guard.check(sentence, reply.evidence, self._voice_words)
        if not support.supported:
            reply.dropped.append(sentence)
            reply.unsupported += support.claim  # prompt talk and fillers are no false claims
            log.debug("grounding guard dropped %r: %s", sentence, support.why)
            return ""
        text = self._voice.enforce(sentence, reply.channel)
        if not text:
            return ""
        sep = reply.head if not reply.body else " "
        room = reply.budget - len(reply.body) - len(sep)
        if len(text) > room:
            reply.full = True
            if reply.body or room < 40:
                return ""
            text = fit(text, room)
        passage = next(
            (m for m in markers if self._guard.supports(sentence, reply.evidence, m)), support.passage
        )
        reply.kept.append(sentence)
        reply.cosines.append(support.cosine)
        reply.cited.append(passage)
        reply.body += sep + text
        return sep + text


@dataclass
class _Reply:
    """The reply being assembled from a stream (mutable, private to one ``stream`` call)."""

    channel: Channel
    head: str
    budget: int
    evidence: Evidence
    body: str = ""
    full: bool = False
    unsupported: int = 0  # dropped sentences that made a claim the passages do not support
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    cosines: list[float] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
