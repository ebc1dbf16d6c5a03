"""Time limits: mark overdue tickets and raise their escalation level; and the
periodic jobs that ride on the same thread (retention, `central/retention.py`;
hotspot early warning and its live feed, `central/warnings/job.py`; camera
checks past their time-out, `central/verify/`).

Level 1 notifies the grid leader, level 2 the street, level 3 the handling
department ("whistle"). A ticket reaches level n once it is
`escalate_after_min[n-1]` minutes past its due time (matter list).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from central.auth.audit import record_config
from central.context import CentralContext
from central.db.models import Ticket
from central.evaluation_snapshots import EvaluationSnapshotJob
from central.matters import Matter
from central.retention import RetentionJob
from central.tickets.service import SYSTEM, ConcurrentChange, InvalidRequest
from central.tickets.states import WORKING_STATES
from central.verify import CameraCheckService
from central.warnings.job import WarningFeed, WarningJob

log = logging.getLogger(__name__)

LEVEL_NAMES = {1: "grid leader", 2: "street", 3: "department"}
MAX_LEVEL = 3


@dataclass(frozen=True)
class Escalation:
    ticket_id: int
    level: int
    recipients: tuple[str, ...]


def due_level(minutes_past_due: float, steps: list[float]) -> int:
    """How many escalation steps a ticket this late has passed."""
    return min(MAX_LEVEL, sum(1 for step in steps if minutes_past_due >= step))


class DeadlineWatcher:
    def __init__(self, context: CentralContext) -> None:
        self.context = context
        self.retention = RetentionJob(context)
        self.warnings = WarningJob(context)
        self.evaluation_snapshots = EvaluationSnapshotJob(context)
        # Looks back two rounds and a minute: another replica's change made
        # while this one's round ran (or its clock a little behind) is still seen.
        self.warning_feed = WarningFeed(
            context,
            lookback=timedelta(seconds=2 * context.settings.scheduler.interval_s + 60),
        )
        # Set by the central process: answers `cannot_verify` for camera checks
        # past their time-out (central/verify/).
        self.camera_checks: CameraCheckService | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[Escalation]:
        ctx = self.context
        now = ctx.clock.now()
        with ctx.sessions() as session:
            due = session.execute(
                select(
                    Ticket.id,
                    Ticket.matter_key,
                    Ticket.due_at,
                    Ticket.escalation_level,
                    Ticket.grid_code,
                    Ticket.department_code,
                ).where(
                    Ticket.state.in_([s.value for s in WORKING_STATES]),
                    Ticket.due_at <= now,
                    Ticket.escalation_level < MAX_LEVEL,
                )
            ).all()
        done: list[Escalation] = []
        for ticket_id, matter_key, due_at, level, grid_code, department in due:
            if due_at is None:
                continue
            matter = self._matter(matter_key)
            steps = ctx.matters.escalation_steps(matter) if matter else [0.0]
            minutes = (now - due_at).total_seconds() / 60.0
            target = due_level(minutes, steps)
            if target <= level:
                continue
            recipients = ctx.directory.escalation_recipients(
                target, grid_code, department
            )
            note = (
                f"overdue by {minutes:.0f} min: escalated to level {target} "
                f"({LEVEL_NAMES[target]})"
            )
            try:
                ctx.tickets.escalate(SYSTEM, ticket_id, target, note, recipients)
            except (ConcurrentChange, InvalidRequest) as exc:
                log.info("ticket %s not escalated: %s", ticket_id, exc)
                continue
            done.append(Escalation(ticket_id, target, tuple(recipients)))
        if done:
            log.info("escalated %d overdue tickets", len(done))
        return done

    def _matter(self, key: str) -> Matter | None:
        try:
            return self.context.matters.by_key(key)
        except KeyError:
            return None

    # -- background thread -----------------------------------------------------------

    def start(self) -> None:
        audit_configuration(self.context)
        self._thread = threading.Thread(
            target=self._loop, name="deadlines", daemon=True
        )
        self._thread.start()
        # Its own thread: a first refresh of a city-year takes minutes, which
        # must not hold up deadlines and escalations.
        self.evaluation_snapshots.start()

    def stop(self) -> None:
        self._stop.set()
        self.evaluation_snapshots.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        interval = self.context.settings.scheduler.interval_s
        while not self._stop.wait(interval):
            try:
                self.run_once()
            except Exception:
                log.exception("deadline check failed; trying again next round")
            try:
                self.retention.run_if_due()
            except Exception:
                log.exception("retention run failed; trying again next round")
            try:
                self.warnings.run_if_due()
            except Exception:
                log.exception("hotspot warning run failed; trying again next round")
            try:
                self.warning_feed.poll()
            except Exception:
                log.exception("hotspot warning feed failed; trying again next round")
            try:
                if self.camera_checks is not None:
                    self.camera_checks.expire_overdue()
            except Exception:
                log.exception("camera check time-outs failed; trying again next round")


def audit_configuration(context: CentralContext) -> None:
    """Audit the matter list and the retention settings this process runs with
    when they differ from those recorded last (`config_changed`): a change made
    by editing a file leaves a trace at the next start. Retention matters most:
    it decides when audit rows themselves may go."""
    matters = context.matters
    matter_list = {
        "version": matters.version,
        "file": str(context.settings.matter_list or "shipped"),
        "sha256": hashlib.sha256(matters.model_dump_json().encode()).hexdigest(),
    }
    for attempt in (1, 2):
        try:
            with context.sessions.begin() as session:
                record_config(session, "matter_list", matter_list)
                record_config(
                    session, "retention", context.settings.retention.model_dump()
                )
            return
        except IntegrityError:
            # Two replicas starting together on a fresh database both insert the
            # first digest; the loser reads the winner's row on its second try.
            if attempt == 2:
                raise
            log.info(
                "configuration recorded by another replica meanwhile; checking again"
            )
