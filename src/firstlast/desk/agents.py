"""The agents' side of the desk: the handoff queue, the packet, assignment, replies and resolution.

A resolution hands the final answer to the learning loop through the outbox: the job is written in
the same transaction as the resolution and run right after the commit. When learning fails (the
knowledge base is down, say) the agent's reply still stands and the job is retried later
(``retry_learning``: after the next resolution, and on start-up) instead of being lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from firstlast.db import utcnow
from firstlast.desk.notify import Notifications
from firstlast.desk.store import DeskStore, DeskTransaction
from firstlast.errors import Conflict, InvalidInput
from firstlast.handoff.packet import build_packet
from firstlast.handoff.states import CONVERSATION, HANDOFF, Event, HandoffEvent
from firstlast.learning.pii import customer_names
from firstlast.learning.records import Resolution, Suggestion
from firstlast.records import (
    Conversation,
    Handoff,
    HandoffPacket,
    HandoffStatus,
    HistoryEvent,
    NewMessage,
    OutboxJob,
    TranscriptEntry,
)

log = logging.getLogger(__name__)
LEARN = "learn"


class Learner(Protocol):
    """What the desk needs from the learning loop (``LearningService``)."""

    def on_resolved(
        self,
        question: str,
        answer: str,
        *,
        agent: str,
        handoff_id: str | None = None,
        conversation_id: str | None = None,
        names: Iterable[str] = (),
    ) -> Resolution: ...


def _name(value: str, what: str = "agent") -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    return value


class AgentDesk:
    def __init__(self, store: DeskStore, learning: Learner, notifications: Notifications) -> None:
        self._store = store
        self._learning = learning
        self._notify = notifications

    # -- reads ------------------------------------------------------------------------------------
    def handoffs(self, status: str | None = None, limit: int = 100) -> list[Handoff]:
        if status and status not in {s.value for s in HandoffStatus}:
            raise InvalidInput(f"status must be one of {', '.join(HandoffStatus)}, got {status!r}")
        with self._store.transaction() as tx:
            return tx.handoffs(HandoffStatus(status) if status else None, limit)

    def handoff(self, handoff_id: str) -> Handoff:
        with self._store.transaction() as tx:
            return tx.handoff(handoff_id)

    def packet(self, handoff_id: str) -> HandoffPacket:
        """What the agent opens: the handoff with the live transcript (messages sent after the handoff
        included, up to its resolution), a summary, a suggested reply and the assignment history."""
        with self._store.transaction() as tx:
            handoff = tx.handoff(handoff_id)
            events = tx.events("handoff", handoff.id)
            last_of = {e.action: e.detail for e in events}
            opened = (last_of.get("opened") or last_of.get("offered") or {}).get("message_id")
            resolved = last_of.get("resolved", {}).get("last_message_id")
            messages = tx.messages(handoff.conversation_id, up_to=int(str(resolved)) if resolved else None)
            after = int(str(opened)) if opened is not None else None
            transcript = [
                TranscriptEntry(
                    m.role, m.text, m.created_at, m.id, m.author, after is not None and m.id > after
                )
                for m in messages
            ]
            return build_packet(handoff, transcript, events)

    def handoff_updates(self, after: int = 0, limit: int = 100) -> list[tuple[int, HistoryEvent, Handoff]]:
        """What the agents' inbox stream sends: each recorded handoff change after the event numbered
        ``after``, with the handoff as it is now."""
        with self._store.transaction() as tx:
            changes = tx.history_since("handoff", after, limit)
            return [(number, event, tx.handoff(ident)) for number, ident, event in changes]

    def history_head(self) -> int:
        with self._store.transaction() as tx:
            return tx.history_head()

    # -- changes ----------------------------------------------------------------------------------
    def _claim(
        self, tx: DeskTransaction, handoff: Handoff, conv: Conversation, agent: str, by: str
    ) -> tuple[Handoff, bool]:
        """Assign ``handoff`` to ``agent`` (recording who, when, from, to); False when already theirs."""
        status = HANDOFF.next(handoff.status, HandoffEvent.CLAIM)
        tx.save_conversation(replace(conv, status=CONVERSATION.next(conv.status, Event.CLAIM)))
        if handoff.agent == agent and handoff.status == HandoffStatus.ASSIGNED:
            return handoff, False
        tx.record("handoff", handoff.id, "assigned", by, to=agent, **{"from": handoff.agent})
        claimed = replace(handoff, agent=agent, status=status)
        tx.save_handoff(claimed)
        return claimed, True

    def assign(self, handoff_id: str, agent: str, by: str | None = None) -> Handoff:
        """(Re)assign a handoff; the conversation is then with that agent. Everything else is kept."""
        agent = _name(agent)
        by = _name(by or agent, "by")
        with self._notify.batch() as outgoing, self._store.transaction() as tx:
            handoff = tx.handoff(handoff_id)
            handoff, changed = self._claim(tx, handoff, tx.conversation(handoff.conversation_id), agent, by)
            if changed:
                outgoing.append(("handoff.assigned", handoff))
            return handoff

    def reply(
        self, handoff_id: str, agent: str, text: str, learn: bool = True, resolve: bool = True
    ) -> tuple[Handoff, Suggestion | None]:
        """The agent's answer goes to the customer. The first reply claims the handoff; with
        ``resolve`` (the default) it also resolves it and the answer becomes a suggestion."""
        text = text.strip()
        if not text:
            raise InvalidInput("reply text must not be empty")
        agent = _name(agent)
        with self._notify.batch() as outgoing, self._store.transaction() as tx:
            handoff = tx.handoff(handoff_id)
            conv = tx.conversation(handoff.conversation_id)
            if handoff.agent != agent or handoff.status == HandoffStatus.OPEN:
                handoff, changed = self._claim(tx, handoff, conv, agent, agent)
                conv = tx.conversation(conv.id)
                if changed:
                    outgoing.append(("handoff.assigned", handoff))
            HANDOFF.next(handoff.status, HandoffEvent.REPLY)
            tx.save_conversation(replace(conv, status=CONVERSATION.next(conv.status, Event.REPLY)))
            message = tx.add_message(conv.id, NewMessage("agent", text, agent))
            if resolve:
                handoff = self._resolve(tx, handoff, tx.conversation(conv.id), agent, text, message.id, learn)
                outgoing.append(("handoff.resolved", handoff))
        return handoff, self._learned(handoff) if resolve and learn else None

    def resolve(self, handoff_id: str, agent: str, learn: bool = True) -> tuple[Handoff, Suggestion | None]:
        """Resolve after one or more replies (``reply(..., resolve=False)``); the last agent reply is the
        final answer that becomes a suggestion."""
        agent = _name(agent)
        with self._notify.batch() as outgoing, self._store.transaction() as tx:
            handoff = tx.handoff(handoff_id)
            HANDOFF.next(handoff.status, HandoffEvent.RESOLVE)
            conv = tx.conversation(handoff.conversation_id)
            last = next((m for m in reversed(conv.messages) if m.role == "agent"), None)
            if last is None:
                raise Conflict(f"handoff {handoff_id} has no agent reply to resolve with")
            handoff = self._resolve(tx, handoff, conv, agent, last.text, last.id, learn)
            outgoing.append(("handoff.resolved", handoff))
        return handoff, self._learned(handoff) if learn else None

    def _resolve(
        self,
        tx: DeskTransaction,
        handoff: Handoff,
        conv: Conversation,
        agent: str,
        answer: str,
        message_id: int,
        learn: bool,
    ) -> Handoff:
        tx.save_conversation(replace(conv, status=CONVERSATION.next(conv.status, Event.RESOLVE)))
        status = HANDOFF.next(handoff.status, HandoffEvent.RESOLVE)
        handoff = replace(handoff, status=status, answer=answer, resolved_at=utcnow().isoformat())
        tx.save_handoff(handoff)
        tx.record("handoff", handoff.id, "resolved", agent, last_message_id=message_id)
        if learn:  # the learning verdict follows the commit, through the outbox
            names = customer_names(conv.context.get("attributes"))
            payload = {"question": handoff.question, "answer": answer, "agent": agent, "names": names}
            tx.enqueue(LEARN, handoff.id, {**payload, "conversation_id": conv.id})
        return tx.handoff(handoff.id)

    # -- the learning hook ------------------------------------------------------------------------
    def _learned(self, handoff: Handoff) -> Suggestion | None:
        """Run this handoff's learning job now, then any that failed before; its suggestion, if any."""
        with self._store.transaction() as tx:
            jobs = tx.pending(LEARN)
        suggestion = None
        for job in jobs:
            done, made = self._run(job)
            if job.key == handoff.id and done:
                suggestion = made
        return suggestion

    def retry_learning(self) -> int:
        """Run every learning job still pending (on start-up, and after a failure); how many succeeded."""
        with self._store.transaction() as tx:
            jobs = tx.pending(LEARN, limit=1000)
        return sum(self._run(job)[0] for job in jobs)

    def _run(self, job: OutboxJob) -> tuple[bool, Suggestion | None]:
        """One learning job: done or not (then it is kept for a retry), and the suggestion it made."""
        with self._store.transaction() as tx:
            if any(e.action == "verdict" for e in tx.events("handoff", job.key)):
                tx.finish(job.id)  # done before, the finish was lost: never learn twice
                return True, None
        p = job.payload
        try:
            resolution = self._learning.on_resolved(
                str(p["question"]),
                str(p["answer"]),
                agent=str(p["agent"]),
                handoff_id=job.key,
                conversation_id=str(p["conversation_id"]),
                names=[str(n) for n in p.get("names") or []],  # type: ignore[attr-defined]
            )
        except Exception as exc:
            log.warning("learning from handoff %s failed; it will be retried", job.key, exc_info=True)
            with self._store.transaction() as tx:
                tx.finish(job.id, error=f"{type(exc).__name__}: {exc}")
            return False, None
        with self._store.transaction() as tx:
            tx.finish(job.id)
        return True, resolution.suggestion
