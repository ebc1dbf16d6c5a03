"""Clips from the camera's packets: a real H.264 file's packets, kept as a
reader keeps them, decode to every frame of a window, and the recorder makes
its clip from them at the camera's rate (or from the analysed frames when the
packets no longer reach back)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from edge.config import MediaConfig
from edge.ingest.packet_ring import BufferedPacket, PacketRing, stream_params
from edge.media.faces import FaceBlur
from edge.media.packets import decode_window
from edge.media.recorder import ClipRecorder, ClipRequest
from edge.media.store import LocalClipStore
from edge.metrics import NodeMetrics
from edge.types import Frame
from tests.edge.media.test_recorder import Recorded

CLIP = "bottle-detection.mp4"  # H.264, 29.83 fps, 640x360, 40 s
T0 = 1_000_000.0  # arrival time of the file's first packet


def filled_ring(path: Path, *, max_age_s: float = 60.0) -> tuple[PacketRing, float]:
    """A ring holding the file's packets as if they arrived in real time
    (every 7th one 0.3 s late, as a network delivers them); and the rate."""
    ring = PacketRing(max_age_s=max_age_s, max_bytes=64 * 2**20)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        params = stream_params(stream.codec_context, stream.time_base)
        assert params is not None and stream.time_base is not None
        ring.open(params)
        for index, packet in enumerate(container.demux(stream)):
            if packet.size == 0 or packet.pts is None:
                continue
            late = 0.3 if index % 7 == 0 else 0.0
            ring.push(
                BufferedPacket(
                    arrived_at=T0 + float(packet.pts * stream.time_base) + late,
                    data=bytes(packet),
                    pts=packet.pts,
                    dts=packet.dts,
                    is_key=packet.is_keyframe,
                )
            )
        rate = float(stream.average_rate or 0)
    return ring, rate


def frame_times(path: Path, start: float, end: float) -> list[float]:
    """The file's own frame times in [start, end] (seconds from T0)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        times = [
            float(frame.pts * stream.time_base)
            for frame in container.decode(stream)
            if frame.pts is not None
        ]
    return [t for t in times if start <= t <= end]


def test_decode_window_should_give_every_frame_of_the_window_in_order(
    videos_dir: Path,
) -> None:
    ring, _ = filled_ring(videos_dir / CLIP)
    start, end = T0 + 10.0, T0 + 14.0

    window = ring.window(start)
    assert window is not None and window.packets[0].is_key
    frames = list(decode_window(window, start, end, max_side_px=320))

    # Every frame the file has there, placed by the stream's clock (not by the
    # jittery arrivals): the least-delayed packet arrived on time.
    expected = frame_times(videos_dir / CLIP, 10.0, 14.0)
    assert len(expected) > 100
    assert [f.at - T0 for f in frames] == pytest.approx(expected, abs=1e-6)
    assert frames[0].image.shape == (180, 320, 3)


@pytest.mark.parametrize(("max_fps", "share"), [(60.0, 1.0), (15.0, 0.5)])
def test_recorder_given_packets_should_clip_at_the_cameras_rate_up_to_the_cap(
    videos_dir: Path, tmp_path: Path, blur: FaceBlur, max_fps: float, share: float
) -> None:
    ring, _ = filled_ring(videos_dir / CLIP)
    recorder, recorded = _recorder(tmp_path, blur, {"cam": ring}, clip_max_fps=max_fps)
    recorder.start()
    # The analysed frames: 5 a second, as the node would buffer them.
    for index in range(0, 100):
        at = T0 + 15.0 + index * 0.2
        recorder.push(_frame(at, index))
        if index == 20:  # the event at 19 s
            assert recorder.request(ClipRequest("ev-00000001", "cam", at))
    (clip,) = recorded.wait(1)
    recorder.stop()

    assert clip.frames_from == "stream"
    # 2 s before to 2 s after at the file's rate (or half of it under a 15 fps
    # cap), not 21 analysed frames.
    every = len(frame_times(videos_dir / CLIP, 17.0, 21.0))
    assert clip.file.frames == pytest.approx(every * share, abs=1)
    assert clip.file.resolution_wh == (640, 360)


def test_recorder_given_packets_that_no_longer_reach_back_should_use_analysed(
    videos_dir: Path, tmp_path: Path, blur: FaceBlur
) -> None:
    ring, _ = filled_ring(videos_dir / CLIP, max_age_s=5.0)  # the file's last 5 s
    recorder, recorded = _recorder(tmp_path, blur, {"cam": ring})
    recorder.start()
    for index in range(0, 60):
        at = T0 + 10.0 + index * 0.2
        recorder.push(_frame(at, index))
        if index == 20:
            recorder.request(ClipRequest("ev-00000002", "cam", at))
    (clip,) = recorded.wait(1)
    recorder.stop()

    assert clip.frames_from == "analysed"
    assert clip.file.frames == 21


def _recorder(
    tmp_path: Path,
    blur: FaceBlur,
    rings: dict[str, PacketRing],
    clip_max_fps: float = 15.0,
) -> tuple[ClipRecorder, Recorded]:
    recorded = Recorded()
    recorder = ClipRecorder(
        cameras=["cam"],
        config=MediaConfig(
            pre_s=2.0, post_s=2.0, buffer_s=4.0, clip_max_fps=clip_max_fps
        ),
        blur=blur,
        store=LocalClipStore(tmp_path, max_bytes=10**9),
        on_clip=recorded,
        metrics=NodeMetrics(),
        node_id="n",
        packet_rings=rings,
    )
    return recorder, recorded


def _frame(t: float, index: int) -> Frame:
    image = np.full((360, 640, 3), index % 256, dtype=np.uint8)
    return Frame(camera_id="cam", index=index, captured_at=t, image=image)
