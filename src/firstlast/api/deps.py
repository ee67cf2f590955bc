"""Dependencies for routes: the services, and API-key scopes.

Keys come from settings in three scopes. ``admin`` reaches everything, ``agent`` the agent routes and
any conversation, ``widget`` only conversation routes and only a conversation whose token it sends.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request, status

from firstlast.wiring import Services

Scope = Literal["widget", "agent", "admin"]


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def _scope_of(services: Services, key: str) -> Scope | None:
    api = services.settings.api
    for scope, keys in (("admin", api.admin_keys), ("agent", api.agent_keys), ("widget", api.widget_keys)):
        if any(hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in keys):
            return scope  # type: ignore[return-value]
    return None


def caller_scope(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Scope:
    """The key's scope; a widget key (the public one) is also rate limited per client address."""
    key = x_api_key or ""
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing API key (Authorization: Bearer <key> or X-API-Key)"
        )
    scope = _scope_of(services, key)
    if scope is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key")
    if scope == "widget":
        request.app.state.limits.check_client(key, request.client.host if request.client else "")
    return scope


CallerScope = Annotated[Scope, Depends(caller_scope)]


def require_agent(scope: CallerScope) -> Scope:
    if scope not in ("agent", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an agent or admin key")
    return scope


def require_admin(scope: CallerScope) -> Scope:
    if scope != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an admin key")
    return scope


AgentScope = Annotated[Scope, Depends(require_agent)]
AdminScope = Annotated[Scope, Depends(require_admin)]
