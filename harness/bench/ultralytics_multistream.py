"""Baseline: ultralytics' own multi-stream predict on the same RTSP streams and model.

A *standalone benchmark tool*, not runtime code. ultralytics is AGPL-3.0 and only an
optional benchmark/export dependency: it is imported lazily inside functions here, and
nothing the edge runtime loads may import it. Run it with the separate bench venv
(``.venv-bench``; install recipe in ``INSTALL_HINT`` below)::

    .venv-bench/bin/python -m harness.bench.ultralytics_multistream \\
        --model var/models/yolo11n_random.onnx --imgsz 416 --duration 30 \\
        rtsp://127.0.0.1:8599/cam-0 rtsp://127.0.0.1:8599/cam-1

    # or with a ready-made ultralytics ``.streams`` file (whitespace-separated URLs)
    .venv-bench/bin/python -m harness.bench.ultralytics_multistream \\
        --model var/models/yolo11n_random.onnx --streams-file list.streams

Run it as a module from the repository root: run as a file, its folder would come
first on ``sys.path`` and ``harness/bench/warnings.py`` would hide the standard
library's ``warnings``. stdout carries exactly one JSON object (ultralytics' logging
goes to stderr). The measurement window is ``--duration`` seconds of steady state
starting ``--warmup`` seconds after the first batch (model load, ONNX Runtime warm-
up and stream opening are reported as ``startup_s``). The process always exits after
the window although the streams are infinite: a capture stuck in ``read()`` cannot
keep it alive (``os._exit``).

How ultralytics does multi-stream (``LoadStreams``, ultralytics 8.4): streams are opened
one after the other with ``cv2.VideoCapture`` (FFmpeg), then one reader thread per
stream keeps only its latest decoded frame (``stream_buffer=False``). Every batch takes
one fresh frame from *every* stream, so the batch size is N (the number of streams) and
a batch waits for the slowest stream; frames that arrive while a batch is inferred are
dropped, so ``analysed_fps`` is what the model keeps up with, at most N x source fps.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.machinery
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from models.ultralytics_env import INSTALL_HINT, ensure_torchvision, quiet_ultralytics

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
MODULE = "harness.bench.ultralytics_multistream"


def tool_command(python: Path) -> list[str]:
    """The start of this tool's command line under `python` (run with
    ``cwd=REPOSITORY_ROOT``); its options and URLs follow."""
    return [str(python), "-m", MODULE]


def _write_streams_file(urls: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="gridwatch-bench-", suffix=".streams")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(urls) + "\n")
    return path


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


class _Batch:
    __slots__ = ("dets", "inference", "n", "postprocess", "preprocess", "t")

    def __init__(self, t: float, n: int, speed: dict[str, float], dets: int) -> None:
        self.t, self.n, self.dets = t, n, dets
        # ultralytics' Results.speed is ms per image (batch time / batch size)
        self.preprocess = float(speed["preprocess"])
        self.inference = float(speed["inference"])
        self.postprocess = float(speed["postprocess"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    quiet_ultralytics()
    if args.rtsp_transport != "auto":
        # ultralytics opens streams with cv2.VideoCapture (FFmpeg), whose default is
        # UDP-then-TCP; pin it so the edge runtime and this baseline use the same.
        opts = f"rtsp_transport;{args.rtsp_transport}"
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", opts)
    try:
        ultralytics = importlib.import_module("ultralytics")
    except ImportError as e:
        raise SystemExit(INSTALL_HINT) from e
    tv_mode = ensure_torchvision()
    psutil = importlib.import_module("psutil")

    if args.streams_file:
        streams_path = args.streams_file
        urls = Path(streams_path).read_text(encoding="utf-8-sig").split()
    else:
        urls = list(args.urls)
        streams_path = _write_streams_file(urls)
    if not urls:
        raise SystemExit("no stream URLs given")

    proc = psutil.Process()
    t_start = time.perf_counter()
    model = ultralytics.YOLO(args.model, task="detect")
    batches: list[_Batch] = []
    input_shapes: set[tuple[int, ...]] = set()

    def on_start(predictor: Any) -> None:  # record the tensor shape fed to the model
        orig = predictor.preprocess

        def preprocess(im: Any) -> Any:
            t = orig(im)
            input_shapes.add(tuple(t.shape))
            return t

        predictor.preprocess = preprocess

    def on_batch_end(predictor: Any) -> None:
        res = predictor.results
        dets = sum(len(r.boxes) if r.boxes is not None else 0 for r in res)
        batches.append(_Batch(time.perf_counter(), len(res), res[0].speed, dets))

    model.add_callback("on_predict_start", on_start)
    model.add_callback("on_predict_batch_end", on_batch_end)
    kwargs: dict[str, Any] = {
        "source": streams_path,
        "stream": True,
        "imgsz": args.imgsz,
        "device": "cpu",
        "verbose": False,
        "conf": args.conf,
        # rect=True (ultralytics' default) letterboxes for a dynamic-shape ONNX model to
        # the smallest stride-multiple rectangle (768x432 -> 416x256 at imgsz 416);
        # rect=False pads to imgsz x imgsz.
        "rect": args.rect,
        # Every stream's reader grabs each frame and decodes every vid_stride-th.
        "vid_stride": args.vid_stride,
    }
    if args.mode == "track":
        gen = model.track(persist=True, tracker=args.tracker, **kwargs)
    else:
        gen = model.predict(**kwargs)

    stop = threading.Event()
    error: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in gen:
                if stop.is_set():
                    break
        except BaseException as e:  # reported in the JSON
            error.append(e)
        finally:
            with contextlib.suppress(Exception):
                gen.close()  # ultralytics' finally: LoadStreams.close() stops readers

    th = threading.Thread(target=worker, name="ultralytics-predict", daemon=True)
    th.start()
    deadline = time.perf_counter() + args.startup_timeout
    while not batches and th.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.05)
    if not batches:
        stop.set()
        msg = repr(error[0]) if error else f"no batch within {args.startup_timeout}s"
        return {
            "error": msg,
            "streams": len(urls),
            "ultralytics_version": ultralytics.__version__,
        }
    startup_s = batches[0].t - t_start

    time.sleep(max(0.0, args.warmup))
    proc.cpu_percent(None)
    psutil.cpu_percent(None)
    cpu_t0 = proc.cpu_times()
    t0 = time.perf_counter()
    end = t0 + args.duration
    while time.perf_counter() < end and th.is_alive():
        time.sleep(min(0.2, max(0.0, end - time.perf_counter())))
    t1 = time.perf_counter()
    ended_early = not th.is_alive()  # finite sources (files) or a failed stream
    cpu_proc = proc.cpu_percent(None)
    cpu_sys = psutil.cpu_percent(None)
    cpu_t1 = proc.cpu_times()
    stop.set()

    window = [b for b in list(batches) if t0 < b.t <= t1]
    elapsed = t1 - t0
    frames = sum(b.n for b in window)
    sizes = sorted({b.n for b in window})
    ncpu = psutil.cpu_count() or 1
    fps_src: list[float] = []
    with contextlib.suppress(Exception):
        fps_src = [float(x) for x in model.predictor.dataset.fps]
    cpu_s = cpu_t1.user + cpu_t1.system - cpu_t0.user - cpu_t0.system

    out: dict[str, Any] = {
        "tool": "ultralytics",
        "mode": args.mode,
        "streams": len(urls),
        "batch_size": sizes[0] if len(sizes) == 1 else sizes,
        "model": str(args.model),
        "imgsz": args.imgsz,
        "rect": args.rect,
        "vid_stride": args.vid_stride,
        "input_shapes": sorted(list(x) for x in input_shapes),
        "duration_s": round(elapsed, 3),
        "startup_s": round(startup_s, 3),
        "warmup_s": args.warmup,
        "batches": len(window),
        "frames_processed": frames,
        "analysed_fps": round(frames / elapsed, 3),
        "per_stream_fps": round(frames / elapsed / len(urls), 3),
        "source_fps": fps_src,
        "inference_ms_per_batch": _mean([b.inference * b.n for b in window]),
        "inference_ms_per_image": _mean([b.inference for b in window]),
        "preprocess_ms_per_image": _mean([b.preprocess for b in window]),
        "postprocess_ms_per_image": _mean([b.postprocess for b in window]),
        "detections_per_frame": round(sum(b.dets for b in window) / frames, 3)
        if frames
        else None,
        # psutil Process.cpu_percent: 100 == one core fully busy (can exceed 100)
        "cpu_percent": round(cpu_proc, 1),
        "cpu_cores_used": round(cpu_s / elapsed, 3),
        # whole host, 0-100 averaged over all cores (includes the RTSP server etc.)
        "cpu_percent_system": round(cpu_sys, 1),
        "cpu_count": ncpu,
        # everything else on the host in cpu_percent units; large == contended run
        "cpu_percent_others": round(max(0.0, cpu_sys * ncpu - cpu_proc), 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "ultralytics_version": ultralytics.__version__,
        "torch_version": importlib.import_module("torch").__version__,
        "onnxruntime_version": importlib.import_module("onnxruntime").__version__,
        "torchvision": tv_mode,
        "rtsp_transport": args.rtsp_transport,
    }
    out["sources_ended_early"] = ended_early
    if error:
        out["error"] = repr(error[0])
    elif not frames:
        out["error"] = "no frames in the measurement window (sources ended?)"
    th.join(timeout=args.close_timeout)
    if not args.streams_file:
        with contextlib.suppress(OSError):
            os.unlink(streams_path)  # the temporary .streams file written above
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="ultralytics multi-stream predict baseline (bench venv only)"
    )
    p.add_argument("urls", nargs="*", help="RTSP URLs (or video files), one per stream")
    p.add_argument("--streams-file", help="ultralytics .streams file instead of URLs")
    p.add_argument("--model", required=True, help="ONNX model, e.g. var/models/…onnx")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    p.add_argument(
        "--warmup", type=float, default=3.0, help="unmeasured seconds after 1st batch"
    )
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument(
        "--rect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ultralytics' rect letterbox (default); --no-rect: imgsz x imgsz squares",
    )
    p.add_argument(
        "--vid-stride", type=int, default=1, help="analyse every Nth source frame"
    )
    p.add_argument("--mode", choices=("predict", "track"), default="predict")
    p.add_argument("--tracker", default="bytetrack.yaml", help="for --mode track")
    p.add_argument("--rtsp-transport", choices=("tcp", "udp", "auto"), default="tcp")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--close-timeout", type=float, default=5.0)
    p.add_argument("--json-out", help="also write the JSON here")
    return p


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.urls) == bool(args.streams_file):
        parser.error("give stream URLs or --streams-file (exactly one of them)")
    # ultralytics logs to stdout: send everything (Python and C level) to stderr so that
    # stdout carries only the JSON result.
    sys.stdout.flush()
    json_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        out = run(args)
    except SystemExit as e:
        out = {"error": str(e.code)}
    except Exception as e:  # always answer with JSON
        import traceback

        traceback.print_exc()
        out = {"error": repr(e)}
    text = json.dumps(out, indent=2)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(json_fd, (text + "\n").encode())
    # Streams are infinite and a cv2 capture can block in read(); never wait for it.
    os._exit(1 if "error" in out else 0)


if __name__ == "__main__":
    main()
