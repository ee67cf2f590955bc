"""Live event streams (issue #10), server-sent events read from what is stored.

- ``GET /v1/conversations/{id}/events``: the conversation's messages (bot, agent, customer) as
  ``message`` events whose id is the message's stored id, and its ``status`` when it changes. The
  widget sees an agent's reply without reloading.
- ``GET /v1/inbox/events``: every recorded handoff change (opened, assigned, resolved, verdict) as
  ``handoff`` events whose id is the stored event's id, with the handoff as it is now.

Both resume with ``Last-Event-ID`` and read the database every ``api.stream_poll_seconds``, so they
work when several API processes serve one database (no in-process pub/sub). What a widget-key holder
can open is bounded: each stream ends after ``api.stream_seconds`` (the client reconnects and
resumes), sends a heartbeat comment every ``api.stream_heartbeat_seconds``, and a process holds at
most ``api.max_streams`` streams at once (more get 503).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from firstlast.api.conversations import TokenHeader, authorize
from firstlast.api.deps import AgentScope, CallerScope, ServicesDep
from firstlast.api.schemas import errors
from firstlast.config import ApiSettings

router = APIRouter(tags=["events"], responses=errors(401, 403, 404, 409, 413, 422, 429, 503))
LastEventId = Annotated[str | None, Header(description="Resume after this event id")]
Chunk = list[str]


class StreamSlots:
    """How many event streams this process holds open; refuses past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit, self.open = limit, 0
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            if self.open >= self.limit:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "too many open event streams")
            self.open += 1

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


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


def _stream(request: Request, api: ApiSettings, read: Callable[[], Awaitable[Chunk]]) -> StreamingResponse:
    """Poll ``read`` (which returns the SSE texts of what is new) until the client leaves or the
    stream's lifetime is over; a heartbeat comment when nothing was sent for a while."""
    slots: StreamSlots = request.app.state.stream_slots
    slots.take()

    async def events() -> AsyncIterator[str]:
        try:
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
        finally:
            slots.give_back()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}
}


@router.get("/v1/conversations/{conversation_id}/events", response_class=StreamingResponse, responses=_SSE)
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

    return _stream(request, services.settings.api, lambda: run_in_threadpool(read))


@router.get("/v1/inbox/events", response_class=StreamingResponse, responses=_SSE)
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
