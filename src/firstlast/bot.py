"""The answer path in one straight line: retrieve -> answer -> decide.

It has no storage of its own, so the API, the CLI's ``ask`` and the evaluation all run exactly the
same code. Any error inside retrieval or answering becomes a handoff, never a customer-facing error.

The bot renders the reply once, from its input alone (the question with its channel and language,
and the ``ConversationState``: offers made, the streak, business hours): the text it streams is the
text the desk stores.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any, Literal

from firstlast.answerer.brand_voice import VoiceProfile
from firstlast.answerer.protocol import Answerer, StreamingAnswerer
from firstlast.handoff.policy import HandoffPolicy
from firstlast.language import LanguageDetector, prefer_language
from firstlast.retriever.hybrid import Retriever
from firstlast.types import Channel, ConversationState, Draft, Hit, Outcome, Question

log = logging.getLogger(__name__)


class Bot:
    """>>> outcome = bot.ask(Question("How do I change my plan?"))"""

    def __init__(
        self,
        retriever: Retriever,
        answerer: Answerer,
        policy: HandoffPolicy,
        voice: VoiceProfile,
        detector: LanguageDetector | None = None,
        observe: Callable[[Outcome], None] | None = None,
        turns: int = 0,
    ) -> None:
        """``turns``: how many questions retrieve and answer at once (0: no limit); the others wait
        on a semaphore instead of contending for the interpreter lock."""
        if turns < 0:
            raise ValueError(f"turns must be >= 0, got {turns}")
        self._turns: AbstractContextManager[Any] = (
            threading.BoundedSemaphore(turns) if turns else nullcontext()
        )
        self.retriever = retriever
        self.answerer = answerer
        self.policy = policy
        self.voice = voice
        self.detector = detector
        self.observe = observe  # e.g. Metrics.outcome: sees every outcome, changes none

    def ask(
        self,
        question: Question,
        state: ConversationState | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> Outcome:
        """The outcome of one question; ``on_delta`` receives the reply's text as it is produced."""
        outcome: Outcome | None = None
        for item in self.ask_stream(question, state):
            if isinstance(item, Outcome):
                outcome = item
            elif on_delta is not None:
                on_delta(item)
        assert outcome is not None  # ask_stream always ends with the Outcome
        return outcome

    def ask_stream(
        self, question: Question, state: ConversationState | None = None
    ) -> Iterator[str | Outcome]:
        """Text deltas of the reply, then the Outcome; the deltas joined are ``reply_text``.

        A streaming answerer (the LLM) emits only text it keeps; others (extractive) are streamed
        sentence by sentence once decided, so the widget has one code path.
        """
        started = time.perf_counter()
        first: float | None = None
        emitted = ""
        hits: list[Hit] = []
        draft: Draft | None = None
        error = ""
        try:
            with self._turns:
                question = self._with_language(question)
                hits = prefer_language(self.retriever.retrieve(question), question.lang)
                if not isinstance(self.answerer, StreamingAnswerer):
                    draft = self.answerer.answer(question, hits)
            if isinstance(self.answerer, StreamingAnswerer):  # an LLM's stream waits on the network
                proceed = lambda d: not self.policy.decide(question, d, "", state).handed_off  # noqa: E731
                for item in self.answerer.stream(question, hits, proceed):
                    if isinstance(item, Draft):
                        draft = item
                    else:
                        first = first if first is not None else time.perf_counter()
                        emitted += item
                        yield item
        except Exception as exc:
            log.exception("answer path failed; handing off")
            error = f"{type(exc).__name__}: {exc}"
        decision = self.policy.decide(question, draft, error, state)
        if decision.action in ("offer", "no_answer"):
            reply = self.voice.notice(decision.action, question.channel)
            if emitted:
                reply = f"{emitted}\n\n{reply}"
        elif decision.handed_off or draft is None:
            reply = self.voice.handoff(question.channel, out_of_hours=bool(state and state.out_of_hours))
            if emitted:  # kept text was already shown: the handoff message follows it
                reply = f"{emitted}\n\n{reply}"
        else:
            reply = draft.text
        rest = reply[len(emitted) :] if reply.startswith(emitted) else reply
        for piece in _pieces(rest):
            first = first if first is not None else time.perf_counter()
            yield piece
        elapsed = (time.perf_counter() - started) * 1000
        ttft = (first - started) * 1000 if first is not None else None
        outcome = Outcome(question, tuple(hits), draft, decision, reply, elapsed, ttft)
        if self.observe is not None:
            self.observe(outcome)
        yield outcome

    def notice(
        self,
        kind: Literal["handoff", "offer_declined"],
        channel: Channel,
        state: ConversationState,
        on_delta: Callable[[str], None] | None = None,
    ) -> str:
        """The bot's line for the customer's answer to an offer, rendered and streamed like a reply."""
        if kind == "handoff":
            text = self.voice.handoff(channel, out_of_hours=state.out_of_hours)
        else:
            text = self.voice.notice(kind, channel)
        if on_delta is not None:
            for piece in _pieces(text):
                on_delta(piece)
        return text

    def _with_language(self, question: Question) -> Question:
        if question.lang or self.detector is None:
            return question
        return replace(question, lang=self.detector.detect(question.text))


def _pieces(text: str) -> list[str]:
    """A finished reply as a few deltas, split after sentence ends (joined they give ``text``)."""
    return [p for p in re.split(r"(?<=[.!?。！？\n])(?=\s)", text) if p]
