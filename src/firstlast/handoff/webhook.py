"""The webhook format: ``handoff.opened``, ``handoff.assigned`` and ``handoff.resolved``, signed.

The desk calls ``notify`` after its transaction commits; a background thread
(``desk/webhooks.py``) posts the JSON body, so the customer's reply never waits for the receiver.
Each POST carries

    X-Firstlast-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>
    X-Firstlast-Timestamp: <unix seconds of this attempt>
    X-Firstlast-Event / X-Firstlast-Delivery: the event name and the delivery id

and is retried with exponential backoff (``base_delay * 2**n``) until a 2xx or ``max_attempts``.
Every delivery ends as one row in ``webhook_deliveries``: delivered, failed, or abandoned when the
app shut down mid-backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Protocol

from firstlast.records import Handoff

EVENTS = ("handoff.opened", "handoff.assigned", "handoff.resolved")


class Notifier(Protocol):
    def notify(self, event: str, handoff: Handoff) -> None: ...


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``; receivers recompute it and compare in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def handoff_payload(handoff: Handoff) -> dict[str, Any]:
    return {
        "id": handoff.id,
        "conversation_id": handoff.conversation_id,
        "status": handoff.status,
        "reason": handoff.reason,
        "detail": handoff.detail,
        "question": handoff.question,
        "agent": handoff.agent,
        "answer": handoff.answer,
        "created_at": handoff.created_at,
        "resolved_at": handoff.resolved_at,
    }


def webhook_body(delivery_id: str, event: str, handoff: Handoff, at: str) -> bytes:
    """The exact bytes that are signed and posted for one delivery."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
    payload = {"id": delivery_id, "event": event, "created_at": at, "handoff": handoff_payload(handoff)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
