"""Routes for admins: upload, list and delete knowledge-base documents."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from firstlast.api.deps import AdminScope, ServicesDep
from firstlast.api.schemas import DocumentOut, errors
from firstlast.errors import BackendError, Conflict
from firstlast.ingest.jobs import IngestJob, IngestJobs
from firstlast.ingest.loaders import parse_bytes
from firstlast.learning.verdict import LEARNED_SOURCE
from firstlast.types import Document
from firstlast.wiring import Services

router = APIRouter(
    prefix="/v1/knowledge", tags=["knowledge"], responses=errors(401, 403, 404, 409, 413, 415, 422, 503)
)
UPLOAD_SOURCE = "upload"
_LOCATION = {"Location": {"description": "Where to poll the job", "schema": {"type": "string"}}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestJob,
    responses={202: {"description": "The upload is queued; poll Location", "headers": _LOCATION}},
)
async def upload(
    files: list[UploadFile], response: Response, services: ServicesDep, _scope: AdminScope
) -> IngestJob:
    """Upload one or more files (.md, .html, .txt, .pdf, .jsonl); same name again = update.

    Files are parsed before the answer (a bad file is a 415/422, a document another source owns a
    409, and nothing is written); the ingest itself is a job: poll ``Location`` until it is
    ``done`` or ``failed``."""
    limit = services.settings.api.max_upload_bytes
    named: list[tuple[str, bytes]] = []
    for upload_file in files:
        name = Path(upload_file.filename or "").name
        if not name:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "every file needs a file name")
        data = await upload_file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{name} is larger than {limit} bytes")
        named.append((name, data))
    documents = await run_in_threadpool(_parse, services, named)
    label = ", ".join(name for name, _ in named)
    job = await run_in_threadpool(_jobs(services).submit, documents, label)
    response.headers["Location"] = f"/v1/knowledge/jobs/{job.id}"
    return job


def _parse(services: Services, named: list[tuple[str, bytes]]) -> list[Document]:
    documents: list[Document] = []
    for name, data in named:
        documents += parse_bytes(data, name, doc_id=f"upload/{Path(name).stem}", source=UPLOAD_SOURCE)
    for doc in documents:
        if doc.id.startswith(f"{LEARNED_SOURCE}/"):
            raise Conflict(f"document id {doc.id!r} is reserved for learned entries; use another id")
    services.ingestor.check_sources(documents)
    return documents


@router.get("/jobs/{job_id}", response_model=IngestJob)
def read_job(job_id: str, services: ServicesDep, _scope: AdminScope) -> IngestJob:
    """An upload's job: ``queued``, ``running`` (with progress), ``done`` (with the result) or
    ``failed`` (with the error)."""
    return _jobs(services).get(job_id)


def _jobs(services: Services) -> IngestJobs:
    if services.jobs is None:
        raise BackendError("background ingest is not configured")
    return services.jobs


@router.get("", response_model=list[DocumentOut])
def list_documents(services: ServicesDep, _scope: AdminScope, source: str | None = None) -> list[DocumentOut]:
    docs = sorted(services.store.documents().values(), key=lambda d: d.doc_id)
    return [DocumentOut(**d.__dict__) for d in docs if source is None or d.source == source]


@router.delete("/{doc_id:path}", status_code=status.HTTP_200_OK)
def delete_document(doc_id: str, services: ServicesDep, _scope: AdminScope) -> dict[str, object]:
    """Remove an uploaded or ingested document. Learned knowledge has a lifecycle of its own (usage,
    versions, rollback), so it leaves the knowledge base by being retired, never from here."""
    info = services.store.documents([doc_id]).get(doc_id)
    if doc_id.startswith(f"{LEARNED_SOURCE}/") or (info is not None and info.source == LEARNED_SOURCE):
        entry = doc_id.removeprefix(f"{LEARNED_SOURCE}/")
        raise Conflict(
            f"document {doc_id} is a learned entry; retire it instead (POST /v1/learned/{entry}/retire), "
            "so its history, usage and suggestion stay right"
        )
    removed = services.ingestor.delete([doc_id])
    if removed == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"document {doc_id} not found")
    return {"doc_id": doc_id, "chunks_removed": removed}
