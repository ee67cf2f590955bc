"""Routes for admins: upload, list and delete knowledge-base documents."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, UploadFile, status

from firstlast.api.deps import AdminScope, ServicesDep
from firstlast.api.schemas import DocumentOut, IngestOut
from firstlast.errors import Conflict
from firstlast.ingest.loaders import parse_bytes
from firstlast.learning.verdict import LEARNED_SOURCE

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])
UPLOAD_SOURCE = "upload"


@router.post("", response_model=IngestOut)
async def upload(files: list[UploadFile], services: ServicesDep, _scope: AdminScope) -> IngestOut:
    """Upload one or more files (.md, .html, .txt, .pdf, .jsonl). Same name again = update."""
    limit = services.settings.api.max_upload_bytes
    documents = []
    for upload_file in files:
        name = Path(upload_file.filename or "").name
        if not name:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "every file needs a file name")
        data = await upload_file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{name} is larger than {limit} bytes")
        documents += parse_bytes(data, name, doc_id=f"upload/{Path(name).stem}", source=UPLOAD_SOURCE)
    report = services.ingestor.ingest(documents)
    return IngestOut(**{k: v for k, v in report.__dict__.items() if k != "errors"})


@router.get("", response_model=list[DocumentOut])
def list_documents(services: ServicesDep, _scope: AdminScope, source: str | None = None) -> list[DocumentOut]:
    docs = sorted(services.store.documents().values(), key=lambda d: d.doc_id)
    return [DocumentOut(**d.__dict__) for d in docs if source is None or d.source == source]


@router.delete("/{doc_id:path}", status_code=status.HTTP_200_OK)
def delete_document(doc_id: str, services: ServicesDep, _scope: AdminScope) -> dict[str, object]:
    """Remove an uploaded or ingested document. Learned knowledge has a lifecycle of its own (usage,
    versions, rollback), so it leaves the knowledge base by being retired, never from here."""
    info = services.store.documents().get(doc_id)
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
