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
    analytics,  # issue #14
    conversations,
    knowledge,
    proactive,
)
from firstlast.api import learning as learning_routes  # issue #5
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


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="firstlast",
        version=__version__,
        description="AI-first answer bot: the bot answers first, people answer last, and the bot learns.",
    )
    app.state.services = services
    if services.settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=services.settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "X-Conversation-Token", "Content-Type"],
        )

    @app.exception_handler(FirstlastError)
    async def _firstlast_error(_request: Request, exc: FirstlastError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems), "errors": problems}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        return {"status": "ok", "version": __version__, "chunks": services.store.count()}

    app.include_router(conversations.router)
    app.include_router(agents.router)
    app.include_router(knowledge.router)

    # finish what a failure left half done (pending learning, knowledge-base writes); stop the
    # webhook worker thread when the server shuts down
    app.router.on_startup.append(services.reconcile)
    app.router.on_shutdown.append(services.close)

    app.include_router(learning_routes.router)  # learning loop (issue #5)
    app.include_router(analytics.router)  # insights and the A/B rollout (issue #14)
    app.include_router(proactive.router)  # proactive help, off by default (issue #14)
    return app
