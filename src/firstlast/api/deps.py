"""Dependencies for routes: the services, and API-key scopes.

Keys come from settings in three scopes. ``admin`` reaches everything, ``agent`` the agent routes and
any conversation, ``widget`` only conversation routes and only a conversation whose token it sends.
The console (issue #10) signs in with an agent or admin key once and then sends a session cookie
instead, with a CSRF token on writes.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from firstlast.api.guard import client_id
from firstlast.web.sessions import COOKIE, ConsoleSession
from firstlast.wiring import Services

Scope = Literal["widget", "agent", "admin"]


async def get_services(request: Request) -> Services:
    """Async, as every dependency here: a sync one would cost each request a hop to the thread pool."""
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def scope_of(services: Services, key: str) -> Scope | None:
    api = services.settings.api
    for scope, keys in (("admin", api.admin_keys), ("agent", api.agent_keys), ("widget", api.widget_keys)):
        if any(hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in keys):
            return scope  # type: ignore[return-value]
    return None


def console_session(services: Services, request: Request) -> ConsoleSession | None:
    """The console session of the request's cookie, if it is live (issue #10)."""
    cookie = request.cookies.get(COOKIE)
    return services.sessions.find(cookie) if cookie and services.sessions is not None else None


async def caller_scope(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Scope:
    """The scope of the key sent, or of the console's session cookie (an agent or admin signed in at
    /console); a write with the cookie also needs the session's ``X-CSRF-Token``. A widget key (the
    public one) is also rate limited per client address."""
    key = x_api_key or ""
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    session = None
    if not key and request.cookies.get(COOKIE):  # the session's row is read in the thread pool
        session = await run_in_threadpool(console_session, services, request)
    if session is not None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not hmac.compare_digest(
            (x_csrf_token or "").encode(), session.csrf.encode()
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong X-CSRF-Token for this session")
        request.state.console = session
        return session.scope  # type: ignore[return-value]
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing API key (Authorization: Bearer <key> or X-API-Key)"
        )
    scope = scope_of(services, key)
    if scope is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key")
    if scope == "widget":
        address = request.client.host if request.client else ""
        limits = request.app.state.limits
        if limits.in_memory:
            limits.check_client(key, address)
        else:  # a shared store is a network round trip
            await run_in_threadpool(limits.check_client, key, address)
        request.state.widget_client = client_id(key, address)  # for the caps on open event streams
    return scope


CallerScope = Annotated[Scope, Depends(caller_scope)]


async def require_agent(scope: CallerScope) -> Scope:
    if scope not in ("agent", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an agent or admin key")
    return scope


async def require_admin(scope: CallerScope) -> Scope:
    if scope != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an admin key")
    return scope


AgentScope = Annotated[Scope, Depends(require_agent)]
AdminScope = Annotated[Scope, Depends(require_admin)]
