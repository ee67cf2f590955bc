"""The support desk: conversations with customers, handoffs to agents, and agents' replies.

A customer message runs the bot's answer path with the conversation's earlier turns; when the policy
hands off, a Handoff record captures the transcript, the customer context, the sources found and the
bot's draft, and the conversation waits for an agent (the bot stays quiet meanwhile; the customer is
always told, with the out-of-hours message outside business hours). When the policy only *offers* a
person, the handoff is kept as ``offered`` until the customer says yes (it opens) or no (declined).
An agent claims the handoff (assignment or first reply), may reply several times, and resolves it;
the resolving answer becomes a learning suggestion. Every status change goes through
``handoff/states.py``.

    handoff status:  offered --yes--> open --claim--> assigned --resolve--> resolved
                             --no---> declined
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from firstlast.bot import Bot
from firstlast.db import ConversationRow, Database, EventRow, HandoffRow, MessageRow, iso, utcnow
from firstlast.errors import Conflict, InvalidInput, NotFound
from firstlast.handoff.feedback import conversation_feedback
from firstlast.handoff.hours import BusinessHours
from firstlast.handoff.packet import build_packet
from firstlast.handoff.policy import UNANSWERED, answer_to_offer, asks_for_person
from firstlast.handoff.states import Event, State, transition
from firstlast.handoff.webhook import Notifier
from firstlast.learning.service import LearningService
from firstlast.types import (
    CHANNELS,
    Channel,
    Citation,
    Conversation,
    ConversationState,
    Handoff,
    HandoffPacket,
    HandoffReason,
    Message,
    Outcome,
    PostedMessage,
    Question,
    Suggestion,
    TranscriptEntry,
    Turn,
)

MAX_MESSAGE_CHARS = 4000


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _to_message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        role=row.role,  # type: ignore[arg-type]
        text=row.text,
        created_at=iso(row.created_at) or "",
        author=row.author,
        confidence=row.confidence,
        citations=tuple(Citation(**c) for c in row.citations or []),
        decision=row.decision,
        reason=row.reason,
    )


def _to_handoff(row: HandoffRow) -> Handoff:
    return Handoff(
        id=row.id,
        conversation_id=row.conversation_id,
        status=row.status,
        reason=row.reason,
        detail=row.detail,
        question=row.question,
        transcript=tuple(row.transcript or []),
        customer_context=row.customer_context or {},
        sources=tuple(row.sources or []),
        draft=row.draft or {},
        created_at=iso(row.created_at) or "",
        agent=row.agent,
        answer=row.answer,
        resolved_at=iso(row.resolved_at),
    )


def _citations(outcome: Outcome) -> list[dict[str, str]]:
    if outcome.draft is None:
        return []
    return [c.__dict__.copy() for c in outcome.draft.citations]


def _customer_names(attributes: object) -> list[str]:
    """The customer's name and its parts, from widget attributes such as ``customer_name``."""
    if not isinstance(attributes, dict):
        return []
    full = [str(v) for k, v in attributes.items() if "name" in str(k).lower() and v]
    return full + [part for name in full for part in name.split() if len(part) >= 2]


def _conversation_state(messages: Sequence[MessageRow]) -> ConversationState:
    """Offer already made? How many bot turns in a row, up to now, could not answer?"""
    offered = any(m.role == "bot" and m.decision == "offer" for m in messages)
    streak = 0
    for m in reversed(messages):
        if m.role == "agent":
            break
        if m.role != "bot" or m.decision == "declined":
            continue
        if m.decision in ("handoff", "offer", "no_answer") and m.reason in {r.value for r in UNANSWERED}:
            streak += 1
            continue
        break  # an answer, or a handoff for another reason, ends the streak
    return ConversationState(low_confidence_streak=streak, offered=offered)


def _history(messages: Sequence[MessageRow]) -> tuple[Turn, ...]:
    """The turns the bot sees. Its own handoff, offer and rephrase notices are not answers, so they
    are left out: asking again after such a notice is not "the bot's answer did not help"."""
    return tuple(
        Turn(m.role, m.text)  # type: ignore[arg-type]
        for m in messages
        if m.role != "bot" or m.decision == "answer"
    )


def _handoff_question(outcome: Outcome) -> str:
    """The question the agent answers (and the learning loop learns): the customer's message, or,
    when that message only asks for a person, the latest earlier customer message that asked something."""
    text = outcome.question.text
    if outcome.decision.reason is not HandoffReason.CUSTOMER_REQUEST:
        return text
    for turn in reversed(outcome.question.history):
        if turn.role == "customer" and not asks_for_person(turn.text) and answer_to_offer(turn.text) is None:
            return turn.text
    return text


class SupportDesk:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        learning: LearningService,
        *,
        hours: BusinessHours | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._bot = bot
        self._learning = learning
        self._hours = hours or BusinessHours()
        self._notifier = notifier
        self._clock = clock

    def _notify(self, notifications: Sequence[tuple[str, Handoff]]) -> None:
        """After the transaction commits: tell the webhook (it queues and returns at once). Each
        event carries the handoff as it was right after that change."""
        if self._notifier is None:
            return
        for event, handoff in notifications:
            self._notifier.notify(event, handoff)

    def _handoff_notice(self, channel: Channel) -> str:
        return self._bot.voice.handoff(channel, out_of_hours=not self._hours.is_open(self._clock()))

    # -- conversations (customer side) ------------------------------------------------------------
    def start(
        self, channel: str = "chat", context: Mapping[str, Any] | None = None
    ) -> tuple[Conversation, str]:
        """Open a conversation; returns it and the secret token the visitor uses to reach it."""
        if channel not in CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
        token = secrets.token_urlsafe(24)
        row = ConversationRow(
            id=uuid.uuid4().hex, token_hash=_hash_token(token), channel=channel, context=dict(context or {})
        )
        with self._db.session() as s:
            s.add(row)
        return self.conversation(row.id), token

    def check_token(self, conversation_id: str, token: str) -> bool:
        with self._db.session() as s:
            row = s.get(ConversationRow, conversation_id)
            if row is None:
                raise NotFound(f"conversation {conversation_id} not found")
            return hmac.compare_digest(row.token_hash, _hash_token(token))

    def conversation(self, conversation_id: str) -> Conversation:
        with self._db.session() as s:
            row = s.get(ConversationRow, conversation_id)
            if row is None:
                raise NotFound(f"conversation {conversation_id} not found")
            messages = s.scalars(
                select(MessageRow).where(MessageRow.conversation_id == row.id).order_by(MessageRow.id)
            ).all()
            return Conversation(
                id=row.id,
                channel=row.channel,  # type: ignore[arg-type]
                status=row.status,
                context=row.context or {},
                messages=tuple(_to_message(m) for m in messages),
                created_at=iso(row.created_at) or "",
                feedback=conversation_feedback(s, row.id),
            )

    def post(
        self,
        conversation_id: str,
        text: str,
        context: Mapping[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> PostedMessage:
        """A customer message: store it, then answer to an offer, stay quiet while an agent owns the
        conversation, or let the bot answer, offer a person or hand off..

        ``on_delta`` receives the reply's text as the bot produces it (for streaming)."""
        text = text.strip()
        if not text:
            raise InvalidInput("message text must not be empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(
                f"message text must be at most {MAX_MESSAGE_CHARS} characters, got {len(text)}"
            )
        notifications: list[tuple[str, Handoff]] = []
        with self._db.session() as s:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise NotFound(f"conversation {conversation_id} not found")
            if context:
                conv.context = {**(conv.context or {}), **dict(context)}
            earlier = list(
                s.scalars(
                    select(MessageRow).where(MessageRow.conversation_id == conv.id).order_by(MessageRow.id)
                )
            )
            customer = MessageRow(
                conversation_id=conv.id, role="customer", text=text, context=dict(context or {})
            )
            s.add(customer)
            conv.updated_at = utcnow()
            result = self._customer_turn(s, conv, earlier, customer, notifications, on_delta)
        self._notify(notifications)
        return result

    def _customer_turn(
        self,
        s: Any,
        conv: ConversationRow,
        earlier: list[MessageRow],
        customer: MessageRow,
        notifications: list[tuple[str, Handoff]],
        on_delta: Callable[[str], None] | None = None,
    ) -> PostedMessage:
        if conv.status == State.OFFERED:
            posted = self._answer_offer(s, conv, customer, notifications)
            if posted is not None:
                return posted
        conv.status = transition(conv.status, Event.MESSAGE)
        if conv.status != State.BOT:  # an agent owns the conversation: the bot stays quiet
            s.flush()
            return PostedMessage(conv.id, _to_message(customer), None, None, None)
        channel: Channel = conv.channel  # type: ignore[assignment]
        state = _conversation_state(earlier)
        outcome = self._bot.ask(Question(customer.text, _history(earlier), channel), state, on_delta=on_delta)
        decision = outcome.decision
        reply_text = outcome.reply_text
        if decision.action == "handoff":
            reply_text = self._handoff_notice(channel)
        reply = MessageRow(
            conversation_id=conv.id,
            role="bot",
            author=self._bot.voice.persona,
            text=reply_text,
            confidence=outcome.draft.confidence if outcome.draft else None,
            citations=_citations(outcome) if decision.action == "answer" else [],
            decision=decision.action,
            reason=decision.reason.value if decision.reason else None,
        )
        s.add(reply)
        s.flush()
        # issue #4: how a generated reply was grounded (or why the extractive one replaced it)
        grounding = outcome.draft.grounding if outcome.draft else None
        if grounding is not None:
            self._db.record(
                s,
                "message",
                str(reply.id),
                f"llm_{grounding.mode}",
                "bot",
                reason=grounding.reason,
                dropped=list(grounding.dropped),
            )
        handoff_id = None
        if decision.action in ("handoff", "offer"):
            handoff_id = self._open_handoff(s, conv, [*earlier, customer, reply], outcome, reply.id)
            if decision.action == "handoff":
                s.flush()
                notifications.append(("handoff.opened", self._snapshot(s, handoff_id)))
        return PostedMessage(conv.id, _to_message(customer), _to_message(reply), outcome, handoff_id)

    def _answer_offer(
        self, s: Any, conv: ConversationRow, customer: MessageRow, notifications: list[tuple[str, Handoff]]
    ) -> PostedMessage | None:
        """The customer replies to the offer of a person: yes opens the handoff, no declines it, and
        anything else declines it silently and goes to the bot as a new message (None)."""
        offer = s.scalars(
            select(HandoffRow)
            .where(HandoffRow.conversation_id == conv.id, HandoffRow.status == "offered")
            .order_by(HandoffRow.created_at.desc())
        ).first()
        answer = answer_to_offer(customer.text)
        channel: Channel = conv.channel  # type: ignore[assignment]
        if answer == "yes" and offer is not None:
            conv.status = transition(conv.status, Event.ACCEPT)
            text, decision = self._handoff_notice(channel), "handoff"
        else:
            conv.status = transition(conv.status, Event.DECLINE)
            if answer != "no":
                if offer is not None:
                    offer.status = "declined"
                    self._db.record(s, "handoff", offer.id, "declined", "customer", implicit=True)
                return None
            text, decision = self._bot.voice.notice("offer_declined", channel), "declined"
        reply = MessageRow(
            conversation_id=conv.id,
            role="bot",
            author=self._bot.voice.persona,
            text=text,
            decision=decision,
            reason=offer.reason if offer is not None else None,
        )
        s.add(reply)
        s.flush()
        handoff_id = None
        if offer is not None:
            handoff_id = offer.id
            if answer == "yes":
                offer.status = "open"
                self._db.record(
                    s, "handoff", offer.id, "opened", "customer", reason=offer.reason, message_id=reply.id
                )
                notifications.append(("handoff.opened", _to_handoff(offer)))
            else:
                offer.status = "declined"
                self._db.record(s, "handoff", offer.id, "declined", "customer")
        return PostedMessage(conv.id, _to_message(customer), _to_message(reply), None, handoff_id)

    def _open_handoff(
        self, s: Any, conv: ConversationRow, messages: list[MessageRow], outcome: Outcome, message_id: int
    ) -> str:
        offered = outcome.decision.action == "offer"
        row = HandoffRow(
            id=uuid.uuid4().hex,
            conversation_id=conv.id,
            status="offered" if offered else "open",
            reason=outcome.decision.reason.value if outcome.decision.reason else "unknown",
            detail=outcome.decision.detail,
            question=_handoff_question(outcome),
            transcript=[
                {"role": m.role, "text": m.text, "at": iso(m.created_at or utcnow())} for m in messages
            ],
            customer_context=dict(conv.context or {}),
            sources=[
                {
                    "doc_id": h.chunk.doc_id,
                    "chunk_id": h.chunk.id,
                    "title": h.chunk.title,
                    "url": h.chunk.url,
                    "score": h.score,
                    "text": h.chunk.text[:500],
                }
                for h in outcome.hits[:5]
            ],
            draft={
                "text": outcome.draft.text if outcome.draft else "",
                "confidence": outcome.draft.confidence if outcome.draft else None,
                "citations": _citations(outcome),
            },
        )
        s.add(row)
        conv.status = transition(conv.status, Event.OFFER if offered else Event.HANDOFF)
        action = "offered" if offered else "opened"
        self._db.record(s, "handoff", row.id, action, "bot", reason=row.reason, message_id=message_id)
        return row.id

    # -- handoffs (agent side) --------------------------------------------------------------------
    def handoffs(self, status: str | None = None, limit: int = 100) -> list[Handoff]:
        with self._db.session() as s:
            query = select(HandoffRow).order_by(HandoffRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(HandoffRow.status == status)
            return [_to_handoff(r) for r in s.scalars(query)]

    def handoff(self, handoff_id: str) -> Handoff:
        with self._db.session() as s:
            return _to_handoff(self._handoff_row(s, handoff_id))

    def _snapshot(self, s: Any, handoff_id: str) -> Handoff:
        return _to_handoff(self._handoff_row(s, handoff_id))

    @staticmethod
    def _handoff_row(s: Any, handoff_id: str) -> HandoffRow:
        row = s.get(HandoffRow, handoff_id)
        if row is None:
            raise NotFound(f"handoff {handoff_id} not found")
        return row  # type: ignore[no-any-return]

    def packet(self, handoff_id: str) -> HandoffPacket:
        """What the agent opens: the handoff with the live transcript (messages sent after the handoff
        included, up to its resolution), a summary, a suggested reply and the assignment history."""
        with self._db.session() as s:
            row = self._handoff_row(s, handoff_id)
            rows = s.scalars(
                select(EventRow)
                .where(EventRow.entity == "handoff", EventRow.entity_id == row.id)
                .order_by(EventRow.id)
            ).all()
            details = {e.action: dict(e.detail or {}) for e in rows}  # the last of each action
            opened_at = (details.get("opened") or details.get("offered") or {}).get("message_id")
            last = details.get("resolved", {}).get("last_message_id")
            events: list[dict[str, Any]] = [
                {"action": e.action, "actor": e.actor, "at": iso(e.at), "detail": dict(e.detail or {})}
                for e in rows
            ]
            query = select(MessageRow).where(MessageRow.conversation_id == row.conversation_id)
            if last is not None:
                query = query.where(MessageRow.id <= last)
            transcript = [
                TranscriptEntry(
                    message_id=m.id,
                    role=m.role,  # type: ignore[arg-type]
                    text=m.text,
                    at=iso(m.created_at) or "",
                    author=m.author,
                    after_handoff=opened_at is not None and m.id > opened_at,
                )
                for m in s.scalars(query.order_by(MessageRow.id))
            ]
            return build_packet(_to_handoff(row), transcript, events)

    def _claim(self, s: Any, row: HandoffRow, conv: ConversationRow, agent: str, by: str) -> bool:
        """Assign ``row`` to ``agent`` (recording who, when, from, to); False when already theirs."""
        if row.status not in ("open", "assigned"):
            raise Conflict(
                f"handoff {row.id} is {row.status}; only open or assigned handoffs can be assigned"
            )
        conv.status = transition(conv.status, Event.CLAIM)
        conv.updated_at = utcnow()
        if row.agent == agent and row.status == "assigned":
            return False
        self._db.record(s, "handoff", row.id, "assigned", by, to=agent, **{"from": row.agent})
        row.agent, row.status = agent, "assigned"
        return True

    def _rows(self, s: Any, handoff_id: str) -> tuple[HandoffRow, ConversationRow]:
        row = self._handoff_row(s, handoff_id)
        conv = s.get(ConversationRow, row.conversation_id)
        if conv is None:
            raise NotFound(f"conversation {row.conversation_id} not found")
        return row, conv

    def assign(self, handoff_id: str, agent: str, by: str | None = None) -> Handoff:
        """(Re)assign a handoff; the conversation is then with that agent. Everything else is kept."""
        agent = agent.strip()
        by = (by or agent).strip()
        if not agent:
            raise InvalidInput("agent must not be empty")
        with self._db.session() as s:
            row, conv = self._rows(s, handoff_id)
            changed = self._claim(s, row, conv, agent, by)
            handoff = _to_handoff(row)
        if changed:
            self._notify([("handoff.assigned", handoff)])
        return handoff

    def reply(
        self, handoff_id: str, agent: str, text: str, learn: bool = True, resolve: bool = True
    ) -> tuple[Handoff, Suggestion | None]:
        """The agent's answer goes to the customer. The first reply claims the handoff; with
        ``resolve`` (the default) it also resolves it and the answer becomes a suggestion."""
        text, agent = text.strip(), agent.strip()
        if not text:
            raise InvalidInput("reply text must not be empty")
        if not agent:
            raise InvalidInput("agent must not be empty")
        notifications: list[tuple[str, Handoff]] = []
        with self._db.session() as s:
            row, conv = self._rows(s, handoff_id)
            if row.status not in ("open", "assigned"):
                raise Conflict(f"handoff {handoff_id} is already {row.status}")
            if (row.agent != agent or row.status == "open") and self._claim(s, row, conv, agent, agent):
                notifications.append(("handoff.assigned", _to_handoff(row)))
            conv.status = transition(conv.status, Event.REPLY)
            message = MessageRow(conversation_id=row.conversation_id, role="agent", author=agent, text=text)
            s.add(message)
            s.flush()
            if resolve:
                self._resolve(s, row, conv, agent, text, message.id)
                notifications.append(("handoff.resolved", _to_handoff(row)))
            learning = self._learning_input(row, conv) if resolve and learn else None
            handoff = _to_handoff(row)
        self._notify(notifications)
        return handoff, self._learn(handoff, agent, text, learning)

    def resolve(self, handoff_id: str, agent: str, learn: bool = True) -> tuple[Handoff, Suggestion | None]:
        """Resolve after one or more replies (``reply(..., resolve=False)``); the last agent reply is the
        final answer that becomes a suggestion."""
        agent = agent.strip()
        if not agent:
            raise InvalidInput("agent must not be empty")
        with self._db.session() as s:
            row, conv = self._rows(s, handoff_id)
            if row.status != "assigned":
                raise Conflict(f"handoff {handoff_id} is {row.status}; reply to it before resolving")
            last = s.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == conv.id, MessageRow.role == "agent")
                .order_by(MessageRow.id.desc())
            ).first()
            if last is None:
                raise Conflict(f"handoff {handoff_id} has no agent reply to resolve with")
            self._resolve(s, row, conv, agent, last.text, last.id)
            learning = self._learning_input(row, conv) if learn else None
            handoff = _to_handoff(row)
        self._notify([("handoff.resolved", handoff)])
        return handoff, self._learn(handoff, agent, last.text, learning)

    def _resolve(
        self, s: Any, row: HandoffRow, conv: ConversationRow, agent: str, answer: str, message_id: int
    ) -> None:
        conv.status = transition(conv.status, Event.RESOLVE)
        conv.updated_at = utcnow()
        row.status, row.answer, row.resolved_at = "resolved", answer, utcnow()
        self._db.record(s, "handoff", row.id, "resolved", agent, last_message_id=message_id)

    @staticmethod
    def _learning_input(row: HandoffRow, conv: ConversationRow) -> list[str]:
        return _customer_names((conv.context or {}).get("attributes"))

    def _learn(self, handoff: Handoff, agent: str, answer: str, names: list[str] | None) -> Suggestion | None:
        """The learning hook: a resolved handoff's final answer becomes a pending suggestion."""
        if names is None:
            return None
        return self._learning.on_resolved(  # the learning loop decides what the answer means
            handoff.question,
            answer,
            agent=agent,
            handoff_id=handoff.id,
            conversation_id=handoff.conversation_id,
            names=names,
        ).suggestion
