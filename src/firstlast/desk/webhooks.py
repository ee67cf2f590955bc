"""The webhook worker: a background thread that posts each event (``handoff/webhook.py`` says what is
sent and how it is signed), retries with exponential backoff (``base_delay * 2**n``) until a 2xx or
``max_attempts``, and records every delivery in ``webhook_deliveries``: delivered, failed, or
abandoned when the app shut down mid-backoff.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from firstlast.db import Database, WebhookDeliveryRow, utcnow
from firstlast.handoff.webhook import sign, webhook_body
from firstlast.records import Handoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    event: str
    handoff_id: str
    body: bytes


class WebhookNotifier:
    """>>> notifier = WebhookNotifier(db, "https://hooks.example/firstlast", "s3cret"); notifier.close()"""

    def __init__(
        self,
        db: Database,
        url: str,
        secret: str,
        *,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if base_delay < 0:
            raise ValueError(f"base_delay must be >= 0, got {base_delay}")
        if not secret:
            raise ValueError("a webhook needs a secret")
        self._db = db
        self.url = url
        self._secret = secret
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": "firstlast-webhook"})
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="firstlast-webhook", daemon=True)
        self._thread.start()

    # -- producer side (request threads) -------------------------------------------------------------
    def notify(self, event: str, handoff: Handoff) -> None:
        """Queue one delivery and return at once."""
        delivery_id = uuid.uuid4().hex
        body = webhook_body(delivery_id, event, handoff, utcnow().isoformat())  # checks the event
        if self._closing.is_set():
            log.warning("webhook notifier is closed; dropping %s for handoff %s", event, handoff.id)
            return
        self._queue.put(_Job(delivery_id, event, handoff.id, body))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker: queued deliveries get one last attempt, backoffs are cut short."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._queue.put(None)
        self._thread.join(timeout)
        self._client.close()

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery has finished (for tests and orderly shutdowns)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def deliveries(self, handoff_id: str | None = None) -> list[WebhookDeliveryRow]:
        with self._db.session() as s:
            query = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.created_at)
            if handoff_id:
                query = query.where(WebhookDeliveryRow.handoff_id == handoff_id)
            return list(s.scalars(query))

    # -- worker thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(job)
            except Exception:  # the worker must survive anything (e.g. the database going away)
                log.exception("webhook delivery crashed")
            finally:
                self._queue.task_done()

    def _deliver(self, job: _Job) -> None:
        started = utcnow()
        attempts, status, error, code = 0, "failed", "", None
        for attempt in range(1, self.max_attempts + 1):
            attempts = attempt
            headers = {
                "Content-Type": "application/json",
                "X-Firstlast-Signature": sign(self._secret, job.body),
                "X-Firstlast-Timestamp": str(int(time.time())),
                "X-Firstlast-Event": job.event,
                "X-Firstlast-Delivery": job.delivery_id,
            }
            try:
                response = self._client.post(self.url, content=job.body, headers=headers)
                code = response.status_code
                if 200 <= code < 300:
                    status, error = "delivered", ""
                    break
                error = f"HTTP {code}"
            except httpx.HTTPError as exc:
                code, error = None, f"{type(exc).__name__}: {exc}"
            if attempt < self.max_attempts:
                delay = self.base_delay * 2 ** (attempt - 1)
                if self._closing.wait(delay):  # shutting down: no more retries
                    status = "abandoned"
                    break
        if status != "delivered":
            log.warning(
                "webhook %s for handoff %s %s after %d attempt(s): %s",
                job.event,
                job.handoff_id,
                status,
                attempts,
                error,
            )
        with self._db.session() as s:
            s.add(
                WebhookDeliveryRow(
                    id=job.delivery_id,
                    event=job.event,
                    handoff_id=job.handoff_id,
                    url=self.url,
                    status=status,
                    attempts=attempts,
                    response_status=code,
                    last_error=error,
                    created_at=started,
                    finished_at=utcnow(),
                )
            )
