"""``create_app(services)``: the FastAPI application for the widget, the agents and the admins.

app = create_app(build(load_settings()))
uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from firstlast import __version__
from firstlast.api import (
    agents,
    analytics,
    console,
    conversations,
    events,
    knowledge,
    ops,
    pages,
    proactive,
    reports,
)
from firstlast.api import learning as learning_routes  # issue #5
from firstlast.api.guard import BodyLimit, RateLimits, StreamSlots
from firstlast.api.origins import OriginGuard
from firstlast.api.schemas import errors
from firstlast.errors import (
    BackendError,
    ConfigError,
    Conflict,
    FirstlastError,
    IngestError,
    InvalidInput,
    NotFound,
    UnsupportedFormat,
)
from firstlast.wiring import Services

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[FirstlastError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (UnsupportedFormat, 415),
    (IngestError, 422),
    (InvalidInput, 422),
    (ConfigError, 500),
    (BackendError, 503),
]


def _status_for(exc: FirstlastError) -> int:
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def _sendable(text: str) -> str:
    """An error message as valid UTF-8 (it may quote a caller's bad input)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="firstlast",
        version=__version__,
        description="AI-first answer bot: the bot answers first, people answer last, and the bot learns.",
    )
    api = services.settings.api
    app.state.services = services
    app.state.limits = RateLimits(api)
    app.add_middleware(
        BodyLimit, default=api.max_body_bytes, upload=api.max_upload_bytes, upload_path="/v1/knowledge"
    )
    ops.install(app, services)  # /readyz, /metrics, request ids, access log
    app.state.stream_slots = StreamSlots(api)  # issue #10: bounded event streams
    # the outermost layer: CORS answers preflights; the guard refuses other origins (api/origins.py)
    app.add_middleware(OriginGuard, allowed=api.cors_origins)
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "X-Conversation-Token",
                "Content-Type",
                "Last-Event-ID",  # the widget's event stream resumes with it
                "Idempotency-Key",  # the widget sends a fresh one with every message
            ],
            expose_headers=["Retry-After", "Location"],
            max_age=600,
        )

    @app.exception_handler(FirstlastError)
    async def _firstlast_error(_request: Request, exc: FirstlastError) -> JSONResponse:
        return JSONResponse({"detail": _sendable(str(exc))}, status_code=_status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            _sendable(
                f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            )
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems), "errors": problems}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

    @app.get("/healthz", tags=["ops"], responses=errors(503))
    async def healthz() -> dict[str, object]:
        """Alive: answered on the event loop, touching no store (``/readyz`` checks the stores).
        A sync route would wait for a worker thread behind every request in flight, and a store
        call behind a collection reopen: a load balancer would take a busy process for a dead one."""
        return {"status": "ok", "version": __version__}

    app.include_router(conversations.router)
    app.include_router(agents.router)
    app.include_router(knowledge.router)

    # finish what a failure left half done (pending learning, knowledge-base writes); stop the
    # webhook worker thread when the server shuts down
    app.router.on_startup.append(services.reconcile)
    app.router.on_shutdown.append(services.close)

    app.include_router(learning_routes.router)  # learning loop (issue #5)
    # the widget and the console (issue #10)
    app.include_router(events.router)
    app.include_router(reports.router)
    app.include_router(console.router)
    app.include_router(pages.router)
    app.include_router(analytics.router)  # insights and the A/B rollout (issue #14)
    app.include_router(proactive.router)  # proactive help, off by default (issue #14)
    return app
