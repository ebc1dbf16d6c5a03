"""Which frames a decoder may leave undecoded, from what the stream shows.

A camera analysed at 5 fps on a 25 fps stream throws away four decoded frames
of five. A decoder cannot skip a frame that others are predicted from, but it
can skip non-reference frames (B-frames of most encoders), and key frames alone
are enough when they come at least as often as the analysis wants frames.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from edge.config import SkipFrames

# Non-reference skipping is used only when the analysis takes at most one frame
# in this many: the decoded reference frames must still leave the sampler a
# choice near every tick.
_NONREF_MIN_STREAM_RATIO = 2.0
# Under non-reference skipping the decoded frames must come at least this many
# times faster than the analysis rate, else the stream (few or no B-frames, an
# encoder whose frames are all reference) gains nothing and every frame is decoded.
_NONREF_MIN_DECODED_RATIO = 1.5
# Key-frame gaps remembered: the longest of them must fit in one analysis interval
# (give or take this share: timestamps are rounded to the stream's time base).
_KEY_GAPS_KEPT = 3
_KEY_GAP_SLACK = 1.01
# Packet times remembered to estimate the stream's frame rate.
_PACKET_TIMES_KEPT = 50
# Packets watched under non-reference skipping before judging what it decodes.
_NONREF_JUDGE_PACKETS = 50


class SkipLevel(StrEnum):
    """FFmpeg's `skip_frame` values this planner uses (PyAV's names)."""

    NONE = "DEFAULT"
    NON_REFERENCE = "NONREF"
    NON_KEY = "NONKEY"


class SkipPlanner:
    """Chooses the decoder's skip level of one stream as its packets arrive.

    `auto`: key frames only once the longest of the last key-frame gaps fits in
    one analysis interval; otherwise non-reference frames skipped when the
    analysis rate is at most half the stream rate, until that is seen to leave
    too few frames (then every frame is decoded for the rest of the
    connection); otherwise nothing skipped. `off` never skips.

    Times are stream times in seconds (packet timestamps), not wall time, so a
    file read faster than real time is judged on its own clock.
    Not thread-safe: one per source, fed from its reader thread.
    """

    def __init__(self, *, analysis_fps: float, mode: SkipFrames) -> None:
        if analysis_fps <= 0:
            raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
        self.analysis_interval_s = 1.0 / analysis_fps
        self.mode = mode
        self._packet_times: deque[float] = deque(maxlen=_PACKET_TIMES_KEPT)
        self._key_gaps: deque[float] = deque(maxlen=_KEY_GAPS_KEPT)
        self._last_key_at: float | None = None
        self._nonref_packets = 0
        self._nonref_frames = 0
        self._nonref_too_sparse = False
        self.level = SkipLevel.NONE

    def reset(self) -> None:
        """Forget the stream (a new connection, a file rewound)."""
        self._packet_times.clear()
        self._key_gaps.clear()
        self._last_key_at = None
        self._nonref_packets = 0
        self._nonref_frames = 0
        self._nonref_too_sparse = False
        self.level = SkipLevel.NONE

    @property
    def stream_fps(self) -> float:
        """Packets per second of stream time; 0 while unknown."""
        times = self._packet_times
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def key_interval_s(self) -> float | None:
        """The longest of the last key-frame gaps; None until two are seen."""
        if len(self._key_gaps) < 2:
            return None
        return max(self._key_gaps)

    def observe_packet(self, *, at_s: float | None, is_key: bool) -> SkipLevel:
        """Note one demuxed packet of the stream and return the level for it.

        Args:
            at_s: The packet's time in stream seconds; None when it has none.
            is_key: Whether the packet holds a key frame.
        """
        if at_s is not None:
            self._note_time(at_s, is_key=is_key)
        if self.level is SkipLevel.NON_REFERENCE:
            self._nonref_packets += 1
        self.level = self._decide()
        return self.level

    def observe_decoded(self, frames: int) -> None:
        """Note how many pictures the last packet decoded to."""
        if self.level is not SkipLevel.NON_REFERENCE:
            return
        self._nonref_frames += frames
        if self._nonref_packets < _NONREF_JUDGE_PACKETS:
            return
        decoded_fps = self.stream_fps * self._nonref_frames / self._nonref_packets
        analysis_fps = 1.0 / self.analysis_interval_s
        if decoded_fps < _NONREF_MIN_DECODED_RATIO * analysis_fps:
            self._nonref_too_sparse = True
        self._nonref_packets = self._nonref_frames = 0

    def _note_time(self, at_s: float, *, is_key: bool) -> None:
        if self._packet_times and at_s <= self._packet_times[-1]:
            # Reordered or repeated timestamps: keep the clock monotonic.
            return
        self._packet_times.append(at_s)
        if is_key:
            if self._last_key_at is not None:
                self._key_gaps.append(at_s - self._last_key_at)
            self._last_key_at = at_s
        elif self._last_key_at is not None and at_s - self._last_key_at > (
            self.analysis_interval_s * _KEY_GAP_SLACK
        ):
            # A key frame is overdue: the gap already exceeds one interval.
            self._key_gaps.append(at_s - self._last_key_at)

    def _decide(self) -> SkipLevel:
        if self.mode is SkipFrames.OFF:
            return SkipLevel.NONE
        key_interval = self.key_interval_s
        if (
            key_interval is not None
            and key_interval <= self.analysis_interval_s * _KEY_GAP_SLACK
        ):
            return SkipLevel.NON_KEY
        stream_fps = self.stream_fps
        analysis_fps = 1.0 / self.analysis_interval_s
        if (
            not self._nonref_too_sparse
            and stream_fps > 0
            and stream_fps >= _NONREF_MIN_STREAM_RATIO * analysis_fps
        ):
            return SkipLevel.NON_REFERENCE
        return SkipLevel.NONE
