"""A small in-memory sliding-window limiter for the anonymous citizen path.

Login throttling (`central/api/login_throttle.py`) counts failures and locks
out; the citizen page instead counts every request of a kind per client
address and refuses the ones over the limit until the oldest leaves the window.
Counts are per process, like the login counts were: behind several replicas
each counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` hits per key within `window_s` seconds.

    Args:
        limit: hits allowed per key within the window.
        window_s: length of the window in seconds.
        max_tracked: keys remembered; the least recently seen is dropped first,
            so a flood of fresh addresses cannot grow memory without bound.
        clock: monotonic seconds (tests pass their own).

    Raises:
        ValueError: a limit, window or size below 1.
    """

    def __init__(
        self,
        *,
        limit: int,
        window_s: float,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or not window_s > 0 or max_tracked < 1:
            raise ValueError(
                f"limit {limit}, window_s {window_s} and max_tracked {max_tracked} "
                "must be positive"
            )
        self.limit = limit
        self.window_s = float(window_s)
        self.max_tracked = max_tracked
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count one request of `key`: None when allowed, else the whole
        seconds to wait (for `Retry-After`); a refused request is not counted."""
        now = self._clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            self._hits[key] = hits  # most recently seen last
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            while len(self._hits) > self.max_tracked:
                self._hits.popitem(last=False)
            return None
