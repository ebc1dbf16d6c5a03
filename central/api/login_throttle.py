"""Login throttling: failed-login counts with back-off lockout, and a cap on
concurrent password checks. In memory, per process (see docs/security.md)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from central.config import LoginLimitSettings


@dataclass(slots=True)
class _FailureRecord:
    """Recent failures of one username or one address, and its lockout state."""

    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    lockouts: int = 0  # lockouts so far: the next one lasts lockout_s * 2**lockouts


class LoginThrottle:
    """Counts failed logins per username and per client address; after too many
    within the window the username or address is locked out for a time that
    doubles with each further lockout. Successful logins are not counted.

    Thread-safe (the login route runs in the thread pool).

    Args:
        settings: limits and lengths.
        monotonic: seconds from a monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        settings: LoginLimitSettings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _FailureRecord] = OrderedDict()

    def retry_after_s(self, *, address: str, username: str) -> int | None:
        """Whole seconds until a login for `username` from `address` may be tried
        again, or None when neither is locked out."""
        now = self._monotonic()
        with self._lock:
            until = max(
                (
                    record.locked_until
                    for key in (_user_key(username), _address_key(address))
                    if (record := self._records.get(key)) is not None
                ),
                default=0.0,
            )
        if until <= now:
            return None
        return max(1, math.ceil(until - now))

    def record_failure(self, *, address: str, username: str) -> int | None:
        """Count one failed login; the seconds of a lockout it starts, else None."""
        now = self._monotonic()
        limits = (
            (_user_key(username), self._settings.max_failures_per_user),
            (_address_key(address), self._settings.max_failures_per_address),
        )
        started: list[float] = []
        with self._lock:
            for key, max_failures in limits:
                lockout = self._count(key, now=now, max_failures=max_failures)
                if lockout is not None:
                    started.append(lockout)
        return max(1, math.ceil(max(started))) if started else None

    def record_success(self, *, username: str) -> None:
        """Forget the username's failures (not the address's: one valid account
        must not reset an address that is guessing others)."""
        with self._lock:
            self._records.pop(_user_key(username), None)

    def _count(self, key: str, *, now: float, max_failures: int) -> float | None:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _FailureRecord()
            self._forget_oldest()
        self._records.move_to_end(key)
        window_start = now - self._settings.window_s
        while record.failures and record.failures[0] <= window_start:
            record.failures.popleft()
        record.failures.append(now)
        if len(record.failures) < max_failures:
            return None
        lockout = min(
            self._settings.lockout_s * 2.0**record.lockouts,
            self._settings.max_lockout_s,
        )
        record.lockouts += 1
        record.locked_until = now + lockout
        record.failures.clear()
        return lockout

    def _forget_oldest(self) -> None:
        while len(self._records) > self._settings.max_tracked:
            self._records.popitem(last=False)


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
    return f"user:{username.casefold()}"


def _address_key(address: str) -> str:
    return f"address:{address}"
