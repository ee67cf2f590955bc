"""Routes for support agents: handoffs to answer, suggestions to approve or reject."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from firstlast.api.deps import AgentScope, ServicesDep
from firstlast.api.schemas import AgentReply, AgentReplyOut, Approve, HandoffOut, Reject, SuggestionOut

router = APIRouter(prefix="/v1", tags=["agents"])


@router.get("/handoffs", response_model=list[HandoffOut])
def list_handoffs(
    services: ServicesDep,
    _scope: AgentScope,
    status: Literal["open", "resolved"] | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[HandoffOut]:
    return [HandoffOut.of(h) for h in services.desk.handoffs(status, limit)]


@router.get("/handoffs/{handoff_id}", response_model=HandoffOut)
def read_handoff(handoff_id: str, services: ServicesDep, _scope: AgentScope) -> HandoffOut:
    return HandoffOut.of(services.desk.handoff(handoff_id))


@router.post("/handoffs/{handoff_id}/reply", response_model=AgentReplyOut)
def reply_to_handoff(
    handoff_id: str, body: AgentReply, services: ServicesDep, _scope: AgentScope
) -> AgentReplyOut:
    handoff, suggestion = services.desk.reply(handoff_id, body.agent, body.text, learn=body.learn)
    return AgentReplyOut(
        handoff=HandoffOut.of(handoff), suggestion=SuggestionOut.of(suggestion) if suggestion else None
    )


@router.get("/suggestions", response_model=list[SuggestionOut])
def list_suggestions(
    services: ServicesDep,
    _scope: AgentScope,
    status: Literal["pending", "approved", "edited", "rejected"] | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[SuggestionOut]:
    return [SuggestionOut.of(s) for s in services.learning.list(status, limit)]


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionOut)
def read_suggestion(suggestion_id: str, services: ServicesDep, _scope: AgentScope) -> SuggestionOut:
    return SuggestionOut.of(services.learning.get(suggestion_id))


@router.post("/suggestions/{suggestion_id}/approve", response_model=SuggestionOut)
def approve_suggestion(
    suggestion_id: str, body: Approve, services: ServicesDep, _scope: AgentScope
) -> SuggestionOut:
    return SuggestionOut.of(
        services.learning.approve(suggestion_id, body.approver, body.answer, body.review_at)
    )


@router.post("/suggestions/{suggestion_id}/reject", response_model=SuggestionOut)
def reject_suggestion(
    suggestion_id: str, body: Reject, services: ServicesDep, _scope: AgentScope
) -> SuggestionOut:
    return SuggestionOut.of(services.learning.reject(suggestion_id, body.approver, body.note))
