"""Webhook events leave the desk only after the change they report has committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from firstlast.handoff.webhook import Notifier
from firstlast.records import Handoff


class Notifications:
    """``with notifications.batch() as outgoing, store.transaction() as tx: outgoing.append(...)``:
    the events are sent when both blocks end without an error, each with the handoff as it was
    right after its change (the notifier queues them and returns at once)."""

    def __init__(self, notifier: Notifier | None = None) -> None:
        self._notifier = notifier

    @contextmanager
    def batch(self) -> Iterator[list[tuple[str, Handoff]]]:
        outgoing: list[tuple[str, Handoff]] = []
        yield outgoing
        if self._notifier is not None:
            for event, handoff in outgoing:
                self._notifier.notify(event, handoff)
