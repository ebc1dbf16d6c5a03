"""Uploads queued media to central over HTTP, retrying with back-off until it has them.

Central answers `PUT /api/v1/media/{event_id}/{kind}` idempotently, so a try
whose answer was lost is simply made again. What each answer means here:

- 2xx: central has the file. If it says `event_known: false` (the event has not
  arrived over MQTT yet) the file is stored there but not linked to the event,
  and a later upload links it: so the upload is retried with back-off until
  the event is known or `link_wait_s` has passed.
- 408, 429, 5xx, connection errors and timeouts: retried with back-off.
- Any other 4xx (403 another node's event, 409, 413 too large, 415 not a
  video, 401 bad token, ...): a permanent refusal, logged with central's reason
  and dropped; retrying would not change the answer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import quote

import httpx

from edge.config import CentralConfig, ConfigError, https_client_context
from edge.metrics import NodeMetrics
from edge.publish.uploads import PendingUpload, UploadQueue

logger = logging.getLogger(__name__)

MEDIA_PATH: Final = "/api/v1/media"
IDLE_WAIT_S: Final = 5.0
_RETRYABLE: Final = frozenset({408, 429})


class UploadOutcome(StrEnum):
    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one try at an upload came to, and why."""

    outcome: UploadOutcome
    reason: str = ""
    retry_after_s: float = 0.0


def build_client(central: CentralConfig) -> httpx.Client:
    """The HTTP client for central: trusting only `central.ca_file` when set,
    else the system's CAs (and SSL_CERT_FILE)."""
    if central.ca_file is None:
        return httpx.Client(timeout=central.timeout_s)
    return httpx.Client(
        timeout=central.timeout_s, verify=https_client_context(central.ca_file)
    )


def read_token(central: CentralConfig) -> str:
    """This node's bearer token, from `token_file` or `token_env`.

    Raises:
        ConfigError: the file or variable is missing or empty (the message
            names where it looked, never the token).
    """
    if central.token_file is not None:
        try:
            text = central.token_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"central.token_file {central.token_file}: {error.strerror}"
            ) from None
        where = f"central.token_file {central.token_file}"
    else:
        assert central.token_env is not None  # one of the two, by validation
        text = os.environ.get(central.token_env, "")
        where = f"central.token_env variable {central.token_env}"
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise ConfigError(f"{where} holds no token")
    return token


def media_url(base_url: str, event_id: str, kind: str) -> str:
    """Central's upload URL of an event's snapshot or clip."""
    return f"{base_url.rstrip('/')}{MEDIA_PATH}/{quote(event_id, safe='')}/{kind}"


def backoff_s(attempts: int, *, min_s: float, max_s: float) -> float:
    """Delay before the next try after `attempts` failed ones: doubling, capped,
    with jitter (0.75 to 1.25) so many nodes do not retry in step."""
    base = min(max_s, min_s * 2.0 ** min(attempts, 30))
    return float(min(max_s, base * random.uniform(0.75, 1.25)))


class MediaUploader:
    """One thread draining an `UploadQueue` to central (see the module docstring).

    Args:
        queue: The durable queue (owned by the caller, who closes it after stop).
        central: Central's URL, timeouts and retry settings.
        token: This node's bearer token.
        node_id: For log lines.
        metrics: Upload counters and the pending gauge.
        client: HTTP client (tests pass one with a mock transport); closed on stop.
        on_uploaded: Called with each upload central has (e.g. delete the file).
    """

    def __init__(
        self,
        *,
        queue: UploadQueue,
        central: CentralConfig,
        token: str,
        node_id: str,
        metrics: NodeMetrics,
        client: httpx.Client | None = None,
        on_uploaded: Callable[[PendingUpload], None] | None = None,
    ) -> None:
        self._queue = queue
        self._central = central
        self._headers = {"Authorization": f"Bearer {token}"}
        self._node_id = node_id
        self._metrics = metrics
        self._client = client or build_client(central)
        self._on_uploaded = on_uploaded
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._metrics.uploads_pending.set(self._queue.depth())
        self._thread = threading.Thread(
            target=self._run, name="media-upload", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a new upload was queued)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the try in progress; pending uploads stay queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning(
                    "node %s: media upload still running at stop", self._node_id
                )
                return
        self._client.close()

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self, now: float | None = None) -> bool:
        """Try the upload due first, if any; True when one was tried."""
        upload = self._queue.next_due(time.time() if now is None else now)
        if upload is None:
            return False
        self._apply(upload, self.attempt(upload))
        return True

    def attempt(self, upload: PendingUpload) -> AttemptResult:
        """One PUT of `upload` to central, judged (see the module docstring)."""
        try:
            data = upload.path.read_bytes()
        except OSError as error:
            return AttemptResult(
                UploadOutcome.FAILED, f"file {upload.path}: {error.strerror}"
            )
        if hashlib.sha256(data).hexdigest() != upload.sha256:
            return AttemptResult(
                UploadOutcome.FAILED, f"file {upload.path} changed since it was queued"
            )
        try:
            response = self._client.put(
                media_url(self._central.url, upload.event_id, upload.kind),
                content=data,
                headers={**self._headers, "Content-Type": upload.content_type},
            )
        except httpx.TransportError as error:
            return AttemptResult(
                UploadOutcome.RETRY, f"{type(error).__name__}: {error}"
            )
        return self._judge(upload, response)

    def _judge(self, upload: PendingUpload, response: httpx.Response) -> AttemptResult:
        status = response.status_code
        if 200 <= status < 300:
            age_s = time.time() - upload.created_at
            if not _event_known(response) and age_s < self._central.link_wait_s:
                return AttemptResult(
                    UploadOutcome.RETRY, "stored; central has not got the event yet"
                )
            return AttemptResult(UploadOutcome.DONE)
        reason = f"HTTP {status}: {_detail(response)}"
        if status in _RETRYABLE or status >= 500:
            return AttemptResult(UploadOutcome.RETRY, reason, _retry_after_s(response))
        return AttemptResult(UploadOutcome.FAILED, reason)

    def _apply(self, upload: PendingUpload, result: AttemptResult) -> None:
        what = f"{upload.kind} of event {upload.event_id}"
        if result.outcome is UploadOutcome.RETRY:
            delay = max(
                min(result.retry_after_s, self._central.retry_max_s),
                backoff_s(
                    upload.attempts,
                    min_s=self._central.retry_min_s,
                    max_s=self._central.retry_max_s,
                ),
            )
            self._queue.retry_at(
                upload.upload_id, at=time.time() + delay, error=result.reason
            )
            self._metrics.upload_retries.inc()
            logger.warning(
                "node %s: upload of %s failed (%s); retry %d in %.1fs",
                self._node_id,
                what,
                result.reason,
                upload.attempts + 1,
                delay,
            )
        else:
            self._queue.remove(upload.upload_id)
            if result.outcome is UploadOutcome.DONE:
                self._metrics.uploads_done.inc()
                logger.info("node %s: uploaded %s", self._node_id, what)
                if self._on_uploaded is not None:
                    self._on_uploaded(upload)
            else:
                self._metrics.uploads_failed.inc()
                logger.error(
                    "node %s: central refused %s for good (%s); dropped",
                    self._node_id,
                    what,
                    result.reason,
                )
        self._metrics.uploads_pending.set(self._queue.depth())

    def _run(self) -> None:
        logger.info(
            "node %s: media upload to %s started", self._node_id, self._central.url
        )
        while not self._stop.is_set():
            try:
                tried = self.run_once()
            except Exception:  # a disk error must not end uploads for good
                logger.exception("node %s: media upload step failed", self._node_id)
                self._stop.wait(1.0)
                continue
            if not tried:
                self._idle()

    def _idle(self) -> None:
        due = self._queue.next_due_at()
        wait_s = IDLE_WAIT_S if due is None else max(0.0, due - time.time())
        self._wake.wait(min(wait_s, IDLE_WAIT_S))
        self._wake.clear()


def _event_known(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return True  # not central's answer format; it took the bytes
    return not (isinstance(body, dict) and body.get("event_known") is False)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:300]
    return str(body)[:200]


def _retry_after_s(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else 0.0
