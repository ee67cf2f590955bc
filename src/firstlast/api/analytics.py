"""Routes for insights (issue #14): resolution analytics, content gaps and the A/B rollout's
comparison, for agents and admins. The console reads these; ``firstlast report`` shows the same.

    GET /v1/analytics/resolution?since=30d&bucket=week
    GET /v1/analytics/gaps?since=30d&limit=10
    GET /v1/analytics/rollout?since=30d
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from firstlast.api.deps import AgentScope, ServicesDep
from firstlast.api.schemas import errors
from firstlast.db import utcnow
from firstlast.errors import InvalidInput
from firstlast.insights.ab import ArmComparison
from firstlast.insights.service import GapReport, Insights, ResolutionReport, parse_since, parse_time

router = APIRouter(
    prefix="/v1/analytics", tags=["analytics"], responses=errors(401, 403, 404, 409, 413, 422, 429, 503)
)
Since = Query("30d", max_length=40, description="30d, 12h, 4w, or an ISO date or time")
Until = Query(None, max_length=40, description="ISO date or time; default now")


class RolloutOut(BaseModel):
    enabled: bool
    bot_percent: float
    comparison: ArmComparison


def _insights(services: ServicesDep) -> Insights:
    if services.insights is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "insights are not configured")
    return services.insights


def _period(since: str, until: str | None) -> tuple[datetime, datetime]:
    now = utcnow()
    end = parse_time(until) if until else now
    start = parse_since(since, end)
    if start >= end:
        raise InvalidInput(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end


@router.get("/resolution", response_model=ResolutionReport)
def resolution(
    services: ServicesDep,
    _scope: AgentScope,
    since: str = Since,
    until: str | None = Until,
    bucket: Literal["day", "week"] = "day",
) -> ResolutionReport:
    """Conversations, bot-involved, resolved by the bot (README: "Resolved by the bot"), handoffs by
    reason, median times to first reply and to resolution, CSAT by who answered, learned entries'
    usage and feedback, and the documents retrieval missed most, per day or week."""
    start, end = _period(since, until)
    return _insights(services).resolution(start, end, bucket)


@router.get("/gaps", response_model=GapReport)
def gaps(
    services: ServicesDep,
    _scope: AgentScope,
    since: str = Since,
    until: str | None = Until,
    limit: int = Query(20, ge=1, le=100),
) -> GapReport:
    """What the bot could not answer, clustered into topics: count, trend, share handed off,
    examples, the nearest knowledge-base documents, and learned entries or suggestions covering it."""
    start, end = _period(since, until)
    return _insights(services).gaps(start, end, limit)


@router.get("/rollout", response_model=RolloutOut)
def rollout(
    services: ServicesDep, _scope: AgentScope, since: str = Since, until: str | None = Until
) -> RolloutOut:
    """The A/B rollout: each measure per arm with 95% intervals, the difference bot − control, and a
    statement of what can be concluded (including "too small to tell")."""
    start, end = _period(since, until)
    settings = services.settings.rollout
    return RolloutOut(
        enabled=settings.enabled,
        bot_percent=settings.bot_percent,
        comparison=_insights(services).rollout(start, end),
    )
