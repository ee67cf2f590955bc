"""Routes for support agents: handoffs to answer, suggestions to approve or reject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query

from firstlast.api.deps import AgentScope, ServicesDep
from firstlast.api.schemas import (
    AgentReply,
    AgentReplyOut,
    Approve,
    Assign,
    HandoffPacketOut,
    Reject,
    Resolve,
    Revive,
    errors,
)
from firstlast.errors import BackendError
from firstlast.learning.records import Suggestion, SuggestionStatus
from firstlast.records import Feedback, Handoff, HandoffStatus

router = APIRouter(prefix="/v1", tags=["agents"], responses=errors(401, 403, 404, 409, 413, 422, 503))


@router.get("/handoffs", response_model=list[Handoff])
def list_handoffs(
    services: ServicesDep,
    _scope: AgentScope,
    status: HandoffStatus | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[Handoff]:
    return services.desk.handoffs(status, limit)


@router.get("/handoffs/{handoff_id}", response_model=HandoffPacketOut, response_model_by_alias=True)
def read_handoff(handoff_id: str, services: ServicesDep, _scope: AgentScope) -> HandoffPacketOut:
    """The handoff packet: live transcript, customer context, reason, draft and sources, a summary,
    a suggested reply, the assignee and the assignment history."""
    return HandoffPacketOut.of(services.desk.packet(handoff_id))


@router.post("/handoffs/{handoff_id}/reply", response_model=AgentReplyOut)
def reply_to_handoff(
    handoff_id: str, body: AgentReply, services: ServicesDep, _scope: AgentScope
) -> AgentReplyOut:
    handoff, suggestion = services.desk.reply(
        handoff_id, body.agent, body.text, learn=body.learn, resolve=body.resolve
    )
    return AgentReplyOut(handoff=handoff, suggestion=suggestion)


# -- handoff: assignment, resolution, feedback ----------------------------------------------------


@router.post("/handoffs/{handoff_id}/assign", response_model=Handoff)
def assign_handoff(handoff_id: str, body: Assign, services: ServicesDep, _scope: AgentScope) -> Handoff:
    """(Re)assign; the event records who, when, from and to. Everything else is kept."""
    return services.desk.assign(handoff_id, body.agent, body.by)


@router.post("/handoffs/{handoff_id}/resolve", response_model=AgentReplyOut)
def resolve_handoff(
    handoff_id: str, body: Resolve, services: ServicesDep, _scope: AgentScope
) -> AgentReplyOut:
    """Resolve after replies sent with ``resolve: false``; the last reply becomes the suggestion."""
    handoff, suggestion = services.desk.resolve(handoff_id, body.agent, learn=body.learn)
    return AgentReplyOut(handoff=handoff, suggestion=suggestion)


@router.get("/feedback", response_model=list[Feedback])
def list_feedback(
    services: ServicesDep,
    _scope: AgentScope,
    conversation_id: str | None = None,
    thumbs: Literal["up", "down"] | None = None,
    min_rating: int | None = Query(None, ge=1, le=5),
    max_rating: int | None = Query(None, ge=1, le=5),
    role: Literal["bot", "agent"] | None = Query(None, description="Only feedback on replies by this role"),
    since: datetime | None = Query(None, description="ISO 8601; naive times are UTC"),
    limit: int = Query(100, ge=1, le=500),
) -> list[Feedback]:
    if services.feedback is None:
        raise BackendError("feedback is not configured")
    if since is not None:
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    return services.feedback.list(
        conversation_id=conversation_id,
        thumbs=thumbs,
        min_rating=min_rating,
        max_rating=max_rating,
        role=role,
        since=since,
        limit=limit,
    )


@router.get("/suggestions", response_model=list[Suggestion])
def list_suggestions(
    services: ServicesDep,
    _scope: AgentScope,
    status: SuggestionStatus | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[Suggestion]:
    return services.learning.list(status, limit)


@router.get("/suggestions/{suggestion_id}", response_model=Suggestion)
def read_suggestion(suggestion_id: str, services: ServicesDep, _scope: AgentScope) -> Suggestion:
    return services.learning.get(suggestion_id)


@router.post("/suggestions/{suggestion_id}/approve", response_model=Suggestion)
def approve_suggestion(
    suggestion_id: str, body: Approve, services: ServicesDep, _scope: AgentScope
) -> Suggestion:
    return services.learning.approve(suggestion_id, body.approver, body.answer, body.review_at)


@router.post("/suggestions/{suggestion_id}/revive", response_model=Suggestion)
def revive_suggestion(
    suggestion_id: str, body: Revive, services: ServicesDep, _scope: AgentScope
) -> Suggestion:
    """An expired suggestion back in the review queue (409 unless it expired)."""
    return services.learning.revive(suggestion_id, body.actor)


@router.post("/suggestions/{suggestion_id}/reject", response_model=Suggestion)
def reject_suggestion(
    suggestion_id: str, body: Reject, services: ServicesDep, _scope: AgentScope
) -> Suggestion:
    return services.learning.reject(suggestion_id, body.approver, body.note)
