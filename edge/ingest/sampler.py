"""Which decoded frames go to analysis: `analysis_fps` kept on any stream rate."""

from __future__ import annotations

import statistics
from collections import deque

# Gaps between frames remembered to estimate the stream's frame period.
_GAP_WINDOW = 15


class FrameSampler:
    """Picks, for each tick of `analysis_fps`, the frame nearest to it.

    An accumulator of due times (`due += 1 / analysis_fps`), not "the first
    frame at least one interval after the last one": the latter analyses every
    second frame of a 15 fps stream when asked for 10 fps (7.5 fps), since the
    frame after a pick is always a little early. Here a frame is taken when it
    is less than half a frame period before the next due time, so a 15 fps
    stream gives 10 fps (two frames of three), a 25 fps stream 10 fps (2 of 5,
    alternately 3 and 2 frames apart) and a stream slower than `analysis_fps`
    every frame. A gap in the stream (stall, reconnect, dropped frames)
    restarts the ticks at the next frame instead of catching up with a burst.

    Not thread-safe: one per source, fed from its reader thread.
    """

    def __init__(self, analysis_fps: float) -> None:
        if analysis_fps <= 0:
            raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
        self.interval_s = 1.0 / analysis_fps
        self._due: float | None = None
        self._last: float | None = None
        self._gaps: deque[float] = deque(maxlen=_GAP_WINDOW)

    def reset(self) -> None:
        """Forget the stream (a new connection starts its own clock)."""
        self._due = None
        self._last = None
        self._gaps.clear()

    @property
    def period_s(self) -> float:
        """The stream's frame period as seen so far (median gap); 0 when unknown."""
        return statistics.median(self._gaps) if self._gaps else 0.0

    def is_due(self, t: float) -> bool:
        """Whether the frame at `t` (seconds, any monotonic clock) is one to
        analyse. Call once per decoded frame, in order; `take` the frame when it
        was analysed (a frame due but not taken leaves the tick open)."""
        if self._last is not None and t > self._last:
            self._gaps.append(t - self._last)
        self._last = t
        if self._due is None:
            return True
        return t >= self._due - self._tolerance()

    def take(self, t: float) -> None:
        """Record that the frame at `t` went to analysis: advance to the next tick."""
        if self._due is None:
            self._due = t
        self._due += self.interval_s
        # Behind by more than a tick (a stall, a busy analysis slot): start
        # again from this frame rather than take the next frames back to back.
        if self._due + self._tolerance() <= t:
            self._due = t + self.interval_s

    def _tolerance(self) -> float:
        # Just under half a stream frame: the frame nearest the tick wins, and
        # of two equally near (15 fps for 10) the later one, so the first
        # pick after a frame that was taken is never the very next frame.
        # Capped below a tick so that a slow stream is not over-sampled.
        return min(0.45 * self.period_s, self.interval_s / 2.0)
