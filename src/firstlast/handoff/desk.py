"""The support desk: conversations with customers, handoffs to agents, and agents' replies.

A customer message runs the bot's answer path with the conversation's earlier turns; when the policy
hands off, a Handoff record captures the transcript, the customer context, the sources found and the
bot's draft, and the conversation waits for an agent (the bot stays quiet meanwhile). An agent's reply
resolves the handoff and becomes a learning suggestion.

    bot --handoff--> awaiting_agent --agent reply--> resolved --new question--> bot
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from firstlast.bot import Bot
from firstlast.db import ConversationRow, Database, HandoffRow, MessageRow, utcnow
from firstlast.errors import Conflict, InvalidInput, NotFound
from firstlast.learning.service import LearningService
from firstlast.types import (
    CHANNELS,
    Channel,
    Citation,
    Conversation,
    Handoff,
    Message,
    Outcome,
    PostedMessage,
    Question,
    Suggestion,
    Turn,
)

MAX_MESSAGE_CHARS = 4000


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _to_message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        role=row.role,  # type: ignore[arg-type]
        text=row.text,
        created_at=_iso(row.created_at) or "",
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
        created_at=_iso(row.created_at) or "",
        agent=row.agent,
        answer=row.answer,
        resolved_at=_iso(row.resolved_at),
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


class SupportDesk:
    def __init__(self, db: Database, bot: Bot, learning: LearningService) -> None:
        self._db = db
        self._bot = bot
        self._learning = learning

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
                created_at=_iso(row.created_at) or "",
            )

    def post(
        self,
        conversation_id: str,
        text: str,
        context: Mapping[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> PostedMessage:
        """A customer message: store it, let the bot answer or hand off, store the result.

        ``on_delta`` receives the reply's text as the bot produces it (for streaming)."""
        text = text.strip()
        if not text:
            raise InvalidInput("message text must not be empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(
                f"message text must be at most {MAX_MESSAGE_CHARS} characters, got {len(text)}"
            )
        with self._db.session() as s:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise NotFound(f"conversation {conversation_id} not found")
            if context:
                conv.context = {**(conv.context or {}), **dict(context)}
            earlier = s.scalars(
                select(MessageRow).where(MessageRow.conversation_id == conv.id).order_by(MessageRow.id)
            ).all()
            customer = MessageRow(
                conversation_id=conv.id, role="customer", text=text, context=dict(context or {})
            )
            s.add(customer)
            conv.updated_at = utcnow()
            if conv.status == "awaiting_agent":  # an agent owns the conversation: the bot stays quiet
                s.flush()
                return PostedMessage(conv.id, _to_message(customer), None, None, None)
            if conv.status == "resolved":
                conv.status = "bot"
            history = tuple(Turn(m.role, m.text) for m in earlier)  # type: ignore[arg-type]
            channel: Channel = conv.channel  # type: ignore[assignment]
            outcome = self._bot.ask(Question(text, history, channel), on_delta=on_delta)
            decision = outcome.decision
            reply = MessageRow(
                conversation_id=conv.id,
                role="bot",
                author=self._bot.voice.persona,
                text=outcome.reply_text,
                confidence=outcome.draft.confidence if outcome.draft else None,
                citations=[] if decision.handed_off else _citations(outcome),
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
            if decision.handed_off:
                handoff_id = self._open_handoff(s, conv, [*earlier, customer, reply], outcome)
            return PostedMessage(conv.id, _to_message(customer), _to_message(reply), outcome, handoff_id)

    def _open_handoff(
        self, s: Any, conv: ConversationRow, messages: list[MessageRow], outcome: Outcome
    ) -> str:
        draft = outcome.draft
        row = HandoffRow(
            id=uuid.uuid4().hex,
            conversation_id=conv.id,
            reason=outcome.decision.reason.value if outcome.decision.reason else "unknown",
            detail=outcome.decision.detail,
            question=outcome.question.text,
            transcript=[
                {"role": m.role, "text": m.text, "at": _iso(m.created_at or utcnow())} for m in messages
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
                "text": draft.text if draft else "",
                "confidence": draft.confidence if draft else None,
                "citations": _citations(outcome),
            },
        )
        s.add(row)
        conv.status = "awaiting_agent"
        self._db.record(s, "handoff", row.id, "opened", "bot", reason=row.reason)
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
            row = s.get(HandoffRow, handoff_id)
            if row is None:
                raise NotFound(f"handoff {handoff_id} not found")
            return _to_handoff(row)

    def reply(
        self, handoff_id: str, agent: str, text: str, learn: bool = True
    ) -> tuple[Handoff, Suggestion | None]:
        """The agent's answer goes to the customer, resolves the handoff and becomes a suggestion."""
        text, agent = text.strip(), agent.strip()
        if not text:
            raise InvalidInput("reply text must not be empty")
        if not agent:
            raise InvalidInput("agent must not be empty")
        with self._db.session() as s:
            row = s.get(HandoffRow, handoff_id)
            if row is None:
                raise NotFound(f"handoff {handoff_id} not found")
            if row.status != "open":
                raise Conflict(f"handoff {handoff_id} is already {row.status}")
            conv = s.get(ConversationRow, row.conversation_id)
            s.add(MessageRow(conversation_id=row.conversation_id, role="agent", author=agent, text=text))
            row.status, row.agent, row.answer, row.resolved_at = "resolved", agent, text, utcnow()
            if conv is not None:
                conv.status = "resolved"
                conv.updated_at = utcnow()
            attributes = (conv.context or {}).get("attributes") if conv else None
            names = _customer_names(attributes)
            self._db.record(s, "handoff", row.id, "resolved", agent)
            question, conversation_id = row.question, row.conversation_id
            handoff = _to_handoff(row)
        suggestion = None
        if learn:
            suggestion = self._learning.suggest(
                question,
                text,
                agent=agent,
                handoff_id=handoff_id,
                conversation_id=conversation_id,
                names=names,
            )
        return handoff, suggestion
