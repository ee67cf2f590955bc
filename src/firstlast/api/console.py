"""Console sign-in (issue #10): an agent or admin key becomes an HttpOnly session cookie.

The console page posts the key once, as JSON, to ``POST /console/session``; the answer sets the
cookie (HttpOnly, SameSite=Strict, Secure over https) and returns the session's CSRF token, which the
console sends as ``X-CSRF-Token`` on every write. The key is never in a page, a URL or JavaScript's
reach afterwards. A widget key cannot sign in. Failed sign-ins are rate limited per client address
(``api.rate_limit_sign_in``); past the budget every attempt gets 429 until the window moves on.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import Field

from firstlast.api.deps import ServicesDep, console_session, scope_of
from firstlast.api.guard import RateLimits
from firstlast.api.schemas import Strict, errors
from firstlast.types import MAX_NAME_CHARS
from firstlast.web.sessions import COOKIE, ConsoleSession, ConsoleSessions

router = APIRouter(prefix="/console", tags=["console"], responses=errors(401, 403, 413, 422, 429, 503))


class SignIn(Strict):
    key: str = Field(min_length=1, max_length=512)
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description="Your name, recorded on actions")


def _sessions(services: ServicesDep) -> ConsoleSessions:
    if services.sessions is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "console sessions are not configured")
    return services.sessions


@router.post("/session", status_code=status.HTTP_201_CREATED, response_model=ConsoleSession)
def sign_in(body: SignIn, request: Request, response: Response, services: ServicesDep) -> ConsoleSession:
    limits: RateLimits = request.app.state.limits
    address = request.client.host if request.client else ""
    limits.check_sign_in(address)
    scope = scope_of(services, body.key)
    if scope is None or scope not in ("agent", "admin"):
        limits.failed_sign_in(address)
    if scope is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown key")
    if scope not in ("agent", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a widget key cannot open the console")
    session, cookie = _sessions(services).open(scope, body.name)
    hours = services.settings.api.console_session_hours
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return session


@router.get("/session", response_model=ConsoleSession)
def read_session(request: Request, services: ServicesDep) -> ConsoleSession:
    session = console_session(services, request)
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in")
    return session


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, response: Response, services: ServicesDep) -> Response:
    session = console_session(services, request)
    if session is not None:
        if not hmac.compare_digest(request.headers.get("x-csrf-token", "").encode(), session.csrf.encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong X-CSRF-Token for this session")
        _sessions(services).close(request.cookies[COOKIE])
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
