"""The packet ring keeps whole groups of pictures within its bounds, and a
window starts at the key frame before the asked start."""

from __future__ import annotations

from fractions import Fraction

import pytest

from edge.ingest.packet_ring import BufferedPacket, PacketRing, StreamParams

STREAM = StreamParams(codec="h264", extradata=None, time_base=Fraction(1, 90_000))
GOP = 10  # a key frame every 10 packets, 10 packets a second


def fill(ring: PacketRing, seconds: float, *, size: int = 100) -> None:
    for index in range(int(seconds * 10)):
        ring.push(
            BufferedPacket(
                arrived_at=100.0 + index / 10,
                data=bytes(size),
                pts=index * 9000,
                dts=index * 9000,
                is_key=index % GOP == 0,
            )
        )


def test_ring_given_more_seconds_than_it_keeps_should_drop_whole_groups() -> None:
    ring = PacketRing(max_age_s=3.0, max_bytes=10**6)
    ring.open(STREAM)

    fill(ring, 10.0)  # 100 packets, the last at 109.9

    # Past 3 s at the front, dropped a group at a time: 3 full groups + 1 partial.
    assert len(ring) == 40
    window = ring.window(106.0)
    assert window is not None and window.packets[0].is_key
    assert window.packets[0].arrived_at == pytest.approx(106.0)


def test_ring_given_more_bytes_than_it_keeps_should_drop_whole_groups() -> None:
    ring = PacketRing(max_age_s=60.0, max_bytes=2_500)
    ring.open(STREAM)

    fill(ring, 5.0)

    assert ring.bytes <= 2_500 and len(ring) % GOP == 0
    assert ring.window(99.0) is None  # no longer reaches back that far


def test_window_should_run_from_the_key_frame_before_the_start_to_the_newest() -> None:
    ring = PacketRing(max_age_s=60.0, max_bytes=10**6)
    ring.open(STREAM)
    fill(ring, 5.0)

    window = ring.window(102.35)

    assert window is not None and window.stream == STREAM
    times = [round(p.arrived_at, 1) for p in window.packets]
    assert times[0] == 102.0 and times[-1] == 104.9
    assert len(times) == 30


def test_ring_should_wait_for_a_key_frame_and_forget_a_closed_stream() -> None:
    ring = PacketRing(max_age_s=60.0, max_bytes=10**6)
    ring.push(BufferedPacket(1.0, b"x", 0, 0, True))
    assert len(ring) == 0  # no stream opened yet
    ring.open(STREAM)
    ring.push(BufferedPacket(1.0, b"x", 0, 0, False))
    assert len(ring) == 0  # cannot be decoded without its key frame
    fill(ring, 2.0)
    assert len(ring) == 20

    ring.open(STREAM)  # a reconnect: new timestamps, new headers

    assert len(ring) == 0 and ring.bytes == 0
    assert ring.window(100.0) is None


def test_ring_given_bad_bounds_should_refuse() -> None:
    with pytest.raises(ValueError, match="positive"):
        PacketRing(max_age_s=0, max_bytes=1)
