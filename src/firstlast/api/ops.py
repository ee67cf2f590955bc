"""Operations: ``/readyz`` (stores reachable, models loaded), ``/metrics`` (Prometheus), a request id
on every request (``X-Request-ID``, taken from the caller when sane, else made) that every log line
of the request carries, one JSON access-log line per request, and JSON logs for ``serve``.

    install(app, services)                 # create_app does this
    logging.config.dictConfig(log_config("INFO"))
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstlast.config import Settings, load_settings
from firstlast.metrics import Metrics
from firstlast.wiring import Services, build

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access = logging.getLogger("firstlast.access")


def app_from_settings(settings: Settings) -> FastAPI:
    """The app of ``firstlast serve``: services built, BM25 built before the first customer waits."""
    from firstlast.api.app import create_app

    services = build(serving(settings))
    services.retriever.lexical_index()
    return create_app(services)


def serving(settings: Settings) -> Settings:
    """A serving process embeds an upload's documents on one engine thread unless
    ``embedding.threads`` says otherwise, leaving the other cores to the customers: in the load
    test's mix (2 workers, 2 cores) messages/s rose from 24-26 to 35-36 and the CPU per message fell
    from 56-60 to 41-42 ms, and the upload itself finished sooner (11.5-12.3 s against 12.9-13.5)."""
    if settings.embedding.threads is not None:
        return settings
    embedding = settings.embedding.model_copy(update={"threads": 1})
    return settings.model_copy(update={"embedding": embedding})


def app_from_environment() -> FastAPI:
    """Each worker's app under ``firstlast serve --workers N`` (settings from the environment)."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bars between the JSON lines
    except ImportError:  # pragma: no cover
        pass
    return app_from_settings(load_settings())


def install(app: FastAPI, services: Services) -> None:
    app.add_middleware(RequestContext, metrics=services.metrics)

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Not ready, with the reason"}})
    def readyz() -> JSONResponse:
        """Ready to serve: the database and the knowledge base answer and the models are loaded."""
        checks = {}
        for name, check in (("database", _database), ("knowledge_base", _knowledge), ("models", _models)):
            try:
                checks[name] = check(services)
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
                logging.getLogger(__name__).warning("not ready: %s: %s", name, exc)
                reason = f"{name}: {type(exc).__name__}"
                return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready", "checks": checks, "process": os.getpid()})

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics() -> Response:
        """Prometheus text format (all workers' values when served with several)."""
        body, content_type = services.metrics.exposition()
        return Response(body, media_type=content_type)


def _database(services: Services) -> str:
    with services.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return "ok"


def _knowledge(services: Services) -> str:
    return f"{services.store.count()} chunks"


def _models(services: Services) -> str:
    services.embedder.embed_query("ready")  # the embedding model is loaded and runs
    services.retriever.lexical_index()  # BM25 is built (serve builds it before listening)
    return services.embedder.name


class RequestContext:
    """Pure ASGI middleware (streamed replies pass through untouched): request id, latency by route
    template, one access-log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")  # the template, not the ids
            self.metrics.requests.labels(scope["method"], route, str(status)).observe(elapsed)
            access.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )
            REQUEST_ID.reset(token)


# -- JSON logs -------------------------------------------------------------------------------------

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, and any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if REQUEST_ID.get():
            out["request_id"] = REQUEST_ID.get()
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


JsonFormatter.converter = time.gmtime  # type: ignore[assignment]


def log_config(level: str) -> dict[str, Any]:
    """``logging.config.dictConfig`` for ``serve`` (uvicorn applies it in every worker): everything,
    uvicorn's own lines included, as JSON on stderr; uvicorn's access log is replaced by ours."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "firstlast.api.ops.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "firstlast.access": {"level": "INFO"},
            "alembic": {"level": "WARNING"},
            **{name: {"level": "ERROR"} for name in ("chromadb", "httpx", "sentence_transformers")},
        },
    }
