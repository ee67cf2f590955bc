"""The customer's side of the desk: open a conversation, and take each message to the bot, to the
offer's answer, or to the agent who owns the conversation.

Everything the reply depends on (channel, language, offers made, the streak, business hours) goes
into the bot's input, and what the bot renders, and streams, is what is stored: the desk never
rewrites a reply.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from firstlast.bot import Bot
from firstlast.db import utcnow
from firstlast.desk.notify import Notifications
from firstlast.desk.state import conversation_state, handoff_question, history, page_of
from firstlast.desk.store import DeskStore, DeskTransaction
from firstlast.errors import AlreadyAnswered, InvalidInput
from firstlast.handoff.hours import BusinessHours
from firstlast.handoff.policy import answer_to_offer
from firstlast.handoff.states import CONVERSATION, HANDOFF, Event, HandoffEvent, State
from firstlast.insights.rollout import CONTROL_REASON, Rollout
from firstlast.records import (
    Conversation,
    ConversationStatus,
    DraftSnapshot,
    Handoff,
    HandoffStatus,
    Message,
    NewMessage,
    PostedMessage,
    SourceRef,
    TranscriptLine,
)
from firstlast.types import CHANNELS, MAX_MESSAGE_CHARS, Channel, ConversationState, Outcome, Question

OnDelta = Callable[[str], None]


@dataclass(frozen=True)
class KeepResponse:
    """A post's ``Idempotency-Key``, the hash of its request, and how its response is made."""

    key: str
    request_hash: str
    respond: Callable[[PostedMessage], dict[str, Any]]

    def first_response(self, found: tuple[str, dict[str, Any] | None] | None) -> dict[str, Any] | None:
        """The response kept for this key (``kept_response``'s answer), or None when there is none
        yet (a claim left by an earlier version counts as none: it is taken over); InvalidInput
        when the key came with another message."""
        if found is None or found[1] is None:
            return None
        if found[0] != self.request_hash:
            raise InvalidInput(
                "this Idempotency-Key was sent with another message; use a new key for each message"
            )
        return found[1]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CustomerTurns:
    def __init__(
        self,
        store: DeskStore,
        bot: Bot,
        notifications: Notifications,
        *,
        hours: BusinessHours | None = None,
        clock: Callable[[], datetime] = utcnow,
        rollout: Rollout | None = None,
    ) -> None:
        self._store = store
        self._bot = bot
        self._notify = notifications
        self._hours = hours or BusinessHours()
        self._clock = clock
        self._rollout = rollout  # None: no A/B rollout, the bot answers every conversation
        # Each conversation's token hash, read once: a token never changes, and a widget's every
        # request checks it (one database transaction less per message). Bounded; oldest out first.
        self._tokens: dict[str, str] = {}
        self._tokens_lock = threading.Lock()

    def start(
        self, channel: str = "chat", context: Mapping[str, Any] | None = None
    ) -> tuple[Conversation, str]:
        """Open a conversation; returns it and the secret token the visitor uses to reach it."""
        if channel not in CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
        token, conversation_id = secrets.token_urlsafe(24), uuid.uuid4().hex
        context = dict(context or {})
        arm = self._rollout.arm(conversation_id, context) if self._rollout else None
        with self._store.transaction() as tx:
            tx.add_conversation(conversation_id, hash_token(token), cast(Channel, channel), context, arm)
            if arm is not None:
                tx.record("conversation", conversation_id, "arm_assigned", "rollout", arm=arm)
            started = tx.conversation(conversation_id, feedback=False)  # none yet
        self._keep_token(conversation_id, hash_token(token))
        return started, token

    TOKENS_KEPT = 50_000

    def check_token(self, conversation_id: str, token: str) -> bool:
        """Whether ``token`` opens this conversation; NotFound when there is no such conversation."""
        known = self._tokens.get(conversation_id)
        if known is None:
            with self._store.transaction() as tx:
                known = tx.token_hash(conversation_id)
            self._keep_token(conversation_id, known)
        return hmac.compare_digest(known, hash_token(token))

    def _keep_token(self, conversation_id: str, token_hash: str) -> None:
        with self._tokens_lock:
            if len(self._tokens) >= self.TOKENS_KEPT:
                del self._tokens[next(iter(self._tokens))]
            self._tokens[conversation_id] = token_hash

    def conversation(self, conversation_id: str) -> Conversation:
        with self._store.transaction() as tx:
            return tx.conversation(conversation_id)

    def updates(
        self, conversation_id: str, after: int = 0, limit: int = 100
    ) -> tuple[ConversationStatus, list[Message]]:
        """What a conversation's event stream sends: its status and the messages after ``after``."""
        with self._store.transaction() as tx:
            return tx.conversation_status(conversation_id), tx.messages(
                conversation_id, after=after, limit=limit
            )

    def post(
        self,
        conversation_id: str,
        text: str,
        context: Mapping[str, Any] | None = None,
        on_delta: OnDelta | None = None,
        keep: KeepResponse | None = None,
    ) -> PostedMessage:
        """A customer message: store it, then answer to an offer, stay quiet while an agent owns the
        conversation, or let the bot answer, offer a person or hand off.

        ``on_delta`` receives the reply's text as the bot produces it; joined, it is the stored reply.
        ``keep`` (a post with an ``Idempotency-Key``) stores the response in the same transaction as
        the message: a retry finds both or neither. AlreadyAnswered when the key has a response
        (a retry; ``kept_response`` has it), InvalidInput when it came with another message."""
        text = text.strip()
        if not text:
            raise InvalidInput("message text must not be empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(
                f"message text must be at most {MAX_MESSAGE_CHARS} characters, got {len(text)}"
            )
        with self._store.transaction() as tx:  # read, then let go: the bot works outside a transaction
            seen = tx.conversation(conversation_id, feedback=False)
            if keep is not None:
                _check_not_kept(tx, seen.id, keep)
            offered = tx.offered_handoff(seen.id) is not None if seen.status == State.OFFERED else False
        page = page_of(context, seen.context)
        prepared = self._prepare(seen, offered, text, page, on_delta)
        with self._notify.batch() as outgoing, self._store.transaction() as tx:
            conv = tx.conversation(conversation_id, known=seen)
            if context:
                conv = replace(conv, context={**conv.context, **dict(context)})
            earlier = list(conv.messages)
            customer = tx.add_message(conv.id, NewMessage("customer", text, context=dict(context or {})))
            posted = None
            if conv.status == State.OFFERED:
                posted = self._answer_offer(tx, conv, earlier, customer, outgoing, on_delta)
                conv = tx.conversation(conv.id)  # the offer is answered or set aside
            if posted is None:
                posted = self._to_bot(tx, conv, earlier, customer, outgoing, on_delta, prepared, page)
            if keep is not None:
                tx.keep_response(conv.id, keep.key, keep.request_hash, keep.respond(posted))
            return posted

    def kept_response(self, conversation_id: str, key: str) -> tuple[str, dict[str, Any] | None] | None:
        """The (request hash, response) kept for a post with this ``Idempotency-Key``, or None."""
        with self._store.transaction() as tx:
            return tx.kept_response(conversation_id, key)

    def _prepare(
        self, conv: Conversation, offered: bool, text: str, page: str, on_delta: OnDelta | None
    ) -> Outcome | None:
        """The bot's outcome for a message that will go to the bot, worked out before the write
        transaction opens (retrieval and answering, maybe an LLM, hold no database lock); None when
        the message goes elsewhere (an agent, the answer to an offer). A conversation that changes
        in between (another message, an agent) keeps the outcome for its reply, which is what was
        streamed; a message that no longer goes to the bot stores no reply."""
        if conv.arm == "control":  # the A/B rollout's control arm: the bot never reads the question
            return None
        status = conv.status
        if status == State.OFFERED:
            if answer_to_offer(text) == "no" or (answer_to_offer(text) == "yes" and offered):
                return None  # answered with a notice, in the transaction
            status = State.BOT  # declined silently: the message goes to the bot
        if (
            not CONVERSATION.allows(status, Event.MESSAGE)
            or CONVERSATION.next(status, Event.MESSAGE) != State.BOT
        ):
            return None
        earlier = list(conv.messages)
        state = conversation_state(earlier, out_of_hours=not self._hours.is_open(self._clock()))
        question = Question(text, history(earlier), conv.channel, page=page)
        return self._bot.ask(question, state, on_delta=on_delta)

    def _to_bot(
        self,
        tx: DeskTransaction,
        conv: Conversation,
        earlier: list[Message],
        customer: Message,
        outgoing: list[tuple[str, Handoff]],
        on_delta: OnDelta | None,
        prepared: Outcome | None = None,
        page: str = "",
    ) -> PostedMessage:
        conv = replace(conv, status=CONVERSATION.next(conv.status, Event.MESSAGE))
        tx.save_conversation(conv)
        if conv.status != State.BOT:  # an agent owns the conversation: the bot stays quiet
            return PostedMessage(conv.id, customer, None, None, None)
        if conv.arm == "control":  # the A/B rollout's control arm: straight to a person
            state = conversation_state(earlier, out_of_hours=not self._hours.is_open(self._clock()))
            return self._to_person(tx, conv, earlier, customer, outgoing, state, on_delta)
        outcome = prepared
        if outcome is None:  # not foreseen before the transaction (the conversation changed)
            state = conversation_state(earlier, out_of_hours=not self._hours.is_open(self._clock()))
            question = Question(customer.text, history(earlier), conv.channel, page=page)
            outcome = self._bot.ask(question, state, on_delta=on_delta)
        decision, draft = outcome.decision, outcome.draft
        reply = self._bot_says(
            tx,
            conv.id,
            outcome.reply_text,  # exactly what was streamed
            confidence=draft.confidence if draft else None,
            citations=draft.citations if draft and decision.action == "answer" else (),
            decision=decision.action,
            reason=decision.reason.value if decision.reason else None,
        )
        grounding = draft.grounding if draft else None
        if grounding is not None:  # issue #4: how a generated reply was grounded
            tx.record(
                "message",
                str(reply.id),
                f"llm_{grounding.mode}",
                "bot",
                reason=grounding.reason,
                dropped=list(grounding.dropped),
            )
        handoff_id = None
        if decision.action in ("handoff", "offer"):
            handoff = self._open_handoff(tx, conv, [*earlier, customer, reply], outcome, reply.id)
            handoff_id = handoff.id
            if handoff.status == HandoffStatus.OPEN:
                outgoing.append(("handoff.opened", handoff))
        return PostedMessage(conv.id, customer, reply, outcome, handoff_id)

    def _answer_offer(
        self,
        tx: DeskTransaction,
        conv: Conversation,
        earlier: list[Message],
        customer: Message,
        outgoing: list[tuple[str, Handoff]],
        on_delta: OnDelta | None,
    ) -> PostedMessage | None:
        """The customer replies to the offer of a person: yes opens the handoff, no declines it, and
        anything else declines it silently and goes to the bot as a new message (None)."""
        offer = tx.offered_handoff(conv.id)
        answer = answer_to_offer(customer.text)
        accepted = answer == "yes" and offer is not None
        conv = replace(
            conv, status=CONVERSATION.next(conv.status, Event.ACCEPT if accepted else Event.DECLINE)
        )
        tx.save_conversation(conv)
        if answer is None or (answer == "yes" and offer is None):
            if offer is not None:
                tx.save_handoff(replace(offer, status=HANDOFF.next(offer.status, HandoffEvent.DECLINE)))
                tx.record("handoff", offer.id, "declined", "customer", implicit=True)
            return None
        state = conversation_state(earlier, out_of_hours=not self._hours.is_open(self._clock()))
        text = self._bot.notice("handoff" if accepted else "offer_declined", conv.channel, state, on_delta)
        reason = offer.reason if offer is not None else None
        reply = self._bot_says(
            tx, conv.id, text, decision="handoff" if accepted else "declined", reason=reason
        )
        if offer is None:
            return PostedMessage(conv.id, customer, reply, None, None)
        event = HandoffEvent.ACCEPT if accepted else HandoffEvent.DECLINE
        offer = replace(offer, status=HANDOFF.next(offer.status, event))
        tx.save_handoff(offer)
        if accepted:
            tx.record("handoff", offer.id, "opened", "customer", reason=offer.reason, message_id=reply.id)
            outgoing.append(("handoff.opened", offer))
        else:
            tx.record("handoff", offer.id, "declined", "customer")
        return PostedMessage(conv.id, customer, reply, None, offer.id)

    def _to_person(
        self,
        tx: DeskTransaction,
        conv: Conversation,
        earlier: list[Message],
        customer: Message,
        outgoing: list[tuple[str, Handoff]],
        state: ConversationState,
        on_delta: OnDelta | None,
    ) -> PostedMessage:
        """The control arm: the customer is told a person is coming and the handoff opens at once."""
        text = self._bot.notice("handoff", conv.channel, state, on_delta)
        reply = self._bot_says(tx, conv.id, text, decision="handoff", reason=CONTROL_REASON)
        handoff = Handoff(
            id=uuid.uuid4().hex,
            conversation_id=conv.id,
            status=HandoffStatus.OPEN,
            reason=CONTROL_REASON,
            detail="A/B rollout: control arm",
            question=customer.text,
            transcript=tuple(
                TranscriptLine(m.role, m.text, m.created_at) for m in [*earlier, customer, reply]
            ),
            customer_context=dict(conv.context),
            sources=(),
            draft=DraftSnapshot(),
            created_at=utcnow().isoformat(),
        )
        tx.add_handoff(handoff)
        tx.save_conversation(replace(conv, status=CONVERSATION.next(conv.status, Event.HANDOFF)))
        tx.record("handoff", handoff.id, "opened", "bot", reason=CONTROL_REASON, message_id=reply.id)
        outgoing.append(("handoff.opened", tx.handoff(handoff.id)))
        return PostedMessage(conv.id, customer, reply, None, handoff.id)

    def _bot_says(self, tx: DeskTransaction, conversation_id: str, text: str, **values: Any) -> Message:
        return tx.add_message(conversation_id, NewMessage("bot", text, self._bot.voice.persona, **values))

    def _open_handoff(
        self,
        tx: DeskTransaction,
        conv: Conversation,
        messages: Sequence[Message],
        outcome: Outcome,
        message_id: int,
    ) -> Handoff:
        offered = outcome.decision.action == "offer"
        draft = outcome.draft
        handoff = Handoff(
            id=uuid.uuid4().hex,
            conversation_id=conv.id,
            status=HandoffStatus.OFFERED if offered else HandoffStatus.OPEN,
            reason=outcome.decision.reason.value if outcome.decision.reason else "unknown",
            detail=outcome.decision.detail,
            question=handoff_question(outcome),
            transcript=tuple(TranscriptLine(m.role, m.text, m.created_at) for m in messages),
            customer_context=dict(conv.context),
            sources=tuple(
                SourceRef(h.chunk.doc_id, h.chunk.id, h.chunk.title, h.chunk.url, h.score, h.chunk.text[:500])
                for h in outcome.hits[:5]
            ),
            draft=DraftSnapshot(draft.text, draft.confidence, draft.citations) if draft else DraftSnapshot(),
            created_at=utcnow().isoformat(),
        )
        tx.add_handoff(handoff)
        event = Event.OFFER if offered else Event.HANDOFF
        tx.save_conversation(replace(conv, status=CONVERSATION.next(conv.status, event)))
        action = "offered" if offered else "opened"
        tx.record("handoff", handoff.id, action, "bot", reason=handoff.reason, message_id=message_id)
        return tx.handoff(handoff.id)


def _check_not_kept(tx: DeskTransaction, conversation_id: str, keep: KeepResponse) -> None:
    """A retry of a post that has its response is not posted again (checked in the post's read
    transaction, so a first request costs no transaction of its own)."""
    if keep.first_response(tx.kept_response(conversation_id, keep.key)) is not None:
        raise AlreadyAnswered(f"this Idempotency-Key was answered before ({keep.key})")
