"""Login throttling: failed-login counts with back-off lockout, and a cap on
concurrent password checks.

The counts and lockouts live in the database (`login_throttle`), so every API
replica sees the same ones: two replicas do not give an attacker twice the
tries, and a restart forgets nothing. Each change takes the row's write lock
first (an insert that does nothing when the row is there, then
`SELECT ... FOR UPDATE`), so concurrent failures on several replicas are
counted one after another. A lockout a process has seen is also kept in memory
until it ends: refusals during it need no database round trip.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from central.config import LoginLimitSettings
from central.db.models import LoginThrottleEntry, table_of

KEY_MAX = 200
PRUNE_EVERY_S = 60.0
PRUNE_BATCH = 10_000


class LockedBy(StrEnum):
    """Which of the two counts a lockout came from (audit detail)."""

    USERNAME = "username"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Lockout:
    """A login refused because its username or address is locked out.

    Attributes:
        retry_after_s: whole seconds until it may be tried again (at least 1).
        locked_by: `username` or `address` (`username` when both are).
        is_first_refusal: the first refusal this process makes during this
            lockout (audit it; later ones are only logged, so that hammering
            a locked login cannot fill the audit log).
    """

    retry_after_s: int
    locked_by: LockedBy
    is_first_refusal: bool


@dataclass(slots=True)
class _KnownLock:
    locked_until_s: float
    refused: bool = False


class LoginThrottle:
    """Counts failed logins per username and per client address; after too many
    within the window the username or address is locked out for a time that
    doubles with each further lockout. Successful logins are not counted.

    Thread-safe (the login route runs in the thread pool); shared between
    processes through the database.

    Args:
        settings: limits and lengths.
        sessions: the database the counts live in (migrated: `login_throttle`).
        clock: epoch seconds (shared by the replicas; tests pass a fake one).
    """

    def __init__(
        self,
        settings: LoginLimitSettings,
        *,
        sessions: sessionmaker[Session],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._known: OrderedDict[str, _KnownLock] = OrderedDict()
        self._pruned_at_s = 0.0

    def check(self, *, address: str, username: str) -> Lockout | None:
        """The lockout refusing a login for `username` from `address`, or None."""
        now = self._clock()
        keys = {
            _user_key(username): LockedBy.USERNAME,
            _address_key(address): LockedBy.ADDRESS,
        }
        with self._lock:
            known = self._known_until(keys, now)
        if not known:  # nothing locked in memory: the database decides
            with self._sessions() as session:
                rows = session.execute(
                    select(_TABLE.c.key, _TABLE.c.locked_until_s).where(
                        _TABLE.c.key.in_(list(keys)), _TABLE.c.locked_until_s > now
                    )
                ).all()
            with self._lock:
                for key, until in rows:
                    self._remember(key, until)
                known = self._known_until(keys, now)
        if not known:
            return None
        # The longer lockout names the refusal; the username's on a tie.
        longest = max(known, key=lambda k: (known[k], keys[k] is LockedBy.USERNAME))
        with self._lock:
            lock = self._known.get(longest)
            is_first = lock is not None and not lock.refused
            if lock is not None:
                lock.refused = True
        return Lockout(
            retry_after_s=max(1, math.ceil(known[longest] - now)),
            locked_by=keys[longest],
            is_first_refusal=is_first,
        )

    def retry_after_s(self, *, address: str, username: str) -> int | None:
        """Whole seconds until a login for `username` from `address` may be tried
        again, or None when neither is locked out."""
        lockout = self.check(address=address, username=username)
        return lockout.retry_after_s if lockout is not None else None

    def record_failure(self, *, address: str, username: str) -> int | None:
        """Count one failed login; the seconds of a lockout it starts, else None."""
        now = self._clock()
        # Always the username's row first: one lock order for every replica.
        limits = (
            (_user_key(username), self._settings.max_failures_per_user),
            (_address_key(address), self._settings.max_failures_per_address),
        )
        started: list[float] = []
        with self._sessions.begin() as session:
            for key, max_failures in limits:
                lockout = self._count(session, key, now=now, max_failures=max_failures)
                if lockout is not None:
                    started.append(lockout)
        self._prune_if_due(now)
        return max(1, math.ceil(max(started))) if started else None

    def record_success(self, *, username: str) -> None:
        """Forget the username's failures (not the address's: one valid account
        must not reset an address that is guessing others)."""
        key = _user_key(username)
        with self._sessions.begin() as session:
            session.execute(delete(_TABLE).where(_TABLE.c.key == key))
        with self._lock:
            self._known.pop(key, None)

    def _count(
        self, session: Session, key: str, *, now: float, max_failures: int
    ) -> float | None:
        _insert_if_missing(session, key, now)
        row = session.execute(
            select(_TABLE.c.failures_s, _TABLE.c.lockouts)
            .where(_TABLE.c.key == key)
            .with_for_update()
        ).one()
        window_start = now - self._settings.window_s
        failures = [float(t) for t in row.failures_s if t > window_start] + [now]
        lockouts = int(row.lockouts)
        if len(failures) < max_failures:
            session.execute(
                update(_TABLE)
                .where(_TABLE.c.key == key)
                .values(failures_s=failures, updated_s=now)
            )
            return None
        lockout = min(
            self._settings.lockout_s * 2.0**lockouts,
            self._settings.max_lockout_s,
        )
        session.execute(
            update(_TABLE)
            .where(_TABLE.c.key == key)
            .values(
                failures_s=[],
                lockouts=lockouts + 1,
                locked_until_s=now + lockout,
                updated_s=now,
            )
        )
        with self._lock:
            self._remember(key, now + lockout)
        return lockout

    def _prune_if_due(self, now: float) -> None:
        """Drop rows idle for longer than a window and the longest lockout
        (their failures and lockouts no longer count), at most once a minute.

        In a transaction of its own that skips rows another one holds: it never
        waits while holding a lock, so it cannot deadlock with a count."""
        with self._lock:
            if now - self._pruned_at_s < PRUNE_EVERY_S:
                return
            self._pruned_at_s = now
        idle_since = now - self._settings.window_s - self._settings.max_lockout_s
        idle = (
            select(_TABLE.c.key)
            .where(_TABLE.c.updated_s < idle_since, _TABLE.c.locked_until_s < now)
            .limit(PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        with self._sessions.begin() as session:
            session.execute(
                delete(_TABLE).where(_TABLE.c.key.in_(idle.scalar_subquery()))
            )

    def _remember(self, key: str, locked_until_s: float) -> None:
        known = self._known.get(key)
        if known is None or known.locked_until_s != locked_until_s:
            self._known[key] = _KnownLock(locked_until_s)
        self._known.move_to_end(key)
        while len(self._known) > self._settings.max_tracked:
            self._known.popitem(last=False)

    def _known_until(self, keys: dict[str, LockedBy], now: float) -> dict[str, float]:
        """The in-memory lockouts of `keys` still running (ended ones dropped)."""
        until: dict[str, float] = {}
        for key in keys:
            known = self._known.get(key)
            if known is None:
                continue
            if known.locked_until_s > now:
                until[key] = known.locked_until_s
            else:
                del self._known[key]
        return until


_TABLE = table_of(LoginThrottleEntry)


def _insert_if_missing(session: Session, key: str, now: float) -> None:
    """Add the key's row unless it is there. On SQLite this write also takes
    the database's write lock, which `FOR UPDATE` does not."""
    values = {
        "key": key,
        "failures_s": [],
        "locked_until_s": 0.0,
        "lockouts": 0,
        "updated_s": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            postgresql.insert(_TABLE).values(values).on_conflict_do_nothing()
        )
    else:
        session.execute(sqlite.insert(_TABLE).values(values).on_conflict_do_nothing())


class HashingBusy(RuntimeError):
    """Every password-check slot stayed taken for the whole wait."""


class PasswordCheckSlots:
    """A bound on password checks running at once (Argon2 takes 64 MiB and tens
    of milliseconds each): a burst of logins waits briefly, then is refused,
    instead of queueing without bound."""

    def __init__(self, *, slots: int, wait_s: float) -> None:
        self._semaphore = threading.BoundedSemaphore(slots)
        self._wait_s = wait_s

    def __enter__(self) -> PasswordCheckSlots:
        if not self._semaphore.acquire(timeout=self._wait_s):
            raise HashingBusy(f"no password-check slot free within {self._wait_s} s")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._semaphore.release()


def _user_key(username: str) -> str:
    return _bounded(f"user:{username.casefold()}")


def _address_key(address: str) -> str:
    return _bounded(f"address:{address}")


def _bounded(key: str) -> str:
    """`key`, or a digest of it when too long for the column (a username is
    whatever the client sent)."""
    if len(key) <= KEY_MAX:
        return key
    kind = key.partition(":")[0]
    return f"{kind}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"
