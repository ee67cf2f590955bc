"""Live event streams (issue #10), server-sent events read from what is stored.

- ``GET /v1/conversations/{id}/events``: the conversation's messages (bot, agent, customer) as
  ``message`` events whose id is the message's stored id, and its ``status`` when it changes. The
  widget sees an agent's reply without reloading.
- ``GET /v1/inbox/events``: every recorded handoff change (opened, assigned, resolved, verdict) as
  ``handoff`` events whose id is the stored event's id, with the handoff as it is now.

Both resume with ``Last-Event-ID`` and read the database every ``api.stream_poll_seconds``, so they
work when several API processes serve one database (no in-process pub/sub). What a widget-key holder
can open is bounded: each stream ends after ``api.stream_seconds`` (the client reconnects and
resumes), sends a heartbeat comment every ``api.stream_heartbeat_seconds``; a widget caller holds
at most ``api.max_streams_per_conversation`` streams of one conversation and
``api.max_streams_per_client`` in all (per key and address; more get 429), and a process at most
``api.max_streams`` (more get 503). See ``StreamSlots`` in api/guard.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from firstlast.api.conversations import TokenHeader, authorize
from firstlast.api.deps import AgentScope, CallerScope, ServicesDep
from firstlast.api.guard import StreamSlots
from firstlast.api.schemas import errors
from firstlast.config import ApiSettings

router = APIRouter(tags=["events"], responses=errors(401, 403, 404, 422, 429, 503))
LastEventId = Annotated[str | None, Header(description="Resume after this event id")]
Chunk = list[str]


def _last_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"Last-Event-ID must be a number, got {value!r}"
        )
    return int(value)


def sse(event: str, data: object, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(jsonable_encoder(data), ensure_ascii=False)}\n\n"


class _HeldStream(StreamingResponse):
    """A stream that gives its slot back when the response ends, however it ends (also when the
    client left before the first byte, so the body was never iterated)."""

    def __init__(self, body: AsyncIterator[str], release: Callable[[], None]) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(body, media_type="text/event-stream", headers=headers)
        self._release = release

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _stream(
    request: Request,
    api: ApiSettings,
    read: Callable[[], Awaitable[Chunk]],
    *,
    conversation: str | None = None,
    client: str | None = None,
) -> StreamingResponse:
    """Poll ``read`` (which returns the SSE texts of what is new) until the client leaves or the
    stream's lifetime is over; a heartbeat comment when nothing was sent for a while. The stream
    holds a slot of the process, and of ``conversation`` and ``client`` when given."""
    slots: StreamSlots = request.app.state.stream_slots
    release = slots.take(conversation=conversation, client=client)

    async def events() -> AsyncIterator[str]:
        start = last_sent = time.monotonic()
        yield "retry: 1000\n\n"
        while time.monotonic() - start < api.stream_seconds:
            if await request.is_disconnected():
                return
            chunk = await read()
            now = time.monotonic()
            if chunk:
                yield "".join(chunk)
                last_sent = now
            elif now - last_sent >= api.stream_heartbeat_seconds:
                yield ": heartbeat\n\n"
                last_sent = now
            await asyncio.sleep(api.stream_poll_seconds)

    return _HeldStream(events(), release)


_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}
}


@router.get("/v1/conversations/{conversation_id}/events", responses=_SSE)
async def conversation_events(
    conversation_id: str,
    request: Request,
    services: ServicesDep,
    scope: CallerScope,
    x_conversation_token: TokenHeader = None,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """The conversation as it happens: ``message`` events (id = the message's id) and ``status``."""
    await run_in_threadpool(authorize, services, scope, conversation_id, x_conversation_token)
    after = _last_id(last_event_id) or 0
    seen: list[str] = []

    def read() -> Chunk:
        nonlocal after
        state, messages = services.desk.updates(conversation_id, after)
        out = [sse("message", m, m.id) for m in messages]
        if messages:
            after = messages[-1].id
        if not seen or seen[-1] != state:
            seen.append(state)
            out.append(sse("status", {"status": state}))
        return out

    widget = scope == "widget"  # the caps per conversation and client bound the public key
    return _stream(
        request,
        services.settings.api,
        lambda: run_in_threadpool(read),
        conversation=conversation_id if widget else None,
        client=getattr(request.state, "widget_client", None) if widget else None,
    )


@router.get("/v1/inbox/events", responses=_SSE)
async def inbox_events(
    request: Request, services: ServicesDep, _scope: AgentScope, last_event_id: LastEventId = None
) -> StreamingResponse:
    """Handoff changes as they are recorded: ``handoff`` events (id = the stored event's id) with
    ``action``, ``actor``, ``at``, ``detail`` and the ``handoff`` as it is now. Without
    ``Last-Event-ID`` the stream starts from now (a ``ready`` event carries the id to resume from)."""
    last = _last_id(last_event_id)
    after = last if last is not None else await run_in_threadpool(services.desk.history_head)
    first = [sse("ready", {"after": after}, after)]

    def read() -> Chunk:
        nonlocal after
        out = first[:] if first else []
        first.clear()
        for number, event, handoff in services.desk.handoff_updates(after):
            out.append(sse("handoff", {**jsonable_encoder(event), "handoff": handoff}, number))
            after = number
        return out

    return _stream(request, services.settings.api, lambda: run_in_threadpool(read))
