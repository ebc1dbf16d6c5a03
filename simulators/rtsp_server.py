"""RTSP replay simulator: every clip of a folder served as an RTSP mount, looping
(or played once, for accuracy runs that need to know where the clip starts)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from simulators.cli import run_module_cli
from simulators.clips import MediaFolderError, Mount, discover_clips, mount_name_for
from simulators.control import ControlServer
from simulators.gst_media import launch_line, load_gi, make_pts_probe
from simulators.signals import stop_on_signals
from simulators.transcode import (
    ClipError,
    PreparedClip,
    default_cache_dir,
    prepare_clip,
)

__all__ = [
    "MediaFolderError",
    "MountStatus",
    "RtspReplayServer",
    "UnknownMountError",
    "add_arguments",
    "discover_clips",
    "main",
    "run_cli",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_LOOP_CALL_TIMEOUT_S = 10.0
_SESSION_CLEANUP_S = 2
# A played-once mount refuses new clients at the end of its clip at once, and
# cuts off clients still connected this much later (they have the last frames).
_ONCE_DRAIN_MS = 2000
# How long a client object is kept after its connection closed; see
# `_on_client_connected`.
_CLIENT_RELEASE_MS = 5000
_GST_STATE_PLAYING = 4


class UnknownMountError(KeyError):
    """No mount of that name is configured on the server."""


@dataclass(frozen=True, slots=True)
class MountStatus:
    """State of one mount as reported by `RtspReplayServer.status`.

    Attributes:
        name: Mount name.
        url: Full RTSP URL.
        is_active: False while the mount is stopped (camera dark).
        source: Original clip file.
        fps: Replay frame rate (frames per second).
        resolution_wh: Frame width and height in pixels.
        is_transcoded: Whether the clip was re-encoded for serving.
        plays_once: The mount plays its clip once, then goes dark until started.
        speed: Replay rate (2.0: twice as fast as recorded).
        plays: Times a pipeline of the mount started playing.
        started_at: UNIX time at which the latest play started (the clip's
            first frame left the server), None before the first play.
        finished_at: UNIX time at which the latest play reached the end of the
            clip (played-once mounts), None while playing or before.
    """

    name: str
    url: str
    is_active: bool
    source: str
    fps: float
    resolution_wh: tuple[int, int]
    is_transcoded: bool
    plays_once: bool = False
    speed: float = 1.0
    plays: int = 0
    started_at: float | None = None
    finished_at: float | None = None


@dataclass(slots=True)
class _PlayRecord:
    """When a mount's latest play started and ended (UNIX seconds)."""

    plays: int = 0
    started_at: float | None = None
    finished_at: float | None = None


class RtspReplayServer:
    """Serve each clip of a folder as ``rtsp://host:port/<clip-name>``, looping.

    Clips are converted once to cached H.264 (see `simulators.transcode`) and
    served without re-encoding; each mount has one shared pipeline that all
    its clients read. The GLib main loop runs in a background thread, and all
    server state is changed from that thread.

    With `play_once` a mount plays its clip from the start for the first
    client and ends the stream after the last frame; the mount then refuses
    clients (like `stop_mount`) until `start_mount` arms it for one more play.
    `status` reports when each play started and finished, which maps a
    client's wall-clock times to clip time.

    Args:
        media_dir: Folder with the clips (mp4, avi, gif, mkv, mov, webm).
        port: RTSP port; 0 picks a free one (see `port`).
        host: Address to listen on.
        cache_dir: Folder for converted clips; default `default_cache_dir()`.
        clips: Clip names to serve; None serves all.
        replicate: Mounts per clip; above 1 they are named ``<clip>-0`` ...
            ``<clip>-<N-1>``, each its own camera with its own pipeline.
        max_gop_s: Longest key-frame interval served without re-encoding.
        play_once: Play each clip once per `start_mount` instead of looping.
        speed: Replay rate; the served frame rate is the clip's times `speed`.
    """

    def __init__(
        self,
        media_dir: Path,
        port: int = 8554,
        host: str = "127.0.0.1",
        cache_dir: Path | None = None,
        *,
        clips: Sequence[str] | None = None,
        replicate: int = 1,
        max_gop_s: float = 2.0,
        play_once: bool = False,
        speed: float = 1.0,
    ) -> None:
        if replicate < 1:
            raise ValueError(f"replicate must be at least 1, got {replicate}")
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        self.media_dir = media_dir
        self.host = host
        self.cache_dir = cache_dir or default_cache_dir()
        self._requested_port = port
        self._clips = list(clips) if clips is not None else None
        self._replicate = replicate
        self._max_gop_s = max_gop_s
        self._play_once = play_once
        self._speed = speed
        self._plays: dict[str, _PlayRecord] = {}
        self._mounts: dict[str, Mount] = {}
        self._active: set[str] = set()
        self._medias: dict[str, list[Any]] = {}
        self._clients: set[Any] = set()
        self._lock = threading.Lock()
        self._bound_port: int | None = None
        self._server: Any = None
        self._context: Any = None
        self._loop: Any = None
        self._source_ids: list[int] = []
        self._thread: threading.Thread | None = None

    # -- public API ---------------------------------------------------------

    @property
    def mount_names(self) -> list[str]:
        """Names of all configured mounts, stopped ones included."""
        return list(self._mounts)

    @property
    def port(self) -> int:
        """The bound RTSP port (differs from the request when it was 0)."""
        if self._bound_port is None:
            raise RuntimeError("server not started")
        return self._bound_port

    @property
    def is_running(self) -> bool:
        """Whether the main loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def held_clients(self) -> int:
        """Client connections open now or closed less than a few seconds ago."""
        return len(self._clients)

    def url(self, name: str) -> str:
        """Return the RTSP URL of a mount.

        Raises:
            UnknownMountError: no mount has that name.
        """
        self._require_mount(name)
        return f"rtsp://{self.host}:{self.port}/{name}"

    def is_mount_active(self, name: str) -> bool:
        """Whether a mount currently accepts clients.

        Raises:
            UnknownMountError: no mount has that name.
        """
        self._require_mount(name)
        with self._lock:
            return name in self._active

    def status(self) -> list[MountStatus]:
        """Return the state of every mount, in mount order."""
        with self._lock:
            active = set(self._active)
            plays = {
                name: (p.plays, p.started_at, p.finished_at)
                for name, p in self._plays.items()
            }
        return [
            MountStatus(
                name=m.name,
                url=self.url(m.name),
                is_active=m.name in active,
                source=str(m.clip.source),
                fps=float(m.clip.fps),
                resolution_wh=m.clip.resolution_wh,
                is_transcoded=m.clip.is_transcoded,
                plays_once=self._play_once,
                speed=self._speed,
                plays=plays.get(m.name, (0, None, None))[0],
                started_at=plays.get(m.name, (0, None, None))[1],
                finished_at=plays.get(m.name, (0, None, None))[2],
            )
            for m in self._mounts.values()
        ]

    def start(self) -> None:
        """Prepare the clips, bind the port and start the main loop thread.

        Raises:
            MediaFolderError: the folder is missing or empty, or no clip in it
                could be prepared.
            OSError: the RTSP port cannot be bound.
            RuntimeError: already started, or GStreamer bindings missing.
        """
        if self._thread is not None:
            raise RuntimeError("server already started")
        glib, _gst, rtsp = load_gi()
        self._mounts = {m.name: m for m in self._prepare_mounts()}
        self._context = glib.MainContext.new()
        self._loop = glib.MainLoop.new(self._context, False)
        self._server = rtsp.RTSPServer.new()
        self._server.set_address(self.host)
        self._server.set_service(str(self._requested_port))
        # Zero pool threads: clients are served from the main loop thread, so
        # control calls marshalled onto that thread never race client I/O.
        self._server.get_thread_pool().set_max_threads(0)
        self._server.connect("client-connected", self._on_client_connected)
        for name in self._mounts:
            self._add_factory(name)
        server_source = self._server.attach(self._context)
        if server_source == 0:
            raise OSError(
                f"cannot listen for RTSP on {self.host}:{self._requested_port}"
            )
        self._source_ids.append(server_source)
        self._bound_port = int(self._server.get_bound_port())
        cleanup = glib.timeout_source_new_seconds(_SESSION_CLEANUP_S)
        cleanup.set_callback(self._cleanup_sessions)
        self._source_ids.append(cleanup.attach(self._context))
        self._thread = threading.Thread(
            target=self._run_loop, name="rtsp-replay-loop", daemon=True
        )
        self._thread.start()
        self._call_in_loop(lambda: None)
        logger.info(
            "rtsp replay: serving %d mounts on rtsp://%s:%d/",
            len(self._mounts),
            self.host,
            self._bound_port,
        )

    def stop(self) -> None:
        """Disconnect all clients, stop every pipeline and end the loop thread."""
        thread = self._thread
        if thread is None:
            return
        if thread.is_alive():
            self._call_in_loop(self._shutdown_in_loop)
        thread.join(timeout=_LOOP_CALL_TIMEOUT_S)
        if thread.is_alive():
            logger.warning("rtsp replay: main loop thread did not stop in time")
        self._thread = None
        self._server = None
        self._medias.clear()
        self._clients.clear()
        logger.info("rtsp replay: stopped")

    def stop_mount(self, name: str) -> None:
        """Take a mount dark, like a camera losing power.

        New connections get 404, clients holding a session on the mount are
        disconnected and its pipeline is stopped. Stopping a stopped mount
        does nothing.

        Args:
            name: Mount name.

        Raises:
            UnknownMountError: no mount has that name.
        """
        self._require_mount(name)
        self._call_in_loop(lambda: self._stop_mount_in_loop(name))

    def start_mount(self, name: str) -> None:
        """Bring a stopped mount back; starting a running mount does nothing.

        Args:
            name: Mount name.

        Raises:
            UnknownMountError: no mount has that name.
        """
        self._require_mount(name)
        self._call_in_loop(lambda: self._start_mount_in_loop(name))

    def __enter__(self) -> RtspReplayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- preparation ----------------------------------------------------------

    def _prepare_mounts(self) -> list[Mount]:
        paths = discover_clips(self.media_dir, clips=self._clips)
        prepared: dict[str, PreparedClip] = {}
        for path in paths:
            name = mount_name_for(path)
            if name in prepared:
                logger.warning(
                    "rtsp replay: skipping clip %s: name %s already used by %s",
                    path,
                    name,
                    prepared[name].source,
                )
                continue
            try:
                prepared[name] = prepare_clip(
                    path, cache_dir=self.cache_dir, max_gop_s=self._max_gop_s
                )
            except ClipError as exc:
                logger.warning("rtsp replay: skipping unusable clip %s: %s", path, exc)
        if not prepared:
            raise MediaFolderError(f"no usable clip in media folder {self.media_dir}")
        if self._replicate == 1:
            return [Mount(name=n, clip=c) for n, c in prepared.items()]
        return [
            Mount(name=f"{n}-{i}", clip=c)
            for n, c in prepared.items()
            for i in range(self._replicate)
        ]

    def _require_mount(self, name: str) -> None:
        if name not in self._mounts:
            raise UnknownMountError(f"unknown mount {name!r}")

    # -- main loop thread -------------------------------------------------------

    def _run_loop(self) -> None:
        self._context.push_thread_default()
        try:
            self._loop.run()
        finally:
            self._context.pop_thread_default()

    def _call_in_loop(self, fn: Callable[[], T]) -> T:
        if threading.current_thread() is self._thread:
            return fn()
        if not self.is_running:
            raise RuntimeError("server not running")
        glib, _gst, _rtsp = load_gi()
        future: Future[T] = Future()

        def invoke(*_args: object) -> bool:
            try:
                future.set_result(fn())
            except Exception as exc:  # handed to the calling thread
                future.set_exception(exc)
            return False

        source = glib.idle_source_new()
        source.set_callback(invoke)
        source.attach(self._context)
        return future.result(timeout=_LOOP_CALL_TIMEOUT_S)

    def _add_factory(self, name: str) -> None:
        _glib, _gst, rtsp = load_gi()
        factory = rtsp.RTSPMediaFactory.new()
        factory.set_launch(
            launch_line(self._mounts[name].clip, loop=not self._play_once)
        )
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media_configure, name)
        self._server.get_mount_points().add_factory(f"/{name}", factory)
        with self._lock:
            self._active.add(name)

    def _on_client_connected(self, _server: Any, client: Any) -> None:
        # gst-rtsp-server 1.22 closes a client that sent TEARDOWN from an idle
        # callback that holds no reference to it. A client that hangs up right
        # after TEARDOWN (FFmpeg does) is freed first, and the idle callback then
        # closes freed memory: the simulator crashed with SIGSEGV about once in
        # 200 such hang-ups. Holding every client until a while after it closed
        # lets that callback find it alive.
        self._clients.add(client)
        client.connect("closed", self._on_client_closed)

    def _on_client_closed(self, client: Any) -> None:
        glib, _gst, _rtsp = load_gi()
        release = glib.timeout_source_new(_CLIENT_RELEASE_MS)
        release.set_callback(lambda *_a: self._release_client(client))
        release.attach(self._context)

    def _release_client(self, client: Any) -> bool:
        self._clients.discard(client)
        return False

    def _on_media_configure(self, _factory: Any, media: Any, name: str) -> None:
        _glib, gst, _rtsp = load_gi()
        parse = media.get_element().get_by_name("parse")
        parse.get_static_pad("src").add_probe(
            gst.PadProbeType.BUFFER, make_pts_probe(gst, self._speed)
        )
        parse.get_static_pad("src").add_probe(
            gst.PadProbeType.EVENT_DOWNSTREAM, self._make_eos_probe(gst, name)
        )
        self._medias.setdefault(name, []).append(media)
        media.connect("unprepared", self._on_media_unprepared, name)
        media.connect("new-state", self._on_media_new_state, name)
        with self._lock:
            # A new pipeline plays the clip from its start: a new play.
            record = self._plays.setdefault(name, _PlayRecord())
            record.started_at = None
            record.finished_at = None
        logger.debug("mount %s: pipeline created", name)

    def _on_media_new_state(self, _media: Any, state: int, name: str) -> None:
        if int(state) != _GST_STATE_PLAYING:
            return
        with self._lock:
            record = self._plays.setdefault(name, _PlayRecord())
            if record.started_at is not None:
                return  # resumed, or a second client joined the running play
            # Running time 0 (the first frame) is sent when PLAYING starts.
            record.plays += 1
            record.started_at = time.time()
        logger.info("mount %s: playing", name)

    def _make_eos_probe(self, gst: Any, name: str) -> Callable[[Any, Any], Any]:
        keep = gst.PadProbeReturn.OK
        eos = gst.EventType.EOS

        def on_event(_pad: Any, info: Any) -> Any:
            event = info.get_event()
            if event is not None and event.type == eos:
                self._on_clip_end(name)
            return keep

        return on_event

    def _on_clip_end(self, name: str) -> None:
        # Called on a streaming thread: record now, change server state in
        # the main loop thread.
        with self._lock:
            record = self._plays.setdefault(name, _PlayRecord())
            record.finished_at = time.time()
        logger.info("mount %s: end of clip", name)
        if not self._play_once or self._context is None:
            return
        glib, _gst, _rtsp = load_gi()
        source = glib.idle_source_new()
        source.set_callback(lambda *_a: self._end_play_in_loop(name))
        source.attach(self._context)

    def _end_play_in_loop(self, name: str) -> bool:
        with self._lock:
            if name not in self._active:
                return False
            self._active.discard(name)
        # Refuse new clients now (a reconnecting client must not get a second
        # play); let connected ones read the last frames, then cut them off.
        self._server.get_mount_points().remove_factory(f"/{name}")
        glib, _gst, _rtsp = load_gi()
        drain = glib.timeout_source_new(_ONCE_DRAIN_MS)
        drain.set_callback(
            lambda *_a: self._drop_clients_in_loop(name, only_if_inactive=True)
        )
        drain.attach(self._context)
        return False

    def _on_media_unprepared(self, media: Any, name: str) -> None:
        medias = self._medias.get(name, [])
        if media in medias:
            medias.remove(media)
        logger.debug("mount %s: pipeline released", name)

    def _cleanup_sessions(self, *_args: object) -> bool:
        if self._server is not None:
            self._server.get_session_pool().cleanup()
        return True

    def _stop_mount_in_loop(self, name: str) -> None:
        with self._lock:
            if name not in self._active:
                return
            self._active.discard(name)
        self._server.get_mount_points().remove_factory(f"/{name}")
        self._drop_clients_in_loop(name, only_if_inactive=False)

    def _drop_clients_in_loop(self, name: str, *, only_if_inactive: bool) -> bool:
        with self._lock:
            if only_if_inactive and name in self._active:
                return False  # armed again meanwhile: leave the new play alone
        path = f"/{name}"
        pool = self._server.get_session_pool()
        closed = 0
        for client in self._server.client_filter(None):
            sessions = client.session_filter(None)
            if any(s.get_media(path)[0] is not None for s in sessions):
                client.close()
                closed += 1
        for session in pool.filter(None):
            if session.get_media(path)[0] is not None:
                pool.remove(session)
        for media in list(self._medias.get(name, [])):
            media.unprepare()
        logger.info("mount %s: stopped, %d clients disconnected", name, closed)
        return False

    def _start_mount_in_loop(self, name: str) -> None:
        with self._lock:
            if name in self._active:
                return
            self._plays.pop(name, None)
        self._add_factory(name)
        logger.info("mount %s: started", name)

    def _shutdown_in_loop(self) -> None:
        for client in self._server.client_filter(None):
            client.close()
        for medias in self._medias.values():
            for media in list(medias):
                media.unprepare()
        for source_id in self._source_ids:
            source = self._context.find_source_by_id(source_id)
            if source is not None:
                source.destroy()
        self._source_ids.clear()
        self._loop.quit()


# -- command line -------------------------------------------------------------


def _clip_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected clip names separated by commas")
    return names


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the RTSP simulator's options to a parser (``gridwatch sim rtsp``)."""
    parser.add_argument(
        "--media-dir", type=Path, required=True, help="folder of clips (mp4/avi/gif)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8554, help="RTSP port; 0 = any free"
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="serve the HTTP control API on this port (0 = any free); off by default",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="folder for converted clips"
    )
    parser.add_argument(
        "--clips", type=_clip_list, default=None, help="serve only these clips: a,b"
    )
    parser.add_argument(
        "--replicate",
        type=_positive_int,
        default=1,
        help="serve each clip under N mounts named <clip>-0..<clip>-N-1",
    )
    parser.add_argument(
        "--max-gop-s",
        type=float,
        default=2.0,
        help="longest key-frame interval served without re-encoding (s)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="write ports and URLs here as JSON once serving",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="play each clip once (no loop); the mount then refuses clients "
        "until POST /mounts/<name>/start arms it again",
    )
    parser.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        help="replay rate: 2 serves each clip twice as fast (default 1)",
    )


def _announce(
    server: RtspReplayServer, control: ControlServer | None, ready_file: Path | None
) -> None:
    statuses = server.status()
    lines = [s.url for s in statuses]
    if control is not None:
        lines.append(f"control: {control.base_url}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    if ready_file is None:
        return
    payload = {
        "pid": os.getpid(),
        "host": server.host,
        "rtsp_port": server.port,
        "control_port": control.port if control is not None else None,
        "mounts": {s.name: s.url for s in statuses},
    }
    # Write then rename, so a reader never sees half a file.
    partial = ready_file.with_name(f".{ready_file.name}.partial")
    partial.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    partial.replace(ready_file)


def run_cli(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; print the mount URLs once serving.

    Returns:
        0 after a clean stop, 2 when the media folder or a port is unusable.
    """
    server = RtspReplayServer(
        args.media_dir,
        port=args.port,
        host=args.host,
        cache_dir=args.cache_dir,
        clips=args.clips,
        replicate=args.replicate,
        max_gop_s=args.max_gop_s,
        play_once=args.once,
        speed=args.speed,
    )
    control: ControlServer | None = None
    try:
        server.start()
        if args.control_port is not None:
            control = ControlServer(server, host=args.host, port=args.control_port)
            control.start()
        _announce(server, control, args.ready_file)
        with stop_on_signals(threading.Event()) as stop:
            while not stop.wait(0.5):
                pass
    except (MediaFolderError, OSError) as exc:
        logger.error("rtsp replay: %s", exc)
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        if control is not None:
            control.stop()
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m simulators.rtsp_server``."""
    return run_module_cli(
        argv,
        prog="python -m simulators.rtsp_server",
        description=__doc__,
        add_arguments=add_arguments,
        run_cli=run_cli,
    )


if __name__ == "__main__":
    sys.exit(main())
