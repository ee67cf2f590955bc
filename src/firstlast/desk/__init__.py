"""The support desk: the application layer above the bot and the learning loop.

    customer message --CustomerTurns--> Bot (retrieve -> answer -> decide, rendered once) --> stored
    agent reply      --AgentDesk------> resolution --outbox--> LearningService.on_resolved

The desk's records go through a small typed store (``desk/store.py``: ``SqlDeskStore`` here, an
in-memory one in ``firstlast.testing``); every status change goes through the tables in
``handoff/states.py``.

    desk = SupportDesk(SqlDeskStore(db), bot, learning, hours=hours, notifier=notifier)
    conversation, token = desk.start("chat")
    posted = desk.post(conversation.id, "How do I change my plan?")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from firstlast.bot import Bot
from firstlast.db import utcnow
from firstlast.desk.agents import AgentDesk, Learner
from firstlast.desk.customer import CustomerTurns
from firstlast.desk.notify import Notifications
from firstlast.desk.sql_store import SqlDeskStore
from firstlast.desk.store import DeskStore
from firstlast.handoff.hours import BusinessHours
from firstlast.handoff.webhook import Notifier
from firstlast.insights.rollout import Rollout

__all__ = ["DeskStore", "SqlDeskStore", "SupportDesk"]


class SupportDesk:
    """The customer's and the agents' sides over one store, as one object for the routes."""

    def __init__(
        self,
        store: DeskStore,
        bot: Bot,
        learning: Learner,
        *,
        hours: BusinessHours | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = utcnow,
        rollout: Rollout | None = None,
    ) -> None:
        notifications = Notifications(notifier)
        self.customers = CustomerTurns(store, bot, notifications, hours=hours, clock=clock, rollout=rollout)
        self.agents = AgentDesk(store, learning, notifications)
        # the routes' verbs, each owned by one side
        self.start, self.check_token = self.customers.start, self.customers.check_token
        self.conversation, self.post = self.customers.conversation, self.customers.post
        self.kept_response = self.customers.kept_response  # Idempotency-Key retries
        self.handoffs, self.handoff, self.packet = (
            self.agents.handoffs,
            self.agents.handoff,
            self.agents.packet,
        )
        self.assign, self.reply, self.resolve = self.agents.assign, self.agents.reply, self.agents.resolve
        self.retry_learning = self.agents.retry_learning
        # the event streams (issue #10): what is stored, read after a number
        self.updates, self.handoff_updates = self.customers.updates, self.agents.handoff_updates
        self.history_head = self.agents.history_head
