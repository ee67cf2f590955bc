"""``Idempotency-Key`` on message posts: a client that lost the response to a post sends it again
with the same key and gets the first response back; the message is not posted twice.

The response is kept in the post's own write transaction (``KeepResponse``), so a retry finds the
message and its response, or neither: a crash between the two cannot post a message twice. Two
requests with one key at the same moment both answer; the one that stores first wins, the other's
transaction rolls back and it returns the winner's response.

    keep = KeepResponse(key, request_hash, lambda posted: ReplyOut.of(posted).model_dump(mode="json"))
    services.desk.post(conversation_id, text, keep=keep)   # a retry: AlreadyAnswered, then
    first = winner(services.desk, conversation_id, keep)   # the first response
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from firstlast.desk.customer import KeepResponse
from firstlast.errors import AlreadyAnswered, BackendError, Conflict


class _Desk(Protocol):
    def kept_response(self, conversation_id: str, key: str) -> tuple[str, dict[str, Any] | None] | None: ...


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def lost_race(exc: BaseException) -> bool:
    """The post was not stored because its key has a response: a retry (found in the post's read
    transaction), or a request with the key that stored first (AlreadyAnswered in the write
    transaction, or PostgreSQL's unique key on an insert that was in flight)."""
    return isinstance(exc, AlreadyAnswered) or (
        isinstance(exc, BackendError) and isinstance(exc.__cause__, IntegrityError)
    )


def winner(desk: _Desk, conversation_id: str, keep: KeepResponse) -> dict[str, Any]:
    """The first response to this key (InvalidInput when the key came with another message)."""
    first = keep.first_response(desk.kept_response(conversation_id, keep.key))
    if first is None:  # pragma: no cover - the winner committed before we looked
        raise Conflict("a request with this Idempotency-Key is being answered; retry shortly")
    return first
