"""``Idempotency-Key`` on message posts: a client that lost the response to a post sends it again
with the same key and gets the first response back; the message is not posted twice.

The key is claimed in the database before the message is posted (so every API process sees it),
and the response is stored after. A retry while the first request still runs is a 409; a claim
whose request died without an answer is taken over after ``stale_after`` seconds.

    stored = retries.claim(conversation_id, key, body_hash)   # None: go ahead and post
    ...
    retries.finish(conversation_id, key, response)             # or retries.release(...) on failure
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from firstlast.db import Database, IdempotencyRow, utcnow
from firstlast.errors import BackendError, Conflict, InvalidInput
from firstlast.mapping import to_aware


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


class Retries:
    def __init__(self, db: Database, stale_after: float = 120.0) -> None:
        self._db = db
        self._stale = timedelta(seconds=stale_after)

    def claim(self, conversation_id: str, key: str, request_hash: str) -> dict[str, Any] | None:
        """The first response to this key, or None when this request is the first (the key is now
        claimed). InvalidInput when the key came with another message; Conflict while it runs."""
        try:
            with self._db.session() as s:
                row = s.get(IdempotencyRow, (conversation_id, key))
                if row is None:
                    s.add(IdempotencyRow(conversation_id=conversation_id, key=key, request_hash=request_hash))
                    return None
                if row.request_hash != request_hash:
                    raise InvalidInput(
                        "this Idempotency-Key was sent with another message; use a new key for each message"
                    )
                if row.response is not None:
                    return row.response
                if utcnow() - to_aware(row.created_at) < self._stale:
                    raise Conflict(
                        "a request with this Idempotency-Key is still being answered; retry shortly"
                    )
                row.created_at = utcnow()  # the first request died unanswered: this one takes over
                return None
        except BackendError as exc:
            if isinstance(exc.__cause__, IntegrityError):  # the same key claimed at the same moment
                raise Conflict(
                    "a request with this Idempotency-Key is still being answered; retry shortly"
                ) from None
            raise

    def finish(self, conversation_id: str, key: str, response: dict[str, Any]) -> None:
        with self._db.session() as s:
            row = s.get(IdempotencyRow, (conversation_id, key))
            if row is not None:
                row.response = response

    def release(self, conversation_id: str, key: str) -> None:
        """The request failed: a retry with this key may post the message."""
        with self._db.session() as s:
            row = s.get(IdempotencyRow, (conversation_id, key))
            if row is not None and row.response is None:
                s.delete(row)
