"""The answer path in one straight line: retrieve -> answer -> decide.

It has no storage of its own, so the API, the CLI's ``ask`` and the evaluation all run exactly the
same code. Any error inside retrieval or answering becomes a handoff, never a customer-facing error.
"""

from __future__ import annotations

import logging
import time

from firstlast.answerer.brand_voice import VoiceProfile
from firstlast.answerer.extractive import Answerer
from firstlast.handoff.policy import HandoffPolicy
from firstlast.retriever.hybrid import Retriever
from firstlast.types import ConversationState, Draft, Hit, Outcome, Question

log = logging.getLogger(__name__)


class Bot:
    """>>> outcome = bot.ask(Question("How do I change my plan?"))"""

    def __init__(
        self, retriever: Retriever, answerer: Answerer, policy: HandoffPolicy, voice: VoiceProfile
    ) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.policy = policy
        self.voice = voice

    def ask(self, question: Question, state: ConversationState | None = None) -> Outcome:
        started = time.perf_counter()
        hits: list[Hit] = []
        draft: Draft | None = None
        error = ""
        try:
            hits = self.retriever.retrieve(question)
            draft = self.answerer.answer(question, hits)
        except Exception as exc:
            log.exception("answer path failed; handing off")
            error = f"{type(exc).__name__}: {exc}"
        decision = self.policy.decide(question, draft, error, state)
        if decision.action in ("offer", "no_answer"):
            reply = self.voice.notice(decision.action, question.channel)
        elif decision.handed_off or draft is None:
            reply = self.voice.handoff(question.channel)
        else:
            reply = draft.text
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(question, tuple(hits), draft, decision, reply, elapsed)
