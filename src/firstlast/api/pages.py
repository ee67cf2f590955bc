"""The pages and browser code (issue #10): the demo help-center page with the widget at ``/``, the
widget itself at ``/widget.js``, the console at ``/console``, and the widget's words.

Files come from ``firstlast/web/static`` (package data) and are read once; each is served gzipped
when the browser accepts it. Pages carry a Content-Security-Policy without inline scripts or
handlers: the browser runs only our own files.
"""

from __future__ import annotations

import gzip
import html
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request, Response

from firstlast.api.deps import CallerScope, ServicesDep
from firstlast.api.schemas import errors
from firstlast.web.strings import widget_strings

router = APIRouter(include_in_schema=False)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html"}
ASSETS = (
    "console.js",
    "dom.js",
    "inbox.js",
    "learning.js",
    "lists.js",
    "insights.js",
    "console.css",
    "demo.css",
)


@cache
def asset(name: str) -> tuple[bytes, bytes]:
    """A static file and its gzipped bytes (mtime 0: the same bytes every time)."""
    data = resources.files("firstlast.web").joinpath("static", name).read_bytes()
    return data, gzip.compress(data, compresslevel=9, mtime=0)


def _send(request: Request, name: str, data: bytes | None = None, cache_seconds: int = 300) -> Response:
    raw, packed = asset(name) if data is None else (data, gzip.compress(data, mtime=0))
    suffix = name[name.rfind(".") :]
    headers = {
        "Cache-Control": f"public, max-age={cache_seconds}" if cache_seconds else "no-store",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if suffix == ".html":
        headers |= {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        raw = packed
    return Response(raw, media_type=TYPES[suffix], headers=headers)


@router.get("/widget.js")
def widget_js(request: Request) -> Response:
    return _send(request, "widget.js")


@router.get("/console")
def console_page(request: Request) -> Response:
    return _send(request, "console.html", cache_seconds=0)


@router.get("/console/{name}")
def console_asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return _send(request, name)


@router.get("/")
def demo_page(request: Request, services: ServicesDep) -> Response:
    """The demo help center: the sample articles' titles and the widget, booted with the first
    widget key (public by design: it can open conversations and nothing else)."""
    keys = services.settings.api.widget_keys
    key = html.escape(keys[0].get_secret_value(), quote=True) if keys else ""
    docs = sorted(services.store.documents().values(), key=lambda d: d.title)[:60]
    articles = "\n".join(f"<li>{html.escape(d.title)}</li>" for d in docs if d.source != "learned")
    voice = services.voice
    page = asset("demo.html")[0].decode()
    for mark, value in {
        "{{company}}": html.escape(voice.company),
        "{{articles}}": articles or "<li>No articles yet: run <code>firstlast ingest</code>.</li>",
        "{{widget_key}}": key,
    }.items():
        page = page.replace(mark, value)
    return _send(request, "demo.html", page.encode(), cache_seconds=0)


@router.get(
    "/v1/widget/config", include_in_schema=True, tags=["conversations"], responses=errors(401, 422, 429)
)
def widget_config(services: ServicesDep, _scope: CallerScope, locale: str | None = None) -> dict[str, object]:
    """The widget's words in ``locale`` (en, ja, ko; from the voice profile), the bot's name, and
    whether to suggest articles for the page before the customer types (proactive help)."""
    voice = services.voice
    return {
        "persona": voice.persona,
        "company": voice.company,
        "strings": widget_strings(voice, locale),
        "proactive": services.proactive is not None,
    }
