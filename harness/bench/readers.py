"""`gridwatch bench readers`: what the stream readers' read timeout costs the
node's Python threads.

N cameras' main and sub-streams are demuxed (packets only, as the node's
readers wait on the network) from the RTSP simulator, beside one thread that
runs pure Python the whole time, as the node's analysis does. The readers'
reads are bounded one of two ways, alternated for `--rounds`:

- `pyav_timeout`: PyAV's read timeout, checked in FFmpeg's interrupt
  callback, which takes the GIL each time FFmpeg waits on the network;
- `socket_timeout`: FFmpeg's own socket timeout (what the node uses,
  `edge.ingest.stream_open`), which never takes the GIL.

The figure is the Python thread's work per second under each, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from typing import Any, Final

import av
import psutil

from edge.ingest.stream_open import stream_open_arguments
from harness.bench.density_sources import make_sources
from harness.bench.edge import machine_summary
from harness.bench.report import run_unless_refused
from harness.services import RtspSimulatorProcess
from models.manifest import resolve_video

MODES: Final = ("pyav_timeout", "socket_timeout")
_TIMEOUT_S: Final = 10.0
_CLIP: Final = "one-by-one-person-detection"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--streams", type=int, default=20, help="cameras (x2 streams)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per round")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="before a round")
    parser.add_argument("--rounds", type=int, default=2, help="of each mode")
    parser.add_argument("--clip-s", type=float, default=30.0, help="stream length")
    parser.add_argument("--json", action="store_true", help="print JSON only")


def open_arguments(mode: str, url: str) -> dict[str, Any]:
    """`av.open` arguments of a mode (raises ValueError for an unknown one)."""
    if mode == "socket_timeout":
        return stream_open_arguments(
            url, is_file=False, open_timeout_s=_TIMEOUT_S, read_timeout_s=_TIMEOUT_S
        )
    if mode == "pyav_timeout":
        return {"options": {"rtsp_transport": "tcp"}, "timeout": _TIMEOUT_S}
    raise ValueError(f"unknown mode {mode!r}, expected one of {MODES}")


class _Round:
    def __init__(self, urls: list[str], mode: str) -> None:
        self.urls = urls
        self.mode = mode
        self.stop = threading.Event()
        self.packets = [0] * len(urls)
        self.errors: list[str] = []
        self.loops = 0

    def read(self, index: int) -> None:
        url = self.urls[index]
        try:
            with av.open(url, **open_arguments(self.mode, url)) as container:
                for _packet in container.demux(container.streams.video[0]):
                    self.packets[index] += 1
                    if self.stop.is_set():
                        return
        except (av.FFmpegError, OSError) as error:
            self.errors.append(f"{type(error).__name__}: {error}")

    def work(self) -> None:
        loops = 0
        while not self.stop.is_set():
            sum(range(1000))
            loops += 1
        self.loops = loops


def _measure_round(
    urls: list[str], mode: str, *, seconds: float, warmup_s: float
) -> dict[str, Any]:
    state = _Round(urls, mode)
    readers = [
        threading.Thread(target=state.read, args=(i,), daemon=True)
        for i in range(len(urls))
    ]
    for thread in readers:
        thread.start()
    time.sleep(warmup_s)
    me = psutil.Process()
    me.cpu_percent()
    packets_before = sum(state.packets)
    worker = threading.Thread(target=state.work)
    started = time.monotonic()
    worker.start()
    time.sleep(seconds)
    state.stop.set()
    worker.join()
    elapsed = time.monotonic() - started
    cpu = me.cpu_percent()
    packets = sum(state.packets) - packets_before
    for thread in readers:
        thread.join(_TIMEOUT_S)
    return {
        "mode": mode,
        "python_loops_per_s": round(state.loops / elapsed),
        "packets_per_s": round(packets / elapsed, 1),
        "cpu_percent": round(cpu, 1),
        "errors": state.errors[:3],
    }


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    sources = make_sources(
        resolve_video(_CLIP + ".mp4"), main_height=720, seconds=args.clip_s
    )
    mounts = [sources.main.stem, sources.sub.stem]
    rounds: list[dict[str, Any]] = []
    with RtspSimulatorProcess(
        sources.folder, clips=mounts, replicate=args.streams
    ) as sim:
        urls = [
            sim.replica_url(stem, i) for stem in mounts for i in range(args.streams)
        ]
        for number in range(args.rounds):
            for mode in MODES:
                sys.stderr.write(f"bench readers: round {number + 1}, {mode} ...\n")
                rounds.append(
                    _measure_round(
                        urls, mode, seconds=args.seconds, warmup_s=args.warmup_s
                    )
                )
    return summarise(rounds, cameras=args.streams)


def summarise(rounds: list[dict[str, Any]], *, cameras: int) -> dict[str, Any]:
    """Per mode the median Python work per second, and socket / PyAV."""
    loops = {
        mode: statistics.median(
            r["python_loops_per_s"] for r in rounds if r["mode"] == mode
        )
        for mode in MODES
    }
    return {
        "cameras": cameras,
        "streams_read": 2 * cameras,
        "python_loops_per_s": loops,
        "socket_over_pyav": round(loops["socket_timeout"] / loops["pyav_timeout"], 3),
        "rounds": rounds,
        "machine": machine_summary(),
    }


def run_cli(args: argparse.Namespace) -> int:
    problems = []
    if args.streams < 1 or args.rounds < 1:
        problems.append("--streams and --rounds must be at least 1")
    if args.seconds <= 0 or args.clip_s <= 0 or args.warmup_s < 0:
        problems.append("--seconds and --clip-s must be > 0, --warmup-s >= 0")
    return run_unless_refused(problems, lambda: run_bench(args), as_json=args.json)
