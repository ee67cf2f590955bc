"""Knowledge uploads as background jobs: the request returns at once (202), the ingest runs in a
worker thread through the one write path (``Ingestor.ingest``), and the job's status, progress
and result are kept in the database, so any API process answers a poll.

    queued --start--> running --finish--> done
       \\                 \\--fail--> failed
        \\--fail--> failed (the process stopped before the job ran)

    job = jobs.submit(documents, label="faq.md")
    jobs.get(job.id).status   # queued | running | done | failed
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from firstlast.db import Database, JobRow, iso, utcnow
from firstlast.errors import FirstlastError, NotFound
from firstlast.ingest.pipeline import Ingestor
from firstlast.lifecycle import Lifecycle
from firstlast.mapping import to_aware
from firstlast.types import Document, IngestReport

log = logging.getLogger(__name__)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobEvent(StrEnum):
    START = "start"
    FINISH = "finish"
    FAIL = "fail"


JOB: Lifecycle[JobStatus, JobEvent] = Lifecycle(
    "job",
    JobStatus,
    {
        (JobStatus.QUEUED, JobEvent.START): JobStatus.RUNNING,
        (JobStatus.QUEUED, JobEvent.FAIL): JobStatus.FAILED,
        (JobStatus.RUNNING, JobEvent.FINISH): JobStatus.DONE,
        (JobStatus.RUNNING, JobEvent.FAIL): JobStatus.FAILED,
    },
)


@dataclass(frozen=True)
class JobProgress:
    done: int  # documents
    total: int


@dataclass(frozen=True)
class IngestJob:
    id: str
    status: JobStatus
    progress: JobProgress
    result: IngestReport | None  # when done
    error: str | None  # when failed
    created_at: str
    updated_at: str


class IngestJobs:
    """One worker thread per process: uploads are ingested one after the other, off the event loop."""

    def __init__(self, db: Database, ingestor: Ingestor) -> None:
        self._db = db
        self._ingestor = ingestor
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-job")
        self._mine: set[str] = set()  # jobs this process has not finished yet

    def submit(self, documents: Sequence[Document], label: str = "") -> IngestJob:
        job_id = uuid.uuid4().hex
        with self._db.session() as s:
            s.add(
                JobRow(
                    id=job_id,
                    kind="ingest",
                    status=JobStatus.QUEUED,
                    total=len(documents),
                    created_by=label[:128],
                )
            )
        self._mine.add(job_id)
        self._pool.submit(self._run, job_id, list(documents))
        return self.get(job_id)

    def get(self, job_id: str) -> IngestJob:
        with self._db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"job {job_id} not found")
            return _job(row)

    def close(self) -> None:
        """Stop taking work; jobs this process had not finished are marked failed (upload again)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for job_id in list(self._mine):
            self._move(job_id, JobEvent.FAIL, error="the server stopped before this upload was ingested")

    def _run(self, job_id: str, documents: list[Document]) -> None:
        self._move(job_id, JobEvent.START)
        try:
            report = self._ingestor.ingest(
                documents, progress=lambda done, total: self._progress(job_id, done)
            )
        except FirstlastError as exc:
            self._move(job_id, JobEvent.FAIL, error=str(exc))
        except Exception:
            log.exception("ingest job %s failed", job_id)
            self._move(job_id, JobEvent.FAIL, error="internal error; it has been logged")
        else:
            result = {k: v for k, v in report.__dict__.items() if k != "errors"}
            self._move(job_id, JobEvent.FINISH, result=result, done=report.documents_seen)

    def _progress(self, job_id: str, done: int) -> None:
        with self._db.session() as s:
            row = s.get(JobRow, job_id)
            if row is not None:
                row.done, row.updated_at = done, utcnow()

    def _move(self, job_id: str, event: JobEvent, **values: Any) -> None:
        with self._db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None or not JOB.allows(row.status, event):
                return
            row.status, row.updated_at = JOB.next(row.status, event), utcnow()
            for key, value in values.items():
                setattr(row, key, value)
        if event != JobEvent.START:
            self._mine.discard(job_id)


def _job(row: JobRow) -> IngestJob:
    return IngestJob(
        id=row.id,
        status=JobStatus(row.status),
        progress=JobProgress(row.done, row.total),
        result=IngestReport(**row.result) if row.result is not None else None,
        error=row.error,
        created_at=iso(to_aware(row.created_at)) or "",
        updated_at=iso(to_aware(row.updated_at)) or "",
    )
