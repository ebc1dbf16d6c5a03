"""Reference data changed by another process (a replica's admin API, a CLI
import): every central process notices within seconds and reloads its own
worker directory, all its reference data after a grid or city import, or its
matter list after a new version is applied.

Every such change is audited, so the newest audit row of those actions is the
version: polling it needs no write anywhere and catches CLI imports too.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select

from central.auth.audit import AuditAction
from central.context import CentralContext
from central.db.models import AuditEntry
from central.matter_store import newest_version, parse_stored

log = logging.getLogger(__name__)

POLL_S = 5.0
WORKER_ACTIONS = (
    AuditAction.WORKER_CREATED,
    AuditAction.WORKER_UPDATED,
    AuditAction.WORKER_DUTY_SET,
)
IMPORT_ACTIONS = (AuditAction.GRIDS_IMPORTED, AuditAction.CITY_IMPORTED)
MATTER_ACTIONS = (AuditAction.MATTER_LIST_APPLIED,)


@dataclass(frozen=True, slots=True)
class ReferenceVersion:
    """Id of the newest audit row of each kind of change (None: none yet)."""

    workers: int | None
    imports: int | None
    matters: int | None = None


class ReferenceWatch:
    """Polls the reference version and reloads what changed (the worker
    directory, all reference data after an import, the matter list).

    Args:
        context: The process's context, reloaded in place.
        interval_s: Seconds between polls.
    """

    def __init__(self, context: CentralContext, *, interval_s: float = POLL_S) -> None:
        self.context = context
        self.interval_s = interval_s
        self._seen = self.read_version()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read_version(self) -> ReferenceVersion:
        def newest(actions: tuple[AuditAction, ...]) -> int | None:
            return session.scalar(
                select(func.max(AuditEntry.id)).where(
                    AuditEntry.action.in_([a.value for a in actions])
                )
            )

        with self.context.sessions() as session:
            return ReferenceVersion(
                newest(WORKER_ACTIONS), newest(IMPORT_ACTIONS), newest(MATTER_ACTIONS)
            )

    def check_once(self) -> bool:
        """Reload if the version moved since last seen; True when it did."""
        version = self.read_version()
        if version == self._seen:
            return False
        if version.matters != self._seen.matters:
            self._reload_matters()
        if version.imports != self._seen.imports:
            log.info("grids or city imported elsewhere: reloading reference data")
            self.context.reload_reference_data()
        elif version.workers != self._seen.workers:
            log.info("workers changed elsewhere: reloading the worker directory")
            with self.context.sessions() as session:
                self.context.directory.load(session)
        self._seen = version
        return True

    def _reload_matters(self) -> None:
        with self.context.sessions() as session:
            newest = newest_version(session)
        if newest is None or newest.version == self.context.matters.version:
            return
        log.info("matter list %s applied elsewhere: switching to it", newest.version)
        self.context.set_matters(parse_stored(newest))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="reference-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # a database blip: the next poll tries again
                log.exception("reference watch: could not check for changes")
