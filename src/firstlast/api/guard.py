"""What bounds the public edge: request bodies by size (413) and widget callers by rate (429).

    app.add_middleware(BodyLimit, default=65_536, upload=20_000_000, upload_path="/v1/knowledge")
    limits = RateLimits(settings.api)
    limits.check_client(api_key, request.client.host)   # HTTPException 429 with Retry-After

Rate limits use the ``limits`` package (moving windows); its counters live in memory (per process)
or in a shared store named by ``api.rate_limit_storage`` (e.g. ``redis://``), so several API
processes can share one budget.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

from fastapi import HTTPException, status
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstlast.config import ApiSettings


class BodyLimit:
    """Refuses a request body over its limit with 413 before a route reads it: by its
    Content-Length when it says one, else by counting what arrives (bodies are small, so the
    counted body is kept and handed on)."""

    def __init__(self, app: ASGIApp, *, default: int, upload: int, upload_path: str) -> None:
        self.app, self.default, self.upload, self.upload_path = app, default, upload, upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"] == self.upload_path
        limit = self.upload if upload else self.default
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(send, limit)
            return
        messages: list[Message] = []
        size, more = 0, True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
            if size > limit:
                await _too_large(send, limit)
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status.HTTP_413_CONTENT_TOO_LARGE,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimits:
    """Moving-window limits on widget callers: per key and client address, and per conversation."""

    def __init__(self, api: ApiSettings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(api.rate_limit_storage))
        self._client = parse_many(api.rate_limit_client)
        self._conversation = parse_many(api.rate_limit_conversation)

    def check_client(self, api_key: str, address: str) -> None:
        key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]  # the key itself is never stored
        self._hit(self._client, "client", key_id, address)

    def check_conversation(self, conversation_id: str) -> None:
        self._hit(self._conversation, "conversation", conversation_id)

    def _hit(self, items: list[RateLimitItem], *ids: str) -> None:
        for item in items:
            if not self._limiter.hit(item, *ids):
                reset: Any = self._limiter.get_window_stats(item, *ids).reset_time
                retry = max(1, math.ceil(float(reset) - time.time()))
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    f"rate limit of {item} exceeded; retry after {retry} s",
                    headers={"Retry-After": str(retry)},
                )
