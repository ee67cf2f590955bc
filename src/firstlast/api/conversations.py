"""Routes for the chat widget: open a conversation, send messages, read the transcript."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse, StreamingResponse

from firstlast.api.deps import CallerScope, ServicesDep
from firstlast.api.idempotency import body_hash, lost_race, winner
from firstlast.api.schemas import (
    ConversationCreate,
    ConversationCreated,
    FeedbackCreate,
    MessageCreate,
    ReplyOut,
    errors,
)
from firstlast.desk.customer import KeepResponse
from firstlast.errors import NotFound
from firstlast.records import Conversation, Feedback, PostedMessage
from firstlast.web.identity import identity_context

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses=errors(401, 403, 404, 409, 413, 422, 429, 503),
)
TokenHeader = Annotated[str | None, Header(description="The token returned when the conversation was opened")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=128,
        description="Optional; a post sent again with the same key returns the first response "
        "and does not post the message twice",
    ),
]


def authorize(services: ServicesDep, scope: str, conversation_id: str, token: str | None) -> None:
    """Agents and admins reach any conversation (404 when it does not exist); a widget only the
    one whose token it sends, and an unknown id looks the same as a wrong token (403)."""
    if scope != "widget":
        services.desk.conversation(conversation_id)  # 404 if missing
        return
    try:
        allowed = bool(token) and services.desk.check_token(conversation_id, token or "")
    except NotFound:
        allowed = False
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "missing or wrong X-Conversation-Token for this conversation"
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationCreated)
def open_conversation(
    body: ConversationCreate, services: ServicesDep, _scope: CallerScope
) -> ConversationCreated:
    # a page title is stored only when the host page gave one (the packet shows what was sent)
    context: dict[str, Any] = body.context.model_dump(
        exclude={"page_title"} if body.context.page_title is None else None
    )
    if body.locale:
        context["locale"] = body.locale
    if body.user is not None:  # issue #10: identity verification (web/identity.py)
        secret = services.settings.api.identity_secret
        context |= identity_context(body.user.model_dump(), secret.get_secret_value() if secret else None)
    conversation, token = services.desk.start(body.channel, context)
    return ConversationCreated.of(conversation, token)


@router.get("/{conversation_id}", response_model=Conversation)
def read_conversation(
    conversation_id: str, services: ServicesDep, scope: CallerScope, x_conversation_token: TokenHeader = None
) -> Conversation:
    authorize(services, scope, conversation_id, x_conversation_token)
    return services.desk.conversation(conversation_id)


@router.post(
    "/{conversation_id}/messages",
    response_model=ReplyOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when asked"}},
)
def send_message(
    conversation_id: str,
    body: MessageCreate,
    request: Request,
    services: ServicesDep,
    scope: CallerScope,
    x_conversation_token: TokenHeader = None,
    accept: Annotated[str | None, Header()] = None,
    idempotency_key: IdempotencyKey = None,
) -> StreamingResponse | JSONResponse:
    """Send the customer's message; the reply comes as JSON, or as server-sent events when the
    request says ``Accept: text/event-stream`` (``delta`` events with text, then one ``final``).
    With an ``Idempotency-Key``, a retry returns the first response (as JSON or as events)."""
    authorize(services, scope, conversation_id, x_conversation_token)
    if scope == "widget":
        request.app.state.limits.check_conversation(conversation_id)
    context = body.context.model_dump(exclude_none=True) if body.context else None
    streamed = bool(accept and "text/event-stream" in accept)
    keep = None
    if idempotency_key:  # a retry is found in the post's read transaction (AlreadyAnswered)
        keep = KeepResponse(idempotency_key, body_hash(body.model_dump(mode="json")), _response)
    try:
        if streamed:
            return _stream(services, conversation_id, body.text, context, keep)
        # sent as it is: a sync route's returned model would be validated again in the thread pool
        return JSONResponse(_response(services.desk.post(conversation_id, body.text, context, keep=keep)))
    except Exception as exc:
        if keep is None or not lost_race(exc):
            raise
        first = winner(services.desk, conversation_id, keep)
        return _replay(first) if streamed else JSONResponse(first)


def _response(posted: PostedMessage) -> dict[str, Any]:
    """The JSON body of a post's response, as kept for its retries."""
    return ReplyOut.of(posted).model_dump(mode="json")


def _replay(first: dict[str, Any]) -> StreamingResponse:
    """The stored response as the events it was sent as: its text in one ``delta``, then ``final``."""
    reply = first.get("reply") or {}
    events = ([_sse("delta", {"text": reply["text"]})] if reply.get("text") else []) + [_sse("final", first)]
    return StreamingResponse(
        iter(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


# -- handoff: customer feedback ------------------------------------------------------------------


@router.post("/{conversation_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=Feedback)
def give_feedback(
    conversation_id: str,
    body: FeedbackCreate,
    services: ServicesDep,
    scope: CallerScope,
    x_conversation_token: TokenHeader = None,
) -> Feedback:
    """Thumbs up/down or a 1-5 rating, on the conversation or on one bot/agent reply (``message_id``)."""
    authorize(services, scope, conversation_id, x_conversation_token)
    if services.feedback is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "feedback is not configured")
    return services.feedback.add(
        conversation_id,
        thumbs=body.thumbs,
        rating=body.rating,
        comment=body.comment,
        message_id=body.message_id,
    )


def _sse(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@dataclass(frozen=True)
class _Done:
    posted: PostedMessage


def _stream(
    services: ServicesDep,
    conversation_id: str,
    text: str,
    context: dict[str, Any] | None,
    keep: KeepResponse | None = None,
) -> StreamingResponse:
    """The reply as server-sent events while the bot produces it: ``delta`` events, then ``final``.

    The desk runs in a worker thread and hands text deltas over a queue. Nothing is sent until the
    first item arrives, so bad input still gets its 4xx; the widget has one code path for both
    answerers: it appends ``delta`` texts and renders the ``final`` metadata.
    """
    items: queue.Queue[str | _Done | BaseException] = queue.Queue()

    def work() -> None:
        try:
            items.put(
                _Done(services.desk.post(conversation_id, text, context, on_delta=items.put, keep=keep))
            )
        except Exception as exc:  # noqa: BLE001 - handed to the request thread, which reports it
            items.put(exc)

    threading.Thread(target=work, name="sse-reply", daemon=True).start()
    first = items.get()
    if isinstance(first, BaseException):
        raise first

    def events() -> Iterator[str]:
        item: str | _Done | BaseException = first
        while True:
            if isinstance(item, str):
                yield _sse("delta", {"text": item})
            elif isinstance(item, _Done):
                yield _sse("final", _response(item.posted))
                return
            elif keep is not None and lost_race(item):  # a retry with its key stored first
                yield _sse("final", winner(services.desk, conversation_id, keep))
                return
            else:
                log.error("reply stream failed", exc_info=item)
                yield _sse("error", {"detail": "internal error; it has been logged"})
                return
            item = items.get()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
