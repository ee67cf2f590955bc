"""Reports of bad bot answers (issue #10): an agent flags a bot reply; leads review the list."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import Field

from firstlast.api.deps import AgentScope, ServicesDep
from firstlast.api.schemas import Strict, errors
from firstlast.desk.reports import AnswerReport, ReportService
from firstlast.types import MAX_NAME_CHARS, MAX_NOTE_CHARS

router = APIRouter(prefix="/v1/reports", tags=["agents"], responses=errors(401, 403, 404, 409, 413, 422, 503))


class ReportCreate(Strict):
    message_id: int = Field(description="The bot reply reported")
    reporter: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    note: str = Field("", max_length=MAX_NOTE_CHARS)


def _reports(services: ServicesDep) -> ReportService:
    if services.reports is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "reports are not configured")
    return services.reports


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AnswerReport)
def report_answer(body: ReportCreate, services: ServicesDep, _scope: AgentScope) -> AnswerReport:
    """Flag a bad bot answer; linked to the learned entry it cited (``learned/<id>``), if any."""
    return _reports(services).add(body.message_id, body.reporter, body.note)


@router.get("", response_model=list[AnswerReport])
def list_reports(
    services: ServicesDep,
    _scope: AgentScope,
    learned_entry_id: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[AnswerReport]:
    return _reports(services).list(learned_entry_id, limit)
