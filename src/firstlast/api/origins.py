"""Refuse requests to the API from pages on origins that are not allowed to embed the widget.

CORS alone only stops a browser from *reading* a cross-origin answer; a simple POST would still be
carried out. So a request to ``/v1`` or ``/console`` whose ``Origin`` is neither the app's own nor
one of ``api.cors_origins`` is answered 403 before it reaches a route. Requests without ``Origin``
(servers, curl, same-origin GETs) are not affected.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send


class OriginGuard:
    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.allowed = {o.rstrip("/").lower() for o in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/v1/", "/console")):
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            origin = headers.get("origin", "").rstrip("/").lower()
            # the app's own pages: the same host (the scheme may differ behind a TLS-ending proxy)
            own = origin.split("://", 1)[-1] == headers.get("host", "").lower()
            if origin and not own and origin not in self.allowed:
                body = json.dumps({"detail": f"origin {origin} is not an allowed widget origin"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [(b"content-type", b"application/json"), (b"vary", b"Origin")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
