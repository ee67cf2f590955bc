"""Routes for the learning loop: learned entries (list, read, retire, roll back, review dates) and
the retrieval misses found when agents answered what the knowledge base already said."""

from __future__ import annotations

from fastapi import APIRouter, Query

from firstlast.api.deps import AgentScope, ServicesDep
from firstlast.api.schemas import LearnedAction, LearnedReview, errors
from firstlast.learning.records import EntryStatus, LearnedEntry, RetrievalMiss

router = APIRouter(prefix="/v1", tags=["learning"], responses=errors(401, 403, 404, 409, 413, 422, 503))


@router.get("/learned", response_model=list[LearnedEntry])
def list_learned(
    services: ServicesDep,
    _scope: AgentScope,
    status: EntryStatus | None = None,
    due_for_review: bool = Query(False, description="Only entries whose review date has come"),
    limit: int = Query(100, ge=1, le=500),
) -> list[LearnedEntry]:
    return services.learning.entries.list(status, due_for_review, limit)


@router.get("/learned/{entry_id}", response_model=LearnedEntry)
def read_learned(entry_id: str, services: ServicesDep, _scope: AgentScope) -> LearnedEntry:
    return services.learning.entries.get(entry_id)


@router.post("/learned/{entry_id}/retire", response_model=LearnedEntry)
def retire_learned(
    entry_id: str, body: LearnedAction, services: ServicesDep, _scope: AgentScope
) -> LearnedEntry:
    """Remove the entry from the knowledge base at once; it stays readable here."""
    return services.learning.entries.retire(entry_id, body.actor, body.note)


@router.post("/learned/{entry_id}/rollback", response_model=LearnedEntry)
def rollback_learned(
    entry_id: str, body: LearnedAction, services: ServicesDep, _scope: AgentScope
) -> LearnedEntry:
    """Restore the previous approved version; with none, remove the entry from the knowledge base."""
    return services.learning.entries.rollback(entry_id, body.actor, body.note)


@router.post("/learned/{entry_id}/review", response_model=LearnedEntry)
def review_learned(
    entry_id: str, body: LearnedReview, services: ServicesDep, _scope: AgentScope
) -> LearnedEntry:
    return services.learning.entries.set_review(entry_id, body.actor, body.review_at)


@router.get("/learning/misses", response_model=list[RetrievalMiss])
def list_misses(
    services: ServicesDep,
    _scope: AgentScope,
    doc_id: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[RetrievalMiss]:
    """Agent answers the knowledge base already held: documents retrieval should have found."""
    return services.learning.misses(doc_id, limit)
